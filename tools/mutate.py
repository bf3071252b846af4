"""Mutation testing of the rule modules (docs/testing.md); by hand, never in CI. CPU-heavy:

    nice -n 19 .venv/bin/python tools/mutate.py                # every Python module, then SQL
    nice -n 19 .venv/bin/python tools/mutate.py urls conditions   # some Python modules
    nice -n 19 .venv/bin/python tools/mutate.py --sql GRAPH_SQL SERVE_SQL   # some SQL constants

Python modules: mutmut, each module against its fast test files, in a scratch copy of the
working tree (mutmut writes mutants/ beside the code). SQL: tools/sql_mutants.py makes one-node
mutants of the stage SQL on sqlglot's tree and runs the DuckDB engine's tests on each.
Prints the kill rate per module and every surviving mutant. Install the tools first:
`.venv/bin/pip install -e ".[mutate]"` (mutmut, sqlglot).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# module → its fast tests (seconds, no services): what a mutant there must break.
MODULES: dict[str, tuple[str, list[str]]] = {
    "urls": ("linkatlas/urls.py", ["tests/test_urls.py"]),
    "conditions": ("linkatlas/api/conditions.py", ["tests/test_conditions.py"]),
    "planner": ("linkatlas/api/planner.py", ["tests/test_planner.py"]),
    "billing": ("linkatlas/api/billing.py", ["tests/test_planner.py"]),
    # the crawler's robots.txt tests only: the rest of test_crawl.py takes minutes per mutant
    "robots": ("linkatlas/crawl/robots.py",
               ["tests/test_robots.py",
                "tests/test_crawl.py::test_robots_txt_rules_and_crawl_delay",
                "tests/test_crawl.py::test_robots_txt_unreachable_disallows_and_4xx_allows",
                "tests/test_crawl.py::test_nxdomain_and_refused_addresses_become_observations"]),
    "html": ("linkatlas/extract/html.py", ["tests/test_html.py"]),
    "resolve": ("linkatlas/extract/resolve.py", ["tests/test_resolve.py"]),
    "snapshot": ("linkatlas/snapshot.py", ["tests/test_snapshot.py"]),
    # its Spark test starts a JVM per mutant; the DuckDB test holds the same SQL to the table
    "verdicts": ("linkatlas/rules/verdicts.py",
                 ["tests/test_verdicts.py::test_the_table_of_the_spec",
                  "tests/test_verdicts.py::test_duckdb_sql_is_the_python_rule"]),
    "links": ("linkatlas/rules/links.py", ["tests/test_link_rules.py"]),
}
# SQL constant → the DuckDB engine's tests that run it (test_modes: nine builds that check
# the mode ranges of the API, not the stages).
SQL_TESTS = ["tests/test_history.py", "tests/test_observations.py", "tests/test_index.py",
             "tests/test_targets.py",
             "-k", "not test_modes"]
# The targets stage's own tests, the tests that most often kill its mutants first (with -x a
# mutant dies at its first failing test); the re-check test runs the stage on a patch. The
# history and observations tests are left out: they hold the stages before it, and every
# surviving mutant pays for each test file run.
TARGETS_TESTS = ["tests/test_targets.py",
                 "tests/test_recheck.py::"
                 "test_a_recheck_whose_redirect_chain_ends_undecided_changes_nothing",
                 "tests/test_index.py", "-k", "not test_modes"]
SQL_TESTS_OF = {"HOPS_SQL": TARGETS_TESTS, "TARGETS_SQL": TARGETS_TESTS}
# mutmut's exit codes per mutant (mutmut/stats.py) that leave it alive: 0 survived, 5 and 33 no
# test covers it, 34 skipped, 35 suspicious, None not run. Others (1, 3 failed; 24, 36 timeout)
# killed it.
ALIVE = {0: "survived", 5: "no test covers it", 33: "no test covers it", 34: "skipped",
         35: "suspicious", None: "not run"}


def _scratch(module: str, tests: list[str]) -> Path:
    """A copy of the working tree with mutmut set to one module and its tests."""
    folder = Path(tempfile.mkdtemp(prefix="mutate-"))
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.egg-info")
    for part in ("linkatlas", "tests"):
        shutil.copytree(ROOT / part, folder / part, ignore=ignore)
    shutil.copy(ROOT / "tools" / "mutation_conftest.py", folder / "conftest.py")
    # mutmut collects the tests more than once in one process, and pytest keeps the ids it made
    # from a parametrize's `ids=` on the mark: the second time they are escaped again
    # (`[\\u0130stanbul]`), match none of the names of the first, and the run stops with
    # BadTestExecutionCommandsException. Unescaped ids stay the same however often.
    args = ["-x", "-q", "-p", "no:cacheprovider",
            "-o", "disable_test_id_escaping_and_forfeit_all_rights_to_community_support=true"]
    config = (ROOT / "pyproject.toml").read_text()
    config += (f"\n[tool.mutmut]\nsource_paths = [{json.dumps(module)}]\n"
               f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
               f"pytest_add_cli_args = {json.dumps(args)}\n"
               "also_copy = [\"tests/\", \"linkatlas/\", \"conftest.py\"]\n")
    (folder / "pyproject.toml").write_text(config)
    return folder


def _sampled(keys: list[str], sample: int) -> list[str]:
    """Every mutant whose number is a multiple of `sample` (mutmut numbers each function's
    mutants 1, 2, …), and the first of a function with fewer: every function is sampled."""
    by_function: dict[str, list[str]] = {}
    for key in keys:
        by_function.setdefault(key.rsplit("__mutmut_", 1)[0], []).append(key)
    chosen = []
    for group in by_function.values():
        picked = [k for k in group if int(k.rsplit("_", 1)[1]) % sample == 0]
        chosen += picked or group[:1]
    return sorted(chosen)


def python_module(name: str, children: int = 1, sample: int = 1) -> dict[str, object]:
    module, tests = MODULES[name]
    folder = _scratch(module, tests)
    try:
        started = time.monotonic()
        mutmut = Path(sys.executable).with_name("mutmut")
        meta = folder / "mutants" / f"{module}.meta"

        def mutmut_run(*names: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(mutmut), "run", "--max-children", str(children), *names], cwd=folder,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)

        chosen: list[str] | None = None
        if sample > 1:  # a name matching nothing: mutmut makes the mutants, then stops
            mutmut_run("no-such-mutant")
            chosen = _sampled(list(json.loads(meta.read_text())["exit_code_by_key"]), sample)
        ran = mutmut_run(*(chosen or []))
        if ran.returncode != 0:  # e.g. its clean run of the tests failed: no verdict at all
            tail = ran.stdout.strip().splitlines()[-15:]
            return {"module": module, "error": "mutmut failed:\n    " + "\n    ".join(tail)}
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if chosen is not None:
            codes = {key: codes[key] for key in chosen}
        survivors = sorted(key for key, code in codes.items() if code in ALIVE)
        shown = [f"{key} ({ALIVE[codes[key]]})\n" + subprocess.run(
            [str(mutmut), "show", key], cwd=folder, capture_output=True, text=True,
            check=False).stdout for key in survivors]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"module": module, "tests": tests, "mutants": len(codes),
            "killed": len(codes) - len(survivors), "seconds": round(time.monotonic() - started),
            "survivors": shown}


def _sql_tests(constant: str) -> list[str]:
    return SQL_TESTS_OF.get(constant, SQL_TESTS)


def sql_constant(constant: str, sample: int = 1, jobs: int = 1) -> dict[str, object]:
    from concurrent.futures import ThreadPoolExecutor

    from tools.sql_mutants import Mutant, baseline, mutants

    started = time.monotonic()
    tests = _sql_tests(constant)
    scratch = Path(tempfile.mkdtemp(prefix="mutate-sql-"))

    def passes(text: str, number: int) -> bool:
        # each run its own --basetemp: runs at once never share a temp folder (ports are free
        # ones, tests/ports.py)
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                   f"--basetemp={scratch / str(number)}", "-p", "tools.sql_mutants", *tests]
        env = {**os.environ, "MUTANT": json.dumps({"constant": constant, "text": text})}
        return subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False).returncode == 0

    def run(mutant: Mutant) -> bool:
        alive = passes(mutant.text, mutant.number)
        print(f"  {constant} #{mutant.number} {'SURVIVED' if alive else 'killed'}:"
              f" {mutant.what}", flush=True)
        return alive

    try:
        if not passes(baseline(constant), 0):
            return {"module": constant, "error": "sqlglot's rewrite of the unchanged SQL fails"}
        found = mutants(constant)[::sample]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            alive = list(pool.map(run, found))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    survivors = [f"#{m.number}: {m.what}" for m, a in zip(found, alive, strict=True) if a]
    return {"module": constant, "tests": tests, "mutants": len(found),
            "killed": len(found) - len(survivors), "seconds": round(time.monotonic() - started),
            "survivors": survivors}


def main() -> None:
    from tools.sql_mutants import CONSTANTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"modules {sorted(MODULES)} (default: all)")
    parser.add_argument("--sql", nargs="*", default=None,
                        help=f"SQL constants {list(CONSTANTS)} (none given: all)")
    parser.add_argument("--children", type=int, default=1,
                        help="mutants mutmut runs at once (default 1: the machine is shared)")
    parser.add_argument("--sample", type=int, default=1,
                        help="run every N-th mutant only (deterministic; default all)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="SQL mutants run at once (default 1: the machine is shared)")
    args = parser.parse_args()
    jobs = [] if args.sql is not None and not args.names else [
        (partial(python_module, children=args.children, sample=args.sample), name)
        for name in (args.names or MODULES)]
    if args.sql is not None or not args.names:
        jobs += [(partial(sql_constant, sample=args.sample, jobs=args.jobs), name)
                 for name in (args.sql or CONSTANTS)]
    for run, name in jobs:
        result = run(name)
        if "error" in result:
            print(f"{result['module']}: {result['error']}", flush=True)
            continue
        rate = 100 * int(result["killed"]) / max(1, int(result["mutants"]))  # type: ignore[arg-type]
        print(f"{result['module']}: {result['killed']}/{result['mutants']} killed ({rate:.0f} %)"
              f" in {result['seconds']} s by {' '.join(result['tests'])}", flush=True)  # type: ignore[arg-type]
        for survivor in result["survivors"]:  # type: ignore[union-attr]
            print("  survived:", survivor, flush=True)


if __name__ == "__main__":
    main()

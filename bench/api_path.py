"""Bench: the API's request path in process, without HTTP — the ledger's round trip and
`materialise` (plan, query, render, spool) — for before/after comparisons on a busy machine.

    .venv/bin/python bench/api_path.py DATA [--repeats 60]

DATA is a data directory with a snapshot, e.g. one `bench/api.py --keep` made under its --dir.
Prints one line of medians (ms). Run it from two checkouts in turn (`cd OTHER && python
bench/api_path.py DATA`) several times: the lowest medians compare the code, not the load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linkatlas import snapshot  # noqa: E402
from linkatlas.api.delivery import materialise  # noqa: E402
from linkatlas.api.ledger import open_ledger  # noqa: E402
from linkatlas.api.planner import parse_request, plan  # noqa: E402
from linkatlas.api.query import open_reader  # noqa: E402

SHAPES = {
    "domain": {"target": ["d7.test"], "mode": ["domain"]},
    "big 1000": {"target": ["big.test"], "mode": ["domain"]},
    "php where": {"target": ["d7.test"], "mode": ["subdomains"], "where": ["http_code=404"],
                  "output": ["php"]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    current = snapshot.current(args.data)
    db = open_reader()
    found: dict[str, float] = {}
    with open_ledger(None, Path(tempfile.mkdtemp())) as book:
        token = book.create("bench", 10**12)
        times = []
        for _ in range(args.repeats * 5):
            started = time.perf_counter()
            book.info(token)
            book.charge(token, 6)
            times.append(time.perf_counter() - started)
        found["ledger info+charge"] = statistics.median(times) * 1000
    for name, params in SHAPES.items():
        request = parse_request(params)
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            materialise(db, request, plan(request, current), 30.0).close()
            times.append(time.perf_counter() - started)
        found[name] = statistics.median(times[5:]) * 1000
    print("  ".join(f"{name} {ms:.3f}" for name, ms in found.items()))


if __name__ == "__main__":
    main()

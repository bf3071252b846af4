"""Bench: the report on a big site. Not part of the tests.

    .venv/bin/python bench/report.py [--dir /tmp/linkatlas-bench-report] [--keep]
                                     [--backlinks 100000] [--dead 5000] [--repeats 30] [--loads 7]

A synthetic snapshot (written with the build's own writer, snapshot.write_table): one target,
big.test, with BACKLINKS broken backlinks over DEAD dead URLs from 20,000 referring domains,
plus 2,000 live pages of big.test in the reclaim file. `linkatlas serve` runs as a subprocess on
a free loopback port. Measured:

- the grouped view's request (what /report sends first: `from=broken_targets`, default order,
  limit 100) over HTTP, keep-alive: p50 and p90 of REPEATS (target p50 <= 300 ms);
- the page in Debian's Chromium (Playwright, headless): from navigation to the first dead-URL
  rows painted, with the token in the fragment, LOADS times in a fresh page (target <= 1.5 s).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from linkatlas.api.ledger import open_ledger  # noqa: E402
from linkatlas.sample.report import write_big_site  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait(port: int) -> None:
    for _ in range(300):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/docs")
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def grouped_request(port: int, token: str, repeats: int) -> list[float]:
    query = "/?" + urlencode({"token": token, "from": "broken_targets", "target": "big.test",
                              "mode": "domain", "limit": "100"})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(repeats + 2):
        started = time.perf_counter()
        connection.request("GET", query)
        body = connection.getresponse().read()
        times.append(time.perf_counter() - started)
        assert b'"targets"' in body, body[:200]
    return times[2:]  # the first two warm the footer cache


def page_loads(port: int, token: str, loads: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    link = f"http://127.0.0.1:{port}/report#" + urlencode(
        {"token": token, "target": "big.test", "mode": "domain"})
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=CHROMIUM_ARGS)
        for _ in range(loads + 1):
            page = browser.new_page(viewport={"width": 1920, "height": 1000})
            started = time.perf_counter()
            page.goto(link)
            page.wait_for_selector("#dead-table tbody tr.dead")
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(0)))")
            times.append(time.perf_counter() - started)
            page.close()
        browser.close()
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "linkatlas-bench-report")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--backlinks", type=int, default=100_000)
    parser.add_argument("--dead", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--loads", type=int, default=7)
    args = parser.parse_args()
    data = args.dir / f"data-{args.backlinks}-{args.dead}"
    if not (data / "current").exists():
        started = time.perf_counter()
        write_big_site(data, args.backlinks, args.dead)
        print(f"snapshot written in {time.perf_counter() - started:.1f} s")
    ledger = f"sqlite:///{data / 'ledger.sqlite'}"
    with open_ledger(ledger, data) as book:
        token = book.create("bench", 10**12)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "linkatlas.cli", "--data", str(data), "serve", "--port",
         str(port), "--ledger", ledger], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(port)
        request = grouped_request(port, token, args.repeats)
        loads = page_loads(port, token, args.loads)
    finally:
        server.terminate()
        server.wait(10)
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)
    ms = lambda values, q: 1000 * statistics.quantiles(values, n=10)[q]  # noqa: E731
    print(f"{args.backlinks:,} broken backlinks over {args.dead:,} dead URLs of big.test")
    print("| measure | p50 | p90 | target |\n|---|---:|---:|---:|")
    print(f"| grouped view request (broken_targets, limit 100) | "
          f"{1000 * statistics.median(request):.0f} ms | {ms(request, 8):.0f} ms | ≤ 300 ms |")
    print(f"| page: navigation → first dead-URL rows painted | "
          f"{1000 * statistics.median(loads):.0f} ms | {ms(loads, 8):.0f} ms | ≤ 1,500 ms |")


if __name__ == "__main__":
    main()

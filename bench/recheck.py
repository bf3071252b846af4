"""Bench: re-check now (`check URL...`, index/recheck.py) against a full build, on one index.

    .venv/bin/python bench/recheck.py [--dir /tmp/linkatlas-bench-recheck] [--links 1000000]
                                      [--per-page 50] [--targets 100000] [--urls 10]
                                      [--repeats 3] [--keep]

Writes a WARC of LINKS / PER_PAGE pages on 500 hosts, each page linking PER_PAGE of TARGETS
target URLs on 2,000 hosts `tN.test` (all 127.0.0.1 by a hosts file, where a local HTTP server
answers), and a check log that observed every target (one in ten broken: 404). Then it times
a first build (extraction included), a rebuild (the extraction cache warm: the build a
re-check saves) and, REPEATS times, a re-check of URLS targets whose answer the server has
just flipped (half broken → good, half good → broken): observe, judge, patch and publish. The
target: a re-check ≤ 10 % of the rebuild. Finally a rebuild from the same observations must
serve the same rows as the last patched snapshot. Not part of the tests.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from linkatlas import snapshot  # noqa: E402
from linkatlas.check.checker import CheckOptions  # noqa: E402
from linkatlas.index import build  # noqa: E402
from linkatlas.index.recheck import recheck  # noqa: E402
from linkatlas.observations import CheckLog, Observation  # noqa: E402

HOSTS, TARGET_HOSTS = 500, 2000


def _target(k: int, port: int) -> str:
    return f"http://t{k % TARGET_HOSTS}.test:{port}/x/{k}.html"


def _serve(status: dict[str, int]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(status.get(self.path, 200))
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD = _answer  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _write_inputs(data: Path, links: int, per_page: int, targets: int, port: int,
                  broken: set[int]) -> None:
    rng = random.Random(7)
    (data / "archives").mkdir(parents=True)
    with (data / "archives" / "bench.warc.gz").open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for i in range(links // per_page):
            anchors = "".join(
                f'<p>about item {j} <a href="{_target(rng.randrange(targets), port)}">item '
                f'{j}</a> more</p>' for j in range(per_page))
            body = f"<html><title>page {i}</title><body>{anchors}</body></html>".encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                    protocol="HTTP/1.1")
            record = writer.create_warc_record(
                f"http://p{i % HOSTS}.test/page/{i}.html", "response",
                payload=io.BytesIO(body), length=len(body), http_headers=http,
                warc_headers_dict={"WARC-Date": "2024-01-01T00:00:00Z",
                                   "WARC-IP-Address": "203.0.113.9"})
            writer.write_record(record)
    with CheckLog(data, name="bench.jsonl") as log:
        for k in range(targets):
            log.append(Observation(_target(k, port), "2024-01-02T00:00:00Z",
                                   404 if k in broken else 200, ""))


def _served(data: Path) -> list[tuple[object, ...]]:
    table = snapshot.current(data).table
    return duckdb.sql(f"SELECT * FROM read_parquet('{table}') ORDER BY ALL").fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/linkatlas-bench-recheck"))
    parser.add_argument("--links", type=int, default=1_000_000)
    parser.add_argument("--per-page", type=int, default=50)
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--urls", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    data = args.dir / "data"
    status: dict[str, int] = {}
    server = _serve(status)
    port = server.server_address[1]
    hosts = args.dir / "hosts"
    broken = set(range(0, args.targets, 10))
    started = time.perf_counter()
    _write_inputs(data, args.links, args.per_page, args.targets, port, broken)
    hosts.write_text("".join(f"127.0.0.1 t{k}.test\n" for k in range(TARGET_HOSTS)))
    print(f"inputs: {args.links:,} links on {args.links // args.per_page:,} pages to "
          f"{args.targets:,} targets ({time.perf_counter() - started:.1f} s)")
    import os

    os.environ["LINKATLAS_NOW"] = "2024-02-01T00:00:00Z"
    started = time.perf_counter()
    first = build(data)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    again = build(data)
    rebuild_s = time.perf_counter() - started
    print(f"first build {first_s:.1f} s; rebuild (extraction cached) {rebuild_s:.1f} s; "
          f"links {again.counts['links']:,}, broken backlinks "
          f"{again.counts['broken_backlinks']:,} (first: {first.counts['broken_backlinks']:,})")
    stages = ", ".join(f"{k} {v:.1f}" for k, v in again.seconds.items())
    print(f"rebuild stages (s): {stages}")
    options = CheckOptions(hosts=hosts, hosts_only=True, confirm_delay=0.05)
    rng = random.Random(11)
    times = []
    for repeat in range(args.repeats):
        os.environ["LINKATLAS_NOW"] = f"2024-02-{2 + repeat:02d}T00:00:00Z"
        picked = rng.sample(range(args.targets), args.urls)
        for k in picked:  # flip each: broken → good, good → broken
            path = f"/x/{k}.html"
            now_broken = status.get(path, 404 if k in broken else 200) >= 400
            status[path] = 200 if now_broken else 404
        started = time.perf_counter()
        done = recheck(data, [_target(k, port) for k in picked], options)
        times.append(time.perf_counter() - started)
        print(f"re-check {repeat + 1}: {len(done.changed)} of {args.urls} targets changed, "
              f"{times[-1]:.2f} s ({', '.join(f'{k} {v:.2f}' for k, v in done.phases.items())})"
              f", snapshot {done.snapshot}")
    patched = _served(data)
    build(data)
    same = _served(data) == patched
    median = statistics.median(times)
    print(f"\n| what | seconds |\n|---|---|\n| first build | {first_s:.1f} |\n"
          f"| rebuild (cache warm) | {rebuild_s:.1f} |\n| re-check of {args.urls} URLs "
          f"(median of {args.repeats}) | {median:.2f} |\n\nre-check / rebuild = "
          f"{median / rebuild_s:.1%} (target ≤ 10 %); a rebuild serves the same rows: {same}")
    server.shutdown()
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()

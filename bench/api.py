"""Bench: the HTTP API (`serve --workers 2`) against the bare DuckDB query of the same plan.

    .venv/bin/python bench/api.py [--dir /tmp/linkatlas-bench-api] [--keep]
                                  [--rows 10000000] [--domains 100000] [--scale 10]
                                  [--big 100000] [--repeats 40] [--clients 32] [--seconds 10]

Two synthetic snapshots (`linkatlas.sample.snapshot.write_synthetic`): ROWS broken backlinks
over DOMAINS target domains `dN.test` / `www.dN.test`, and ROWS/SCALE over DOMAINS/SCALE (the
same rows per domain). Each also gets one big domain `big.test` of about BIG rows (copies of
existing rows under that host, merged in key order and the serve table rewritten with
`snapshot.write_table`: files of <= 64 x 16,384 rows with their key ranges in the manifest),
so both snapshots hold the same result sizes. Snapshots are cached under --dir and reused by
later runs; without --keep the snapshots are deleted at the end.

For each request shape (every mode, limit 1000, with and without where / having / order_by)
it interleaves, per repeat: (a) `plan(parse_request(params), snapshot)` (reading only the
files the key range overlaps) run on an `open_reader()` connection with fetchall, and (b) the
same request over HTTP (http.client, keep-alive) to a running `linkatlas serve --workers 2`,
sent twice in a row: `idle` is the first (after a pause),
`http` the second (right after a response, as a paging client sends it), for both snapshots.
Printed: p50/p99 of (a) and (b), the ratios p50(b)/p50(a) (target <= 1.5) and p50 at ROWS /
p50 at ROWS/SCALE (target <= 1.3), and subscription_info (the HTTP stack without DuckDB). Then
--clients concurrent clients (asyncio + aiohttp, one connection and one token each: a token may
run 4 queries at once, api/limits.py) send the same shapes to the large snapshot's server for
--seconds: requests/s and errors (target 0). Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linkatlas import snapshot  # noqa: E402
from linkatlas.api.ledger import open_ledger  # noqa: E402
from linkatlas.api.planner import parse_request, plan  # noqa: E402
from linkatlas.api.query import open_reader  # noqa: E402
from linkatlas.index import connect  # noqa: E402
from linkatlas.sample.snapshot import write_synthetic  # noqa: E402

_LAYOUT = 3  # bump when the generated data changes, so cached snapshots are rebuilt


# ---------------------------------------------------------------------------------------------
# snapshots

@dataclass
class Dataset:
    label: str
    data: Path
    rows: int
    domains: int
    big: int          # rows of big.test
    token: str
    snapshot: snapshot.Snapshot
    urls: list[str] = field(default_factory=list)  # one real url_to per _SMALL domain


def _add_big_domain(data: Path, rows: int, big: int) -> int:
    """Copy about `big` rows of the current snapshot under the host big.test, rewrite the serve
    table with them merged in key order (`snapshot.write_table`, the layout `build` writes) and
    publish it as the new current snapshot (this data directory is the bench's own)."""
    every = max(1, rows // big)
    path = "substr(url_to_key, strpos(url_to_key, ')') + 1)"
    source = snapshot.current(data)
    table = source.table.replace("'", "''")
    staging = snapshot.snapshots_dir(data) / ".staging-big"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    con = connect(data, memory_limit="6GB")  # 2GB: out of memory sorting 10M rows (was fine
    # when this wrote one file; write_table writes ROW_GROUPS_PER_FILE parts)
    try:
        files = snapshot.write_table(con, f"""
            SELECT * FROM read_parquet('{table}')
            UNION ALL
            SELECT * REPLACE ('http://big.test' || {path} AS url_to,
                              'test,big)' || {path} AS url_to_key)
            FROM read_parquet('{table}') WHERE hash(url_to_key) % {every} = 0
            ORDER BY url_to_key, url_from""", staging)
    finally:
        con.close()
    total = sum(int(f["rows"]) for f in files)
    published = snapshot.publish(data, staging, {**source.manifest, "rows": total,
                                                 "files": files})
    snapshot.prune(data, keep=1)  # drop write_synthetic's snapshot (no big.test)
    assert snapshot.current(data).id == published.id
    return total - rows


def dataset(base: Path, label: str, rows: int, domains: int, big: int) -> Dataset:
    """The cached snapshot for these sizes, generated (and timed) when missing."""
    data = base / f"rows{rows}-domains{domains}-big{big}"
    marker = data / "bench.json"
    want = {"layout": _LAYOUT, "rows": rows, "domains": domains, "big": big}
    info = json.loads(marker.read_text()) if marker.exists() else {}
    if {k: info.get(k) for k in want} != want:
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        started = time.perf_counter()
        write_synthetic(data, rows, domains)
        written = time.perf_counter() - started
        started = time.perf_counter()
        added = _add_big_domain(data, rows, big) if big else 0
        merged = time.perf_counter() - started
        with open_ledger(None, data) as ledger:
            token = ledger.create("bench", 10**15)
        files = len(snapshot.current(data).manifest["files"])
        info = {**want, "token": token, "big_rows": added, "files": files,
                "write_synthetic_s": written, "big_merge_s": merged}
        marker.write_text(json.dumps(info, indent=2))
        print(f"  generated {label}: write_synthetic {rows:,} rows / {domains:,} domains "
              f"{written:.1f} s, big.test +{added:,} rows {merged:.1f} s ({files} files)",
              flush=True)
    else:
        print(f"  cached {label}: {data} (write_synthetic took {info['write_synthetic_s']:.1f} s,"
              f" big.test merge {info['big_merge_s']:.1f} s)", flush=True)
    return Dataset(label, data, rows, domains, int(info["big_rows"]), info["token"],
                   snapshot.current(data))


# ---------------------------------------------------------------------------------------------
# request shapes

_SMALL = (7, 2024, 4711, 6502, 9001)  # dN.test in both snapshots (N < DOMAINS/SCALE)
_WHERE_CODE = "http_code=404"
_WHERE_ANCHOR = 'substring(anchor,"1")'
_HAVING = "domain_rating>=10"
_FIRST_SEEN = "first_seen:desc"
_FEW = "url_from,url_to,anchor,http_code,first_seen"

# name → (target pattern, mode, extra parameters); `{d}` is a small domain, `{url}` a URL of it
SHAPES: list[tuple[str, str, str, dict[str, str]]] = [
    ("exact", "{url}", "exact", {}),
    ("exact +where", "{url}", "exact", {"where": _WHERE_CODE}),
    ("domain", "{d}", "domain", {}),
    ("domain select 5 cols", "{d}", "domain", {"select": _FEW}),
    ("domain +where code", "{d}", "domain", {"where": _WHERE_CODE}),
    ("domain +where substring", "{d}", "domain", {"where": _WHERE_ANCHOR}),
    ("domain +having", "{d}", "domain", {"having": _HAVING}),
    ("domain order first_seen", "{d}", "domain", {"order_by": _FIRST_SEEN}),
    ("subdomains", "{d}", "subdomains", {}),
    ("subdomains +where+having+order", "{d}", "subdomains",
     {"where": _WHERE_CODE, "having": _HAVING, "order_by": _FIRST_SEEN}),
    ("prefix", "http://{d}/p/", "prefix", {}),
    ("prefix +where substring +order", "http://{d}/p/", "prefix",
     {"where": _WHERE_ANCHOR, "order_by": _FIRST_SEEN}),
    ("big domain", "big.test", "domain", {}),
    ("big domain +where +order", "big.test", "domain",
     {"where": _WHERE_CODE, "order_by": _FIRST_SEEN}),
    ("big subdomains +having", "big.test", "subdomains", {"having": _HAVING}),
    ("big prefix +where substring", "http://big.test/p/1", "prefix", {"where": _WHERE_ANCHOR}),
]


def _urls(ds: Dataset) -> list[str]:
    """One real url_to per small domain (for exact mode)."""
    con = open_reader()
    try:
        found = []
        for n in _SMALL:
            low, high = f"test,d{n})", f"test,d{n}*"
            row = con.execute("SELECT url_to FROM read_parquet(?) WHERE url_to_key >= ? AND "
                              "url_to_key < ? ORDER BY url_to_key LIMIT 1",
                              [ds.snapshot.files_for(low, high), low, high]).fetchall()
            found.append(row[0][0])
        return found
    finally:
        con.close()


def requests_of(ds: Dataset, shape: tuple[str, str, str, dict[str, str]]
                ) -> list[dict[str, list[str]]]:
    """The parameter sets of one shape, one per small domain (repeats rotate over them)."""
    _, pattern, mode, extra = shape
    out = []
    for n, url in zip(_SMALL, ds.urls, strict=True):
        target = pattern.format(d=f"d{n}.test", url=url)
        params = {"target": target, "mode": mode, "limit": "1000", "output": "json", **extra}
        out.append({k: [v] for k, v in params.items()})
        if "{" not in pattern:  # big.test: the same request every time
            break
    return out


# ---------------------------------------------------------------------------------------------
# measurement

class Server:
    """`linkatlas --data DIR serve --workers 2` on a free loopback port."""

    def __init__(self, ds: Dataset, workers: int) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.log = ds.data / f"serve-{self.port}.log"
        self._log = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "linkatlas.cli", "--data", str(ds.data), "serve",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
            stdout=subprocess.DEVNULL, stderr=self._log, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                conn = HttpClient(self.port)
                conn.get("/docs")
                conn.close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


class HttpClient:
    """A keep-alive HTTP/1.1 connection (http.client: the leanest client in the stdlib)."""

    def __init__(self, port: int) -> None:
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str) -> tuple[int, Any, bytes]:
        """Status, headers (case-insensitive) and body."""
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        body = response.read()
        return response.status, response.msg, body

    def close(self) -> None:
        self.conn.close()


def http_path(ds: Dataset, params: dict[str, list[str]], token: str = "") -> str:
    flat = [("token", token or ds.token), ("from", "broken_backlinks")]
    flat += [(k, v) for k, values in params.items() for v in values]
    return "/v2?" + urlencode(flat)


def http_info_path(ds: Dataset) -> str:
    return "/v2?" + urlencode([("token", ds.token), ("from", "subscription_info")])


def _bare(con: Any, ds: Dataset, params: dict[str, list[str]]) -> tuple[float, int]:
    started = time.perf_counter()
    compiled = plan(parse_request(params), ds.snapshot)
    rows = con.execute(compiled.sql, compiled.params).fetchall()
    return time.perf_counter() - started, len(rows)


def _http(client: HttpClient, ds: Dataset, params: dict[str, list[str]]) -> tuple[float, int]:
    path = http_path(ds, params)
    started = time.perf_counter()
    status, headers, body = client.get(path)
    elapsed = time.perf_counter() - started
    if status != 200 or headers.get("X-Status") == "error":
        raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    return elapsed, int(headers["X-Results-Count"])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency(sets: list[Dataset], clients: dict[str, HttpClient], repeats: int
            ) -> tuple[dict[tuple[str, str, str], list[float]], dict[tuple[str, str], list[int]]]:
    """(shape, dataset, 'bare'|'http') → seconds, and (shape, dataset) → rows returned per
    target; every repeat runs all shapes on all datasets, bare and HTTP interleaved."""
    con = open_reader()
    times: dict[tuple[str, str, str], list[float]] = {}
    counts: dict[tuple[str, str], list[int]] = {}
    requests = {(s[0], ds.label): requests_of(ds, s) for s in SHAPES for ds in sets}
    # warm-up, and the row counts of both paths must agree
    for shape in SHAPES:
        for ds in sets:
            for params in requests[shape[0], ds.label]:
                for _ in range(2):
                    _, bare_rows = _bare(con, ds, params)
                    _, http_rows = _http(clients[ds.label], ds, params)
                if bare_rows != http_rows:
                    raise RuntimeError(f"{shape[0]} on {ds.label}: bare {bare_rows} rows, "
                                       f"HTTP {http_rows}")
                counts.setdefault((shape[0], ds.label), []).append(bare_rows)
    floor = {ds.label: http_info_path(ds) for ds in sets}
    for r in range(repeats):
        for shape in SHAPES:
            for ds in sets if r % 2 else reversed(sets):
                choices = requests[shape[0], ds.label]
                params = choices[r % len(choices)]
                client = clients[ds.label]
                # HTTP twice in a row on the kept-alive connection: the first comes after an
                # idle gap (the other requests of the round), the second right after a response
                # (a client paging or looping); the bare query before or after them.
                if r % 2:
                    times.setdefault((shape[0], ds.label, "bare"), []).append(
                        _bare(con, ds, params)[0])
                times.setdefault((shape[0], ds.label, "idle"), []).append(
                    _http(client, ds, params)[0])
                times.setdefault((shape[0], ds.label, "http"), []).append(
                    _http(client, ds, params)[0])
                if not r % 2:
                    times.setdefault((shape[0], ds.label, "bare"), []).append(
                        _bare(con, ds, params)[0])
        for ds in sets:  # the stack without DuckDB: subscription_info, back to back
            for kind in ("floor idle", "floor"):
                started = time.perf_counter()
                status, _, body = clients[ds.label].get(floor[ds.label])
                times.setdefault(("", ds.label, kind), []).append(time.perf_counter() - started)
                if status != 200 or b"rows_left" not in body:
                    raise RuntimeError(f"subscription_info: HTTP {status}: {body[:200]!r}")
    con.close()
    return times, counts


async def _load(port: int, paths: list[list[tuple[str, int]]], seconds: float
                ) -> tuple[int, int, list[float], list[str]]:
    """A task per list of `paths` (a client: one connection, one token), each cycling through
    its paths for `seconds`."""
    import aiohttp

    done = errors = 0
    latencies: list[float] = []
    problems: list[str] = []
    stop = time.perf_counter() + seconds
    clients = len(paths)
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", connector=connector,
                                     timeout=timeout, auto_decompress=False) as session:
        async def client(k: int) -> None:
            nonlocal done, errors
            mine, i = paths[k], k
            while time.perf_counter() < stop:
                path, rows = mine[i % len(mine)]
                i += 1
                started = time.perf_counter()
                try:
                    async with session.get(path) as response:
                        await response.read()
                        ok = (response.status == 200 and response.headers.get("X-Status") != "error"
                              and int(response.headers.get("X-Results-Count", -1)) == rows)
                        if not ok and len(problems) < 5:
                            problems.append(f"{response.status} {response.headers}")
                except Exception as exc:  # noqa: BLE001 - every failure is an error here
                    ok = False
                    if len(problems) < 5:
                        problems.append(repr(exc))
                latencies.append(time.perf_counter() - started)
                done += ok
                errors += not ok

        await asyncio.gather(*(client(k) for k in range(clients)))
    return done, errors, latencies, problems


def client_tokens(ds: Dataset, clients: int) -> list[str]:
    """A token per client, as separate API users have: one token allows 4 queries at once
    (api/limits.py, issue 13), so clients sharing one would mostly be refused."""
    with open_ledger(None, ds.data) as ledger:
        return [ledger.create(f"bench client {k}", 10**15) for k in range(clients)]


def throughput(ds: Dataset, server: Server, counts: dict[tuple[str, str], list[int]],
               shapes: list[tuple[str, str, str, dict[str, str]]], tokens: list[str],
               seconds: float) -> dict[str, float]:
    paths: list[list[tuple[str, int]]] = [[] for _ in tokens]
    for shape in shapes:
        for params, rows in zip(requests_of(ds, shape), counts[shape[0], ds.label], strict=True):
            for mine, token in zip(paths, tokens, strict=True):
                mine.append((http_path(ds, params, token), rows))
    usage = os.times()
    started = time.perf_counter()
    done, errors, latencies, problems = asyncio.run(_load(server.port, paths, seconds))
    wall = time.perf_counter() - started
    after = os.times()
    for problem in problems:
        print(f"    error: {problem}")
    return {"requests": done + errors, "errors": errors, "rps": (done + errors) / wall,
            "p50": _pct(latencies, 0.5), "p99": _pct(latencies, 0.99), "wall": wall,
            "client_cpu": (after.user - usage.user + after.system - usage.system) / wall}


# ---------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/linkatlas-bench-api"))
    parser.add_argument("--keep", action="store_true", help="keep the snapshots for next runs")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--scale", type=int, default=10, help="small snapshot = large / SCALE")
    parser.add_argument("--big", type=int, default=100_000, help="rows of big.test")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.domains // args.scale <= max(_SMALL):
        parser.error(f"--domains / --scale must exceed {max(_SMALL)}")

    def label(rows: int) -> str:
        return f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows / 1e3:g}k"

    small_rows, small_domains = args.rows // args.scale, args.domains // args.scale
    print(f"snapshots under {args.dir}", flush=True)
    args.dir.mkdir(parents=True, exist_ok=True)
    sets = [dataset(args.dir, label(small_rows), small_rows, small_domains, args.big),
            dataset(args.dir, label(args.rows), args.rows, args.domains, args.big)]
    for ds in sets:
        ds.urls = _urls(ds)
    servers: dict[str, Server] = {}
    clients: dict[str, HttpClient] = {}
    try:
        for ds in sets:
            servers[ds.label] = Server(ds, args.workers)
            clients[ds.label] = HttpClient(servers[ds.label].port)
        print(f"servers: {', '.join(f'{k} :{s.port}' for k, s in servers.items())}; "
              f"{args.repeats} repeats of {len(SHAPES)} shapes x {len(sets)} snapshots, "
              "bare and HTTP interleaved", flush=True)
        times, counts = latency(sets, clients, args.repeats)
        for client in clients.values():
            client.close()
        small, large = sets
        med = statistics.median
        print()
        print(f"Latency, ms: limit 1000, output json, all columns unless said; rows = rows "
              f"returned, over the {len(_SMALL)} rotated targets. http = the request sent right "
              "after the previous response on a kept-alive connection; idle = after a pause.")
        header = (f"{'request':32} {'snap':>4} {'rows':>7} {'bare p50':>8} {'bare p99':>8} "
                  f"{'http p50':>8} {'http p99':>8} {'http/bare':>9} {'idle p50':>8} "
                  f"{'idle/bare':>9} {large.label + '/' + small.label + ' http (bare)':>20}")
        print(header)
        print("-" * len(header))
        ratios: dict[str, list[float]] = {"http": [], "idle": []}
        scales: dict[str, list[float]] = {"http": [], "bare": [], "idle": []}
        for shape in SHAPES:
            name = shape[0]
            for ds in sets:
                bare, http, idle = (times[name, ds.label, k] for k in ("bare", "http", "idle"))
                rows = counts[name, ds.label]
                shown = (f"{min(rows)}-{max(rows)}" if min(rows) != max(rows) else str(rows[0]))
                for kind, values in (("http", http), ("idle", idle)):
                    ratios[kind].append(med(values) / med(bare))
                scale = ""
                if ds is large:
                    for kind in scales:
                        scales[kind].append(med(times[name, large.label, kind])
                                            / med(times[name, small.label, kind]))
                    scale = f"{scales['http'][-1]:.2f} ({scales['bare'][-1]:.2f})"
                print(f"{name:32} {ds.label:>4} {shown:>7} {1e3 * med(bare):8.2f} "
                      f"{1e3 * _pct(bare, 0.99):8.2f} {1e3 * med(http):8.2f} "
                      f"{1e3 * _pct(http, 0.99):8.2f} {ratios['http'][-1]:8.2f}x "
                      f"{1e3 * med(idle):8.2f} {ratios['idle'][-1]:8.2f}x {scale:>20}")
        for ds in sets:
            floor, idle = times["", ds.label, "floor"], times["", ds.label, "floor idle"]
            print(f"{'subscription_info (no DuckDB)':32} {ds.label:>4} {'':>7} {'':>8} {'':>8} "
                  f"{1e3 * med(floor):8.2f} {1e3 * _pct(floor, 0.99):8.2f} {'':>9} "
                  f"{1e3 * med(idle):8.2f}")
        print("-" * len(header))
        for kind in ("http", "idle"):
            print(f"{kind}/bare p50: median {med(ratios[kind]):.2f}x, worst "
                  f"{max(ratios[kind]):.2f}x over {len(ratios[kind])} rows (target <= 1.5x)")
        for kind in ("http", "idle", "bare"):
            print(f"p50 {large.label}/{small.label}, {kind}: median {med(scales[kind]):.2f}, "
                  f"worst {max(scales[kind]):.2f} (target <= 1.3)")
        print()
        print(f"Throughput: {args.clients} concurrent clients (aiohttp, one connection and one "
              f"token each) against serve --workers {args.workers} on {large.label}, "
              f"{args.seconds:g} s")
        tokens = client_tokens(large, args.clients)
        small_shapes = [s for s in SHAPES if not s[1].startswith(("big", "http://big"))]
        for name, chosen in (("small-domain shapes", small_shapes), ("all shapes", SHAPES)):
            result = throughput(large, servers[large.label], counts, chosen, tokens,
                                args.seconds)
            print(f"  {name:20} {result['rps']:8.1f} requests/s  {int(result['requests']):6d} "
                  f"requests  {int(result['errors'])} errors  latency p50 "
                  f"{1e3 * result['p50']:.1f} ms p99 {1e3 * result['p99']:.1f} ms  "
                  f"(client used {result['client_cpu']:.2f} CPU)", flush=True)
    finally:
        for server in servers.values():
            server.stop()
        if not args.keep:  # only what this bench made under --dir
            for ds in sets:
                shutil.rmtree(ds.data, ignore_errors=True)
            with contextlib.suppress(OSError):
                args.dir.rmdir()


if __name__ == "__main__":
    main()

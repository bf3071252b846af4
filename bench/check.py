"""Benchmark of `linkatlas check` against linkinator on a loopback web (issue 6).

    .venv/bin/python bench/check.py [--hosts 250] [--per-host-targets 80] [--concurrency 64]
                                    [--per-host 4] [--linkinator PATH]

A server process answers for HOSTS addresses 127.0.1.N (all loopback); each host has
PER_HOST_TARGETS link targets of every kind the checker must judge (table `_KINDS`). linkatlas
reaches host N as `hN.bench.test` through a hosts file with hosts_only (no DNS query leaves the
machine); linkinator, which has no hosts file, reaches the same server as `127.0.1.N`. Both run
at the same global concurrency. Printed: URLs/s of each, verdict agreement per kind (cases where
linkinator's definition of broken differs from spec/COLUMNS.md are named), linkatlas verdicts
against the expected ones, and the server's peak in-flight requests per host.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linkatlas.check.checker import CheckOptions, run  # noqa: E402
from linkatlas.check.log import log_dir  # noqa: E402
from linkatlas.check.verdict import verdict  # noqa: E402

# kind → (share in ‰, COLUMNS.md verdict, linkinator's verdict when it differs by definition)
_KINDS: dict[str, tuple[int, str, str]] = {
    "a": (640, "ok", ""),                       # 200
    "missing": (50, "broken", ""),              # 404
    "gone": (50, "broken", ""),                 # 410
    "error": (30, "broken", ""),                # 500
    "maintenance": (20, "broken", ""),          # 503, Retry-After: 3600 (away for long)
    "app": (30, "ok", ""),                      # HEAD 405, GET 200
    "dyn": (30, "ok", ""),                      # HEAD 404, GET 200 (HEAD lies)
    "old": (50, "redirect", ""),                # 301 → /a/k
    "dead-redirect": (20, "redirect", "broken"),  # 301 → /gone/k: linkinator follows it
    "busy": (40, "ok", ""),                     # 429 (Retry-After: 1) on odd requests
    "slowish": (40, "ok", ""),                  # 200 after 0.3 s
}
_BROKEN = {"broken", "dns"}


def _kind_of(host: int, k: int) -> str:
    roll = zlib.crc32(f"{host}/{k}".encode()) % 1000
    for kind, (share, _, _) in _KINDS.items():
        if roll < share:
            return kind
        roll -= share
    return "a"


class _Server:
    """The loopback web: stateless answers by path, except /busy's odd/even counter."""

    def __init__(self, hosts: int, per_host: int) -> None:
        self.hosts = hosts
        self.per_host = per_host
        self.counts: Counter[str] = Counter()
        self.inflight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = request.host.rsplit(":", 1)[0]
        self.inflight[host] += 1
        self.peak[host] = max(self.peak[host], self.inflight[host])
        try:
            return await self._answer(request)
        finally:
            self.inflight[host] -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        head = request.method == "HEAD"
        parts = request.path.strip("/").split("/")
        if parts[0] == "peak":
            return web.json_response(max(self.peak.values(), default=0))
        if parts[0] == "index":  # one page of links to every target of one host, for linkinator
            host = int(parts[1].removesuffix(".html"))
            links = "".join(f'<a href="{path}">{n}</a>\n'
                            for n, path in enumerate(target_paths(host, self.per_host)))
            return web.Response(text=f"<html><body>{links}</body></html>",
                                content_type="text/html")
        kind, k = parts[0], parts[-1]
        answer = self._status(kind, k, head, request.host + request.path)
        if answer is not None:
            status, headers = answer
            # A short body, as real error pages have: it gives the answer a Content-Length.
            return web.Response(status=status, headers=headers, text=f"{status} {kind}\n")
        if kind == "slowish":
            await asyncio.sleep(0.3)
        return web.Response(text="<html><body>" + "text " * 200 + "</body></html>",
                            content_type="text/html")

    def _status(self, kind: str, k: str, head: bool,
                key: str) -> tuple[int, dict[str, str]] | None:
        """Status and headers of a non-200 answer, or None for a 200 page."""
        fixed = {"missing": 404, "gone": 410, "error": 500}
        if kind in fixed:
            return fixed[kind], {}
        if kind == "maintenance":
            return 503, {"Retry-After": "3600"}
        if head and kind in ("app", "dyn"):
            return (405 if kind == "app" else 404), {}
        if kind == "old":
            return 301, {"Location": f"/a/{k}"}
        if kind == "dead-redirect":
            return 301, {"Location": f"/gone/{k}"}
        if kind == "busy":
            self.counts[key] += 1
            if self.counts[key] % 2 == 1:
                return 429, {"Retry-After": "1"}
        return None


def target_paths(host: int, per_host: int) -> list[str]:
    return [f"/{_kind_of(host, k)}/{k}" for k in range(per_host)]


def _more_files() -> None:
    """Raise the open-file limit: linkinator leaves many connections open (it does not read
    the bodies it gets), and the server holds the other end of each."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in (max(hard, 262_144), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            return
        except (ValueError, OSError):
            continue


def serve(hosts: int, per_host: int, port: int, keepalive: float, shard: int,
          shards: int) -> None:
    _more_files()

    async def main() -> None:
        server = _Server(hosts, per_host)
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", server.handle)
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=keepalive)
        await runner.setup()
        for n in range(1 + shard, hosts + 1, shards):
            await web.TCPSite(runner, f"127.0.1.{n}", port, backlog=1024).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.1.1", 0))
        return int(probe.getsockname()[1])


def _run_linkatlas(args: argparse.Namespace, port: int, work: Path) -> tuple[float, dict]:
    hosts = work / "hosts"
    hosts.write_text("".join(f"127.0.1.{n} h{n}.bench.test\n" for n in range(1, args.hosts + 1)))
    urls = [f"http://h{n}.bench.test:{port}{path}" for n in range(1, args.hosts + 1)
            for path in target_paths(n, args.per_host_targets)]
    options = CheckOptions(concurrency=args.concurrency, per_host=args.per_host, hosts=hosts,
                           hosts_only=True)
    started = time.monotonic()
    stats = run(work, urls, options)
    seconds = time.monotonic() - started
    results: dict[tuple[int, str], str] = {}
    for path in log_dir(work).glob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            row = json.loads(line)
            host, _, rest = row["url"].removeprefix("http://h").partition(".bench.test:")
            results[(int(host), "/" + rest.split("/", 1)[1])] = verdict(row["http_code"],
                                                                         row["error"])
    print(f"linkatlas: {stats.observed} observations ({stats.redirects_queued} redirect "
          f"targets), {stats.requests} requests, {stats.retries} retries in {seconds:.1f} s")
    return seconds, results


def _run_linkinator(args: argparse.Namespace, port: int, command: str) -> tuple[float, dict]:
    pages = [f"http://127.0.1.{n}:{port}/index/{n}.html" for n in range(1, args.hosts + 1)]
    env = {key: value for key, value in os.environ.items()
           if key.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    # A file, not a pipe: node cuts piped stdout short when it exits.
    with tempfile.TemporaryFile() as out:
        started = time.monotonic()
        subprocess.run([command, *pages, "--concurrency", str(args.concurrency), "--retry",
                        "--timeout", "15000", "--format", "json"], stdout=out, env=env,
                       check=False, preexec_fn=_more_files)
        seconds = time.monotonic() - started
        out.seek(0)
        report = json.loads(out.read())
    results: dict[tuple[int, str], str] = {}
    for link in report["links"]:
        if not link.get("parent"):
            continue
        rest = link["url"].removeprefix("http://127.0.1.")
        host, _, path = rest.partition(":")
        results[(int(host), "/" + path.split("/", 1)[1])] = link["state"].lower()
    return seconds, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--per-host-targets", type=int, default=80)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--linkinator", default=shutil.which("linkinator")
                        or str(ROOT / "bench" / "node_modules" / ".bin" / "linkinator"))
    parser.add_argument("--servers", type=int, default=4,
                        help="server processes (each has its own open-file limit)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shard", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--keepalive", type=float, default=10.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.hosts, args.per_host_targets, args.port, args.keepalive, args.shard,
              args.servers)
        return
    port = _free_port()
    servers = [subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port),
                                 "--hosts", str(args.hosts), "--per-host-targets",
                                 str(args.per_host_targets), "--servers", str(args.servers),
                                 "--shard", str(shard)], stdout=subprocess.PIPE, text=True)
               for shard in range(args.servers)]
    try:
        for server in servers:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        _compare(args, port)
    finally:
        for server in servers:
            server.terminate()
            server.wait()


def _peak(port: int, servers: int) -> int:
    """The most requests one host had in flight at once, over all server processes."""
    import urllib.request

    peaks = []
    for shard in range(servers):
        with urllib.request.urlopen(f"http://127.0.1.{1 + shard}:{port}/peak",
                                    timeout=5) as answer:
            peaks.append(int(json.load(answer)))
    return max(peaks)


def _compare(args: argparse.Namespace, port: int) -> None:
    targets = args.hosts * args.per_host_targets
    print(f"{targets} targets over {args.hosts} hosts, concurrency {args.concurrency}, "
          f"linkatlas per-host {args.per_host}")
    with tempfile.TemporaryDirectory() as work:
        ours_s, ours = _run_linkatlas(args, port, Path(work))
    peak = _peak(port, args.servers)
    truth = {(n, path): _KINDS[path.split("/")[1]][1] for n in range(1, args.hosts + 1)
             for path in target_paths(n, args.per_host_targets)}
    wrong = Counter(path.split("/")[1] for key, path in ((key, key[1]) for key in truth)
                    if ours.get(key) != truth[key])
    print(f"linkatlas: {targets / ours_s:,.0f} URLs/s; verdicts differing from COLUMNS.md: "
          f"{sum(wrong.values())} {dict(wrong)}; transient: "
          f"{sum(1 for key in truth if ours.get(key) == 'transient')}; peak in-flight per "
          f"host at the server: {peak}")
    if not Path(args.linkinator).exists() and shutil.which(args.linkinator) is None:
        print(f"linkinator not found at {args.linkinator}: skipped "
              "(npm install --prefix bench linkinator)")
        return
    theirs_s, theirs = _run_linkinator(args, port, args.linkinator)
    print(f"linkinator: {targets / theirs_s:,.0f} URLs/s ({theirs_s:.1f} s)")
    print(f"speed-up: {theirs_s / ours_s:.2f}x")
    print(f"{'kind':<15}{'targets':>8}{'agree':>8}  note")
    for kind, (_, expected, theirs_differs) in _KINDS.items():
        keys = [key for key in truth if key[1].split("/")[1] == kind]
        agree = sum(1 for key in keys
                    if (ours.get(key) in _BROKEN) == (theirs.get(key) == "broken"))
        note = (f"linkinator: {theirs_differs} (follows the redirect), COLUMNS.md: {expected}"
                if theirs_differs else "")
        print(f"{kind:<15}{len(keys):>8}{agree:>8}  {note}")


if __name__ == "__main__":
    main()

"""Crawl benchmark (issue 5): linkatlas crawl vs wget --recursive vs Scrapy on a static web.

A web of PAGES pages over HOSTS hosts is written to a temporary folder and served by nginx on
127.0.0.2…127.0.0.(HOSTS+1) (one address per host, so no name resolution is involved and each
tool sees HOSTS distinct hosts). Each tool crawls it from the hosts' front pages; the table
gives pages/s, CPU seconds per 1,000 pages and peak memory (maximum resident set).
With --latency MS, a small asyncio proxy in front of nginx holds every request that long, as a
distant server would. Not a test: run by hand, `python bench/crawl.py [--pages N] [--latency 50]`.
Needs nginx and wget (Debian packages) and, for the Scrapy row, a `scrapy` command on PATH or
in --scrapy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

WORDS = ["link", "atlas", "crawl", "index", "broken", "page", "anchor", "host", "domain",
         "rating", "target", "archive", "record", "response", "request", "robots", "delay"]

NGINX_CONF = """
user root;
worker_processes 2;
pid {root}/nginx.pid;
error_log {root}/error.log crit;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 100000;
    keepalive_timeout 60;
    default_type text/html;
    types {{ text/html html; text/plain txt; }}
    server {{
        listen {port};
        root {root}/www/$server_addr;
        location = / {{ try_files /index.html =404; }}
    }}
}}
"""


def make_web(root: Path, pages: int, hosts: int, seed: int = 5) -> list[str]:
    """Write the pages; returns the front-page URL of every host."""
    rng = random.Random(seed)
    addresses = [f"127.0.0.{n + 2}" for n in range(hosts)]
    per_host = pages // hosts
    for address in addresses:
        folder = root / "www" / address
        folder.mkdir(parents=True)
        for number in range(per_host):
            links = [f'<a href="/p{(number + k) % per_host}.html">next {k}</a>'
                     for k in range(1, 11)]
            for _ in range(5):
                other = rng.choice(addresses)
                links.append(f'<a href="http://{other}:PORT/p{rng.randrange(per_host)}.html">'
                             f"{other}</a>")
            text = " ".join(rng.choice(WORDS) for _ in range(600))
            html = (f"<!doctype html><html><head><title>{address} {number}</title></head>"
                    f"<body><h1>Page {number}</h1><p>{text}</p><ul><li>"
                    + "</li><li>".join(links) + "</li></ul></body></html>")
            (folder / f"p{number}.html").write_text(html)
            if number == 0:
                (folder / "index.html").write_text(html)
    return [f"http://{address}:PORT/" for address in addresses]


def set_port(root: Path, port: int) -> None:
    for path in (root / "www").rglob("*.html"):
        path.write_text(path.read_text().replace(":PORT/", f":{port}/"))


class DelayProxy:
    """Holds every request `delay` seconds before passing it on (added latency)."""

    def __init__(self, listen: list[str], port: int, upstream_port: int, delay: float) -> None:
        self.listen, self.port, self.upstream, self.delay = listen, port, upstream_port, delay
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        for address in listen:
            asyncio.run_coroutine_threadsafe(self._serve(address), self.loop).result()

    async def _serve(self, address: str) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            up_reader, up_writer = await asyncio.open_connection(address, self.upstream)

            async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                           hold: float) -> None:
                try:
                    while data := await src.read(65536):
                        if hold:
                            await asyncio.sleep(hold)
                        dst.write(data)
                        await dst.drain()
                except ConnectionError:
                    pass
                finally:
                    dst.close()

            await asyncio.gather(pump(reader, up_writer, self.delay),
                                 pump(up_reader, writer, 0.0))

        await asyncio.start_server(handle, address, self.port, backlog=1024)


def measure(argv: list[str], cwd: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of a command and its children."""
    log = cwd / f"{Path(argv[0]).name}.stderr"
    start = time.monotonic()
    with log.open("wb") as errors:  # a file, not a pipe: wget -nv writes a line per page
        child = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    if status != 0 and argv[0] != "wget":  # wget exits 8 on any 404
        sys.stderr.write(f"{argv[0]} exited {status}: {log.read_text()[-500:]}\n")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


LINKATLAS = """
import sys
from pathlib import Path
from linkatlas.crawl import CrawlOptions, run
stats = run(Path(sys.argv[1]), sys.argv[2:], CrawlOptions(delay=0.0, per_host=int("{per_host}"),
            concurrency=int("{concurrency}"), hosts_only=True, allow_private=True))
Path(sys.argv[1], "fetched").write_text(str(stats.fetched))
"""

SPIDER = """
import scrapy
class Spider(scrapy.Spider):
    name = "bench"
    start_urls = {seeds!r}
    def parse(self, response):
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, self.parse)
"""


def run_tools(root: Path, seeds: list[str], args: argparse.Namespace) -> list[tuple]:
    rows = []
    work = root / "linkatlas"
    code = LINKATLAS.format(per_host=args.per_host, concurrency=args.concurrency)
    wall, cpu, rss = measure([sys.executable, "-c", code, str(work), *seeds], root)
    rows.append(("linkatlas", int((work / "fetched").read_text()), wall, cpu, rss))
    if shutil.which("wget"):
        out = root / "wget"
        wall, cpu, rss = measure(["wget", "-r", "-l", "inf", "-H", "-nv", "-P", str(out),
                                  "--no-check-certificate", *seeds], root)
        count = sum(1 for p in out.rglob("*.html")) - len(seeds)  # index.html = p0.html
        rows.append(("wget --recursive", count, wall, cpu, rss))
    scrapy = args.scrapy or shutil.which("scrapy")
    if scrapy:
        (root / "spider.py").write_text(SPIDER.format(seeds=seeds))
        log = root / "scrapy.log"
        wall, cpu, rss = measure([scrapy, "runspider", "spider.py", "-s", "LOG_LEVEL=INFO",
                                  "-s", f"LOG_FILE={log}"], root)
        text = log.read_text()
        marker = "'response_received_count': "
        count = int(text.split(marker)[1].split(",")[0]) if marker in text else 0
        rows.append(("scrapy (defaults)", count, wall, cpu, rss))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.0, help="ms added per request")
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--port", type=int, default=18480)
    parser.add_argument("--scrapy", default="")
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory(prefix="crawl-bench-") as name:
        root = Path(name)
        seeds = make_web(root, args.pages, args.hosts)
        served = args.port + 1 if args.latency else args.port
        set_port(root, args.port)
        seeds = [s.replace(":PORT/", f":{args.port}/") for s in seeds]
        (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=served))
        subprocess.run([nginx, "-c", str(root / "nginx.conf"), "-p", str(root)], check=True)
        try:
            if args.latency:
                DelayProxy([f"127.0.0.{n + 2}" for n in range(args.hosts)], args.port, served,
                           args.latency / 1000)
            rows = run_tools(root, seeds, args)
        finally:
            subprocess.run([nginx, "-c", str(root / "nginx.conf"), "-p", str(root), "-s",
                            "stop"], check=False)
    print(f"\n{args.pages} pages over {args.hosts} hosts, latency {args.latency:g} ms, "
          f"linkatlas per_host={args.per_host} concurrency={args.concurrency}\n")
    print(f"{'tool':<20} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'CPU s/1k':>9} "
          f"{'peak MiB':>9}")
    base = {row[0]: row[1] / row[2] for row in rows}
    for tool, pages, wall, cpu, rss in rows:
        print(f"{tool:<20} {pages:>6} {wall:>8.2f} {pages / wall:>8.0f} "
              f"{cpu / max(pages, 1) * 1000:>9.2f} {rss:>9.0f}")
    ours = base.get("linkatlas", 0.0)
    for tool, speed in base.items():
        if tool != "linkatlas" and speed:
            print(f"linkatlas / {tool}: {ours / speed:.2f}×")


if __name__ == "__main__":
    main()

"""`demo`: the whole job on the bundled sample web — serve it on 127.0.0.x, crawl, check,
build, create a token, serve the API — and show three requests with what they answer.

Everything lives in DIR/demo, apart from the user's own index. A second run finds the crawl
done and the targets fresh, so it rebuilds and serves again in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import orjson

from . import snapshot
from .api.app import Settings
from .api.ledger import open_ledger
from .api.planner import parse_request
from .api.query import answer, open_reader
from .check.checker import CheckOptions
from .check.checker import run as check
from .crawl import CrawlOptions
from .crawl import run as crawl
from .index import build
from .index.due import due_targets
from .sample import generate, serve_in_thread
from .server import serve

__all__ = ["run"]

Say = Callable[[str], None]


def _token(folder: Path, ledger_url: str) -> str:
    """The demo token, kept in DIR/demo/token (0600) so a second run reuses it."""
    keep = folder / "token"
    with open_ledger(ledger_url, folder) as book:
        if keep.exists():
            token = keep.read_text().strip()
            if book.info(token) is not None:
                return token
        token = book.create("demo", 1_000_000)
    keep.write_text(token + "\n")
    os.chmod(keep, 0o600)
    return token


def _examples(token: str, target: str) -> list[tuple[str, dict[str, str]]]:
    return [
        ("every broken backlink of the sample web's alpha.test and its subdomains",
         {"token": token, "from": "broken_backlinks", "target": target, "mode": "subdomains",
          "limit": "5"}),
        ("only 404s, a few columns, as CSV",
         {"token": token, "from": "broken_backlinks", "target": target, "mode": "subdomains",
          "select": "url_from,url_to,anchor,http_code", "where": "http_code=404",
          "output": "csv", "limit": "5"}),
        ("targets whose host does not resolve, best referring pages first",
         {"token": token, "from": "broken_backlinks", "target": "test", "mode": "subdomains",
          "where": 'error="dns"', "order_by": "ahrefs_rank:desc", "limit": "5"}),
    ]


def _preview(folder: Path, params: dict[str, str]) -> str:
    """What a request answers, computed in-process before the server starts (not billed)."""
    request = parse_request({k: [v] for k, v in params.items() if k != "token"})
    text = b"".join(answer(open_reader(), snapshot.current(folder), request))
    if request.output == "json":
        rows = orjson.loads(text)["refpages"]
        return f"{len(rows)} rows, e.g. {orjson.dumps(rows[0]).decode()[:160]}…" if rows else \
            "no rows"
    lines = text.decode().splitlines()  # csv: a header, then a row per line
    return f"{len(lines) - 1} rows:\n" + "\n".join(lines)[:400]


def run(data: Path, port: int, sample_port: int, say: Say, *, pages: int = 300) -> None:
    folder = data / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    web = generate(seed=0, pages=pages)
    hosts = folder / "hosts"
    web.write_hosts(hosts)
    with serve_in_thread(web, sample_port):
        say(f"sample web: {len(web.hosts)} hosts on 127.0.0.x:{sample_port} (hosts file {hosts})")
        stats = crawl(folder, web.seeds(sample_port), CrawlOptions(
            hosts=hosts, hosts_only=True, delay=0.02, per_host=2, concurrency=16,
            max_pages=pages * 10))
        say(f"crawl: {stats.fetched} fetched, {stats.errors} errors"
            f"{' (frontier empty)' if stats.done else ''}")
        due = due_targets(folder, 7.0)
        checked = check(folder, due.urls, CheckOptions(hosts=hosts, hosts_only=True,
                                                        per_host=4, confirm_delay=0.2),
                        previous=due.previous, fresh=due.fresh)
        say(f"check: {checked.observed} targets observed, {len(due.fresh)} still fresh; "
            f"verdicts {dict(checked.verdicts)}")
        report = build(folder)
        say(f"build: snapshot {report.snapshot}: {report.counts['pages']} pages, "
            f"{report.counts['links']} links, {report.counts['broken_backlinks']} broken "
            f"backlinks")
        ledger = f"sqlite:///{folder / 'ledger.sqlite'}"
        token = _token(folder, ledger)
        base = f"http://127.0.0.1:{port}/"
        say(f"demo token: {token}")
        for number, (what, params) in enumerate(_examples(token, "alpha.test"), 1):
            url = base + "?" + urlencode(params)
            say(f"\n{number}. {what}:\n   {url}\n   curl -s '{url}'\n"
                f"   → {_preview(folder, params)}")
        # the token rides in the fragment: browsers never send it, so no log holds it
        fragment = urlencode({"token": token, "target": "alpha.test", "mode": "subdomains"})
        say(f"\nreport (opens authorised): {base}report#{fragment}")
        say(f"\nAPI and docs: {base}  {base}docs   (Ctrl-C stops)")
        serve(Settings(folder, ledger), "127.0.0.1", port, 1)

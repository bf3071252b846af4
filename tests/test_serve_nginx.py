"""Serving past one machine: Debian's nginx (docs/nginx.conf) in front of two `serve`
processes that share one DIR and one PostgreSQL ledger."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

from linkatlas.api.ledger import open_ledger
from linkatlas.extract.ingest import ingest
from linkatlas.index import build

from .archives import example_index, late_broken_backlink
from .hammer import Hammer, answers
from .ports import free_port
from .postgres import fresh_database, postgres_url  # noqa: F401
from .test_serve import Server

CONFIG = Path(__file__).resolve().parents[1] / "docs" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """nginx running docs/nginx.conf with the given upstream ports, on a free port."""

    def __init__(self, root: Path, upstreams: list[int]) -> None:
        self.port = free_port()
        site = CONFIG.read_text().replace("listen 127.0.0.1:8080;",
                                          f"listen 127.0.0.1:{self.port};")
        servers = "".join(f"    server 127.0.0.1:{port};\n" for port in upstreams)
        site = re.sub(r"(    server 127\.0\.0\.1:808\d;\n)+", servers, site)
        (root / "site.conf").write_text(site)
        # Which server answered each request, for the test to see both at work.
        temp = "".join(f"{kind}_temp_path {root / kind};\n" for kind in (
            "client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (root / "nginx.conf").write_text(
            f"{'user root root;' if os.geteuid() == 0 else ''}\n"
            f"daemon off;\nworker_processes 2;\npid {root / 'nginx.pid'};\n"
            f"error_log {root / 'error.log'} warn;\nevents {{ worker_connections 512; }}\n"
            f"http {{\n{temp}log_format up '$upstream_addr $status';\n"
            f"access_log {root / 'access.log'} up;\ninclude {root / 'site.conf'};\n}}\n")
        self.root = root
        self.process = subprocess.Popen(
            [NGINX, "-p", str(root), "-c", str(root / "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.get("/docs")
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"nginx did not start: {(root / 'error.log').read_text()}")

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
            return bytes(r.read())

    def upstreams(self) -> set[str]:
        lines = (self.root / "access.log").read_text().splitlines()
        return {line.split()[0] for line in lines if line.endswith(" 200")}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return example_index(tmp_path_factory.mktemp("scale"))


@pytest.fixture
def cluster(data: Path, postgres_url: str, tmp_path: Path  # noqa: F811
            ) -> Iterator[tuple[Nginx, list[Server], str]]:
    if not Path(NGINX).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is missing: ./run test installs Debian's nginx")
        pytest.skip("nginx is not installed (./run test installs it)")
    ledger = fresh_database(postgres_url, "scale")
    servers: list[Server] = []
    (tmp_path / "nginx").mkdir()
    try:  # what started is stopped, also when a later start fails
        for _ in range(2):
            servers.append(Server(data, ledger))
        front = Nginx(tmp_path / "nginx", [s.port for s in servers])
    except RuntimeError:
        for server in servers:
            server.stop()
        raise
    yield front, servers, ledger
    front.stop()
    for server in servers:
        server.stop()


def test_two_servers_behind_nginx_answer_as_one_and_debit_exactly(
        cluster: tuple[Nginx, list[Server], str], data: Path) -> None:
    front, servers, ledger = cluster
    with open_ledger(ledger, data) as book:
        reader = book.create("reader", 1_000_000)
        probe = book.create("probe", 1000)
    queries = [f"/?token={reader}&from=broken_backlinks&target={target}&mode={mode}"
               f"&select=url_from,url_to,http_code,domain_rating&order_by=url_from:asc"
               for target, mode in [("example.com", "domain"), ("example.com/dead/1", "exact"),
                                    ("blog.example.com", "subdomains"),
                                    ("notexample.com", "domain")]]
    alone = [servers[0].get(q)[1] for q in queries]
    assert all(orjson.loads(body)["refpages"] for body in alone)
    with ThreadPoolExecutor(4) as pool:  # at most 4 requests of a token at once (security.md)
        behind = list(pool.map(front.get, queries * 6))
    assert behind == alone * 6

    # Concurrent clients on one token through both servers: every debit lands once. The
    # token can pay for 200 of the 320 requests, and half a request more.
    charged = ("/?token={}&from=broken_backlinks&target=example.com/dead/1"
               "&mode=exact&select=url_to")
    front.get(charged.format(probe))
    with open_ledger(ledger, data) as book:
        cost = 1000 - book.info(probe).rows_left  # type: ignore[union-attr]
        shared = book.create("shared", 200 * cost + cost // 2)
    charged = charged.format(shared)

    got = answers(lambda: front.get(charged), clients=40, each=8)
    assert all("refpages" in answer or answer["error"].startswith(
        ("rows limit exceeded", "too many refused requests")) for answer in got)
    results = [len(answer["refpages"]) if "refpages" in answer else -1 for answer in got]
    assert cost > 0 and results.count(1) == 200 and results.count(-1) == 120
    with open_ledger(ledger, data) as book:
        info = book.info(shared)
        journal = book.journal(shared)
    assert info is not None and info.rows_left == cost // 2
    assert len(journal) == 200 and sum(d.cost for d in journal) == 200 * cost
    assert front.upstreams() == {f"127.0.0.1:{s.port}" for s in servers}


def test_a_new_snapshot_is_picked_up_by_both_servers_under_load(
        cluster: tuple[Nginx, list[Server], str], data: Path, tmp_path: Path) -> None:
    front, servers, ledger = cluster
    with open_ledger(ledger, data) as book:
        token = book.create("switch", 10_000_000)
    query = f"/?token={token}&from=broken_backlinks&target=late.test&mode=domain&select=url_to"
    with Hammer(lambda: front.get(query)) as hammer:
        ingest(data, [late_broken_backlink(tmp_path)])
        build(data, workers=1)
        deadline = time.monotonic() + 30
        rows = [0, 0]
        while rows != [1, 1] and time.monotonic() < deadline:
            rows = [len(orjson.loads(s.get(query)[1])["refpages"]) for s in servers]
            time.sleep(0.1)
    assert rows == [1, 1]  # each server serves the new snapshot
    assert hammer.failures == []
    assert len(orjson.loads(front.get(query))["refpages"]) == 1

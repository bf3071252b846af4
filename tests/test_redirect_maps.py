"""The redirect map exports loaded into Debian's real nginx and Apache (started here on free
loopback ports): 301 to the mapped target for every mapped URL, query strings included, and
nothing else; hostile URLs never reach the configuration."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from linkatlas.web.redirects import render, safe_pairs

from .ports import free_port

NGINX, APACHE = shutil.which("nginx") or "/usr/sbin/nginx", "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")

MAPPED = [
    ("http://shop.test/products/blue-widget-old", "http://shop.test/products/blue-widget"),
    ("http://shop.test/item?id=5", "http://shop.test/"),
    ("https://shop.test/p?a=1&b=two", "https://shop.test/products/red-widget"),
    ("http://shop.test/a.b(c)*+!x", "http://shop.test/caf%C3%A9?ref=%2541"),
    ("http://www.shop.test/old/", "http://www.shop.test/new/"),
    ("http://shop.test/Case", "http://shop.test/case-target"),
]
HOSTILE = [
    ('http://shop.test/q"uote', "http://shop.test/"),
    ("http://shop.test/q'uote", "http://shop.test/"),
    ("http://shop.test/sp ace", "http://shop.test/"),
    ("http://shop.test/br{ace}", "http://shop.test/"),
    ("http://shop.test/semi;colon", "http://shop.test/"),
    ("http://shop.test/do$llar", "http://shop.test/"),
    ("http://shop.test/new\nline", "http://shop.test/"),
    ("http://shop.test/ok-source", 'http://shop.test/"; return 200 "pwned'),
    ("http://shop.test/ok2", "http://shop.test/$host"),
    ("http://shop.test/back\\slash", "http://shop.test/"),
    ("http://shop.test/%22encoded", "http://shop.test/"),
    ("http://shop.test/x%0ay", "http://shop.test/"),
]
# Requests that must not be redirected: other queries, prefixes, other hosts, hostile ones.
UNMAPPED = [
    ("shop.test", "/products/blue-widget-old/"), ("shop.test", "/products/blue-widget-old?x=1"),
    ("shop.test", "/products/blue-widget"), ("shop.test", "/products"),
    ("shop.test", "/item"), ("shop.test", "/item?id=50"), ("shop.test", "/item?id=5&x=1"),
    ("shop.test", "/p?a=1"), ("shop.test", "/p?b=two&a=1"), ("other.test", "/item?id=5"),
    ("shop.test", "/a.b(c)*+!xx"), ("shop.test", "/aXb(c)*+!x"), ("shop.test", "/old/"),
    ("www.shop.test", "/old"), ("shop.test", "/ok-source"), ("shop.test", "/ok2"),
    ("shop.test", "/semi;colon"), ("shop.test", "/do$llar"), ("shop.test", "/case"),
    ("shop.test", "/CASE"),
]
ARGS = pytest.mark.skipif(not Path(NGINX).exists() or not Path(APACHE).exists(),
                          reason="nginx and apache2 are installed by ./run test")


def _request(port: int, host: str, path: str) -> tuple[int, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Location")
    finally:
        connection.close()


def _wait(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            _request(port, "probe.test", "/")
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


def _check(port: int) -> None:
    for source, target in MAPPED:
        rest = source.split("://", 1)[1]
        host, path = rest.split("/", 1)
        assert _request(port, host, "/" + path) == (301, target), source
    for host, path in UNMAPPED:
        status, location = _request(port, host, path)
        assert not 300 <= status < 400 and location is None, (host, path, status)


@pytest.fixture
def pairs() -> list[tuple[str, str]]:
    kept, left_out = safe_pairs(MAPPED + HOSTILE)
    assert [(p.source, p.target) for p in kept] == MAPPED and left_out == len(HOSTILE)
    return MAPPED + HOSTILE


def _run(command: list[str], port: int, log: Path) -> Iterator[None]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(port, process, log)
        yield
    finally:
        process.terminate()
        process.wait(10)


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    include {dir}/map.conf;
    server {{
        listen 127.0.0.1:{port};
        if ($linkatlas_redirect) {{ return 301 $linkatlas_redirect; }}
        location / {{ return 404; }}
    }}
}}
"""


@ARGS
def test_nginx_map(tmp_path: Path, pairs: list[tuple[str, str]]) -> None:
    port = free_port()
    (tmp_path / "map.conf").write_text(render("nginx", pairs))
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp_path, port=port))
    command = [NGINX, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    for _ in _run([*command, "-g", "daemon off;"], port, tmp_path / "error.log"):
        _check(port)


APACHE_CONF = """
ServerRoot {dir}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule rewrite_module {modules}/mod_rewrite.so
PidFile {dir}/apache.pid
Mutex file:{dir} default
ErrorLog {dir}/error.log
LogLevel warn
User nobody
Group nogroup
Listen 127.0.0.1:{port}
ServerName localhost
DocumentRoot {dir}/www
Include {dir}/rewrite.conf
"""


@ARGS
def test_apache_rewrite_rules(tmp_path: Path, pairs: list[tuple[str, str]]) -> None:
    port = free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "rewrite.conf").write_text(render("apache", pairs))
    conf = tmp_path / "apache.conf"
    conf.write_text(APACHE_CONF.format(dir=tmp_path, port=port, modules=MODULES))
    command = [APACHE, "-f", str(conf)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    for _ in _run([*command, "-DFOREGROUND"], port, tmp_path / "error.log"):
        _check(port)

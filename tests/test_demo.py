"""`linkatlas demo` as a newcomer runs it: twice, queried over HTTP, stopped with Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from linkatlas.urls import host_of, registered_domain

from .ports import free_port


def _run_demo(data: Path, port: int, second_interrupt_after: float) -> str:
    process = subprocess.Popen(
        [sys.executable, "-m", "linkatlas.cli", "--data", str(data), "demo", "--port", str(port),
         "--sample-port", str(free_port()), "--pages", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        token = ""
        deadline = time.monotonic() + 120
        lines: list[str] = []
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("demo token: "):
                token = line.split(": ", 1)[1].strip()
            if line.startswith("API and docs:"):
                break
        else:
            raise AssertionError("".join(lines))
        for _ in range(100):
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/?token={token}&from=broken_backlinks&"
                        "target=alpha.test&mode=subdomains&limit=3", timeout=10) as response:
                    body = orjson.loads(response.read())
                break
            except OSError:
                time.sleep(0.2)
        rows = body["refpages"]
        assert 1 <= len(rows) <= 3, body
        # backlinks only: the demo shows no link from a site to itself (spec/COLUMNS.md)
        assert all(registered_domain(host_of(row["url_from"])) !=
                   registered_domain(host_of(row["url_to"])) for row in rows), rows
        assert "from=broken_backlinks" in "".join(lines) and "curl -s" in "".join(lines)
        report = next(line for line in lines if line.startswith("report (opens authorised): "))
        link = report.split(": ", 1)[1].strip()
        assert link.startswith(f"http://127.0.0.1:{port}/report#token={token}&target=")
        with urllib.request.urlopen(link.split("#")[0], timeout=10) as response:
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    finally:
        process.send_signal(signal.SIGINT)
        time.sleep(second_interrupt_after)
        process.send_signal(signal.SIGINT)  # an impatient second Ctrl-C prints no traceback
        process.wait(timeout=30)
        rest = process.stdout.read() if process.stdout else ""
        if process.stdout:
            process.stdout.close()
    # 130: stopped by the first Ctrl-C; -SIGINT: the second one ended it as it shut down
    assert process.returncode in (0, 130, -signal.SIGINT) and "Traceback" not in rest, rest
    return token


def test_demo_runs_twice_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    # The second Ctrl-C lands once during uvicorn's shutdown, once after it (in teardown).
    first = _run_demo(tmp_path / "data", port, second_interrupt_after=0.05)
    second = _run_demo(tmp_path / "data", port, second_interrupt_after=0.6)
    assert first == second  # the demo token is kept


def test_the_readme_demo_as_a_user_runs_it(tmp_path: Path) -> None:
    """README's `./run demo`: the installed command, default options but the ports (so 300 pages
    and ./linkatlas-data), until its first example request answers; then Ctrl-C."""
    command = Path(sys.executable).with_name("linkatlas")
    assert command.is_file(), f"{command} missing: install the package (./run test does)"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LINKATLAS_DATA"}
    process = subprocess.Popen(
        [str(command), "demo", "--port", str(port), "--sample-port", str(free_port())],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while not (lines and lines[-1].startswith("API and docs:")):
            line = process.stdout.readline()
            assert line, "".join(lines)  # the demo ended before serving
            lines.append(line)
        first = next(i for i, line in enumerate(lines) if line.startswith("1. "))
        url = lines[first + 1].strip()
        preview = lines[first + 3].strip()
        assert url.startswith(f"http://127.0.0.1:{port}/?"), "".join(lines)
        body = _get_when_served(url)
        rows = body["refpages"]
        assert rows and preview.startswith(f"→ {len(rows)} rows"), (preview, rows)
        hosts = {urlsplit(str(row["url_to"])).hostname or "" for row in rows}
        assert all(host == "alpha.test" or host.endswith(".alpha.test") for host in hosts), rows
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        rest = process.stdout.read() if process.stdout else ""
        if process.stdout:
            process.stdout.close()
    assert process.returncode in (0, 130) and "Traceback" not in rest, rest
    assert (tmp_path / "linkatlas-data" / "demo" / "token").is_file()  # README: where it lives


def _get_when_served(url: str) -> dict[str, list[dict[str, object]]]:
    """The JSON answer of url, once the server listens (it starts after the examples print)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return orjson.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)

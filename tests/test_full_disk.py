"""A full disk is one line from every command (issue 13, row 13): the data directory lives on a
tiny tmpfs (needs root to mount; skipped otherwise), filled before each command runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .archives import example_index, page, write_warc
from .ports import free_port


@pytest.fixture
def full(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> None:
    descriptor = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(descriptor, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "linkatlas.cli", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LINKATLAS_NOW": "2024-03-01T00:00:00Z"})


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines
    return lines[0]


def test_every_command_says_one_line_on_a_full_disk(full: Path, tmp_path: Path) -> None:
    (tmp_path / "built").mkdir()
    built = example_index(tmp_path / "built")
    data = full / "data"
    shutil.copytree(built / "archives", data / "archives")
    fresh = write_warc(tmp_path / "new.warc.gz", [
        page(f"http://new.test/{n}", "2024-02-01T00:00:00Z", "x" * 5000) for n in range(200)])
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 a.test\n")
    _fill(full)
    port = str(free_port())
    for args in (["tokens", "create", "x", "--rows", "10"],
                 ["crawl", f"http://a.test:{port}/", "--hosts", str(hosts), "--hosts-only"],
                 ["check", "--hosts", str(hosts), "--hosts-only"],
                 ["build"],
                 ["ingest", str(fresh)],
                 ["serve", "--port", port]):
        _one_line(_run(data, *args))

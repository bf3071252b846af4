"""`ingest --common-crawl`: a crawl's files from a misbehaving Common Crawl-shaped server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from linkatlas.commoncrawl import Options, choose, run
from linkatlas.commoncrawl.download import Retry
from linkatlas.errors import UsageError
from linkatlas.extract.ingest import ingest

from .ccserver import CCServer
from .shared import shared

CRAWL = "CC-MAIN-2099-01"
FAST = Retry(attempts=6, base=0.01, cap=0.05, timeout=10)
WAT = ["cc-2024-whirlwind.warc.wat.gz", "cc-2014-35-sample.warc.wat"]
WARC = ["resiliparse-cc-sample.warc.gz", "dolma-sample-0000.warc.gz",
        "dolma-sample-0001.warc.gz", "cc-2024-whirlwind.warc.gz",
        "warclight-steacie-2015.warc.gz"]


@pytest.fixture
def server() -> Iterator[CCServer]:
    with CCServer() as cc:
        yield cc


def _archives(data: Path) -> dict[str, bytes]:
    """The imported archives by content digest (names carry it: imported-DIGEST-stem)."""
    folder = data / "archives"
    return {p.name.split("-")[1]: p.read_bytes() for p in folder.iterdir()} if (
        folder.is_dir()) else {}


def _direct(tmp: Path, server: CCServer, paths: list[str]) -> dict[str, bytes]:
    """A plain `ingest` of the same files, written out as the server serves them."""
    folder = tmp / "direct-files"
    folder.mkdir(exist_ok=True)
    files = []
    for path in paths:
        file = folder / path.rsplit("/", 1)[-1]
        file.write_bytes(server.files[path])
        files.append(file)
    ingest(tmp / "direct", files)
    return _archives(tmp / "direct")


def test_misbehaving_server_imports_what_a_direct_ingest_does(
        server: CCServer, tmp_path: Path) -> None:
    paths = server.add_crawl(CRAWL, "warc", [shared("data", "real", "warc") / n for n in WARC])
    server.scripts[paths[0]] = ["503", "slowdown", "503", "cut"]
    server.scripts[paths[1]] = ["cut", "cut", "short"]
    server.scripts[paths[2]] = ["short"]
    server.scripts[f"crawl-data/{CRAWL}/warc.paths.gz"] = ["slowdown", "503"]
    server.truncated.add(paths[4])  # broken on the server: never imported
    data = tmp_path / "data"
    result = run(data, Options(CRAWL, "warc", base_url=server.base, parallel=2, keep=2,
                               retry=FAST))
    assert (result.listed, result.chosen, result.imported) == (5, 5, 4)
    assert len(result.failed) == 1 and paths[4] in result.failed[0]
    assert _archives(data) == _direct(tmp_path, server, paths[:4])
    # Resumed, not restarted: after a cut the next request asked for the rest.
    assert any(path == paths[1] and ranged for path, ranged in server.requests)
    assert not any((data / "commoncrawl" / "downloads").iterdir())

    # A second run fetches nothing it has imported; the broken file is tried again.
    server.requests.clear()
    again = run(data, Options(CRAWL, "warc", base_url=server.base, retry=FAST))
    assert (again.already, again.imported, len(again.failed)) == (4, 0, 1)
    assert {p for p, _ in server.requests} <= {paths[4], f"crawl-data/{CRAWL}/warc.paths.gz"}


def test_wat_is_the_default_and_files_n_takes_the_first(
        server: CCServer, tmp_path: Path) -> None:
    paths = server.add_crawl(CRAWL, "wat", [shared("data", "real", "warc") / n for n in WAT])
    data = tmp_path / "data"
    result = run(data, Options(CRAWL, files=1, base_url=server.base, retry=FAST))
    assert result.imported == 1
    assert _archives(data) == _direct(tmp_path, server, paths[:1])


def test_sample_is_deterministic() -> None:
    paths = [f"p{i}" for i in range(100)]
    one = choose(paths, Options(CRAWL, sample=7, seed=3))
    assert one == choose(paths, Options(CRAWL, sample=7, seed=3))
    assert one != choose(paths, Options(CRAWL, sample=7, seed=4))
    assert len(set(one)) == 7 and one == sorted(one, key=paths.index)


def test_a_crawl_that_does_not_exist_is_one_line(server: CCServer, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no crawl named 'CC-MAIN-1999-99'"):
        run(tmp_path, Options("CC-MAIN-1999-99", base_url=server.base, retry=FAST))
    result = subprocess.run(
        [sys.executable, "-m", "linkatlas.cli", "--data", str(tmp_path / "d"), "ingest",
         "--common-crawl", "CC-MAIN-1999-99", "--base-url", server.base],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no crawl named 'CC-MAIN-1999-99'" in (
        result.stderr)


def test_kill_9_mid_download_then_resume(server: CCServer, tmp_path: Path) -> None:
    big = tmp_path / "big.warc.gz"
    # A larger file (the real WARCs, concatenated: still one valid gzip member stream).
    big.write_bytes(b"".join((shared("data", "real", "warc") / n).read_bytes() for n in WARC[:3]))
    paths = server.add_crawl(CRAWL, "warc", [big, shared("data", "real", "warc") / WARC[3]])
    server.delay = 0.2  # 320 KB/s: the first file takes about 2 s
    data = tmp_path / "data"
    command = [sys.executable, "-m", "linkatlas.cli", "--data", str(data), "ingest",
               "--common-crawl", CRAWL, "--kind", "warc", "--base-url", server.base,
               "--parallel", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    part = data / "commoncrawl" / "downloads" / (paths[0].rsplit("/", 1)[-1] + ".part")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (part.exists() and part.stat().st_size > 65536):
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert part.exists() and 0 < part.stat().st_size < len(server.files[paths[0]])
    had = part.stat().st_size

    server.delay = 0
    server.requests.clear()
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (paths[0], f"bytes={had}-") in server.requests  # resumed where it stopped
    assert _archives(data) == _direct(tmp_path, server, paths)


@pytest.mark.parametrize(("options", "message"), [
    (Options(CRAWL, kind="wet"), "--kind: 'wet' is not wat or warc"),
    (Options(CRAWL, files=2, sample=2), "--files and --sample: give one of them"),
    (Options(CRAWL, files=0), "--files: must be at least 1, not 0"),
    (Options("../../etc"), "--common-crawl: not a crawl name: '../../etc' (e.g. CC-MAIN-2025-47)"),
    (Options(CRAWL, base_url="ftp://x/"), "--base-url: not an http(s) URL: 'ftp://x/'"),
])
def test_bad_options_are_one_line_before_any_request(
        server: CCServer, tmp_path: Path, options: Options, message: str) -> None:
    from dataclasses import replace

    if options.base_url.startswith("https://data.commoncrawl.org"):
        options = replace(options, base_url=server.base)
    with pytest.raises(UsageError) as caught:
        run(tmp_path, options)
    assert str(caught.value) == message and not server.requests

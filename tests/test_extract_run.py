"""Chunked, cached extraction gives the same rows however an archive is cut."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from warcio.warcwriter import WARCWriter

from linkatlas.extract import run
from linkatlas.extract.archive import chunk_offsets
from linkatlas.extract.capture import Capture
from linkatlas.extract.ingest import ingest
from linkatlas.extract.records import read_archive
from linkatlas.extract.rows import LINK_FIELDS, capture_rows

from .archives import Response, page, redirect, status, write_warc


def _archive(tmp_path: Path, name: str, gzip_records: bool = True) -> Path:
    pages = [page(f"http://s{n % 7}.test/{n}", "2024-01-01T00:00:00Z",
                  f"<title>p{n}</title><p>about {n}</p><a href='/x/{n}'>x</a>"
                  f"<a href='http://t{n % 5}.test/'>t</a>") for n in range(300)]
    return write_warc(tmp_path / name, pages, gzip_records=gzip_records)


def _rows(cache: Path) -> list[tuple[object, ...]]:
    return duckdb.sql(f"""SELECT url_from, url_to, link_type, anchor, text_pre, text_post
                          FROM read_parquet('{cache}/*/links-*.parquet')
                          ORDER BY ALL""").fetchall()


# A gzip WAT is cut at byte positions, other archives at record starts (archive.chunk_offsets);
# the name alone chooses, so these WARCs named as WATs test the byte positions.
@pytest.mark.parametrize("name", ["a.warc.gz", "a.warc", "a.warc.wat.gz"])
def test_chunks_give_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   name: str) -> None:
    archive = _archive(tmp_path, name, gzip_records=name.endswith(".gz"))
    whole = run.extract_archives([archive], tmp_path / "whole", workers=1)
    size = archive.stat().st_size // 8
    _chunk_bytes(monkeypatch, size)
    assert len(chunk_offsets(archive, size)) >= 7
    cut = run.extract_archives([archive], tmp_path / "cut", workers=2)
    assert _rows(tmp_path / "whole") == _rows(tmp_path / "cut")
    assert len(_rows(tmp_path / "cut")) == 600
    assert cut[0].pages == whole[0].pages == 300
    assert len(list((tmp_path / "cut").glob("*/links-*.parquet"))) >= 7


def test_an_archive_gzipped_as_one_stream_is_read_by_its_first_chunk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _archive(tmp_path, "a.warc", gzip_records=False)
    single = tmp_path / "single.warc.wat.gz"
    single.write_bytes(gzip.compress(plain.read_bytes()))
    _chunk_bytes(monkeypatch, 1000)
    assert len(chunk_offsets(single, 1000)) > 4  # (positions: the file is not read to cut it)
    stats = run.extract_archives([single], tmp_path / "c", workers=2)
    assert stats[0].pages == 300 and stats[0].records == 300
    assert len(_rows(tmp_path / "c")) == 600


def test_a_record_bigger_than_a_chunk_is_read_once(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks are byte positions in a gzip file: those that fall inside one big record's
    # member own no record, and the chunk where that member starts reads all of it.
    noise = "".join(f"<p>{n * 7919 % 100003}</p>" for n in range(40_000))  # compresses badly
    pages = [page(f"http://s.test/{n}", "2024-01-01T00:00:00Z",
                  f"<title>p{n}</title><a href='/x/{n}'>x</a>" + (noise if n == 5 else ""))
             for n in range(12)]
    archive = write_warc(tmp_path / "a.warc.wat.gz", pages)
    whole = run.extract_archives([archive], tmp_path / "whole", workers=1)
    size = archive.stat().st_size // 16
    _chunk_bytes(monkeypatch, size)
    cut = run.extract_archives([archive], tmp_path / "cut", workers=2)
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "whole")
    assert cut[0].records == whole[0].records == 12 and cut[0].pages == 12
    assert cut[0].skipped == whole[0].skipped == {}


def test_a_warc_served_by_a_site_is_not_read_as_records(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # A page whose body is a .warc.gz (it does not compress, so the archive's deflate stores
    # it as is): its bytes hold a gzip member with a WARC record. A chunk cut just before it
    # must not begin there and index the stranger's record as a capture.
    inner = write_warc(tmp_path / "inner.warc.gz", [
        page("http://injected.test/fake", "2024-01-01T00:00:00Z",
             "<a href='http://injected.test/evil'>x</a>")]).read_bytes()
    body = os.urandom(200_000) + inner + os.urandom(200_000)
    pages = [page(f"http://s.test/{n}", "2024-01-01T00:00:00Z",
                  f"<title>p{n}</title><a href='/x/{n}'>x</a>") for n in range(40)]
    served = Response("http://s.test/archive.warc.gz", "2024-01-01T00:00:00Z", 200, body,
                      [("Content-Type", "application/gzip")])
    archive = write_warc(tmp_path / "a.warc.gz", pages[:20] + [served] + pages[20:])
    whole = run.extract_archives([archive], tmp_path / "whole", workers=1)
    at = archive.read_bytes().find(inner[:64])
    assert at > 0  # stored as is
    _chunk_bytes(monkeypatch, at - 100)
    cut = run.extract_archives([archive], tmp_path / "cut", workers=2)
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "whole")
    assert cut[0].records == whole[0].records == 41
    assert not any("injected.test" in str(row) for row in _rows(tmp_path / "cut"))


def test_the_cache_is_reused_and_pruned(tmp_path: Path) -> None:
    first = _archive(tmp_path, "a.warc.gz")
    cache = tmp_path / "cache"
    assert not run.extract_archives([first], cache, workers=1)[0].cached
    assert run.extract_archives([first], cache, workers=1)[0].cached
    run.extract_archives([], cache, workers=1)
    assert list(cache.iterdir()) == []


def test_every_link_row_carries_its_own_page(tmp_path: Path) -> None:
    """A page's fields are written once per page and repeated over its link rows (run._Parts):
    each row still has its page's url, time, redirect status and offset, in file order, across
    a redirect, pages without links and a page of more links than a row group holds."""
    many = "".join(f'<a href="/t/{n}">{n}</a>' for n in range(run._FLUSH_ROWS + 300))
    archive = write_warc(tmp_path / "a.warc.gz", [
        page("http://a.test/", "2024-01-01T00:00:00Z", '<a href="/x">x</a><a href="#top">me</a>'),
        redirect("http://a.test/old", "2024-01-02T00:00:00Z", "/new", 302),
        page("http://a.test/none", "2024-01-03T00:00:00Z", "<p>no links</p>"),
        page("http://big.test/", "2024-01-04T00:00:00Z", many),
        status("http://a.test/gone", "2024-01-05T00:00:00Z", 404),
        page("http://b.test/p;", "2024-01-06T00:00:00Z", '<a href="#f">me</a><a href="/">/</a>')])
    run.extract_archives([archive], tmp_path / "cache", workers=1)
    expected = []
    for capture in read_archive(archive):
        assert isinstance(capture, Capture)
        rows = capture_rows(capture)
        assert rows is not None
        for link in rows[1]:
            expected.append({**dict(zip(LINK_FIELDS, link, strict=True)),
                             "url_from": rows[0]["url"], "time": capture.time,
                             "redirect": capture.status if capture.status == 302 else 0,
                             "offset": capture.offset, "archive": "a.warc.gz"})
    files = sorted((tmp_path / "cache").glob("*/links-*.parquet"))
    written = pq.ParquetFile(files[0])
    assert len(files) == 1 and written.metadata.num_row_groups >= 2
    assert written.schema_arrow.names == run.LINK_SCHEMA.names
    rows = written.read().to_pylist()
    assert rows == [{name: row[name] for name in run.LINK_SCHEMA.names} for row in expected]
    assert {(row["url_from"], row["redirect"]) for row in rows} == {
        ("http://a.test/", 0), ("http://a.test/old", 302), ("http://big.test/", 0),
        ("http://b.test/p;", 0)}
    assert [row["url_to"] for row in rows if row["url_from"] == "http://b.test/p;"] == [
        "http://b.test/p;", "http://b.test/"]  # (a fragment is the page itself)


# Run in a process of its own (one thread: the workers are forked from it, with its row
# group size): every page of the archive is in one chunk.
_SMALL_ROW_GROUPS = """
import sys
from pathlib import Path
from linkatlas.extract import run

run._FLUSH_ROWS = 10
run.extract_archives([Path(sys.argv[1])], Path(sys.argv[2]), workers=1)
"""


def test_pages_without_links_are_written_in_row_groups(tmp_path: Path) -> None:
    """A worker holds at most a row group of rows, not a chunk's: a chunk of pages without
    links (a WAT chunk is 16 MB of them, some 60,000) is written in row groups of visits
    as well, with every visit kept."""
    pages = [page(f"http://site.test/{n}", "2024-01-01T00:00:00Z", "<p>no links</p>")
             for n in range(45)]
    archive = write_warc(tmp_path / "a.warc.gz", pages)
    done = subprocess.run([sys.executable, "-c", _SMALL_ROW_GROUPS, str(archive),
                           str(tmp_path / "cache")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [visits] = (tmp_path / "cache").glob("*/visits-*.parquet")
    written = pq.ParquetFile(visits)
    assert written.metadata.num_row_groups >= 4
    assert sorted(written.read().column("url").to_pylist()) == sorted(
        f"http://site.test/{n}" for n in range(45))


def _chunk_bytes(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Chunks of `size` bytes, of every kind of archive."""
    monkeypatch.setattr(run, "CHUNK_BYTES", size)
    monkeypatch.setattr(run, "WAT_CHUNK_BYTES", size)


def _one_by_one(chunks: list[run.Chunk]) -> list[run.ArchiveStats]:
    """A runner as Spark's tasks are: each chunk on its own, through extract_chunk."""
    return [run.extract_chunk(chunk) for chunk in chunks]


@pytest.mark.parametrize("runner", [None, _one_by_one], ids=["pool", "runner"])
def test_a_page_that_takes_too_long_is_skipped_and_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runner: run.Runner | None) -> None:
    # Misnested formatting elements make HTML tree construction cubic (lexbor issue 340):
    # this 40 KB page takes lexbor minutes.
    n = 3000
    hostile = "".join(f"<b {i}>" for i in range(n)) + "".join(f"<i {i}>" for i in range(n))
    hostile += "x</b>" * n
    pages = [page(f"http://site.test/{i}", "2024-01-01T00:00:00Z",
                  f"<a href='/next/{i}'>next</a>") for i in range(40)]
    pages.insert(17, page("http://site.test/hostile", "2024-01-01T00:00:00Z", hostile))
    archive = write_warc(tmp_path / "a.warc.gz", pages)
    monkeypatch.setattr(run, "PAGE_SECONDS", 1.0)
    _chunk_bytes(monkeypatch, archive.stat().st_size // 4)  # several chunks
    started = time.monotonic()
    stats = run.extract_archives([archive], tmp_path / "cache", workers=2, runner=runner)[0]
    assert time.monotonic() - started < 30
    assert stats.skipped == {"extraction took over 1 s or crashed": 1}
    assert stats.pages == 40 and stats.links == 40
    urls = {row[0] for row in _rows(tmp_path / "cache")}
    assert "http://site.test/hostile" not in urls and len(urls) == 40


# Run in a process of its own (one thread: the workers are forked from it, with its rows
# module): a worker killed, as the OOM killer kills, while it is on the page `die`.
_KILLED_ON_A_PAGE = """
import os, signal, sys
from pathlib import Path
from linkatlas.extract import run

rows = run.capture_rows
def capture_rows(capture):
    if capture.url.endswith("/die"):
        os.kill(os.getpid(), signal.SIGKILL)
    return rows(capture)
run.capture_rows = capture_rows
stats = run.extract_archives([Path(sys.argv[1])], Path(sys.argv[2]), workers=1)[0]
print(dict(stats.skipped), stats.pages)
"""


@pytest.mark.parametrize("name", ["a.warc.gz", "a.warc.wat.gz"])
def test_a_page_whose_worker_is_killed_is_skipped(tmp_path: Path, name: str) -> None:
    """Its worker killed twice on the same page, a chunk skips that page (_Watch): a WAT
    record's page too (unwatched from 9daaf84 to ef904fb, its chunk ran again and killed its
    worker again, without end)."""
    urls = [f"http://site.test/{n}" for n in range(8)] + ["http://site.test/die"]
    if name.endswith(".wat.gz"):
        archive = _wat_archive(tmp_path / name, urls)
    else:
        archive = write_warc(tmp_path / name, [page(url, "2024-01-01T00:00:00Z",
                                                    "<a href='/x'>x</a>") for url in urls])
    done = subprocess.run([sys.executable, "-c", _KILLED_ON_A_PAGE, str(archive),
                           str(tmp_path / "cache")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["{'extraction", "took", "over", "20", "s", "or",
                                   "crashed':", "1}", "8"]


def _wat_archive(path: Path, urls: list[str]) -> Path:
    """A gzip WAT with one response record, of one link, per URL."""
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for url in urls:
            body = json.dumps({"Envelope": {
                "WARC-Header-Metadata": {"WARC-Type": "response", "WARC-Target-URI": url,
                                         "WARC-Date": "2024-01-02T03:04:05Z"},
                "Payload-Metadata": {"HTTP-Response-Metadata": {
                    "Response-Message": {"Status": 200},
                    "HTML-Metadata": {"Links": [{"path": "A@/href", "url": "/x"}]}}}}}).encode()
            writer.write_record(writer.create_warc_record(
                url, "metadata", payload=io.BytesIO(body), length=len(body),
                warc_content_type="application/json"))
    return path


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _descendants(root: int) -> dict[int, str]:
    """Every process under root (children, their children, ...) → its start time (pids recur)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None:
            parents[int(entry.name)] = int(fields[1])
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            fields = _stat(pid)
            if ppid == parent and pid not in found and fields is not None:
                found[pid] = fields[19]
                frontier.append(pid)
    return found


def _running(pid: int, started: str) -> bool:
    """The same process (same start time) still exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[19] == started and fields[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def test_a_build_killed_outright_leaves_no_worker_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    pages = [page(f"http://site.test/{i}", "2024-01-01T00:00:00Z",
                  "<p>text</p>" * 2000 + "<a href='/x'>x</a>") for i in range(3000)]
    ingest(data, [write_warc(tmp_path / "a.warc.gz", pages)])
    command = [sys.executable, "-m", "linkatlas.cli", "--data", str(data), "build"]
    build = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not list((data / "extract").glob("*.tmp/*.parquet")):  # the workers are parsing
        assert time.monotonic() < deadline and build.poll() is None
        time.sleep(0.02)
    workers = _descendants(build.pid)
    assert workers, "no worker process found under the build"
    build.kill()  # SIGKILL, as the OOM killer sends: no cleanup runs
    build.wait()
    deadline = time.monotonic() + 10  # the workers' own ends take a moment
    while any(_running(pid, started) for pid, started in workers.items()):
        if time.monotonic() > deadline:
            left = {pid: _cmdline(pid) for pid, at in workers.items() if _running(pid, at)}
            for pid in left:  # end them, so a failure here does not hold the machine
                os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"workers left behind: {left}")
        time.sleep(0.1)
    while True:
        again = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if "another build is running" not in again.stderr or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert again.returncode == 0, again.stderr

"""Bad input loses nothing: the bad record is skipped and counted, good ones are kept."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from linkatlas.cli import main
from linkatlas.errors import ArchiveError
from linkatlas.extract import run
from linkatlas.extract.archive import MAX_BODY
from linkatlas.extract.capture import Capture
from linkatlas.extract.ingest import ingest
from linkatlas.extract.records import read_archive
from linkatlas.extract.rows import LINK_FIELDS, capture_rows

from .archives import Response, page, raw_record, status, write_warc
from .conftest import build_quietly, run_query

LINK = '<a href="http://dead.test/{n}">link {n}</a>'


def _good(n: int, date: str = "2024-01-01T00:00:00Z") -> Response:
    return page(f"http://site.test/{n}", date, f"<title>page {n}</title>" + LINK.format(n=n))


def _dead(n: int) -> Response:
    return status(f"http://dead.test/{n}", "2024-01-02T00:00:00Z", 404)


def _built(data: Path, files: list[Path]) -> tuple[dict[str, object], set[str]]:
    ingest(data, files)
    report = build_quietly(data)
    rows = run_query(data, target="dead.test", mode="domain", limit="100")
    return report, {str(row["url_to"]) for row in rows}


def test_truncated_gzip_member_keeps_the_records_before_it(tmp_path: Path, data: Path) -> None:
    whole = write_warc(tmp_path / "a.warc.gz", [_good(1), _dead(1), _good(2), _dead(2)])
    raw = whole.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(raw[: len(raw) - 200])
    report, targets = _built(data, [cut])
    assert "http://dead.test/1" in targets
    assert sum(report["skipped"].values()) >= 1  # type: ignore[union-attr]


def _members(tmp_path: Path, n: int) -> list[bytes]:
    """n gzip members, each a page and its dead target."""
    whole = write_warc(tmp_path / "m.warc", [r for i in range(n) for r in (_good(i), _dead(i))],
                       gzip_records=False).read_bytes()
    records = [b"WARC/1." + part for part in whole.split(b"WARC/1.")[1:]]
    return [gzip.compress(records[2 * i] + records[2 * i + 1]) for i in range(n)]


@pytest.mark.parametrize("damage", ["corrupt member", "junk between members"])
def test_a_damaged_gzip_member_costs_only_itself(tmp_path: Path, data: Path, damage: str
                                                  ) -> None:
    members = _members(tmp_path, 5)
    if damage == "corrupt member":
        members[2] = members[2][:20] + bytes(20) + members[2][40:]
        lost = {"http://dead.test/2"}
    else:
        members[2] = b"JUNK" * 30 + members[2]
        lost = set()
    archive = tmp_path / "damaged.warc.gz"
    archive.write_bytes(b"".join(members))
    report, targets = _built(data, [archive])
    assert targets == {f"http://dead.test/{i}" for i in range(5)} - lost
    assert sum(report["skipped"].values()) == 1  # type: ignore[union-attr]


def _plain(n: int) -> bytes:
    body = f"<title>page {n}</title>{LINK.format(n=n)}".encode()
    page_record = raw_record(f"http://site.test/{n}", "2024-01-01T00:00:00Z",
                             b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body)
    dead = raw_record(f"http://dead.test/{n}", "2024-01-02T00:00:00Z",
                      b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\ngone")
    return page_record + dead


def test_an_overstated_content_length_costs_only_its_record(tmp_path: Path, data: Path) -> None:
    """Lenient parsing skipped to the next `WARC/` after such a record, losing the records it
    overlapped without a word."""
    records = [_plain(n) for n in range(5)]
    length = int(records[2].split(b"Content-Length: ")[1].split(b"\r")[0])
    for claimed, name in ((length + 400, "into the next records"), (10**6, "past the end")):
        records[2] = _plain(2).replace(b"Content-Length: %d" % length,
                                       b"Content-Length: %d" % claimed, 1)
        archive = tmp_path / f"long-{claimed}.warc"
        archive.write_bytes(b"".join(records))
        report, targets = _built(data / name, [archive])
        assert {f"http://dead.test/{n}" for n in (0, 1, 3, 4)} <= targets, name
        assert sum(report["skipped"].values()) == 1, name  # type: ignore[union-attr]


def test_a_warc_with_bare_lf_header_lines_is_read(tmp_path: Path, data: Path) -> None:
    """Some tools write LF only; the strict reading (above) would refuse every record."""
    def lf_record(url: str, http: bytes) -> bytes:
        return (f"WARC/1.0\nWARC-Type: response\nWARC-Target-URI: {url}\n"
                f"WARC-Date: 2024-01-01T00:00:00Z\n"
                f"Content-Type: application/http; msgtype=response\n"
                f"Content-Length: {len(http)}\n\n").encode() + http + b"\n\n"
    archive = tmp_path / "lf.warc"
    archive.write_bytes(b"".join(
        lf_record(f"http://site.test/{n}", b"HTTP/1.1 200 OK\nContent-Type: text/html\n\n"
                  + LINK.format(n=n).encode())
        + lf_record(f"http://dead.test/{n}", b"HTTP/1.1 404 Not Found\n\n") for n in range(3)))
    report, targets = _built(data, [archive])
    assert targets == {f"http://dead.test/{n}" for n in range(3)}
    assert report["skipped"] == {}


def test_warc_that_stops_mid_record(tmp_path: Path, data: Path) -> None:
    whole = write_warc(tmp_path / "a.warc", [_good(1), _dead(1), _good(2)], gzip_records=False)
    raw = whole.read_bytes()
    cut = tmp_path / "cut.warc"
    cut.write_bytes(raw[: raw.rindex(b"page 2") ])
    report, targets = _built(data, [cut])
    assert targets == {"http://dead.test/1"}


def test_garbage_http_headers_and_non_html_payloads(tmp_path: Path, data: Path) -> None:
    image = Response("http://site.test/logo.png", "2024-01-01T00:00:00Z", 200,
                     b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10, [("Content-Type", "image/png")])
    good = write_warc(tmp_path / "g.warc", [image, _good(1), _dead(1)], gzip_records=False)
    damaged = tmp_path / "damaged.warc"
    damaged.write_bytes(
        raw_record("http://site.test/a", "2024-01-01T00:00:00Z",
                   b"HTTP/1.1 200 OK\r\nContent-Type: \x00\x01\r\nno colon here\r\n"
                   b"\xff\xfe: y\r\n\r\n<a href='http://dead.test/1'>x</a>")
        + raw_record("http://site.test/b", "2024-01-01T00:00:00Z", b"NOT HTTP AT ALL\r\n\r\n")
        + raw_record("http://site.test/c", "2024-01-01T00:00:00Z", b"HTTP/1.1 abc\r\n\r\n")
        + good.read_bytes())
    report, targets = _built(data, [damaged])
    assert "http://dead.test/1" in targets
    assert report["records"]["other"] >= 1  # type: ignore[index]
    assert sum(report["skipped"].values()) >= 2  # type: ignore[union-attr]


def test_hostile_pages_are_bounded(tmp_path: Path, data: Path) -> None:
    huge = "<p>" + "word " * (11 * 1024 * 1024 // 5) + "</p>" + LINK.format(n=5)
    attribute = '<div title="' + "x" * 2_000_000 + '">' + LINK.format(n=6) + "</div>"
    invalid = b"<title>caf\xc3 \xff\xfe</title>" + LINK.format(n=7).encode() + b"\xed\xa0\x80"
    broken = "<html><a href='http://dead.test/8'>unclosed <b><i><table><tr><td>" * 3
    responses = [
        page("http://site.test/huge", "2024-01-01T00:00:00Z", huge),
        page("http://site.test/attr", "2024-01-01T00:00:00Z", attribute),
        Response("http://site.test/invalid", "2024-01-01T00:00:00Z", 200, invalid),
        page("http://site.test/broken", "2024-01-01T00:00:00Z", broken),
        *(_dead(n) for n in (5, 6, 7, 8)),
    ]
    path = write_warc(tmp_path / "h.warc.gz", responses)
    sizes = {}
    for item in read_archive(path):
        assert isinstance(item, Capture)
        assert len(item.body) <= MAX_BODY
        result = capture_rows(item)
        assert result is not None
        sizes[result[0]["url"]] = result[0]["page_size"]
    assert sizes["http://site.test/huge"] == len(huge.encode())  # counted past the cap
    _, targets = _built(data, [path])
    # the huge page's link lies beyond the parse cap; the others are found
    assert {"http://dead.test/6", "http://dead.test/7", "http://dead.test/8"} <= targets


def test_gzip_content_encoding_bomb_is_bounded(tmp_path: Path) -> None:
    bomb = gzip.compress(b"<p>" + b"a" * (200 * 1024 * 1024), compresslevel=9)
    response = Response("http://site.test/bomb", "2024-01-01T00:00:00Z", 200, bomb,
                        [("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
    (item,) = read_archive(write_warc(tmp_path / "b.warc.gz", [response]))
    assert isinstance(item, Capture) and len(item.body) == MAX_BODY


def test_a_file_that_is_not_an_archive_is_refused_by_name(tmp_path: Path, data: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(ArchiveError, match="notes.txt"):
        ingest(data, [junk])


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(tmp_path / "d"), "ingest", str(junk)])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "notes.txt" in lines[0] and "Traceback" not in lines[0]
    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(tmp_path / "d"), "ingest", str(tmp_path)])
    assert exit_info.value.code == 2 and "no WARC, ARC or WAT file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(tmp_path / "d"), "query", "--target", "x.test", "--mode", "full"])
    assert exit_info.value.code == 2
    assert "mode" in capsys.readouterr().err


def test_a_damaged_snapshot_file_is_one_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from .archives import example_index

    data = example_index(tmp_path)
    for part in (data / "current" / "broken_backlinks").glob("*.parquet"):
        part.write_bytes(b"not parquet")
    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(data), "query", "--target", "example.com", "--mode", "domain"])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: query failed: "), lines


def test_a_bad_condition_is_named_before_the_snapshot_is_looked_for(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(tmp_path / "none"), "query", "--target", "a.test", "--mode",
              "domain", "--where", "http_code>"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: where: syntax error at position 11")


# --- the CLI's own output -----------------------------------------------------------------------

CONSOLE = Path(sys.executable).with_name("linkatlas")  # the installed console script


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_under_stdout_is_one_line() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([str(CONSOLE), "--help"], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: cannot write the output: No space left on device"]


def test_a_closed_pipe_ends_quietly() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away before the first byte
    try:
        done = subprocess.run([str(CONSOLE), "--help"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (1, "")


def test_the_console_script_prints_everything_before_its_quick_exit(tmp_path: Path) -> None:
    archive = write_warc(tmp_path / "a.warc.gz", [
        page("http://site.test/", "2024-01-01T00:00:00Z", "<a href='http://gone.test/x'>x</a>"),
        status("http://gone.test/x", "2024-01-02T00:00:00Z", 404)])
    data = ["--data", str(tmp_path / "data")]
    ingested = subprocess.run([str(CONSOLE), *data, "ingest", str(archive)], capture_output=True,
                              text=True, timeout=120)
    built = subprocess.run([str(CONSOLE), *data, "build"], capture_output=True, text=True,
                           timeout=300)
    assert (ingested.returncode, built.returncode) == (0, 0)
    assert ingested.stdout.startswith("imported: ")
    assert "│ broken backlinks" in built.stdout and built.stdout.rstrip().endswith("┘")


def test_an_archive_damaged_on_disk_is_skipped_not_fatal(tmp_path: Path, data: Path) -> None:
    good = write_warc(tmp_path / "good.warc.gz", [_good(1), _dead(1)])
    other = write_warc(tmp_path / "other.warc.gz", [_good(2), _dead(2)])
    ingest(data, [good, other])
    stored = sorted((data / "archives").iterdir())
    stored[1].write_bytes(b"")  # emptied after import (a failing disk, a bad copy)
    report = build_quietly(data)
    assert report["skipped"] == {"unreadable archive: not a WARC, ARC or WAT file": 1}
    targets = {row["url_to"] for row in run_query(data, target="dead.test", mode="domain")}
    assert len(targets) == 1


def test_a_directory_imports_the_archives_under_it(tmp_path: Path, data: Path) -> None:
    from .archives import page, write_warc

    tree = tmp_path / "crawl"
    (tree / "b" / "deeper").mkdir(parents=True)
    (tree / "a").mkdir()
    write_warc(tree / "b" / "deeper" / "no-extension", [
        page("http://x.test/", "2024-01-01T00:00:00Z", "<title>x</title>")])
    write_warc(tree / "a" / "first.warc.gz", [
        page("http://y.test/", "2024-01-01T00:00:00Z", "<title>y</title>")])
    (tree / "notes.txt").write_text("not an archive")
    (tree / "a" / "fake.warc.gz").write_bytes(b"\x1f\x8b junk")
    imported = ingest(data, [tree])
    assert [item.source for item in imported] == [tree / "a" / "first.warc.gz",
                                                   tree / "b" / "deeper" / "no-extension"]
    assert all(item.new for item in imported) and not any(i.new for i in ingest(data, [tree]))


def test_ctrl_c_stops_an_ingest_between_files(tmp_path: Path) -> None:
    """Ctrl-C during `ingest` of many files ends it: the copies begun end whole (no temporary
    file is left), the others are not made; it must not go on copying every file."""
    import signal
    import time

    threads = os.cpu_count() or 1
    count = 8 * threads + 8  # many files queued behind every copying thread, 48 MB in all
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"x" * ((48 << 20) // count)
    files = []
    for number in range(count):
        files.append(tmp_path / f"big-{number}.warc")
        files[-1].write_bytes(raw_record(f"http://a.test/{number}", "2024-01-01T00:00:00Z",
                                         block))
    for attempt in range(3):  # (again when this process saw the copies only once they were done)
        archives = tmp_path / f"data-{attempt}" / "archives"
        process = subprocess.Popen(
            [sys.executable, "-m", "linkatlas.cli", "--data", str(archives.parent), "ingest",
             *map(str, files)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not (archives.is_dir() and any(archives.iterdir())):  # the first copy begins
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.001)
        # Stopped while the Ctrl-C is sent, so that it lands in the middle of the copies
        # however busy the machine (the copies go on after it only if they are not cancelled)
        process.send_signal(signal.SIGSTOP)
        done = len(list(archives.glob("imported-*")))
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGCONT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130 and err.strip() == "interrupted", err
        assert not list(archives.glob(".*"))  # no temporary file
        if done + 2 * threads < count:  # (else all but the copies begun were done)
            assert len(list(archives.glob("imported-*"))) < count
            return
    pytest.fail("the copies were done before this process could interrupt them")


def test_wat_json_of_the_wrong_shape_is_one_bad_record(tmp_path: Path) -> None:
    """A WAT record whose JSON has a list or a string where an object belongs is skipped as
    bad JSON and counted; the records around it are read (it used to stop the whole file)."""
    from warcio.warcwriter import WARCWriter

    good = {"Envelope": {"WARC-Header-Metadata": {
        "WARC-Type": "response", "WARC-Date": "2024-01-01T00:00:00Z",
        "WARC-Target-URI": "http://a.test/"}, "Payload-Metadata": {"HTTP-Response-Metadata": {
            "Response-Message": {"Status": "200"},
            "HTML-Metadata": {"Links": [{"path": "A@/href", "url": "/b"}]}}}}}
    hostile = [{"Envelope": {"WARC-Header-Metadata": ["response"]}},
               {"Envelope": {"WARC-Header-Metadata": "response"}},
               {"Envelope": {"WARC-Header-Metadata": {"WARC-Type": "response"},
                             "Payload-Metadata": []}},
               {"Envelope": {"WARC-Header-Metadata": {"WARC-Type": "response"},
                             "Payload-Metadata": {"HTTP-Response-Metadata": "x"}}}]
    path = tmp_path / "hostile.warc.wat.gz"
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for doc in [good, *hostile, good]:
            body = json.dumps(doc).encode()
            writer.write_record(writer.create_warc_record(
                "http://a.test/", "metadata", payload=io.BytesIO(body), length=len(body),
                warc_content_type="application/json",
                warc_headers_dict={"WARC-Date": "2024-01-01T00:00:00Z"}))
    items = list(read_archive(path))
    captures = [item for item in items if isinstance(item, Capture)]
    assert len(captures) == 2 and all(c.url == "http://a.test/" for c in captures)
    assert [(s.reason, s.bad) for s in items if not isinstance(s, Capture)] == [
        ("bad WAT JSON", True)] * len(hostile)
    visit, links = capture_rows(captures[0]) or ({}, [])
    assert visit["status"] == 200 and [row[LINK_FIELDS.index("url_to")] for row in links] == [
        "http://a.test/b"]


def test_wat_records_of_requests_are_ignored_even_when_broken(tmp_path: Path) -> None:
    """A WAT record that cannot describe a response (no "response" in its JSON) is not parsed:
    counted as a non-response record, however broken its JSON; a response is still read."""
    from warcio.warcwriter import WARCWriter

    response = {"Envelope": {"WARC-Header-Metadata": {
        "WARC-Type": "response", "WARC-Date": "2024-01-01T00:00:00Z",
        "WARC-Target-URI": "http://a.test/"}, "Payload-Metadata": {"HTTP-Response-Metadata": {
            "Response-Message": {"Status": "200"}}}}}
    bodies = [json.dumps({"Envelope": {"WARC-Header-Metadata": {"WARC-Type": "request"}}}),
              '{"Envelope": {"WARC-Header-Metadata": {"WARC-Type": "metad',
              json.dumps(response), '{"Envelope": {"WARC-Type": "response"']
    path = tmp_path / "requests.warc.wat.gz"
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for body in map(str.encode, bodies):
            writer.write_record(writer.create_warc_record(
                "http://a.test/", "metadata", payload=io.BytesIO(body), length=len(body),
                warc_content_type="application/json",
                warc_headers_dict={"WARC-Date": "2024-01-01T00:00:00Z"}))
    items = list(read_archive(path))
    assert [c.url for c in items if isinstance(c, Capture)] == ["http://a.test/"]
    assert [(s.reason, s.bad) for s in items if not isinstance(s, Capture)] == [
        ("WAT of a non-response record", False)] * 2 + [("bad WAT JSON", True)]


def test_a_metadata_record_is_a_wat_record_by_its_content_type(tmp_path: Path) -> None:
    """A WAT record is a metadata record whose Content-Type says JSON, whatever its body:
    one that a crawler typed otherwise gives no capture and is no damage, even when its
    body is a JSON object; a WAT response record whose body does not open with `{` (a
    byte-order mark, NUL bytes, a list) is damage, counted as bad WAT JSON."""
    from warcio.warcwriter import WARCWriter

    response = json.dumps({"Envelope": {"WARC-Header-Metadata": {
        "WARC-Type": "response", "WARC-Date": "2024-01-01T00:00:00Z",
        "WARC-Target-URI": "http://a.test/"}, "Payload-Metadata": {"HTTP-Response-Metadata": {
            "Response-Message": {"Status": "200"},
            "HTML-Metadata": {"Links": [{"path": "A@/href", "url": "/b"}]}}}}}).encode()
    records = [(response, "application/warc-fields"), (response, "text/plain"),
               (b'{"note": "response"}', "application/warc-fields"),
               (b"\xef\xbb\xbf" + response, "application/json"),
               (b"\0\0" + response, "application/json"),
               (b"[" + response + b"]", "application/json"),
               (b" \r\n" + response, "application/json")]
    path = tmp_path / "typed.warc.gz"
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for body, content_type in records:
            writer.write_record(writer.create_warc_record(
                "http://a.test/", "metadata", payload=io.BytesIO(body), length=len(body),
                warc_content_type=content_type,
                warc_headers_dict={"WARC-Date": "2024-01-01T00:00:00Z"}))
    items = list(read_archive(path))
    assert [item.offset for item in items if isinstance(item, Capture)] == [
        items[-1].offset]  # the JSON with whitespace before it
    assert [(s.reason, s.bad) for s in items if not isinstance(s, Capture)] == [
        ("metadata record", False)] * 3 + [("bad WAT JSON", True)] * 3


def _arc(records: list[tuple[str, str]]) -> bytes:
    """An ARC (v1) file of one HTML response per (URL, status code as written)."""
    head = b"1 0 test\nURL IP-address Archive-date Content-type Archive-length\n"
    data = b"filedesc://t.arc 0.0.0.0 20240101000000 text/plain %d\n%s\n" % (len(head), head)
    for url, code in records:
        block = f"HTTP/1.1 {code} X\r\nContent-Type: text/html\r\n\r\n<a href=/x>x</a>".encode()
        data += f"{url} 192.0.2.1 20240101000000 text/html {len(block)}\n".encode()
        data += block + b"\n"
    return data


def test_a_status_no_column_can_hold_is_one_bad_record(tmp_path: Path) -> None:
    """A status is three digits; a WAT's JSON and an ARC give any integer, and one beyond the
    Parquet column's (int32), or an Entity-Length beyond int64, failed the whole chunk: every
    build stopped on that archive, with a traceback."""
    from warcio.warcwriter import WARCWriter

    wat = tmp_path / "statuses.warc.wat.gz"
    with wat.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for number, (code, length) in enumerate([(200, 5), (5_000_000_000, 5), (-5, 5),
                                                 (1000, 5), (200, 2**64 - 1), (301, 5)]):
            body = json.dumps({"Envelope": {"WARC-Header-Metadata": {
                "WARC-Type": "response", "WARC-Date": "2024-01-01T00:00:00Z",
                "WARC-Target-URI": f"http://a.test/{number}"}, "Payload-Metadata": {
                "HTTP-Response-Metadata": {
                    "Response-Message": {"Status": code}, "Entity-Length": length,
                    "Headers": {"Location": "/moved"},
                    "HTML-Metadata": {"Links": [{"path": "A@/href", "url": "/b"}]}}}}}).encode()
            writer.write_record(writer.create_warc_record(
                "http://a.test/", "metadata", payload=io.BytesIO(body), length=len(body),
                warc_content_type="application/json"))
    arc = tmp_path / "statuses.arc"
    arc.write_bytes(_arc([("http://a.test/a", "200"), ("http://a.test/b", "5000000000"),
                          ("http://a.test/c", "404")]))
    warc = tmp_path / "statuses.warc"
    warc.write_bytes(b"".join(raw_record(f"http://a.test/{code}", "2024-01-01T00:00:00Z",
                                         f"HTTP/1.1 {code} X\r\n\r\n".encode())
                              for code in ("200", "5000", "410")))
    stats = run.extract_archives([wat, arc, warc], tmp_path / "cache", workers=1)
    assert [(dict(s.kinds), dict(s.skipped)) for s in stats] == [
        ({"page": 1, "redirect": 1}, {"bad WAT status": 4}),
        ({"page": 1, "error": 1}, {"bad HTTP status line": 1}),
        ({"other": 1, "error": 1}, {"bad HTTP status line": 1})]

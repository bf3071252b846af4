"""Records whose WARC-Date does not parse (real crawls write such dates) are dated by a known
variant, the HTTP Date header or the warcinfo record, and the build report counts each way."""

from __future__ import annotations

import io
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from linkatlas.extract.ingest import ingest
from linkatlas.observations import CheckLog, Observation

from .conftest import build_quietly, run_query

HTML = '<html><head><title>t</title></head><body><a href="http://dead.test/{n}">x</a></body></html>'


def _write(path: Path, records: list[tuple[str, str, list[tuple[str, str]]]],
           warcinfo_date: str | None) -> Path:
    """(url, WARC-Date, HTTP headers) per response, after an optional warcinfo record."""
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        if warcinfo_date is not None:
            info = writer.create_warcinfo_record(path.name, {"software": "test"})
            info.rec_headers.replace_header("WARC-Date", warcinfo_date)
            writer.write_record(info)
        for n, (url, date, headers) in enumerate(records):
            body = HTML.format(n=n).encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), *headers],
                                    protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                               length=len(body), http_headers=http)
            record.rec_headers.replace_header("WARC-Date", date)
            writer.write_record(record)
    return path


def test_dates_from_real_archives(tmp_path: Path, data: Path, pinned_now: None) -> None:
    ingest(data, [
        _write(tmp_path / "clueweb.warc.gz", [  # ClueWeb09 (Nutch): day of the year
            ("http://a.example/0", "2008-10-294T05:21:46-0700", []),
        ], warcinfo_date=None),
        _write(tmp_path / "http-date.warc.gz", [
            ("http://b.example/1", "yesterday", [("Date", "Tue, 20 Oct 2009 12:00:00 GMT")]),
        ], warcinfo_date=None),
        _write(tmp_path / "warcinfo.warc.gz", [
            ("http://c.example/2", "", []),
            ("http://c.example/3", "2011-01-01T00:00:00Z", []),
        ], warcinfo_date="2010-05-06T07:08:09Z"),
        _write(tmp_path / "undated.warc.gz", [("http://d.example/4", "soon", [])],
               warcinfo_date=None),
    ])
    with CheckLog(data, name="checks.jsonl") as log:
        for n in range(5):
            log.append(Observation(f"http://dead.test/{n}", "2024-01-01T00:00:00Z", 0, "dns"))
    report = build_quietly(data)
    assert report["dated"] == {"WARC-Date": 1, "WARC-Date variant": 1, "HTTP Date": 1,
                               "warcinfo date": 1}
    assert report["skipped"] == {"no usable date (WARC-Date, HTTP Date or warcinfo)": 1}
    seen = {row["url_from"]: row["first_seen"] for row in run_query(
        data, target="dead.test", mode="domain", select="url_from,first_seen")}
    assert seen == {"http://a.example/0": "2008-10-20T12:21:46Z",
                    "http://b.example/1": "2009-10-20T12:00:00Z",
                    "http://c.example/2": "2010-05-06T07:08:09Z",
                    "http://c.example/3": "2011-01-01T00:00:00Z"}

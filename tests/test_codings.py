"""The one decoder table (linkatlas/codings.py): each coding, the caps, damaged and mislabelled
bodies; the crawler and extraction decode alike (the crawler's `decode_body`, extraction's
archive reader)."""

from __future__ import annotations

import gzip
import random
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest

from linkatlas.codings import (
    CAPPED,
    CORRUPT,
    DECODED,
    PLAIN,
    UNKNOWN,
    dechunk,
    decode_content,
    undo_transfer_coding,
)
from linkatlas.crawl.links import decode_body
from linkatlas.extract import archive
from linkatlas.extract.capture import Capture
from linkatlas.extract.records import read_archive

from .archives import Response, write_warc

PAGE = b'<!doctype html><html><body><a href="/a">a</a>' + b"<p>text</p>" * 200 + b"</body>"
MiB = 1 << 20


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


CODED = [
    ("gzip", gzip.compress(PAGE)),
    ("x-gzip", gzip.compress(PAGE)),
    ("GZIP ", gzip.compress(PAGE)),
    ("deflate", zlib.compress(PAGE)),
    ("deflate", _raw_deflate(PAGE)),
    ("deflate", gzip.compress(PAGE)),  # gzip bytes labelled deflate: read too
    ("br", brotli.compress(PAGE)),
    ("gzip, br", brotli.compress(gzip.compress(PAGE))),  # applied in the order listed
    ("identity, gzip", gzip.compress(PAGE)),
]


@pytest.mark.parametrize(("coding", "body"), CODED)
def test_each_coding_is_undone(coding: str, body: bytes) -> None:
    decoded = decode_content(body, coding, MiB)
    assert decoded == (PAGE, len(PAGE), DECODED)
    assert decoded.coded


@pytest.mark.parametrize(("coding", "body", "outcome"), [
    ("", PAGE, PLAIN), ("identity", PAGE, PLAIN), (" , ", PAGE, PLAIN),
    # stored decoded with the header kept (Common Crawl until 2018, node-warc)
    ("gzip", PAGE, PLAIN), ("deflate", PAGE, PLAIN), ("br", PAGE, PLAIN), ("gzip", b"", PLAIN),
    ("compress", PAGE, UNKNOWN), ("zstd", PAGE, UNKNOWN), ("gzip, zstd", PAGE, UNKNOWN),
])
def test_bytes_not_coded_as_labelled_are_read_as_they_are(coding: str, body: bytes,
                                                          outcome: str) -> None:
    decoded = decode_content(body, coding, MiB)
    assert decoded == (body, len(body), outcome)
    assert not decoded.coded
    assert decode_content(body, coding, 10).body == body[:10]


# A page that compresses like text (about 3:1), long enough for many decoding steps.
_RANDOM = random.Random(12)
TEXT = " ".join("".join(_RANDOM.choices("etaoinshrdlu", k=_RANDOM.randint(1, 9)))
                for _ in range(200_000)).encode()


def _damaged(coded: bytes) -> bytes:
    middle = len(coded) // 2
    return coded[:middle] + bytes(64) + coded[middle + 64:]


@pytest.mark.parametrize(("coding", "body"), [
    ("gzip", gzip.compress(TEXT)[:100_000]),
    ("deflate", zlib.compress(TEXT)[:100_000]),
    ("deflate", _raw_deflate(TEXT)[:100_000]),
    ("br", brotli.compress(TEXT, quality=5)[:100_000]),
])
def test_data_cut_short_keeps_what_came_before(coding: str, body: bytes) -> None:
    decoded = decode_content(body, coding, 10 * MiB)
    assert decoded.outcome == CORRUPT
    assert 50_000 < len(decoded.body) < len(TEXT) and TEXT.startswith(decoded.body)
    assert decoded.size == len(decoded.body)


@pytest.mark.parametrize(("coding", "body"), [
    ("gzip", _damaged(gzip.compress(TEXT))),
    ("deflate", _damaged(zlib.compress(TEXT))),
    ("br", _damaged(brotli.compress(TEXT, quality=5))),
])
def test_damaged_data_keeps_what_came_before_the_damage(coding: str, body: bytes) -> None:
    decoded = decode_content(body, coding, 10 * MiB)
    assert decoded.outcome == CORRUPT  # (what the damage decoded to before it was found, too)
    assert 100_000 < len(decoded.body) < len(TEXT) and decoded.body[:100_000] == TEXT[:100_000]
    assert decoded.size == len(decoded.body)


def _zeros(megabytes: int) -> Iterator[bytes]:
    block = bytes(MiB)
    for _ in range(megabytes):
        yield block


def _bomb(coding: str, megabytes: int) -> bytes:
    """`megabytes` MiB of zeros in a coding, compressed without holding them in memory."""
    if coding == "br":
        packer = brotli.Compressor(quality=1)
        return b"".join(packer.process(block) for block in _zeros(megabytes)) + packer.finish()
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS,
             "raw deflate": -zlib.MAX_WBITS}[coding]
    zpacker = zlib.compressobj(1, zlib.DEFLATED, wbits)
    return b"".join(zpacker.compress(block) for block in _zeros(megabytes)) + zpacker.flush()


BOMBS = ["gzip", "deflate", "raw deflate", "br"]


@pytest.mark.parametrize("coding", BOMBS)
def test_a_bomb_is_cut_at_the_caps_in_bounded_memory(coding: str) -> None:
    bomb = _bomb(coding, 80)
    label = coding.split()[-1]
    tracemalloc.start()
    try:
        decoded = decode_content(bomb, label, MiB, 64 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (len(decoded.body), decoded.size, decoded.outcome) == (MiB, 64 * MiB, CAPPED)
    assert decoded.body == bytes(MiB)
    assert peak < 3 * MiB  # the kept MiB and a step of output, never the 64 MiB decoded
    assert len(decode_body(bomb, label, 100_000)) == 100_000  # the crawler's use


def test_count_is_at_least_keep() -> None:
    decoded = decode_content(_bomb("gzip", 4), "gzip", 2 * MiB, MiB)
    assert (len(decoded.body), decoded.size, decoded.outcome) == (2 * MiB, 2 * MiB, CAPPED)


def test_a_page_of_exactly_the_cap_is_whole() -> None:
    decoded = decode_content(gzip.compress(bytes(MiB)), "gzip", MiB)
    assert (len(decoded.body), decoded.size) == (MiB, MiB)
    assert decoded.outcome in (DECODED, CAPPED)


# --- chunked transfer coding ----------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    (b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", b"hello world"),
    (b"5\nhello\n0\n\n", b"hello"),  # bare LF
    (b"A\r\n0123456789\r\n0\r\n", b"0123456789"),
    (b"5\r\nhello\r\n6\r\n wo", b"hello wo"),  # a truncated tail is kept
    (b"<html>not chunked</html>", None),  # stored dechunked with the header kept
    (b"", None),
])
def test_dechunk(raw: bytes, expected: bytes | None) -> None:
    assert dechunk(raw) == expected
    assert undo_transfer_coding(raw, "Chunked") == expected
    assert undo_transfer_coding(raw, "gzip, chunked") == expected
    assert undo_transfer_coding(raw, "") is None


# --- crawl and extraction decode alike ------------------------------------------------------

def _archived(tmp_path: Path, body: bytes, headers: list[tuple[str, str]]) -> Capture:
    path = write_warc(tmp_path / "one.warc.gz", [Response(
        "http://site.test/", "2024-01-01T00:00:00Z", 200, body,
        [("Content-Type", "text/html"), *headers])])
    captures = list(read_archive(path))
    assert len(captures) == 1 and isinstance(captures[0], Capture)
    return captures[0]


@pytest.mark.parametrize(("coding", "body"), [
    *CODED, ("gzip", PAGE), ("br", PAGE), ("compress", PAGE)])
def test_crawl_and_extraction_decode_alike(tmp_path: Path, coding: str, body: bytes) -> None:
    capture = _archived(tmp_path, body, [("Content-Encoding", coding)])
    crawled = decode_body(body, coding, archive.MAX_BODY)
    assert capture.body == crawled
    assert crawled == (PAGE if coding != "compress" else body)


def test_extraction_undoes_chunked_then_br(tmp_path: Path) -> None:
    coded = brotli.compress(PAGE)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(coded[i:i + 50]), coded[i:i + 50])
                       for i in range(0, len(coded), 50)) + b"0\r\n\r\n"
    capture = _archived(tmp_path, chunked, [("Transfer-Encoding", "chunked"),
                                            ("Content-Encoding", "br")])
    assert (capture.body, capture.body_size) == (PAGE, len(PAGE))


@pytest.mark.parametrize("coding", BOMBS)
def test_extraction_cuts_a_bomb_at_its_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           coding: str) -> None:
    monkeypatch.setattr(archive, "MAX_BODY", MiB)
    monkeypatch.setattr(archive, "MAX_INFLATE", 16 * MiB)
    capture = _archived(tmp_path, _bomb(coding, 32), [("Content-Encoding",
                                                       coding.split()[-1])])
    assert (len(capture.body), capture.body_size) == (MiB, 16 * MiB)


def test_extraction_caps_are_what_build_reports(tmp_path: Path) -> None:
    """At the real caps: 10 MB kept, page_size counted up to 500 MB, then the bomb stops."""
    capture = _archived(tmp_path, _bomb("gzip", 520), [("Content-Encoding", "gzip")])
    assert (len(capture.body), capture.body_size) == (archive.MAX_BODY, archive.MAX_INFLATE)



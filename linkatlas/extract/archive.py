"""Read archive files as a stream of captures: WARC (fastwarc) and ARC (warcio), gzip or plain.

A capture (capture.py) is one HTTP response with its decoded body; a WAT's JSON metadata
records are handed to the caller's reader (records.py joins this module and wat.py). Memory
is bounded: a body is read up to `max_body` bytes; the rest is counted, not kept.
A record that cannot be read is reported as a `Skip` with its offset and reason; reading goes on
at the next record start (a WARC), so a corrupt gzip member or junk between records costs only
itself; a file that stops mid-record ends the stream with a skip, keeping everything before it.
"""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from fastwarc.warc import ArchiveIterator as FastIterator
from fastwarc.warc import WarcRecordType

from ..codings import decode_content, undo_transfer_coding
from ..errors import ArchiveError
from .capture import Capture, Skip, clean_uri, is_status, parse_time, record_time

__all__ = ["MAX_BODY", "MetadataReader", "chunk_offsets", "read_records", "sniff_format",
           "wat_named"]

MAX_BODY = 10 * 1024 * 1024  # bytes of a body kept for parsing; page_size still counts all
MAX_INFLATE = 50 * MAX_BODY  # decoded bytes counted at most: a gzip bomb stops here
_CHUNK = 1 << 16
# An ARC record line: URL IP-address archive-date content-type length (ARC v1 and v2).
_ARC_LINE = re.compile(rb"^\S+ \S+ \d{14} ")
# An ARC v1 header whose content type holds a space shifts the fields, and warcio then reads
# `URL IP` as the URL (with the space escaped): split the address back off.
_URL_WITH_IP = re.compile(r"(?:%20| )(\d{1,3}(?:\.\d{1,3}){3})$")

_METADATA = WarcRecordType.metadata
# Turns the JSON body of a metadata record (at offset, in path) into a capture: the WAT reader.
MetadataReader = Callable[[bytes, int, Path], Capture | Skip]

# warcio logs each URI it repairs; we count records ourselves.
logging.getLogger("warcio").setLevel(logging.ERROR)


def _gzipped(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(2) == b"\x1f\x8b"


def _open(path: Path) -> bytes:
    """The first bytes of the file's content, decompressed when it is gzip."""
    opener = gzip.open if _gzipped(path) else open
    try:
        with opener(path, "rb") as stream:
            return stream.read(512)
    except (OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"{path}: cannot read: {exc}") from None


def sniff_format(path: Path) -> str:
    """`warc` or `arc` from the first record; ArchiveError for anything else."""
    return _format(path, _head(path))


def _head(path: Path) -> bytes:
    """The start of the first record."""
    try:
        return _open(path).lstrip(b"\r\n")
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read: {exc}") from None


def _format(path: Path, head: bytes) -> str:
    if head.startswith(b"WARC/"):
        return "warc"
    if head.startswith(b"filedesc://") or _ARC_LINE.match(head):
        return "arc"
    raise ArchiveError(f"{path}: not a WARC, ARC or WAT file")


def _read_body(reader: object, transfer_encoding: str = "", content_encoding: str = ""
               ) -> tuple[bytes, int]:
    """The decoded body, at most MAX_BODY bytes, and its decoded size.

    Transfer and content codings are undone only when the bytes really are coded: some
    crawlers stored payloads decoded but kept the headers (Common Crawl until 2018, node-warc).
    """
    raw, size = _collect(reader.read)  # type: ignore[attr-defined]
    dechunked = undo_transfer_coding(raw, transfer_encoding)
    if dechunked is not None:
        raw, size = dechunked, len(dechunked)
    decoded = decode_content(raw, content_encoding, MAX_BODY, MAX_INFLATE)
    return (decoded.body, decoded.size) if decoded.coded else (raw, size)


def _collect(read: object) -> tuple[bytes, int]:
    chunks: list[bytes] = []
    kept = total = 0
    while chunk := read(_CHUNK):  # type: ignore[operator]
        total += len(chunk)
        if kept < MAX_BODY:
            chunks.append(chunk[: MAX_BODY - kept])
            kept += len(chunks[-1])
    return b"".join(chunks), total


def read_records(path: Path, start: int, end: int | None, metadata: MetadataReader
                 ) -> Iterator[Capture | Skip]:
    """Captures and skips of one archive file, in file order; of a WARC, only the records of
    the chunk that starts at `start` and ends at `end` (offsets from `chunk_offsets`). An ARC
    is read whole. A JSON metadata record (a WAT's) is handed to `metadata`."""
    head = _head(path)
    if _format(path, head) == "arc":
        yield from _read_arc(path)
        return
    if _gzipped(path):
        bounds = _chunk_bounds(path, start, end)
        if bounds is None:
            return
        start, end = bounds
    yield from _read_warc(path, start, end, metadata, strict=_crlf_lines(head))


def _crlf_lines(head: bytes) -> bool:
    """Whether the first record's header lines end in CRLF, as the standard says. Then the
    reader is strict: a record that does not start where the one before it ends (a wrong
    Content-Length, junk) is an error, which _read_warc counts and reads on from, where
    lenient parsing would skip to the next `WARC/` it finds and lose what lies between
    without a word. Files written with bare LF (some tools do) are read leniently."""
    line_end = head.find(b"\n")
    return line_end > 0 and head[line_end - 1 : line_end] == b"\r"


def chunk_offsets(path: Path, size: int) -> list[int]:
    """Offsets that split a WARC into chunks of about `size` bytes (the work of a chunk follows
    its compressed size). An ARC, or a file no bigger than `size`, is one chunk: [0].

    In a gzip WAT they are byte positions, found without reading the file (inflating a whole
    file to find its record starts took longer than reading its records): the chunk from
    `start` to `end` is the records from its first record member at or after `start` up to
    the next chunk's first (`_chunk_bounds`, a few KB read by the worker). Elsewhere they are
    record starts, read from the records' headers: a page's payload may hold the bytes of a
    gzip member holding a WARC record (a .warc.gz a site serves, stored as is because it
    does not compress), or a `WARC/` line, which cannot be told from a record start by
    looking at the bytes; a chunk begun there would read records a stranger wrote. A WAT's
    payloads are JSON text, where a gzip header (0x1f) cannot appear unescaped."""
    if sniff_format(path) == "arc" or path.stat().st_size <= size:
        return [0]
    if _gzipped(path) and wat_named(path):
        return list(range(0, path.stat().st_size, size))
    starts = [0]
    try:
        with path.open("rb") as stream:
            for record in FastIterator(stream, parse_http=False, quirks_mode=True):
                offset = record.stream_pos
                if offset - starts[-1] >= size:
                    starts.append(offset)
            magic = b"\x1f\x8b" if _gzipped(path) else b"WARC/"
            usable = [0]
            for offset in starts[1:]:
                stream.seek(offset)
                if stream.read(len(magic)) == magic:
                    usable.append(offset)
    except (OSError, ValueError, zlib.error, EOFError):
        return [0]  # the reader will meet the damage and count it
    return usable


def wat_named(path: Path) -> bool:
    """A WAT by its name (Common Crawl's `.warc.wat.gz`; `ingest` keeps the suffix)."""
    return path.name.lower().endswith(".wat.gz")


def _chunk_bounds(path: Path, start: int, end: int | None) -> tuple[int, int | None] | None:
    """Where the records of the chunk [start, end) of a gzip WARC start and stop: its first
    record member at or after `start`, and the next chunk's (None: the file's end). None when
    no record member starts before `end`: the chunk's bytes are the inside of a bigger member
    (a large record; or the whole file is one gzip stream), which the chunk before reads."""
    first = 0 if start == 0 else _next_record(path, start, True, until=end)
    if first is None:
        return None
    return first, None if end is None else _next_record(path, end, True)


def _read_warc(path: Path, start: int, end: int | None, metadata: MetadataReader,
               strict: bool = True) -> Iterator[Capture | Skip]:
    """The records from start on; after a damaged one (a corrupt gzip member, junk between
    records, a truncated tail), reading goes on at the next record start found in the file,
    so one damaged record costs only itself (counted once)."""
    wanted = WarcRecordType.response | WarcRecordType.revisit | WarcRecordType.metadata
    position, counted = start, False
    # In a plain file, a record that claims to run past the file's end has swallowed what
    # follows it (a wrong Content-Length) without any error from the reader.
    gzipped = _gzipped(path)
    size = None if gzipped else path.stat().st_size
    while True:
        last, read_some, claimed_end = position, False, 0
        try:
            with path.open("rb") as stream:
                stream.seek(position)
                # inplace: one record object, refilled (each is read before the next)
                records = FastIterator(stream, record_types=wanted, parse_http=False,
                                       quirks_mode=not strict, inplace=True)
                for record in records:
                    last, read_some, counted = record.stream_pos, True, False
                    if end is not None and last >= end:
                        return
                    claimed_end = last + record.content_length
                    yield _from_fast(record, path, metadata)
            if size is None or claimed_end <= size:
                return
            yield Skip(last, "record longer than the file (a wrong Content-Length)")
            counted = True
        except (OSError, ValueError, zlib.error, EOFError) as exc:
            if read_some or not counted:  # (a resumption that fails at once: same damage)
                yield Skip(last, f"unreadable record: {_short(exc)}")
            counted = True
        following = _next_record(path, last + 1, gzipped)
        if following is None or (end is not None and following >= end):
            return
        position = following


_SCAN = 1 << 16  # read at a time: record starts are a few KB apart (each chunk looks twice)


def _next_record(path: Path, offset: int, gzipped: bool, until: int | None = None
                 ) -> int | None:
    """Offset of the first record start at or after offset (and before `until`): a gzip
    member whose content begins with `WARC/`, or a `WARC/1.` line in a plain file; None when
    there is none."""
    with path.open("rb") as stream:
        magic = b"\x1f\x8b\x08" if gzipped else b"\nWARC/1."
        position = offset - (0 if gzipped else 1)  # a plain record start follows a newline
        while until is None or position < until:
            stream.seek(position)
            block = stream.read(_SCAN + 4096)
            view = memoryview(block)  # (a slice of it is not a copy)
            found = block.find(magic)
            while 0 <= found < _SCAN:
                at = position + found + (0 if gzipped else 1)
                if until is not None and at >= until:
                    return None
                if not gzipped or _is_member(view[found:]):
                    return at
                found = block.find(magic, found + 1)
            if len(block) <= _SCAN:
                return None
            position += _SCAN
        return None


def _is_member(data: bytes | memoryview) -> bool:
    """Whether data starts a gzip member holding a WARC record (not a chance match)."""
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, 16).startswith(b"WARC/")
    except zlib.error:
        return False


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:120]


def _json(record: object) -> bool:
    """Whether a WARC record's Content-Type says JSON (a WAT record's does)."""
    return "json" in record.headers.get("Content-Type", "")  # type: ignore[attr-defined]


def _from_fast(record: object, path: Path, metadata: MetadataReader) -> Capture | Skip:
    rec = record  # fastwarc.warc.WarcRecord
    offset = rec.stream_pos  # type: ignore[attr-defined]
    if rec.record_type == _METADATA:  # type: ignore[attr-defined]
        reader = rec.reader  # type: ignore[attr-defined]
        # JSON has no codings; one read when the record says it fits (nearly always)
        body = reader.read() if rec.content_length <= MAX_BODY else _collect(  # type: ignore[attr-defined]
            reader.read)[0]
        # A WAT record is one whose Content-Type says JSON; others (Common Crawl's WARCs hold
        # `fetchTimeMs: …` lines) are skipped. That lookup was 5 % of a worker's time on a
        # WAT file, so a JSON object the WAT reader finds to be no response (most of a WAT's
        # records) is ignored without it: ignored either way. (lstrip copies nothing when
        # there is nothing to strip.)
        found = metadata(body, offset, path)
        if isinstance(found, Skip) and not found.bad and body.lstrip()[:1] == b"{":
            return found
        return found if _json(rec) else Skip(offset, "metadata record", bad=False)
    headers = rec.headers  # type: ignore[attr-defined]
    uri = clean_uri(headers.get("WARC-Target-URI", ""))
    if not uri:
        return Skip(offset, "no WARC-Target-URI")
    if not headers.get("Content-Type", "").startswith("application/http"):
        return Skip(offset, "non-HTTP record", bad=False)  # e.g. DNS records
    try:
        ok = rec.parse_http(quirks_mode=True)  # type: ignore[attr-defined]
    except (OSError, ValueError) as exc:
        return Skip(offset, f"bad HTTP headers: {_short(exc)}")
    if ok is False:
        return Skip(offset, "bad HTTP headers")
    http = rec.http_headers  # type: ignore[attr-defined]
    status = http.status_code if http is not None else None
    if not status or not is_status(status):
        return Skip(offset, "bad HTTP status line")
    try:
        body, size = _read_body(rec.reader, http.get("Transfer-Encoding", ""),  # type: ignore[attr-defined]
                                http.get("Content-Encoding", ""))
    except (OSError, ValueError, zlib.error) as exc:
        return Skip(offset, f"bad HTTP body: {_short(exc)}")
    time, dated = record_time(headers.get("WARC-Date", ""), http.get("Date", ""), path)
    if time is None:
        return Skip(offset, "no usable date (WARC-Date, HTTP Date or warcinfo)")
    revisit = rec.record_type == WarcRecordType.revisit  # type: ignore[attr-defined]
    return Capture(url=uri, time=time, status=int(status), reason=http.reason_phrase or "",
                   headers=list(http.astuples()), body=b"" if revisit else body,
                   body_size=0 if revisit else size,
                   ip=headers.get("WARC-IP-Address", "").strip(), offset=offset,
                   revisit=revisit,
                   refers_to=parse_time(headers.get("WARC-Refers-To-Date", "")) if revisit
                   else None, dated=dated)


def _read_arc(path: Path) -> Iterator[Capture | Skip]:
    from warcio.archiveiterator import ArchiveIterator as WarcioIterator
    from warcio.exceptions import ArchiveLoadFailed

    last = 0
    try:
        with path.open("rb") as stream:
            records = WarcioIterator(stream, arc2warc=True)
            for record in records:
                last = records.offset  # get_record_offset() would consume the record
                if record.rec_type != "response":
                    continue
                yield _from_warcio(record, last)
    except (ArchiveLoadFailed, OSError, ValueError, zlib.error, EOFError) as exc:
        yield Skip(last, f"unreadable record: {_short(exc)}")


def _from_warcio(record: object, offset: int) -> Capture | Skip:
    rec_headers = record.rec_headers  # type: ignore[attr-defined]
    http = record.http_headers  # type: ignore[attr-defined]
    uri = clean_uri(rec_headers.get_header("WARC-Target-URI") or "")
    time, dated = record_time(rec_headers.get_header("WARC-Date") or "",
                         (http.get_header("Date") or "") if http is not None else "", None)
    if time is None or not uri:
        return Skip(offset, "no usable date or URL")
    if not uri.lower().startswith(("http:", "https:")):
        return Skip(offset, "non-HTTP record", bad=False)  # dns:, filedesc:
    ip = (rec_headers.get_header("WARC-IP-Address") or "").strip()
    shifted = _URL_WITH_IP.search(uri)
    if shifted:
        uri, ip = uri[: shifted.start()], shifted.group(1)
    if http is None or not http.get_statuscode():
        return Skip(offset, "bad HTTP status line")
    try:
        status = int(http.get_statuscode())
        body, size = _read_body(record.raw_stream,  # type: ignore[attr-defined]
                                http.get_header("Transfer-Encoding") or "",
                                http.get_header("Content-Encoding") or "")
    except (ValueError, OSError, zlib.error, EOFError) as exc:
        return Skip(offset, f"bad HTTP record: {_short(exc)}")
    if not is_status(status):  # (warcio reads any integer, which failed the chunk's Parquet)
        return Skip(offset, "bad HTTP status line")
    reason = http.statusline.partition(" ")[2]
    return Capture(url=uri, time=time, status=status, reason=reason, headers=list(http.headers),
                   body=body, body_size=size, ip=ip, offset=offset, dated=dated)

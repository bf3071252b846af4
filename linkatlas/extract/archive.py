"""Read archive files as a stream of captures: WARC (fastwarc) and ARC (warcio), gzip or plain.

A capture is one HTTP response (or one WAT metadata record describing one), with its decoded
body. Memory is bounded: a body is read up to `max_body` bytes; the rest is counted, not kept.
A record that cannot be read is reported as a `Skip` with its offset and reason; reading goes on
at the next record start (a WARC), so a corrupt gzip member or junk between records costs only
itself; a file that stops mid-record ends the stream with a skip, keeping everything before it.
"""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

from fastwarc.warc import ArchiveIterator as FastIterator
from fastwarc.warc import WarcRecordType

from ..codings import decode_content, undo_transfer_coding
from ..errors import ArchiveError

__all__ = ["DATED", "Capture", "Skip", "chunk_offsets", "read_archive", "sniff_format"]

# How a record's time was found, in the order tried (the build report counts each).
DATED = ("WARC-Date", "WARC-Date variant", "HTTP Date", "warcinfo date")

MAX_BODY = 10 * 1024 * 1024  # bytes of a body kept for parsing; page_size still counts all
MAX_INFLATE = 50 * MAX_BODY  # decoded bytes counted at most: a gzip bomb stops here
_CHUNK = 1 << 16
# An ARC record line: URL IP-address archive-date content-type length (ARC v1 and v2).
_ARC_LINE = re.compile(rb"^\S+ \S+ \d{14} ")
# An ARC v1 header whose content type holds a space shifts the fields, and warcio then reads
# `URL IP` as the URL (with the space escaped): split the address back off.
_URL_WITH_IP = re.compile(r"(?:%20| )(\d{1,3}(?:\.\d{1,3}){3})$")

# warcio logs each URI it repairs; we count records ourselves.
logging.getLogger("warcio").setLevel(logging.ERROR)


@dataclass(slots=True)
class Capture:
    """One HTTP response of an archive (or, for WAT, the metadata of one)."""

    url: str                    # WARC-Target-URI as written (angle brackets removed)
    time: datetime              # WARC-Date, UTC
    status: int                 # HTTP status code
    reason: str                 # reason phrase of the status line
    headers: list[tuple[str, str]]
    body: bytes                 # decoded body, at most MAX_BODY bytes
    body_size: int              # decoded body size in bytes (all of it)
    ip: str                     # WARC-IP-Address, "" when absent
    offset: int                 # byte offset of the record in the file
    wat: dict[str, object] | None = field(default=None)  # the parsed WAT payload, for WAT
    revisit: bool = False       # a WARC revisit record: the page was fetched again, unchanged
    refers_to: datetime | None = None  # WARC-Refers-To-Date of a revisit, when given
    dated: str = "WARC-Date"    # how `time` was found: one of DATED

    def header(self, name: str) -> str:
        """All values of a header joined with ", " (RFC 9110 §5.3), "" when absent."""
        lower = name.lower()
        return ", ".join(v for k, v in self.headers if k.lower() == lower)


@dataclass(slots=True, frozen=True)
class Skip:
    """A record not turned into a capture, counted in the build report by reason: `bad` when
    it is damaged, else it is a record with nothing to index (DNS, plain metadata)."""

    offset: int
    reason: str
    bad: bool = True


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


# Dates real crawlers wrote that are not ISO 8601: ClueWeb09's Nutch wrote the day of the year
# where the day of the month belongs (`2008-10-294T05:21:46-0700`: day 294 of 2008).
_ORDINAL = re.compile(r"(\d{4})-\d{2}-(\d{3})T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:?\d{2})?")


def _parse_time(text: str) -> datetime | None:
    """A WARC-Date (ISO 8601 / W3C-DTF, or a 14-digit ARC date) in UTC; None when it does not
    parse."""
    text = text.strip()
    for form in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(text, form).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _variant_time(text: str) -> datetime | None:
    """A date in a known non-standard form (_ORDINAL), else an RFC 1123 date; or None."""
    match = _ORDINAL.fullmatch(text.strip())
    if match:
        year, day, hour, minute, second, zone = match.groups()
        try:
            moment = datetime(int(year), 1, 1, int(hour), int(minute), int(second),
                              tzinfo=_zone(zone)) + timedelta(days=int(day) - 1)
        except ValueError:
            return None
        return moment.astimezone(UTC) if moment.year == int(year) else None
    return _http_time(text)


def _zone(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if text[0] == "-" else offset)


def _http_time(text: str) -> datetime | None:
    """An HTTP-date (RFC 9110 §5.6.7) in UTC, or None."""
    if not text.strip():
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@lru_cache(maxsize=64)
def _warcinfo_time(path: Path) -> datetime | None:
    """The date of the warcinfo record that opens a WARC file (the crawl's date), if any."""
    try:
        with path.open("rb") as stream:
            for record in FastIterator(stream, parse_http=False, quirks_mode=True):
                if record.record_type != WarcRecordType.warcinfo:
                    return None
                date = record.headers.get("WARC-Date") or ""
                return _parse_time(date) or _variant_time(date)
    except (OSError, ValueError, zlib.error, EOFError):
        return None
    return None


def _dated(warc_date: str, http_date: str, path: Path | None) -> tuple[datetime | None, str]:
    """A record's time and how it was found: its WARC-Date, a known variant of it, the HTTP
    `Date` header, or the date of the file's warcinfo record (counted in the build report)."""
    for how, find in ((DATED[0], lambda: _parse_time(warc_date)),
                      (DATED[1], lambda: _variant_time(warc_date)),
                      (DATED[2], lambda: _http_time(http_date)),
                      (DATED[3], lambda: _warcinfo_time(path) if path else None)):
        moment = find()
        if moment is not None:
            return moment, how
    return None, ""


def _clean_uri(uri: str) -> str:
    # The WARC 1.0 text's examples wrote WARC-Target-URI in angle brackets; some tools copied it.
    uri = uri.strip()
    if uri.startswith("<") and uri.endswith(">"):
        uri = uri[1:-1]
    return uri


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


def read_archive(path: Path, start: int = 0, end: int | None = None
                 ) -> Iterator[Capture | Skip]:
    """Captures and skips of one archive file, in file order; of a WARC, only the records
    that start in [start, end) (offsets from `chunk_offsets`). An ARC is read whole."""
    head = _head(path)
    if _format(path, head) == "arc":
        yield from _read_arc(path)
    else:
        yield from _read_warc(path, start, end, strict=_crlf_lines(head))


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
    its compressed size), each a record start where a reader can begin (a gzip member or
    `WARC/` header). An ARC, a WARC compressed as one gzip stream, or a file no bigger than
    `size` (not even read: splitting costs a pass over the file) is one chunk: [0]."""
    if sniff_format(path) == "arc" or path.stat().st_size <= size:
        return [0]
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


def _read_warc(path: Path, start: int, end: int | None, strict: bool = True
               ) -> Iterator[Capture | Skip]:
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
                records = FastIterator(stream, record_types=wanted, parse_http=False,
                                       quirks_mode=not strict)
                for record in records:
                    last, read_some, counted = record.stream_pos, True, False
                    if end is not None and last >= end:
                        return
                    claimed_end = last + record.content_length
                    yield _from_fast(record, path)
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


_SCAN = 1 << 20


def _next_record(path: Path, offset: int, gzipped: bool) -> int | None:
    """Offset of the first record start at or after offset: a gzip member whose content
    begins with `WARC/`, or a `WARC/1.` line in a plain file; None when there is none."""
    with path.open("rb") as stream:
        magic = b"\x1f\x8b\x08" if gzipped else b"\nWARC/1."
        position = offset - (0 if gzipped else 1)  # a plain record start follows a newline
        while True:
            stream.seek(position)
            block = stream.read(_SCAN + 4096)
            found = block.find(magic)
            while 0 <= found < _SCAN:
                at = position + found + (0 if gzipped else 1)
                if not gzipped or _is_member(block[found:]):
                    return at
                found = block.find(magic, found + 1)
            if len(block) <= _SCAN:
                return None
            position += _SCAN


def _is_member(data: bytes) -> bool:
    """Whether data starts a gzip member holding a WARC record (not a chance match)."""
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, 16).startswith(b"WARC/")
    except zlib.error:
        return False


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:120]


def _from_fast(record: object, path: Path) -> Capture | Skip:
    rec = record  # fastwarc.warc.WarcRecord
    offset = rec.stream_pos  # type: ignore[attr-defined]
    headers = rec.headers  # type: ignore[attr-defined]
    uri = _clean_uri(headers.get("WARC-Target-URI", ""))
    if rec.record_type == WarcRecordType.metadata:  # type: ignore[attr-defined]
        if "json" not in headers.get("Content-Type", ""):
            return Skip(offset, "metadata record", bad=False)
        from .wat import capture_from_wat

        body, _ = _read_body(rec.reader)  # type: ignore[attr-defined]
        return capture_from_wat(body, offset, path)
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
    if not status:
        return Skip(offset, "bad HTTP status line")
    try:
        body, size = _read_body(rec.reader, http.get("Transfer-Encoding", ""),  # type: ignore[attr-defined]
                                http.get("Content-Encoding", ""))
    except (OSError, ValueError, zlib.error) as exc:
        return Skip(offset, f"bad HTTP body: {_short(exc)}")
    time, dated = _dated(headers.get("WARC-Date", ""), http.get("Date", ""), path)
    if time is None:
        return Skip(offset, "no usable date (WARC-Date, HTTP Date or warcinfo)")
    revisit = rec.record_type == WarcRecordType.revisit  # type: ignore[attr-defined]
    return Capture(url=uri, time=time, status=int(status), reason=http.reason_phrase or "",
                   headers=list(http.astuples()), body=b"" if revisit else body,
                   body_size=0 if revisit else size,
                   ip=headers.get("WARC-IP-Address", "").strip(), offset=offset,
                   revisit=revisit,
                   refers_to=_parse_time(headers.get("WARC-Refers-To-Date", "")) if revisit
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
    uri = _clean_uri(rec_headers.get_header("WARC-Target-URI") or "")
    time, dated = _dated(rec_headers.get_header("WARC-Date") or "",
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
    reason = http.statusline.partition(" ")[2]
    return Capture(url=uri, time=time, status=status, reason=reason, headers=list(http.headers),
                   body=body, body_size=size, ip=ip, offset=offset, dated=dated)

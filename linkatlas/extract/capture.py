"""What reading an archive yields, shared by the WARC/ARC reader (archive.py) and the WAT
reader (wat.py): the capture and skip types, and how a record's time and URL are read.

A capture is one HTTP response (or one WAT metadata record describing one), with its decoded
body; a skip is a record not turned into a capture, with the reason the build report counts.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from fastwarc.warc import ArchiveIterator as FastIterator
from fastwarc.warc import WarcRecordType

__all__ = ["DATED", "Capture", "Skip", "clean_uri", "is_status", "parse_time", "record_time"]

# How a record's time was found, in the order tried (the build report counts each).
DATED = ("WARC-Date", "WARC-Date variant", "HTTP Date", "warcinfo date")


@dataclass(slots=True)
class Capture:
    """One HTTP response of an archive (or, for WAT, the metadata of one)."""

    url: str                    # WARC-Target-URI as written (angle brackets removed)
    time: datetime              # WARC-Date, UTC
    status: int                 # HTTP status code
    reason: str                 # reason phrase of the status line
    headers: list[tuple[str, str]]
    body: bytes                 # decoded body, at most archive.MAX_BODY bytes
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
        return ", ".join([v for k, v in self.headers if k.lower() == lower])


def is_status(code: int) -> bool:
    """Whether code can be an HTTP status: three digits (RFC 9110 §15). A WAT's JSON and
    warcio (ARC) give any integer, and one that the Parquet column (int32) cannot hold
    failed its chunk, and so every build; a record with another status is skipped, counted."""
    return 0 < code < 1000


class Skip(NamedTuple):
    """A record not turned into a capture, counted in the build report by reason: `bad` when
    it is damaged, else it is a record with nothing to index (DNS, plain metadata). (A named
    tuple: most records of a WAT file are skips, and a frozen dataclass is slower to make.)"""

    offset: int
    reason: str
    bad: bool = True


def clean_uri(uri: str) -> str:
    """A WARC-Target-URI as written, without the angle brackets that the WARC 1.0 text's
    examples put around it (some tools copied them)."""
    uri = uri.strip()
    if uri.startswith("<") and uri.endswith(">"):
        uri = uri[1:-1]
    return uri


# Dates real crawlers wrote that are not ISO 8601: ClueWeb09's Nutch wrote the day of the year
# where the day of the month belongs (`2008-10-294T05:21:46-0700`: day 294 of 2008).
_ORDINAL = re.compile(r"(\d{4})-\d{2}-(\d{3})T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:?\d{2})?")
# Where the separators of `YYYY-MM-DDThh:mm:ssZ` stand: every other character is a digit.
_SEPARATORS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: "Z"}


@lru_cache(maxsize=4096)  # records of one crawl share their seconds
def _common_time(text: str) -> datetime | None:
    """`YYYY-MM-DDThh:mm:ssZ`, the form nearly every WARC-Date has, read without strptime
    (a tenth of its cost); None for anything else, which parse_time reads the long way."""
    if len(text) != 20 or not text.isascii() or any(
            text[at] != mark for at, mark in _SEPARATORS.items()):
        return None
    digits = text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
    if not digits.isdigit():
        return None
    try:
        return datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                        int(text[14:16]), int(text[17:19]), tzinfo=UTC)
    except ValueError:
        return None


def parse_time(text: str) -> datetime | None:
    """A WARC-Date (ISO 8601 / W3C-DTF, or a 14-digit ARC date) in UTC; None when it does not
    parse."""
    text = text.strip()
    moment = _common_time(text)
    if moment is not None:
        return moment
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
                return parse_time(date) or _variant_time(date)
    except (OSError, ValueError, zlib.error, EOFError):
        return None
    return None


def record_time(warc_date: str, http_date: str, path: Path | None) -> tuple[datetime | None, str]:
    """A record's time and how it was found: its WARC-Date, a known variant of it, the HTTP
    `Date` header, or the date of the file's warcinfo record (counted in the build report)."""
    moment = parse_time(warc_date)
    if moment is not None:
        return moment, DATED[0]
    for how, find in ((DATED[1], lambda: _variant_time(warc_date)),
                      (DATED[2], lambda: _http_time(http_date)),
                      (DATED[3], lambda: _warcinfo_time(path) if path else None)):
        moment = find()
        if moment is not None:
            return moment, how
    return None, ""

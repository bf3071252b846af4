"""Every record of an archive file, WARC, ARC or WAT, as a capture or a skip.

The one place that joins the container reader (archive.py) to the WAT reader (wat.py), so
that neither imports the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .archive import read_records
from .capture import Capture, Skip
from .wat import capture_from_wat

__all__ = ["read_archive"]


def read_archive(path: Path, start: int = 0, end: int | None = None
                 ) -> Iterator[Capture | Skip]:
    """Captures and skips of one archive file, in file order; of a WARC, only the records of
    the chunk from start to end (offsets from `archive.chunk_offsets`). An ARC is read whole."""
    return read_records(path, start, end, capture_from_wat)

"""`ingest`: copy archive files into DIR/archives, once each.

A file is named by the SHA-256 of its content, so importing the same file twice (under any
name) changes nothing. It is checked to be a WARC, ARC or WAT file before it is copied, and
copied under a temporary name then renamed, so a full disk never leaves half an archive.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArchiveError
from .archive import sniff_format

__all__ = ["Imported", "archives_in", "ingest"]


@dataclass(frozen=True)
class Imported:
    source: Path
    stored: Path
    new: bool


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()[:20]


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".warc.wat.gz", ".wat.gz", ".warc.gz", ".arc.gz", ".warc.wat", ".wat",
                   ".warc", ".arc", ".gz"):
        if name.endswith(suffix):
            return suffix
    return ".warc"


def archives_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """The archive files under folder, recursively, recognised by their content (not their
    names), in a stable order (sorted by path); and the other files, which are left out."""
    archives: list[Path] = []
    others: list[Path] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        try:
            sniff_format(path)
        except (ArchiveError, OSError, EOFError, ValueError):
            others.append(path)
            continue
        archives.append(path)
    return archives, others


def _directory(path: Path) -> list[Path]:
    found = archives_in(path)[0]
    if not found:
        raise ArchiveError(f"{path}: no WARC, ARC or WAT file in this directory")
    return found


def ingest(data: Path, files: list[Path]) -> list[Imported]:
    """Import files (a directory: the archives under it, see archives_in), all or none:
    ArchiveError names the first file that is not an archive before anything is copied, so
    a command line is never half done."""
    folder = data / "archives"
    files = [found for path in files for found in (_directory(path) if path.is_dir() else [path])]
    for path in files:
        if not path.is_file():
            raise ArchiveError(f"{path}: no such file")
        sniff_format(path)
    folder.mkdir(parents=True, exist_ok=True)
    # Both passes on every core (hashlib and the kernel's copy let go of the GIL); the copies
    # are decided in order first, so a file named twice is copied once.
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        digests = list(pool.map(_digest, files))
        done: list[Imported] = []
        copies: dict[str, Path] = {}  # digest → where this command stores it
        for path, digest in zip(files, digests, strict=True):
            existing = copies.get(digest) or min(folder.glob(f"imported-{digest}-*"),
                                                 default=None)
            if existing is not None:
                done.append(Imported(path, existing, False))
                continue
            stem = path.name[: len(path.name) - len(_suffix(path))] or "archive"
            copies[digest] = stored = folder / f"imported-{digest}-{stem[:60]}{_suffix(path)}"
            done.append(Imported(path, stored, True))
        copied = [pool.submit(_copy, item.source, item.stored) for item in done if item.new]
        try:
            errors = [exc for future in copied if (exc := future.exception()) is not None]
        finally:  # Ctrl-C: the copies begun end whole, the others are not made
            pool.shutdown(cancel_futures=True)
    if errors:
        raise errors[0]
    return done


def _copy(source: Path, stored: Path) -> None:
    """source → stored under a temporary name then renamed: never half an archive."""
    temp = stored.with_name(f".{stored.name}.tmp")
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, stored)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ArchiveError(f"{source}: cannot import: {exc.strerror or exc}") from None

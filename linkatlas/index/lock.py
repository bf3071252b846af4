"""The build lock of DIR: one process at a time extracts into DIR/extract and publishes."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import BuildError

__all__ = ["build_lock"]


@contextmanager
def build_lock(data: Path, wait: bool = False) -> Iterator[None]:
    """The build lock of DIR: one process at a time extracts into DIR/extract and publishes.
    A second build is refused; others that extract (check's due targets) wait."""
    data.mkdir(parents=True, exist_ok=True)
    with (data / "build.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise BuildError(f"another build is running in {data}") from None
        yield

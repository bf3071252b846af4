"""Memos that live as long as a worker process, bounded by emptying them when full.

A worker extracts chunk after chunk and remembers what pages repeat (link targets, the shapes
of references, decoded texts). An archive of endless distinct values must not grow a memo
without bound; emptying a full one costs a few misses and keeps no eviction order.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["remember"]

K = TypeVar("K")
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, value: V, limit: int) -> V:
    """memo[key] = value, memo emptied first when it holds `limit` entries; returns value."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value

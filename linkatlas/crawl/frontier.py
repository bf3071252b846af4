"""The frontier: every URL the crawl knows, its depth and state, in `DIR/crawl/frontier.sqlite`.

SQLite in WAL mode with `synchronous=NORMAL`: a commit survives `kill -9` (not a power cut).
The crawler commits once per fetched page, right after the page's WARC records are flushed, and
the same transaction stores the archive offset reached (`checkpoint`). On resume, bytes of the
open archive past that offset belong to pages the frontier does not know as done; the writer
cuts them off and those pages are fetched again, so nothing is lost and nothing is recorded twice.

States: queued → leased (held in memory by a running crawl) → done | failed | blocked. Leases
of a killed run are returned to the queue when the next run opens the frontier.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..urls import host_of

__all__ = ["BLOCKED", "DONE", "FAILED", "LEASED", "QUEUED", "Entry", "Frontier"]

QUEUED, LEASED, DONE, FAILED, BLOCKED = 0, 1, 2, 3, 4
_OFFERED_MAX = 1_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    id      INTEGER PRIMARY KEY,
    url     TEXT NOT NULL UNIQUE,
    host    TEXT NOT NULL,
    depth   INTEGER NOT NULL,   -- link hops from a seed
    hops    INTEGER NOT NULL,   -- redirect hops since the last page
    state   INTEGER NOT NULL DEFAULT 0,
    visited TEXT,               -- ISO 8601 UTC of the last fetch (the one clock)
    status  INTEGER             -- HTTP status, 0 for a network failure
);
CREATE INDEX IF NOT EXISTS urls_due ON urls (state, depth, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    url: str
    host: str
    depth: int
    hops: int


class Frontier:
    """URLs to fetch, breadth-first (by depth, then by discovery order)."""

    def __init__(self, path: Path, *, max_host_urls: int | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.execute("UPDATE urls SET state = ? WHERE state = ?", (QUEUED, LEASED))
        self._max_host_urls = max_host_urls
        self._host_urls: dict[str, int] = dict(
            self._db.execute("SELECT host, count(*) FROM urls GROUP BY host").fetchall())
        self._in_tx = False
        # URLs this run already offered: links repeat from page to page (menus, footers), and
        # a set lookup is ~50× cheaper than an INSERT OR IGNORE. Bounded: cleared when full.
        self._offered: set[str] = set()

    # -- transactions: one per fetched page -------------------------------------------------
    def begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def commit(self) -> None:
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False

    def close(self) -> None:
        self.commit()
        self._db.close()

    # -- rounds -----------------------------------------------------------------------------
    def seed(self, urls: list[str]) -> int:
        """Add seeds at depth 0; known URLs keep their state. Returns URLs added."""
        self.begin()
        added = self.add(urls, 0, 0)
        self._db.executemany("UPDATE urls SET depth = 0, hops = 0 WHERE url = ? AND state = ?",
                             ((url, QUEUED) for url in urls))
        self.commit()
        return added

    def recrawl(self, before: str) -> int:
        """Make URLs last visited before `before` (ISO time) due again: a new round."""
        cursor = self._db.execute("UPDATE urls SET state = ? WHERE state >= ? AND visited < ?",
                                  (QUEUED, DONE, before))
        return cursor.rowcount

    # -- queue ------------------------------------------------------------------------------
    def add(self, urls: Iterable[str], depth: int, hops: int) -> int:
        """Admit URLs not seen before, within the per-host limit; returns how many."""
        added = 0
        limit = self._max_host_urls
        counts = self._host_urls
        offered = self._offered
        if len(offered) > _OFFERED_MAX:
            offered.clear()
        for url in urls:
            if url in offered:
                continue
            offered.add(url)
            host = host_of(url)
            known = counts.get(host, 0)
            if limit is not None and known >= limit:
                continue
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO urls (url, host, depth, hops) VALUES (?, ?, ?, ?)",
                (url, host, depth, hops))
            if cursor.rowcount > 0:
                counts[host] = known + 1
                added += 1
        return added

    def lease(self, count: int) -> list[Entry]:
        """Take up to `count` due URLs, shallowest first, and mark them leased."""
        rows = self._db.execute(
            "UPDATE urls SET state = ? WHERE id IN (SELECT id FROM urls WHERE state = ? "
            "ORDER BY depth, id LIMIT ?) RETURNING id, url, host, depth, hops",
            (LEASED, QUEUED, count)).fetchall()
        rows.sort(key=lambda row: (row[3], row[0]))
        return [Entry(*row) for row in rows]

    def release(self, ids: Iterable[int]) -> None:
        """Return leased URLs to the queue (the run stops before fetching them)."""
        self._db.executemany("UPDATE urls SET state = ? WHERE id = ? AND state = ?",
                             ((QUEUED, id_, LEASED) for id_ in ids))

    def finish(self, entry: Entry, state: int, status: int, visited: str) -> None:
        self._db.execute("UPDATE urls SET state = ?, status = ?, visited = ? WHERE id = ?",
                         (state, status, visited, entry.id))

    def due(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM urls WHERE state IN (?, ?)",
                                    (QUEUED, LEASED)).fetchone()[0])

    def counts(self) -> dict[int, int]:
        return dict(self._db.execute("SELECT state, count(*) FROM urls GROUP BY state"))

    # -- archive checkpoint -----------------------------------------------------------------
    def checkpoint(self, archive: str, offset: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('checkpoint', ?)",
                         (f"{offset} {archive}",))

    def last_checkpoint(self) -> tuple[str, int] | None:
        """(archive file name, offset) of the last commit, or None before the first."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'checkpoint'").fetchone()
        if row is None:
            return None
        offset, archive = row[0].split(" ", 1)
        return archive, int(offset)

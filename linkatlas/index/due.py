"""Which link targets `check` should observe: those with no status observation (good or
broken) newer than --recheck-after days. Transient observations (timeouts, 429) do not make
a target fresh: its status is still unknown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from .. import clock
from ..rules.verdicts import broken_sql, good_sql
from .stages import history

__all__ = ["Due", "due_targets"]


@dataclass(frozen=True)
class Due:
    urls: list[str]                          # targets to observe, sorted
    previous: dict[str, tuple[int, str]]     # url → latest (http_code, error) status known
    fresh: frozenset[str]                    # targets observed recently (not to re-queue)


def due_targets(data: Path, recheck_after_days: float, workers: int | None = None) -> Due:
    """Extract new archives (cached, as `build` does) and select the targets due."""
    from .inputs import archives_of, connect, extract_inputs, load
    from .lock import build_lock

    if not archives_of(data):
        return Due([], {}, frozenset())
    with build_lock(data, wait=True):  # a build extracting into the same cache goes first
        inputs = extract_inputs(data, workers)
    con = connect(data)
    try:
        load(con, inputs)
        history(con)
        cutoff = (clock.now() - timedelta(days=recheck_after_days)).replace(tzinfo=None)
        rows = con.execute(f"""
            WITH t AS (SELECT DISTINCT url_to AS url FROM live),
            s AS (SELECT o.url, max(o.time) AS seen,
                         arg_max(o.http_code, struct_pack(o.time, o.http_code)) AS http_code,
                         arg_max(o.error, struct_pack(o.time, o.http_code)) AS error
                  FROM observations o JOIN t USING (url)
                  WHERE {broken_sql('o.http_code', 'o.error')}
                     OR {good_sql('o.http_code', 'o.error')} GROUP BY o.url)
            SELECT t.url, s.seen IS NOT NULL AND s.seen >= ? AS fresh, s.http_code, s.error
            FROM t LEFT JOIN s USING (url) ORDER BY t.url""", [cutoff]).fetchall()
    finally:
        con.close()
    return Due(urls=[url for url, fresh, _, _ in rows if not fresh],
               previous={url: (code, error) for url, _, code, error in rows if code is not None},
               fresh=frozenset(url for url, fresh, _, _ in rows if fresh))

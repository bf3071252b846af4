"""Prometheus metrics of the API (prometheus-client): requests and errors by table and
status, latency, rows charged, the current snapshot's id and age.

With `serve --workers N` every worker writes to PROMETHEUS_MULTIPROC_DIR (set by `serve`) and
a scrape of any worker sums them all.
"""

from __future__ import annotations

import os
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from ..clock import now
from ..snapshot import Snapshot

__all__ = ["ERRORS", "LATENCY", "REQUESTS", "ROWS", "exposition", "observe_snapshot"]

REQUESTS = Counter("linkatlas_requests_total", "API requests", ["table", "status"])
ERRORS = Counter("linkatlas_errors_total", "API requests answered with a v2 error", ["table"])
LATENCY = Histogram("linkatlas_request_seconds", "Time to answer an API request", ["table"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                             5, 10, 30))
ROWS = Counter("linkatlas_rows_charged_total", "Result rows charged to tokens")
SNAPSHOT = Gauge("linkatlas_snapshot_info", "The current snapshot (1; earlier ones 0)",
                 ["snapshot"], multiprocess_mode="max")
SNAPSHOT_AGE = Gauge("linkatlas_snapshot_age_seconds", "Age of the current snapshot",
                     multiprocess_mode="max")


_shown: list[str] = []  # snapshot ids this process has exported


def observe_snapshot(current: Snapshot) -> None:
    for old in _shown:  # .clear() is not available in multiprocess mode
        if old != current.id:
            SNAPSHOT.labels(snapshot=old).set(0)
    if current.id not in _shown:
        _shown.append(current.id)
    SNAPSHOT.labels(snapshot=current.id).set(1)
    built = current.manifest.get("built_at", "")
    if built:
        moment = datetime.fromisoformat(built.replace("Z", "+00:00"))
        SNAPSHOT_AGE.set((now() - moment).total_seconds())


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST

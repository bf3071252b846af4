"""Digests after a build (`build --notify URL`, `[notify]` in DIR/linkatlas.toml): the new and
fixed broken backlinks of the build, grouped by dead URL, top referring domains first, each
with a link to the report; sent through Apprise (Slack, e-mail, Matrix, webhooks …).

A delivery that fails is retried (doubling pauses), then logged and counted; it never fails
the build. Each attempt is bounded in time: a receiver that hangs costs at most the timeout.
Every attempt is a JSON line in DIR/notify.log; URLs are logged in Apprise's privacy form
(no passwords or tokens).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import clock, urls
from ..errors import UsageError
from .config import NotifySettings
from .ignore import Ignore

__all__ = ["Delivery", "Digest", "check_urls", "deliver", "digest", "notify_snapshot"]

log = logging.getLogger("linkatlas.notify")
LOG_FILE = "notify.log"
MAX_TARGETS = 50    # dead URLs listed in one digest; the report has the rest
MAX_DOMAINS = 10    # referring domains listed per dead URL, strongest first
MAX_PAGES = 5       # referring pages listed per domain, highest URL Rating first


@dataclass(frozen=True)
class Digest:
    title: str
    body: str
    new: int        # backlinks reported, after the ignore list
    fixed: int
    ignored: int


def _domain(url: str) -> str:
    return urls.registered_domain(urls.host_of(url))


def _target_block(url_to: str, change: str, rows: list[dict[str, Any]], report_url: str
                  ) -> list[str]:
    from .diff import safe  # (with DuckDB: imported once a digest is due, not by every build)

    first = rows[0]
    status = "dns" if first.get("error") == "dns" else str(first.get("http_code") or "")
    why = "broken" if change == "new" else f"fixed: {first.get('reason', '')}"
    domains: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        domains.setdefault(_domain(row["url_from"]), []).append(row)
    ranked = sorted(domains.items(), key=lambda item: (
        -max(int(r.get("domain_rating") or 0) for r in item[1]), -len(item[1]), item[0]))
    lines = [f"{change.upper()}  {safe(url_to)}  ({status}, {why})",
             f"  report: {report_url}/report#target={quote(url_to, safe='')}",
             f"  {len(rows)} backlink(s) from {len(domains)} referring domain(s):"]
    for name, found in ranked[:MAX_DOMAINS]:
        pages = sorted({r["url_from"]: int(r.get("ahrefs_rank") or 0) for r in found}.items(),
                       key=lambda item: (-item[1], item[0]))
        rating = max(int(r.get("domain_rating") or 0) for r in found)
        shown = ", ".join(safe(url) for url, _ in pages[:MAX_PAGES])
        more = f" and {len(pages) - MAX_PAGES} more" if len(pages) > MAX_PAGES else ""
        lines.append(f"  - {safe(name)} (DR {rating}), {len(found)} backlink(s): {shown}{more}")
    if len(ranked) > MAX_DOMAINS:
        lines.append(f"  - … and {len(ranked) - MAX_DOMAINS} more referring domain(s)")
    return lines


def digest(rows: list[dict[str, Any]], ignore: Ignore, report_url: str, snapshot: str
           ) -> Digest | None:
    """The digest of a build's changes (rows of the changes table), or None when no new or
    fixed backlink is left after the ignore list."""
    wanted = [r for r in rows if r["change"] in ("new", "fixed")]
    kept = [r for r in wanted if ignore.matches(r["url_from"], r["url_to"]) is None]
    if not kept:
        return None
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in kept:
        groups.setdefault((row["url_to"], row["change"]), []).append(row)
    order = sorted(groups.items(), key=lambda item: (
        item[0][1] != "new", -len({_domain(r["url_from"]) for r in item[1]}),
        -max(int(r.get("domain_rating") or 0) for r in item[1]), item[0][0]))
    new = sum(r["change"] == "new" for r in kept)
    fixed = len(kept) - new
    title = f"linkatlas: {new} new and {fixed} fixed broken backlinks"
    lines = [f"{title} (snapshot {snapshot}; {len(wanted) - len(kept)} ignored)", ""]
    for (url_to, change), found in order[:MAX_TARGETS]:
        lines += [*_target_block(url_to, change, found, report_url), ""]
    if len(order) > MAX_TARGETS:
        lines.append(f"… and {len(order) - MAX_TARGETS} more dead URLs: {report_url}/report")
    return Digest(title, "\n".join(lines).rstrip() + "\n", new, fixed, len(wanted) - len(kept))


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0
    attempts: int = 0

    def to_json(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "attempts": self.attempts}


def _with_timeouts(url: str, timeout: float) -> str:
    """Apprise's connect and read timeouts (`cto`, `rto`) unless the URL sets its own."""
    if "cto=" in url or "rto=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}cto={timeout:g}&rto={timeout:g}"


def _private(url: str) -> str:
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    return plugin.url(privacy=True) if plugin else url.split("://", 1)[0] + "://…"


def check_urls(urls_: list[str] | tuple[str, ...]) -> None:
    """UsageError for a URL Apprise does not know (before any work starts)."""
    if not urls_:
        return  # (importing Apprise costs a build ≈ 0.1 CPU s)
    import apprise

    for url in urls_:
        if apprise.Apprise.instantiate(url) is None:
            scheme = url.split("://", 1)[0] if "://" in url else url[:20]
            raise UsageError(f"--notify: not an Apprise URL (scheme {scheme!r}); see "
                             "https://github.com/caronc/apprise/wiki")


def _attempt(url: str, message: Digest, timeout: float) -> str:
    """One delivery; "" when it went through, else why not. Bounded by a watchdog as well as
    Apprise's own timeouts, so no receiver can hold a build."""
    import apprise

    outcome: list[str] = []

    def send() -> None:
        try:
            with apprise.LogCapture(level=logging.WARNING) as captured:
                box = apprise.Apprise()
                box.add(_with_timeouts(url, timeout))
                ok = box.notify(title=message.title, body=message.body,
                                body_format=apprise.NotifyFormat.TEXT)
            lines = [line for line in captured.getvalue().splitlines() if line.strip()]
            outcome.append("" if ok else (lines[-1][:200] if lines else "not delivered"))
        except Exception as exc:  # a plugin's bug is a failed delivery, not a failed build
            outcome.append(f"{type(exc).__name__}")

    worker = threading.Thread(target=send, daemon=True, name="linkatlas-notify")
    worker.start()
    worker.join(timeout * 3 + 5)  # connect, send and answer, each within `timeout`
    return outcome[0] if outcome else f"no answer within {timeout * 3 + 5:g} s"


def deliver(data: Path, settings: NotifySettings, message: Digest, snapshot: str,
            sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """Send the digest to every URL, retrying; log each attempt to DIR/notify.log."""
    result = Delivery()
    for url in settings.urls:
        shown = _private(url)
        for attempt in range(settings.retries + 1):
            if attempt:
                sleep(settings.retry_delay * 2 ** (attempt - 1))
            result.attempts += 1
            error = _attempt(url, message, settings.timeout)
            _log(data, {"time": clock.iso(clock.now()), "snapshot": snapshot, "url": shown,
                        "attempt": attempt + 1, "ok": not error, "error": error})
            if not error:
                result.sent += 1
                break
            log.warning("notify: %s attempt %d failed: %s", shown, attempt + 1, error)
        else:
            result.failed += 1
    return result


def _log(data: Path, entry: dict[str, Any]) -> None:
    with (data / LOG_FILE).open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(entry, ensure_ascii=False) + "\n")


def notify_snapshot(data: Path, snapshot_id: str, settings: NotifySettings,
                    ignore: Ignore, sleep: Callable[[float], None] = time.sleep
                    ) -> tuple[Digest | None, Delivery]:
    """The digest of one build's recorded changes, sent to every configured URL; counts
    are kept in the snapshot's report.json (`notify`)."""
    import duckdb

    from ..index.changes import CHANGES_FILE
    from ..snapshot import snapshots_dir

    folder = snapshots_dir(data) / snapshot_id
    rows: list[dict[str, Any]] = []
    if settings.urls and (folder / CHANGES_FILE).is_file():
        with duckdb.connect() as con:
            cursor = con.execute(
                "SELECT * FROM read_parquet(?) WHERE change IN ('new', 'fixed')",
                [str(folder / CHANGES_FILE)])
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    message = digest(rows, ignore, settings.report_url, snapshot_id)
    result = Delivery()
    if message is not None:
        result = deliver(data, settings, message, snapshot_id, sleep)
        report = folder / "report.json"
        if report.is_file():
            body = json.loads(report.read_text())
            body["notify"] = result.to_json()
            report.write_text(json.dumps(body, indent=2))
    return message, result


def prepare(data: Path, urls_: list[str] | None) -> NotifySettings:
    """The notify settings of a run: DIR/linkatlas.toml's plus `--notify` URLs, checked before
    any work starts."""
    from .config import load_notify

    settings = load_notify(data, urls_)
    check_urls(settings.urls)
    return settings


def after_build(data: Path, snapshot_id: str, settings: NotifySettings
                ) -> tuple[Digest | None, Delivery]:
    """Notify about the build that published snapshot_id (nothing when no URL is set)."""
    from .ignore import load

    return notify_snapshot(data, snapshot_id, settings, load(data))

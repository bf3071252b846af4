"""DIR/linkatlas.toml: settings of the watch commands that outlive one command line.

    [notify]
    urls = ["mailto://…", "json://hooks.example/linkatlas"]   # Apprise URLs
    report_url = "https://links.example.com"   # where `serve` answers; digests link its /report
    retries = 2          # further attempts after a failed delivery
    retry_delay = 5.0    # seconds before the first retry, doubled each time
    timeout = 10.0       # seconds a receiver may take to connect or to answer
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

__all__ = ["FILE", "NotifySettings", "load_notify"]

FILE = "linkatlas.toml"


@dataclass(frozen=True)
class NotifySettings:
    urls: tuple[str, ...] = ()
    report_url: str = "http://127.0.0.1:8080"
    retries: int = 2
    retry_delay: float = 5.0
    timeout: float = 10.0


def _number(section: dict[str, Any], name: str, default: float, low: float, high: float
            ) -> float:
    value = section.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise UsageError(f"{FILE}: notify.{name} must be a number from {low:g} to {high:g}")
    return float(value)


def load_notify(data: Path, urls: list[str] | None = None) -> NotifySettings:
    """The [notify] section of DIR/linkatlas.toml (defaults without one), with `urls` from
    the command line added to the file's."""
    path = data / FILE
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: not a readable TOML file: {exc}") from None
    section = document.get("notify", {})
    if not isinstance(section, dict):
        raise UsageError(f"{FILE}: [notify] must be a table")
    listed = section.get("urls", [])
    if not isinstance(listed, list) or not all(isinstance(u, str) for u in listed):
        raise UsageError(f"{FILE}: notify.urls must be a list of Apprise URLs (strings)")
    report_url = section.get("report_url", NotifySettings.report_url)
    if not isinstance(report_url, str) or "://" not in report_url:
        raise UsageError(f"{FILE}: notify.report_url must be a URL, e.g. http://host:8080")
    return NotifySettings(
        urls=tuple(dict.fromkeys([*listed, *(urls or [])])), report_url=report_url.rstrip("/"),
        retries=int(_number(section, "retries", 2, 0, 10)),
        retry_delay=_number(section, "retry_delay", 5.0, 0, 600),
        timeout=_number(section, "timeout", 10.0, 0.1, 600))

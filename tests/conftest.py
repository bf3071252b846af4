from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from linkatlas.api.planner import parse_request
from linkatlas.api.query import answer, open_reader
from linkatlas.index import build
from linkatlas.snapshot import current


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shared_data_missing(message): shared/ data not found")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A test parametrized over shared files that are missing fails in one line (never skips)."""
    marker = item.get_closest_marker("shared_data_missing")
    if marker is not None:
        pytest.fail(marker.args[0], pytrace=False)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def pinned_now(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-01T00:00:00Z")
    yield


def run_query(data: Path, **params: str | list[str]) -> list[dict[str, object]]:
    """Answer a request as the API would and decode its JSON rows."""
    values = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    body = answer(open_reader(), current(data), parse_request(values))
    return json.loads(b"".join(body))["refpages"]


def build_quietly(data: Path) -> dict[str, object]:
    return build(data, workers=1).to_json()

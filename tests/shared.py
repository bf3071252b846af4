"""The one place that finds the shared test data (spec/ and data/real/ of the folder `shared/`).

`shared/` sits beside the repository: Path(repo)/../shared (CI clones main into a folder with a
read-only copy of shared/ beside it). A linked git worktree looks beside its main checkout too, and
LINKATLAS_SHARED names another copy. When the data is missing, the tests that need it FAIL with
one line saying where it was looked for; they never skip (a quiet skip hides a broken CI set-up).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MISSING = pytest.mark.shared_data_missing  # conftest.py fails the tests that carry it


def _main_checkout(repo: Path) -> Path | None:
    """A linked worktree's main checkout (its .git file says `gitdir: MAIN/.git/worktrees/N`)."""
    dot_git = repo / ".git"
    if not dot_git.is_file():
        return None
    text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
    if not text.startswith("gitdir:"):
        return None
    gitdir = (repo / text.removeprefix("gitdir:").strip()).resolve()
    return gitdir.parents[2] if gitdir.parent.name == "worktrees" else None


def candidates(repo: Path = REPO) -> list[Path]:
    """Where shared/ may be, in the order tried."""
    if os.environ.get("LINKATLAS_SHARED"):
        return [Path(os.environ["LINKATLAS_SHARED"])]
    found = [repo.parent / "shared"]
    main = _main_checkout(repo)
    if main is not None:
        found.append(main.parent / "shared")
    return found


def _find(parts: tuple[str, ...]) -> Path | None:
    for root in candidates():
        path = root.joinpath(*parts)
        if path.exists():
            return path
    return None


def missing_message(parts: tuple[str, ...]) -> str:
    where = " or ".join(str(root.joinpath(*parts)) for root in candidates())
    return (f"shared test data missing: {'/'.join(parts)} not found at {where} "
            "(put a copy of shared/ beside the repository or set LINKATLAS_SHARED)")


def locate(*parts: str) -> Path:
    """shared/PARTS where found, else where it was first looked for (for scripts that report)."""
    return _find(parts) or candidates()[0].joinpath(*parts)


def shared(*parts: str) -> Path:
    """The path of shared/PARTS; inside a test or fixture, fails the test in one line if absent."""
    path = _find(parts)
    if path is None:
        pytest.fail(missing_message(parts), pytrace=False)
    return path


def shared_files(*parts: str, pattern: str = "*") -> list[object]:
    """Parameters for pytest.mark.parametrize: the files under shared/PARTS matching PATTERN.

    Called at collection time, so it cannot fail there: when the folder is missing or empty it
    gives one parameter marked MISSING, which conftest.py turns into a failing test.
    """
    root = _find(parts)
    files = sorted(p for p in root.glob(pattern) if p.is_file()) if root is not None else []
    if files:
        return list(files)
    message = (missing_message(parts) if root is None
               else f"shared test data missing: no {pattern} under {root}")
    return [pytest.param(None, marks=MISSING(message), id="shared-data-missing")]

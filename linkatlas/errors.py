"""The one error tree of linkatlas.

    LinkatlasError
     ├── UsageError        a bad command-line value or option
     ├── ArchiveError      an archive file that cannot be read at all
     ├── BuildError        a build that cannot go on (no input, no space, broken cache)
     ├── SnapshotError     no current snapshot, or an unreadable one
     ├── QueryError        a bad query parameter (spec/API.md: `<param>: <problem>`)
     │    └── ConditionError   a bad where/having condition, with its position
     ├── NetError          resolver and address-policy failures
     └── LedgerError       token ledger failures

The CLI turns any of these into one line on stderr; the API turns QueryError into a v2 error body.
"""

from __future__ import annotations


class LinkatlasError(Exception):
    """Root of every error linkatlas raises on purpose."""


class UsageError(LinkatlasError):
    """Raised when a command-line value is invalid."""


class ArchiveError(LinkatlasError):
    """Raised when an archive file cannot be opened or is not an archive at all."""


class BuildError(LinkatlasError):
    """Raised when a build cannot complete; the current snapshot stays as it was."""


class SnapshotError(LinkatlasError):
    """Raised when there is no usable current snapshot."""


_MAX_PROBLEM = 300


class QueryError(LinkatlasError):
    """Raised for a bad request parameter; renders as `<param>: <problem>`."""

    def __init__(self, param: str, problem: str) -> None:
        if len(problem) > _MAX_PROBLEM:  # it may quote a hostile value of any size
            problem = problem[:_MAX_PROBLEM] + "…"
        self.param = param
        self.problem = problem
        super().__init__(f"{param}: {problem}" if param else problem)


class ConditionError(QueryError):
    """Raised for a bad where/having condition; `position` counts characters from 1."""

    def __init__(self, param: str, problem: str, position: int | None = None) -> None:
        self.position = position
        text = f"syntax error at position {position}: {problem}" if position else problem
        super().__init__(param, text)
        self.problem = problem


class NetError(LinkatlasError):
    """Raised for a bad hosts file or a refused address."""


class LedgerError(LinkatlasError):
    """Raised when the token ledger cannot be opened or updated."""

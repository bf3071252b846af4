"""Answers that are charged only when complete (spec/API.md Billing).

A request's rows are fetched and rendered into a spool (memory, then a temp file) while one
deadline covers every phase: the row count php needs, the query, the fetching and the
rendering. Only a finished spool is charged for, so a timeout, a failing query or a full disk
before that point costs nothing, and an answer's body is always complete and valid. What can
still fail after the charge — the client going away before the last byte was handed to the
connection — is refunded in one ledger transaction.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import IO

import anyio
import duckdb
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..errors import QueryError
from .execute import Deadline, execute
from .planner import Plan
from .planner import Request as Query

__all__ = ["Spooled", "SpooledResponse", "materialise"]

log = logging.getLogger("linkatlas.api")
_SPOOL_MEMORY = 8 << 20  # bytes of an answer held in memory; beyond, it goes to a temp file
_CHUNK = 64 << 10


@dataclass
class Spooled:
    """A rendered answer, complete: `rows` rows in `size` bytes of `body`."""

    body: IO[bytes]
    rows: int
    size: int

    def close(self) -> None:
        self.body.close()


def materialise(db: duckdb.DuckDBPyConnection, query: Query, compiled: Plan,
                seconds: float) -> Spooled:
    """Run `compiled` and render every row into a spool, all within `seconds`.

    QueryError for a timeout, a query DuckDB cannot run (`execute`) or no room for the spool;
    details (paths, library messages) go to the server log only.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115
    try:
        with Deadline(seconds) as deadline:
            answer = execute(db, query, compiled, deadline)
            try:
                for chunk in answer.chunks:
                    spool.write(chunk)
            except OSError as exc:
                log.warning("cannot spool an answer: %s", exc)
                raise QueryError("", "the server has no room for this answer right now; "
                                     "try a smaller limit or later") from None
        size = spool.tell()
        spool.seek(0)
        return Spooled(spool, answer.rows, size)
    except BaseException:
        spool.close()
        raise


class SpooledResponse(Response):
    """Sends a spooled answer; `on_incomplete` runs (in a thread) when the client went away
    before the whole body was handed to the connection."""

    def __init__(self, answer: Spooled, media_type: str, headers: dict[str, str],
                 on_incomplete: Callable[[], object]) -> None:
        super().__init__(None, media_type=media_type,
                         headers={**headers, "Content-Length": str(answer.size)})
        self.answer = answer
        self.on_incomplete = on_incomplete

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        complete = False
        try:
            async with anyio.create_task_group() as group:
                async def stream() -> None:
                    nonlocal complete
                    await send({"type": "http.response.start", "status": self.status_code,
                                "headers": self.raw_headers})
                    sent = 0
                    while chunk := await anyio.to_thread.run_sync(self.answer.body.read,
                                                                  _CHUNK):
                        await send({"type": "http.response.body", "body": chunk,
                                    "more_body": True})
                        sent += len(chunk)
                        # Complete as soon as the last byte is with the connection: a client
                        # that has read all Content-Length bytes may close at once, and the
                        # closing message below ends `receive` with a disconnect too.
                        complete = sent == self.answer.size
                    complete = sent == self.answer.size
                    await send({"type": "http.response.body", "body": b"",
                                "more_body": False})
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await _until_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            self.answer.close()
            if not complete:
                with anyio.CancelScope(shield=True):
                    await _quietly(anyio.to_thread.run_sync(self.on_incomplete))


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _quietly(work: Awaitable[object]) -> None:
    try:
        await work
    except Exception:  # a failed refund is logged: the answer itself is already over
        log.exception("refund failed")


"""The API app (with /report) on uvicorn in a thread, on a free loopback port, for the
browser tests and the report benchmark."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from linkatlas.server import Settings, create_app

from .ports import free_port


@contextmanager
def running(data: Path, ledger: str) -> Iterator[tuple[str, object]]:
    """(base URL, app) of a server answering until the block ends."""
    app = create_app(Settings(data, ledger))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the report server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(10)

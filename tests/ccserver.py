"""A local stand-in for data.commoncrawl.org: Common Crawl's layout, and its bad days.

Serves `crawl-data/CRAWL/{wat,warc}.paths.gz` and the files they list, with HTTP Range, on a
free loopback port. Each path can be given a script of misbehaviours, one per request, used
up in order:

- `503`: Service Unavailable with `Retry-After: 0`; `slowdown`: 503 with S3's SlowDown XML
  body and no Retry-After;
- `cut`: the full Content-Length, then the connection closes half-way through the body;
- `short`: a Content-Length 100 bytes short of the body it stands for (the client reads a
  file that looks whole but is not);
and, for every request, `truncated` (the file itself lacks its last bytes) or a `delay` per
64 KiB sent (so a test can kill a client mid-download).
"""

from __future__ import annotations

import gzip
import re
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .ports import free_port

_RANGE = re.compile(r"bytes=(\d+)-$")


class CCServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.scripts: dict[str, list[str]] = defaultdict(list)
        self.truncated: set[str] = set()
        self.delay = 0.0
        self.requests: list[tuple[str, str]] = []  # (path, Range header)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add_crawl(self, crawl: str, kind: str, files: list[Path]) -> list[str]:
        """Publish files under the crawl's segments; returns their remote paths."""
        paths = []
        for i, file in enumerate(files):
            body = file.read_bytes()
            if body[:2] != b"\x1f\x8b":
                body = gzip.compress(body)
            name = f"{crawl}-20990101000000-{i:05d}.warc{'.wat' if kind == 'wat' else ''}.gz"
            path = f"crawl-data/{crawl}/segments/1700000000.{i % 3}/{kind}/{name}"
            self.files[path] = body
            paths.append(path)
        listing = "".join(p + "\n" for p in paths).encode()
        self.files[f"crawl-data/{crawl}/{kind}.paths.gz"] = gzip.compress(listing)
        return paths

    def __enter__(self) -> CCServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next(self, path: str) -> str:
        with self.lock:
            script = self.scripts.get(path)
            return script.pop(0) if script else ""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.lstrip("/")
                owner.requests.append((path, self.headers.get("Range", "")))
                body = owner.files.get(path)
                if body is None:
                    self._plain(404, b"<Error><Code>NoSuchKey</Code></Error>")
                    return
                if path in owner.truncated:
                    body = body[: len(body) - 37]
                act = owner._next(path)
                if act == "503":
                    self._plain(503, b"busy", {"Retry-After": "0"})
                    return
                if act == "slowdown":
                    self._plain(503, b"<Error><Code>SlowDown</Code><Message>Please reduce "
                                     b"your request rate.</Message></Error>")
                    return
                start = 0
                match = _RANGE.match(self.headers.get("Range", ""))
                if match:
                    start = int(match.group(1))
                    if start >= len(body):
                        self._plain(416, b"", {"Content-Range": f"bytes */{len(body)}"})
                        return
                part = body[start:]
                self.send_response(206 if match else 200)
                if match:
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(body) - 1}/{len(body)}")
                length = len(part) - 100 if act == "short" and len(part) > 200 else len(part)
                self.send_header("Content-Length", str(length))
                self.send_header("Connection", "close")
                self.end_headers()
                if act == "cut":
                    part = part[: len(part) // 2]
                part = part[:length]
                for offset in range(0, len(part), 65536):
                    try:
                        self.wfile.write(part[offset:offset + 65536])
                        self.wfile.flush()
                    except OSError:
                        return
                    if owner.delay:
                        time.sleep(owner.delay)
                self.close_connection = True

            def _plain(self, code: int, body: bytes, headers: dict[str, str] | None = None
                       ) -> None:
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

        return Handler

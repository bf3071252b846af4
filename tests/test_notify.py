"""Digests after a build, through Apprise to real receivers the tests start: an HTTP server for
the JSON webhook and an SMTP server (aiosmtpd) for e-mail; receivers that are down or slow."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from linkatlas import cli
from linkatlas.watch import ignore
from linkatlas.watch.ignore import Ignore
from linkatlas.watch.notify import digest

from .ports import free_port
from .test_changes import ONE, STAYS, _two_rounds


class Hook:
    """A JSON webhook receiver: records each POST body; `delay` makes it slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str]]:
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, (f"mailto://127.0.0.1:{port}?smtp=127.0.0.1&from=atlas@example.test"
                    f"&to=owner@example.test")
    finally:
        controller.stop()


def _config(data: Path, **notify: object) -> None:
    data.mkdir(parents=True, exist_ok=True)
    lines = ["[notify]", *(f"{k} = {json.dumps(v)}" for k, v in notify.items())]
    (data / "linkatlas.toml").write_text("\n".join(lines) + "\n")


def _build(data: Path, *args: str) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--data", str(data), "build", "--workers", "1", *args])
    assert done.value.code == 0


def _targets(text: str) -> dict[str, str]:
    """dead URL → NEW or FIXED, read from a digest's text."""
    found = {}
    for line in text.splitlines():
        change, _, rest = line.partition("  ")
        if change in ("NEW", "FIXED"):
            found[rest.split("  ")[0]] = change
    return found


def _digest_pairs(text: str) -> set[tuple[str, str, str]]:
    """(NEW or FIXED, referring page, dead URL) for every page a digest lists."""
    found, current = set(), ("", "")
    for line in text.splitlines():
        change, _, rest = line.partition("  ")
        if change in ("NEW", "FIXED"):
            current = (change, rest.split("  ")[0])
        elif line.startswith("  - ") and "): " in line:
            pages = line.split("): ", 1)[1].split(" and ")[0]
            found |= {(current[0], page, current[1]) for page in pages.split(", ")}
    return found


DIGESTED = {"http://ok.test/later": "NEW", "http://dead.test/fixed": "FIXED",
            "http://dead.test/redir": "FIXED"}


def test_a_build_sends_its_digest_by_webhook_and_mail(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        inbox: tuple[Inbox, str]) -> None:
    box, mail_url = inbox
    with Hook() as hook:
        _config(data, urls=[mail_url], report_url="https://links.example/")
        secret = hook.url.replace("json://", "json://user:s3cret@")  # basic auth: logged hidden
        _two_rounds(data, tmp_path, monkeypatch, _cli_build(secret))
    # the first build is the baseline: one digest, after the second build
    assert len(hook.bodies) == 1 and len(box.messages) == 1
    body = hook.bodies[0]
    assert body["title"] == "linkatlas: 1 new and 2 fixed broken backlinks"
    assert _targets(body["message"]) == DIGESTED  # lost ones are not in a digest
    assert ("report: https://links.example/report#target=http%3A%2F%2Fok.test%2Flater"
            in body["message"])
    assert _digest_pairs(body["message"]) == {("NEW", ONE, "http://ok.test/later"),
                                              ("FIXED", ONE, "http://dead.test/fixed"),
                                              ("FIXED", ONE, "http://dead.test/redir")}
    mail = box.messages[0]
    assert mail["Subject"] == body["title"]
    assert _targets(mail.get_payload(decode=True).decode()) == DIGESTED
    log = [json.loads(line) for line in (data / "notify.log").read_text().splitlines()]
    assert [entry["ok"] for entry in log] == [True, True]
    assert "s3cret" not in (data / "notify.log").read_text()
    report = json.loads((data / "current" / "report.json").read_text())
    assert report["notify"] == {"sent": 2, "failed": 0, "attempts": 2}


def _cli_build(*urls: str) -> Callable[[Path], None]:
    """`build` as the command line runs it, with --notify URLs (for _two_rounds)."""
    def run(where: Path) -> None:
        _build(where, *[part for url in urls for part in ("--notify", url)])
    return run


def test_ignored_rows_are_left_out(data: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ignore.add(data, "http://dead.test/redir")
    ignore.add(data, "http://ok.test/*")
    with Hook() as hook:
        _two_rounds(data, tmp_path, monkeypatch, _cli_build(hook.url))
    (body,) = hook.bodies
    assert _targets(body["message"]) == {"http://dead.test/fixed": "FIXED"}
    assert "(snapshot" in body["message"] and "2 ignored)" in body["message"]
    ignore.add(data, "a.test")  # the referring domain of every one of them
    assert ignore.load(data).matches(ONE, "http://dead.test/fixed") is not None


def test_receivers_that_are_down_or_slow_fail_without_failing_the_build(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _config(data, retries=2, retry_delay=0.05, timeout=0.5)
    down = f"json://127.0.0.1:{free_port()}/nobody"
    with Hook(delay=5) as slow, Hook() as good:
        started = time.monotonic()
        _two_rounds(data, tmp_path, monkeypatch, _cli_build(down, slow.url, good.url))
        took = time.monotonic() - started
    assert len(good.bodies) == 1
    log = [json.loads(line) for line in (data / "notify.log").read_text().splitlines()]
    failed = [entry for entry in log if not entry["ok"]]
    assert len(failed) == 6 and all(entry["error"] for entry in failed)  # 3 attempts each
    assert json.loads((data / "current" / "report.json").read_text())["notify"] == {
        "sent": 1, "failed": 2, "attempts": 7}
    assert took < 60  # the slow one is cut off by its timeout, not waited for


def test_a_url_apprise_does_not_know_stops_before_building(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--data", str(data), "build", "--notify", "nosuch://secret@host"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "not an Apprise URL" in err and "secret" not in err and len(err.splitlines()) == 1
    assert not (data / "snapshots").exists()


def _row(url_from: str, url_to: str, change: str = "new", rating: int = 0) -> dict[str, Any]:
    return {"url_from": url_from, "url_to": url_to, "change": change, "reason": "",
            "http_code": 404, "error": "", "domain_rating": rating, "ahrefs_rank": 0}


def test_a_digest_groups_by_dead_url_with_top_referring_domains_first() -> None:
    rows = [_row("http://small.test/a", "http://x.test/dead", rating=3),
            _row("http://www.big.test/b", "http://x.test/dead", rating=70),
            _row("http://big.test/c", "http://x.test/dead", rating=70),
            _row("http://small.test/a", "http://y.test/one", rating=3),
            _row("http://evil.test/\x1b[31m", "http://y.test/two", rating=9),
            _row("http://small.test/a", STAYS, change="lost")]
    message = digest(rows, Ignore(()), "http://127.0.0.1:8080", "S")
    assert message is not None and (message.new, message.fixed) == (5, 0)
    text = message.body
    # the dead URL with most referring domains first; in it, the strongest domain first
    assert text.index("x.test/dead") < text.index("y.test/one")
    block = text[text.index("x.test/dead"):text.index("y.test/")]
    assert block.index("big.test (DR 70), 2 backlink(s)") < block.index("small.test (DR 3)")
    assert "\x1b" not in text and STAYS not in text
    assert digest([rows[-1]], Ignore(()), "http://h", "S") is None  # nothing new or fixed

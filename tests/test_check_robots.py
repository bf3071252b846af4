"""The checker's robots.txt (spec/COLUMNS.md "Broken"): only a robots.txt that answers 2xx,
within its first 500 KiB (RFC 9309 §2.5), can forbid a check. One that answers 4xx or 5xx
(whatever its body says), loops, or never answers must not stop it, or a dead site would
never be found. The loopback server is test_check's, with these robots.txt files added."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from .test_check import Site, check

DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
# host → what its /robots.txt does
ROBOTS = {
    "rob503body.test": "503 with rules",
    "rob403body.test": "403 with rules",
    "robhuge.test": "rules after 500 KiB",
    "robslow.test": "no answer in time",
    "robloop.test": "redirect loop",
}


class RobotsSite(Site):
    async def answer(self, request: web.Request, host: str, path: str) -> web.StreamResponse:
        if host in ROBOTS and path.startswith("/robots"):
            if host == "rob503body.test":
                return web.Response(status=503, text=DISALLOW_ALL)
            if host == "rob403body.test":
                return web.Response(status=403, text=DISALLOW_ALL)
            if host == "robhuge.test":
                return web.Response(text="# padding\n" * 60_000 + DISALLOW_ALL)
            if host == "robslow.test":
                await asyncio.sleep(3)
                return web.Response(text=DISALLOW_ALL)
            step = int(path.rsplit("-", 1)[1]) if "-" in path else 0
            return web.Response(status=301, headers={"Location": f"/robots-{(step + 1) % 3}"})
        return await super().answer(request, host, path)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    server = RobotsSite()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("host", list(ROBOTS))
def test_a_robots_txt_that_cannot_forbid_does_not_stop_the_check(
        site: Site, tmp_path: Path, host: str) -> None:
    hosts = tmp_path / "robots-hosts"
    hosts.write_text("127.0.0.1 " + " ".join(ROBOTS) + "\n")
    result = check(tmp_path, [site.url(host, "/404")], hosts=hosts)
    assert [(o.http_code, o.error) for o in result.observations] == [(404, "")]
    assert site.hits[("GET", host, "/404")] == 1

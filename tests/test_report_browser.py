"""/report in a real browser: Playwright driving Debian's Chromium (headless, no Playwright
browser download) against `serve`'s app on a loopback port. What a person sees and exports
is compared with the API's own answer; hostile page text never runs."""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from linkatlas.web.redirects import render

from .report_server import running
from .report_web import FORMULA_ANCHOR, HOSTILE_ANCHOR, report_index

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = Path(os.environ.get("LINKATLAS_AXE_DIR", Path(__file__).parents[1] / ".cache" / "axe-core")
           ) / "node_modules" / "axe-core" / "axe.min.js"

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="./run test installs chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("browser")
    data = report_index(root)
    with running(data, f"sqlite:///{root}/ledger.sqlite") as (base, app):
        token = app.state.api.ledger.create("browser", 1_000_000)  # type: ignore[attr-defined]
        yield {"base": base, "token": token, "app": app}


@pytest.fixture(scope="module")
def browser(server: dict[str, Any]) -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield chromium
        chromium.close()


def _api(server: dict[str, Any], **params: str) -> list[dict[str, Any]]:
    query = urlencode({"token": server["token"], "target": "shop.test", "mode": "domain",
                       **params})
    body = httpx.get(f"{server['base']}/?{query}").json()
    assert "error" not in body, body
    return body.get("targets", body.get("refpages"))


def _page(browser: Any, server: dict[str, Any], width: int, **context: Any) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True,
                            **context)
    page.on("dialog", lambda dialog: (_ for _ in ()).throw(AssertionError(dialog.message)))
    return page


def _until(page: Any, expression: str, seconds: float = 15) -> None:
    """Wait until a JavaScript expression holds (polled from here: Playwright's own
    wait_for_function evaluates strings, which the page's CSP rightly forbids)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {seconds} s: {expression}")
        time.sleep(0.05)


def _dead_rows(page: Any) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#dead-table tbody tr.dead",
        "rows => rows.map(r => [...r.cells].slice(1, -1).map(c => c.textContent))")


def _download(page: Any, selector: str) -> str:
    with page.expect_download() as info:
        page.click(selector)
    return Path(info.value.path()).read_bytes().decode("utf-8")


def _unsafe(page: Any) -> None:
    """Nothing of the hostile pages ran, nothing of theirs became markup or a javascript: link."""
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('main img:not([id^=chart])').length") == 0
    assert page.evaluate("[...document.links].filter(a => !/^https?:/.test(a.href)).length") == 0


def test_dead_urls_view_expand_sort_toggle_edit_and_export(browser: Any, server: dict[str, Any],
                                                           tmp_path: Path) -> None:
    page = _page(browser, server, 1920)
    response = page.goto(f"{server['base']}/report#token={server['token']}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("#target", "shop.test")
    page.select_option("#mode", "domain")
    page.click("#load")
    page.wait_for_selector("#dead-table tbody tr.dead")
    targets = _api(server, **{"from": "broken_targets"})
    rows = _dead_rows(page)
    assert [r[0] for r in rows] == [t["url_to"] for t in targets]
    assert [(int(r[3]), int(r[4]), int(r[6])) for r in rows] == [
        (t["refdomains"], t["backlinks"], t["domain_rating_max"]) for t in targets]
    _until(page, "document.getElementById('chart-dr').naturalWidth > 0")
    page.screenshot(path=str(tmp_path / "dead-1920.png"), full_page=True)

    # expand the first dead URL: its backlinks, strongest first, with titles and anchors
    page.click("#dead-table tbody tr.dead button.expand")
    page.wait_for_selector("tr.detail li")
    shown = page.eval_on_selector_all("tr.detail li > div:first-child",
                                      "d => d.map(x => x.textContent)")
    expected = _api(server, **{"from": "broken_backlinks",
                               "where": f'url_to="{targets[0]["url_to"]}"',
                               "order_by": "ahrefs_rank:desc"})
    assert shown == [b["url_from"] for b in expected]

    # sort by backlinks (descending), as the API sorts
    page.click("#dead-table th button[data-column=backlinks]")
    _until(page, "document.querySelector('#dead-table th[aria-sort=descending] "
                           "button[data-column=backlinks]')")
    by_backlinks = _api(server, **{"from": "broken_targets", "order_by": "backlinks:desc"})
    assert [r[0] for r in _dead_rows(page)] == [t["url_to"] for t in by_backlinks]

    # one link per referring domain
    page.check("#one-per-domain")
    one = _api(server, **{"from": "broken_targets", "order_by": "backlinks:desc",
                          "one_per_domain": "1"})
    first = "document.querySelector('#dead-table tbody tr.dead td:nth-child(6)').textContent"
    _until(page, f"document.querySelectorAll('#dead-table tbody tr.dead').length == {len(one)}"
                 f" && {first} == '{one[0]['backlinks']}'")
    assert [(r[0], int(r[4])) for r in _dead_rows(page)] == [
        (t["url_to"], t["backlinks"]) for t in one]
    page.uncheck("#one-per-domain")
    _until(page, f"{first} == '{by_backlinks[0]['backlinks']}'")

    # edit a suggestion; a javascript: one is never a link and never exported
    _until(page, "document.getElementById('dead-table').dataset.suggested === 'true'")
    inputs = page.locator("#dead-table input.suggestion")
    suggested = [inputs.nth(i).input_value() for i in range(inputs.count())]
    urls = [t["url_to"] for t in by_backlinks]
    assert suggested[urls.index("http://shop.test/products/blue-widget-old")] == \
        "http://shop.test/products/blue-widget"
    edited = dict(zip(urls, suggested, strict=True))
    edited[urls[1]] = "http://shop.test/about"
    inputs.nth(1).fill("http://shop.test/about")
    inputs.nth(1).press("Tab")
    edited[urls[2]] = "javascript:alert(1)"
    inputs.nth(2).fill("javascript:alert(1)")
    inputs.nth(2).press("Tab")

    text = _download(page, "#export-dead")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text[1:])))
    assert table[0][:8] == ["url_to", "http_code", "broken_at", "refdomains", "backlinks",
                            "dofollow_backlinks", "domain_rating_max", "anchors_top"]
    assert [row[0] for row in table[1:]] == urls
    assert [row[-1] for row in table[1:]] == [edited[u] for u in urls]
    item = next(row for row in table[1:] if row[0] == "http://shop.test/item?id=5")
    assert item[7] == "'" + FORMULA_ANCHOR  # neutralised: no spreadsheet runs it
    assert [int(row[3]) for row in table[1:]] == [t["refdomains"] for t in by_backlinks]

    pairs = [(u, edited[u]) for u in urls if edited[u]]
    for fmt in ("csv", "nginx", "apache"):
        assert _download(page, f"#export-map-{fmt}") == render(fmt, pairs), fmt
    assert "javascript" not in render("nginx", pairs)
    _unsafe(page)
    page.close()


def test_backlinks_view_filters_sorts_pages_and_shows_the_request(
        browser: Any, server: dict[str, Any], tmp_path: Path) -> None:
    page = _page(browser, server, 1920)
    page.goto(f"{server['base']}/report#token={server['token']}&target=shop.test&mode=domain")
    page.wait_for_selector("#dead-table tbody tr.dead")
    page.click("#tab-backlinks")
    page.wait_for_selector("#backlinks-table tbody tr")
    everything = _api(server, **{"from": "broken_backlinks"})
    assert page.locator("#backlinks-table tbody tr").count() == len(everything)
    headers = page.eval_on_selector_all("#backlinks-table th", "h => h.map(x => x.dataset.column "
                                        "|| x.querySelector('button').dataset.column)")
    assert len(headers) == 27

    page.check("#f-dofollow")
    page.select_option("#f-status", "4xx")
    page.fill("#f-dr-min", "10")
    page.click("#apply")
    _until(page, "document.getElementById('status').textContent.startsWith('Backlinks')"
                           " && document.getElementById('api-request').value.includes('having')")
    request = page.input_value("#api-request")
    params = {k: v[-1] for k, v in parse_qs(urlsplit(request).query).items()}
    assert params["where"] == "nofollow=false,http_code>=400,http_code<500"
    assert params["having"] == "domain_rating>=10"
    expected = httpx.get(request).json()["refpages"]  # the shown request, as a client sends it
    cells = page.eval_on_selector_all(
        "#backlinks-table tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
    assert cells == [row["url_from"] for row in expected] and expected

    page.click("#backlinks-table th button[data-column=url_from]")
    _until(page, "document.querySelector('#backlinks-table th[aria-sort=ascending] "
                 "button[data-column=url_from]')")
    ordered = httpx.get(page.input_value("#api-request")).json()["refpages"]
    assert [r["url_from"] for r in ordered] == sorted(r["url_from"] for r in expected)
    text = _download(page, "#export-backlinks")
    table = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert table[0] == headers and [row[0] for row in table[1:]] == [r["url_from"] for r in ordered]

    # the hostile title and anchor are shown as text, isolated
    page.fill("#f-text", "hostile")
    page.uncheck("#f-dofollow")
    page.fill("#f-dr-min", "")
    page.click("#apply")
    _until(page, "document.querySelectorAll('#backlinks-table tbody tr').length == 1")
    shown = page.eval_on_selector_all("#backlinks-table tbody td bdi",
                                      "b => b.map(x => x.textContent)")
    assert HOSTILE_ANCHOR in shown and any("<script>" in s for s in shown)
    page.screenshot(path=str(tmp_path / "backlinks-1920.png"), full_page=True)
    _unsafe(page)
    page.close()


def test_bad_and_exhausted_tokens_are_told(browser: Any, server: dict[str, Any]) -> None:
    page = _page(browser, server, 1920)
    page.goto(f"{server['base']}/report#token={'0' * 40}&target=shop.test&mode=domain")
    page.wait_for_selector("#problem:not([hidden])")
    assert "not valid" in page.text_content("#problem")
    poor = server["app"].state.api.ledger.create("poor", 3)
    page.goto(f"{server['base']}/report#token={poor}&target=shop.test&mode=domain")
    page.reload()
    page.wait_for_selector("#problem:not([hidden])")
    assert "no rows left" in page.text_content("#problem")
    page.close()


def test_keyboard_only_at_360px_with_visible_focus(browser: Any, server: dict[str, Any],
                                                   tmp_path: Path) -> None:
    page = _page(browser, server, 360)
    page.goto(f"{server['base']}/report")

    def tab_to(selector: str) -> None:
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement === document.querySelector('{selector}')"):
                outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                assert outline != "none", selector
                return
        raise AssertionError(f"{selector} cannot be reached with Tab")

    tab_to("#target")
    page.keyboard.type("shop.test")
    tab_to("#token")
    page.keyboard.type(server["token"])
    page.keyboard.press("Enter")
    page.wait_for_selector("#dead-table tbody tr.dead")
    tab_to("#dead-table tbody tr.dead button.expand")
    page.keyboard.press("Enter")
    page.wait_for_selector("tr.detail li")
    tab_to("#one-per-domain")
    page.keyboard.press("Space")
    _until(page, "document.getElementById('one-per-domain').checked")
    tab_to("#tab-dead")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#backlinks-table tbody tr")
    page.screenshot(path=str(tmp_path / "backlinks-360.png"), full_page=True)
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#dead-view:not([hidden]) tbody tr.dead")
    page.screenshot(path=str(tmp_path / "dead-360.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, "the page scrolls sideways at 360 px"
    _unsafe(page)
    page.close()


@pytest.mark.skipif(not AXE.exists(), reason="./run test installs axe-core from npm")
@pytest.mark.parametrize("view", ["dead", "backlinks"])
def test_axe_finds_no_serious_violations(browser: Any, server: dict[str, Any], view: str) -> None:
    # axe is injected as a script: only this page's context bypasses the CSP, for axe alone
    page = _page(browser, server, 1280, bypass_csp=True)
    page.goto(f"{server['base']}/report#token={server['token']}&target=shop.test&mode=domain")
    page.wait_for_selector("#dead-table tbody tr.dead")
    page.click("#dead-table tbody tr.dead button.expand")
    page.wait_for_selector("tr.detail li")
    if view == "backlinks":
        page.click("#tab-backlinks")
        page.wait_for_selector("#backlinks-table tbody tr")
    page.add_script_tag(content=AXE.read_text())
    violations = page.evaluate("""async () => (await axe.run(document)).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))""")
    assert violations == []
    page.close()


def test_nothing_is_fetched_from_elsewhere(browser: Any, server: dict[str, Any]) -> None:
    page = _page(browser, server, 1280)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{server['base']}/report#token={server['token']}&target=shop.test&mode=domain")
    page.wait_for_selector("#dead-table tbody tr.dead")
    _until(page, "document.getElementById('chart-months').naturalWidth > 0")
    others = [u for u in requested
              if not u.startswith(server["base"]) and not u.startswith("blob:")]
    assert others == []
    assert all(not re.search(r"token=", u) or u.startswith(server["base"] + "/") for u in requested)
    page.close()


def test_pages_of_dead_urls_and_a_map_of_all_of_them(browser: Any, tmp_path: Path) -> None:
    from linkatlas.sample.report import write_big_site

    write_big_site(tmp_path / "data", backlinks=600, dead=150, live=300)
    with running(tmp_path / "data", f"sqlite:///{tmp_path}/ledger.sqlite") as (base, app):
        token = app.state.api.ledger.create("big", 1_000_000)  # type: ignore[attr-defined]
        big = {"base": base, "token": token}
        page = _page(browser, big, 1280)
        page.goto(f"{base}/report#token={token}&target=big.test&mode=domain")
        page.wait_for_selector("#dead-table tbody tr.dead")
        first = _dead_rows(page)
        page.click("#dead-next")
        _until(page, "document.getElementById('dead-page').textContent == 'page 2'")
        _until(page, "document.querySelectorAll('#dead-table tbody tr.dead').length == 50")
        every = httpx.get(f"{base}/?" + urlencode({
            "token": token, "from": "broken_targets", "target": "big.test", "mode": "domain",
            "limit": "1000"})).json()["targets"]
        assert [r[0] for r in first + _dead_rows(page)] == [t["url_to"] for t in every]
        urls = [t["url_to"] for t in every]
        suggested = httpx.post(f"{base}/report/suggestions", json={
            "token": token, "urls": urls}).json()["suggestions"]
        text = _download(page, "#export-map-nginx")
        assert text == render("nginx", [(u, suggested[u]) for u in urls if suggested[u]])
        assert "150 redirects" in text
        page.close()

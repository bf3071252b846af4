"""`/report` in-process: the page and its files under a strict CSP, the charts (SVG drawn by
us, billed), the suggested redirects (billed) and the redirect map exports."""

from __future__ import annotations

import csv
import io

import orjson
import pytest
from bs4 import BeautifulSoup
from lxml import etree

from linkatlas.web.report import CSP
from linkatlas.web.suggest import Facts, suggest

from .report_web import report_index
from .test_broken_targets import Client, _domain


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Client:
    client = Client(report_index(tmp_path_factory.mktemp("report")))
    yield client  # type: ignore[misc]
    client.ledger.close()


def _call(client: Client, method: str, url: str, **kwargs: object) -> object:
    import asyncio

    import httpx

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.request(method, url, **kwargs)  # type: ignore[arg-type]
    return asyncio.run(call())


def test_page_has_no_inline_code_and_a_strict_csp(client: Client) -> None:
    response = _call(client, "GET", "/report")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe" not in CSP and "default-src 'none'" in CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    soup = BeautifulSoup(response.text, "html.parser")
    assert [s.get("src") for s in soup.find_all("script")] == ["/report/static/report.js"]
    assert not soup.find_all("style") and not soup.find_all(style=True)
    assert not [a for tag in soup.find_all(True) for a in tag.attrs if a.startswith("on")]
    # every control has a name a screen reader can read
    for control in soup.find_all(["input", "select"]):
        assert control.find_parent("label") or control.get("aria-label") or soup.find(
            "label", attrs={"for": control.get("id")}), control
    for name, media in [("report.js", "text/javascript"), ("report.css", "text/css")]:
        static = _call(client, "GET", f"/report/static/{name}")
        assert static.status_code == 200 and static.headers["content-type"].startswith(media)
        assert static.headers["content-security-policy"] == CSP
    assert _call(client, "GET", "/report/static/..%2Fpages.py").status_code == 404
    # the script never parses strangers' text as HTML
    script = _call(client, "GET", "/report/static/report.js").text
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "document.write" not in script and "eval(" not in script


def _chart(client: Client, chart: str, **extra: str) -> tuple[object, etree._Element | None]:
    from urllib.parse import urlencode

    query = urlencode({"chart": chart, "token": client.token, "target": "shop.test",
                       "mode": "domain", **extra})
    response = _call(client, "GET", "/report/chart.svg?" + query)
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["content-security-policy"] == CSP
    return response, etree.fromstring(response.content)


def _bars(svg: etree._Element) -> dict[str, int]:
    titles = svg.findall(".//{http://www.w3.org/2000/svg}rect/{http://www.w3.org/2000/svg}title")
    return {t.text.rsplit(": ", 1)[0]: int(t.text.rsplit(": ", 1)[1]) for t in titles}


def test_charts_count_what_the_api_counts(client: Client) -> None:
    backlinks = client.rows("broken_backlinks")
    before = client.rows_left()
    response, svg = _chart(client, "months")
    assert response.headers["x-status"] == "ok"
    months = _bars(svg)
    assert months == {"2024-01": len(backlinks)}
    assert before - client.rows_left() == 1 + len(months)
    _, svg = _chart(client, "dr")
    buckets = _bars(svg)
    assert len(buckets) == 10 and list(buckets)[-1] == "90–100"
    domains = {_domain(r["url_from"]): r["domain_rating"] for r in backlinks}
    expected = {label: 0 for label in buckets}
    for rating in domains.values():
        bucket = min(rating // 10, 9)
        expected[list(buckets)[bucket]] += 1
    assert buckets == expected
    _, svg = _chart(client, "dr", one_per_domain="1")
    assert sum(_bars(svg).values()) == len(domains)


def test_chart_refusals_are_told_and_free(client: Client) -> None:
    before = client.rows_left()
    for extra, message in [({"token": "0" * 40}, "invalid token"),
                           ({"mode": "full"}, "mode: invalid value"),
                           ({"chart": "pie"}, "chart: expected one of months, dr")]:
        response, svg = _chart(client, extra.pop("chart", "months"), **extra)
        assert response.headers["x-status"] == "error"
        assert message in "".join(svg.itertext())
    assert client.rows_left() == before


def _suggestions(client: Client, urls: list[str], token: str | None = None) -> dict[str, object]:
    body = orjson.dumps({"token": token or client.token, "urls": urls})
    return orjson.loads(_call(client, "POST", "/report/suggestions", content=body).content)


def test_suggestions_redirect_seen_before_death_else_the_closest_page(client: Client) -> None:
    dead = [r["url_to"] for r in client.rows("broken_targets")]
    before = client.rows_left()
    found = _suggestions(client, dead)["suggestions"]
    assert before - client.rows_left() == 1 + len(dead)
    assert found == {
        # the index saw it redirect there before it died
        "http://shop.test/products/blue-widget-old": "http://shop.test/products/blue-widget",
        # path tokens blog/clean/widgets and the title "How to clean widgets"
        "http://shop.test/blog/clean-widgets-2019": "http://shop.test/blog/how-to-clean-widgets",
        "http://shop.test/old/red": "http://shop.test/products/red-widget",
        # nothing alike: the home page
        "http://shop.test/item?id=5": "http://shop.test/",
    }
    assert _suggestions(client, dead, token="0" * 40) == {"error": "invalid token"}
    bad = _call(client, "POST", "/report/suggestions", content=b"{nope")
    assert "error" in orjson.loads(bad.content)


def test_a_redirect_to_another_host_or_to_a_dead_url_is_not_suggested() -> None:
    live = {"a.test": [("http://a.test/", "Home"), ("http://a.test/shoes/red", "Red shoes")]}
    facts = Facts({"http://a.test/x": "http://b.test/x", "http://a.test/y": "http://a.test/z"},
                  live)
    assert suggest("http://a.test/x", facts) == "http://a.test/"
    assert suggest("http://a.test/y", facts, frozenset({"http://a.test/z"})) == "http://a.test/"
    assert suggest("http://a.test/old-red-shoes", facts) == "http://a.test/shoes/red"
    assert suggest("http://c.test/old", facts) == ""


def test_redirect_map_exports_leave_hostile_urls_out(client: Client) -> None:
    pairs = [["http://shop.test/old/red", "http://shop.test/products/red-widget"],
             ['http://shop.test/a"b', "http://shop.test/"],
             ["http://shop.test/a;b", "http://shop.test/"],
             ["http://shop.test/a}b", "http://shop.test/"],
             ["http://shop.test/ok", "http://shop.test/x$1"],
             ["http://shop.test/a b", "http://shop.test/"],
             ["http://shop.test/a\nb", "http://shop.test/"],
             ["javascript:alert(1)", "http://shop.test/"]]
    for format_ in ("csv", "nginx", "apache"):
        response = _call(client, "POST", f"/report/redirects?format={format_}",
                         content=orjson.dumps({"pairs": pairs}))
        assert response.status_code == 200, response.text
        text = response.text
        assert "red-widget" in text and "a\"b" not in text and "x$1" not in text
        assert ";b" not in text and "}b" not in text and "a b" not in text
        if format_ == "csv":
            rows = list(csv.reader(io.StringIO(text)))
            assert rows == [["from", "to", "status"], [*pairs[0], "301"]]
        else:
            assert "1 redirects" in text and "7 left out" in text
            assert "Redirect " not in text and "RedirectMatch" not in text
    bad = _call(client, "POST", "/report/redirects?format=iis", content=b"{}")
    assert bad.status_code == 400 and bad.text.startswith("format:")


def test_a_token_that_cannot_pay_is_refused_before_any_work(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_work(*args: object) -> None:
        raise AssertionError("worked for a token that cannot pay")

    monkeypatch.setattr("linkatlas.web.report.load_facts", no_work)
    monkeypatch.setattr("linkatlas.web.charts.chart_sql", no_work)
    poor = client.ledger.create("poor", 3)
    dead = [r["url_to"] for r in client.rows("broken_targets")]  # 4 URLs: 5 rows
    assert _suggestions(client, dead, token=poor) == {"error": "rows limit exceeded: 3 rows left"}
    client.ledger.charge(poor, 3)
    response, svg = _chart(client, "months", token=poor)
    assert "rows limit exceeded: 0 rows left" in "".join(svg.itertext())
    assert client.ledger.info(poor).rows_left == 0

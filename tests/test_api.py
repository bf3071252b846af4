"""The v2 API in-process (httpx ASGI transport): modes, formats, errors, billing."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkatlas.api.app import redact
from linkatlas.api.billing import cost_of
from linkatlas.api.planner import parse_request
from linkatlas.cli import main
from linkatlas.extract.ingest import ingest
from linkatlas.index import build
from linkatlas.server import Settings, create_app

from .archives import _html, example_index, page, status, write_warc
from .shared import shared


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return example_index(tmp_path_factory.mktemp("api"))


@pytest.fixture
def client(data: Path) -> Iterator[httpx.Client]:
    yield from _client(data)


def _client(data: Path) -> Iterator[httpx.Client]:
    """An in-process client of the API over the index in data (a ledger of its own)."""
    app = create_app(Settings(data, f"sqlite:///{data.parent}/ledger-{id(data)}.sqlite"))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async def call(method: str, url: str, **kwargs: object) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.request(method, url, **kwargs)  # type: ignore[arg-type]
            await response.aread()
            return response

    class Client:
        ledger = app.state.api.ledger

        def get(self, url: str, **kwargs: object) -> httpx.Response:
            return asyncio.run(call("GET", url, **kwargs))

        def post(self, url: str, **kwargs: object) -> httpx.Response:
            return asyncio.run(call("POST", url, **kwargs))

    yield Client()  # type: ignore[misc]
    app.state.api.ledger.close()


@pytest.fixture
def token(client: httpx.Client) -> str:
    return client.ledger.create("team", 100_000)  # type: ignore[attr-defined]


def _get(client: httpx.Client, token: str, **params: str) -> httpx.Response:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in
                     {"token": token, "from": "broken_backlinks", **params}.items())
    return client.get("/?" + query)


def _rows(response: httpx.Response) -> list[dict[str, object]]:
    assert response.status_code == 200
    body = orjson.loads(response.content)
    assert "error" not in body, body
    return body["refpages"]


@pytest.mark.parametrize(("target", "mode", "count"), [
    ("example.com", "domain", 13), ("example.com", "subdomains", 25),
    ("https://example.com/dead/1", "exact", 1), ("example.com/dead/", "prefix", 12),
    ("blog.example.com", "subdomains", 12), ("notexample.com", "domain", 12),
])
def test_modes(client: httpx.Client, token: str, target: str, mode: str, count: int) -> None:
    response = _get(client, token, target=target, mode=mode)
    rows = _rows(response)
    assert len(rows) == count and response.headers["X-Results-Count"] == str(count)
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_select_keeps_order_and_no_nulls(client: httpx.Client, token: str) -> None:
    rows = _rows(_get(client, token, target="example.com", mode="domain",
                      select="http_code,url_from,prev_visited,http_code"))
    assert rows and all(list(row) == ["http_code", "url_from", "prev_visited"] for row in rows)
    assert all(row["prev_visited"] == "" for row in rows)
    everything = _rows(_get(client, token, target="example.com", mode="domain", limit="1"))
    assert None not in everything[0].values() and len(everything[0]) == 27


def test_where_having_order_and_paging(client: httpx.Client, token: str) -> None:
    base = {"target": "example.com", "mode": "subdomains", "order_by": "http_code:desc,url_to"}
    rows = _rows(_get(client, token, **base, where="http_code=404,substring(url_to,\"dead\")"))
    assert {r["http_code"] for r in rows} == {404}
    assert all("dead" in str(r["url_to"]) for r in rows)
    everything = _rows(_get(client, token, **base))
    assert [r["http_code"] for r in everything] == sorted((r["http_code"] for r in everything),
                                                          reverse=True)
    pages = [_rows(_get(client, token, **base, limit="5", offset=str(o))) for o in (0, 5, 10)]
    assert [r for p in pages for r in p] == everything[:15]
    assert _rows(_get(client, token, **base, having="domain_rating>=0")) == everything


def test_other_outputs(client: httpx.Client, token: str) -> None:
    params = {"target": "example.com/dead/1", "mode": "exact",
              "select": "url_to,http_code,nofollow"}
    xml = _get(client, token, **params, output="xml").text
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?><AhrefsApiResponse>'
                          "<refpages>")
    assert "<url_to>http://example.com/dead/1</url_to><http_code>404</http_code>" in xml
    assert "<nofollow>false</nofollow>" in xml
    php = _get(client, token, **params, output="php").text
    assert php == ('a:1:{s:8:"refpages";a:1:{i:0;a:3:{s:6:"url_to";s:25:"http://example.com/'
                   'dead/1";s:9:"http_code";i:404;s:8:"nofollow";b:0;}}}')
    csv = _get(client, token, **params, output="csv").text
    assert csv == "url_to,http_code,nofollow\r\nhttp://example.com/dead/1,404,false\r\n"


def test_gzip_when_accepted(client: httpx.Client, token: str) -> None:
    response = client.get(f"/?token={token}&from=broken_backlinks&target=example.com&"
                          "mode=subdomains", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("content-encoding") == "gzip"
    assert len(orjson.loads(response.content)["refpages"]) == 25


@pytest.mark.parametrize(("params", "message"), [
    ({"token": "0" * 40}, "invalid token"),
    ({"from": ""}, "from: missing"),
    ({"from": "backlinkz"}, "from: table 'backlinkz' not found"),
    ({"target": ""}, "target: missing"),
    ({"mode": "full"}, "mode: invalid value 'full'; expected exact, domain, subdomains or prefix"),
    ({"select": "url_from,foo"}, "select: column 'foo' not found"),
    ({"order_by": "foobar_rating"}, "order_by: column 'foobar_rating' not found"),
    ({"where": "domain_rating>3"}, "where: column 'domain_rating' can not be used in where"),
    ({"where": "ahrefs_rank>="}, "where: syntax error at position 14: expected a value after '>='"),
    ({"where": 'ahrefs_rank="abc"'}, 'where: column \'ahrefs_rank\' is int, got string "abc"'),
    ({"where": "sitewide=true"}, "where: column 'sitewide' not found"),
    ({"limit": "0"}, "limit: must be an integer from 1 to 5000000"),
    ({"limit": "5000001"}, "limit: must be an integer from 1 to 5000000"),
    ({"offset": "-1"}, "offset: must be an integer from 0 to 4999999"),
    ({"offset": "4999990", "limit": "11"}, "offset: offset + limit may not exceed 5000000"),
    ({"limit": "\uff15"}, "limit: must be an integer from 1 to 5000000"),  # a full-width 5
    ({"target": "x" * 5000 + "..test"},  # a hostile value is quoted, not all of it
     "target: " + ("not a valid domain, directory or URL: '" + "x" * 5000)[:300] + "…"),
])
def test_errors_are_v2_errors_and_free(client: httpx.Client, token: str,
                                       params: dict[str, str], message: str) -> None:
    before = client.ledger.info(token).rows_left  # type: ignore[attr-defined]
    merged = {"target": "example.com", "mode": "domain", **params}
    the_token = merged.pop("token", token)
    response = _get(client, the_token, **merged) if "from" not in params else client.get(
        "/?" + "&".join(f"{k}={quote(v)}" for k, v in {"token": the_token, **merged}.items()))
    assert response.status_code == 200
    assert response.headers["X-Status"] == "error"
    assert orjson.loads(response.content) == {"error": message}
    assert client.ledger.info(token).rows_left == before  # type: ignore[attr-defined]


def test_billing_and_refusal(client: httpx.Client) -> None:
    token = client.ledger.create("small", 100)  # type: ignore[attr-defined]
    rows = _rows(_get(client, token, target="example.com", mode="domain", limit="3",
                      where="http_code>0", offset="1"))
    assert len(rows) == 3
    left = 100 - (1 + 5 * 3 + 5)  # offset costs nothing (spec/API.md Billing)
    info = orjson.loads(client.get(f"/?token={token}&from=subscription_info").content)
    assert info == {"info": {"rows_left": left, "rows_limit": 100, "subscription": "small"}}
    refused = _get(client, token, target="example.com", mode="subdomains")
    assert orjson.loads(refused.content) == {
        "error": f"rows limit exceeded: {left} rows left"}
    assert client.ledger.info(token).rows_left == left  # type: ignore[attr-defined]


def test_cost_formula() -> None:
    request = parse_request({"target": ["a.test"], "mode": ["domain"],
                             "where": ["http_code=404"], "having": ["domain_rating>=1"],
                             "offset": ["3"]})
    assert cost_of(request, 10) == 1 + 50 + 10


def _client_requests() -> list[str]:
    text = shared("spec", "CLIENT-REQUESTS.md").read_text()
    return re.findall(r"^((?:GET|POST) \S+) HTTP/1\.1$", text, re.M)


@pytest.fixture(scope="module")
def clients_web(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Backlinks the recorded client requests select: three source pages (one URL has `blog`,
    one a space) each linking to three example.com URLs (one with a space, two with a query),
    every target 404. Other domains link to the first two sources only: DR 100, the third DR 0."""
    root = tmp_path_factory.mktemp("clients")
    targets = [(url, "to") for url in CLIENT_TARGETS]
    # plain.test also links to a page nobody else links to: the weakest linked domain, which
    # sets the bottom of the log scale (the sources other domains link to get DR ≥ 10)
    responses = [page(source, "2024-01-02T00:00:00Z", _html(
        targets + ([("http://tiny.test/", "tiny")] if "plain" in source else []), "source"))
                 for source in CLIENT_SOURCES]
    responses += [page(f"http://fan{n}.test/", "2024-01-01T00:00:00Z",
                       _html([(source, "fan") for source in CLIENT_SOURCES[:2]], "fan"))
                  for n in range(4)]
    responses += [status(url, "2024-01-10T00:00:00Z", 404) for url in CLIENT_TARGETS]
    ingest(root / "data", [write_warc(root / "a.warc.gz", responses)])
    build(root / "data", workers=1)
    return root / "data"


CLIENT_SOURCES = ["http://blog.site.test/", "http://a.com/x y", "http://plain.test/"]
CLIENT_TARGETS = ["https://example.com/a b?x=1&y=2", "https://example.com/a?x=1&y=2",
                  "http://example.com/dead"]
# Rows each recorded request (in spec/CLIENT-REQUESTS.md's order) selects from clients_web.
# Never matched, whatever the data: `substring(url_from, "blog \"x\"")` and
# `url_from="http://a.com/x y"`, as a stored URL has %20 and %22, never a space or a quote.
CLIENT_ROWS = [3,  # prefix https://example.com/a b?x=1&y=2: the 3 links to that URL
               3,  # having DR≥10, substring(url_from,"blog"): the blog source's 3 links
               9, 9,  # subdomains / domain example.com: every link
               0,  # substring(url_from, "blog \"x\"")
               5,  # limit=5
               6,  # having domain_rating>=10: not the DR 0 source's 3 links
               0,  # url_from="http://a.com/x y"
               9,  # limit=1000
               3,  # substring(url_from,"blog"), first_seen>2018, having DR≥10
               -1,  # sitewide: an error
               0,  # substring(url_from, "blog \"x\"")
               9]  # POST with an empty body


def test_requests_of_real_clients(clients_web: Path) -> None:
    """Each recorded request answers the backlinks it asks for, not merely some list."""
    lines = _client_requests()
    assert len(lines) == len(CLIENT_ROWS) == 13
    for client in _client(clients_web):
        token = client.ledger.create("clients", 100_000)  # type: ignore[attr-defined]
        for line, count in zip(lines, CLIENT_ROWS, strict=True):
            method, target = line.split(" ", 1)
            target = re.sub(r"token=[^&]*", f"token={token}", target)
            response = client.get(target) if method == "GET" else client.post(target, content=b"")
            assert response.status_code == 200, line
            body = orjson.loads(response.content)
            if count < 0:
                assert body == {"error": "where: column 'sitewide' not found"}
                continue
            rows = body["refpages"]
            assert len(rows) == count, line
            assert len({tuple(row) for row in rows}) <= 1, line  # the same keys in every row
            assert all(value is not None for row in rows for value in row.values()), line
            select = re.search(r"select=([^&]+)", target)
            for row in rows:
                assert row["http_code"] == 404 and row["url_to"].startswith(
                    ("https://example.com/", "http://example.com/")), line
                if select:
                    assert list(row) == unquote(select[1]).split(","), line
                if "substring" in target:
                    assert "blog" in str(row["url_from"]), line


def test_python_client_target_is_reassembled(clients_web: Path) -> None:
    """The Python client does not encode target: `&y=2` arrives as a parameter of its own."""
    for client in _client(clients_web):
        token = client.ledger.create("python", 1000)  # type: ignore[attr-defined]
        rows = _rows(client.get(f"/?token={token}&from=broken_backlinks&target=https://"
                                "example.com/a?x=1&y=2&output=json&mode=exact"))
        assert sorted((row["url_from"], row["url_to"]) for row in rows) == [
            (source, "https://example.com/a?x=1&y=2")
            for source in ("http://a.com/x%20y", "http://blog.site.test/", "http://plain.test/")]


def test_post_and_double_slash(client: httpx.Client, token: str) -> None:
    form = f"token={token}&from=broken_backlinks&target=example.com&mode=domain&limit=2"
    assert len(_rows(client.post("/", content=form.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded"}))) == 2
    assert len(_rows(client.get("//?" + form))) == 2
    assert len(_rows(client.get("/v2?" + form))) == 2


@pytest.mark.parametrize(("output", "terminal_newline"), [
    ("json", b"\n"), ("xml", b"\n"), ("csv", b""), ("php", b"")])
def test_query_cli_gives_the_api_bytes(client: httpx.Client, token: str, data: Path,
                                       capfdbinary: pytest.CaptureFixture[bytes], output: str,
                                       terminal_newline: bytes) -> None:
    api = _get(client, token, target="example.com", mode="subdomains", where="http_code=404",
               order_by="url_from", output=output).content
    with pytest.raises(SystemExit) as done:
        main(["--data", str(data), "query", "--target", "example.com", "--mode", "subdomains",
              "--where", "http_code=404", "--order-by", "url_from", "--output", output])
    assert done.value.code == 0
    assert capfdbinary.readouterr().out == api + terminal_newline


def test_docs_and_web_page(client: httpx.Client) -> None:
    docs = client.get("/docs").text
    assert all(f"<code>{name}</code>" in docs for name in ("url_from", "http_code", "error"))
    assert "<form" in client.get("/").text


def test_metrics(client: httpx.Client, token: str) -> None:
    _get(client, token, target="example.com", mode="domain")
    text = client.get("/metrics").text
    assert "linkatlas_requests_total" in text and "linkatlas_snapshot_info" in text
    assert token not in text


def test_tokens_are_redacted() -> None:
    assert redact("/?a=1&token=abc123&b=2") == "/?a=1&token=[redacted]&b=2"


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from linkatlas.sample.snapshot import write_synthetic

    folder = tmp_path_factory.mktemp("big") / "data"
    write_synthetic(folder, 400_000, 2_000)
    return folder


def test_a_query_past_the_timeout_is_cancelled_and_free(big: Path) -> None:
    app = create_app(Settings(big, f"sqlite:///{big}/ledger.sqlite", query_timeout=0.05))
    token = app.state.api.ledger.create("slow", 10_000_000)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]

    async def call(where: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/", params={
                "token": token, "from": "broken_backlinks", "target": "test",
                "mode": "subdomains", "where": where, "order_by": "title:desc",
                "limit": "5000000"})

    started = time.perf_counter()
    response = asyncio.run(call('or(word(anchor,"7"),word(title,"9"),substring(text_pre,"x"))'))
    assert time.perf_counter() - started < 5
    assert response.headers["X-Status"] == "error"
    assert orjson.loads(response.content)["error"].startswith("query timeout")
    assert app.state.api.ledger.info(token).rows_left == 10_000_000
    app.state.api.ledger.close()


@pytest.mark.parametrize(("output", "expected"), [
    ("xml", "<info><rows_left>7</rows_left><rows_limit>7</rows_limit><subscription>i"),
    ("php", 'a:1:{s:4:"info";a:3:{s:9:"rows_left";i:7;s:10:"rows_limit";i:7;'),
    ("csv", "rows_left,rows_limit,subscription\r\n7,7,i\r\n"),
])
def test_subscription_info_in_every_output(client: httpx.Client, output: str,
                                           expected: str) -> None:
    token = client.ledger.create("i", 7)  # type: ignore[attr-defined]
    assert expected in client.get(f"/?token={token}&from=subscription_info&output={output}").text


def test_hostile_table_names_do_not_grow_the_metrics(client: httpx.Client, token: str) -> None:
    for n in range(5):
        client.get(f"/?token={token}&from=evil{n}")
    assert "evil" not in client.get("/metrics").text


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80) | st.from_regex(r"[a-z_]{1,12}(=|<|>=|<>)[\"0-9a-z\\,()]{0,20}",
                                            fullmatch=True))
def test_hostile_conditions_never_5xx_nor_charge(client: httpx.Client, token: str,
                                                 text: str) -> None:
    before = client.ledger.info(token).rows_left  # type: ignore[attr-defined]
    started = time.perf_counter()
    response = _get(client, token, target="example.com", mode="subdomains", where=text,
                    having=text[::-1])
    assert response.status_code == 200 and time.perf_counter() - started < 5
    body = orjson.loads(response.content)
    after = client.ledger.info(token).rows_left  # type: ignore[attr-defined]
    if "error" in body:
        assert response.headers["X-Status"] == "error" and after == before
    else:
        extra = 5 * bool(text.strip()) + 5 * bool(text[::-1].strip())  # empty: not given
        assert before - after == 1 + 5 * len(body["refpages"]) + extra


def test_xml_is_well_formed_whatever_the_page_text_holds() -> None:
    from xml.dom.minidom import parseString

    from linkatlas.api.formats import render

    anchor = "a\x01b\x08c\ufffe\uffffd\ttab"
    body = b"".join(render("xml", ("anchor", "nofollow"), iter([[(anchor, True)]]), None))
    (node,) = parseString(body).getElementsByTagName("anchor")
    assert node.firstChild.data == "abcd\ttab"

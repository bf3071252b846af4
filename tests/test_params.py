"""The request parameter table (api/params.py) is the one list: the /docs page, the options of
`linkatlas query` and the planner's defaults all come from it, and `query` answers through the
API's own execution (byte for byte, under the same kind of deadline)."""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path

import httpx
import pytest
import typer

from linkatlas import cli, urls
from linkatlas.api.options import COLUMN_LISTS, TIMEOUT_OPTION, option_name
from linkatlas.api.params import PARAM, PARAMS, TABLE_NAMES, parse_params
from linkatlas.api.planner import parse_request, plan
from linkatlas.api.tables import TABLES
from linkatlas.columns import TIE_BREAK, option_help
from linkatlas.server import Settings, create_app
from linkatlas.snapshot import current
from linkatlas.web.pages import docs

from .archives import example_index


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One example index for the module: its tests only read it (a build each cost 5)."""
    return example_index(tmp_path_factory.mktemp("params"))


def _docs_rows() -> list[tuple[str, str, str, str]]:
    """(name, required, default, meaning) of each row of /docs' parameter table, as text."""
    page = docs()
    section = page[page.index("<h2>Parameters</h2>"):page.index("<h2>Columns</h2>")]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>",
                      section)

    def text(cell: str) -> str:
        return html.unescape(re.sub(r"</?code>", "`", cell))

    return [(text(n).strip("`"), r, text(d).strip("`"), text(m)) for n, r, d, m in rows]


def test_the_docs_page_lists_exactly_the_table() -> None:
    rows = _docs_rows()
    assert [row[0] for row in rows] == [param.name for param in PARAMS]
    for (name, required, default, meaning), param in zip(rows, PARAMS, strict=True):
        assert required == ("yes" if param.required else "no"), name
        assert default == ("–" if param.default is None else param.default), name
        assert meaning.startswith(param.help), name


def _query_command() -> typer.core.TyperCommand:
    group = typer.main.get_command(cli.app)
    return group.commands["query"]  # type: ignore[attr-defined,no-any-return]


def test_query_help_lists_exactly_the_table(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    wanted = [param for param in PARAMS if param.cli]
    assert {"token", "from"} == {param.name for param in PARAMS if not param.cli}
    options = {option.opts[0]: option for option in _query_command().params}
    assert list(options) == [option_name(param) for param in wanted] + [TIMEOUT_OPTION]
    for param in wanted:
        option = options[option_name(param)]
        prose = option_help(param.name) if param.name in COLUMN_LISTS else param.help
        assert option.help is not None and option.help.startswith(prose.replace("`", ""))
        assert option.required == param.required, param.name
        if param.flag:
            assert option.default is False
        elif not param.repeat and not param.required:
            assert option.default == param.default, param.name
    monkeypatch.setenv("COLUMNS", "300")  # one line per option: every name shows whole
    with pytest.raises(SystemExit):
        cli.main(["query", "--help"])
    shown = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", capsys.readouterr().out))
    assert shown == {option_name(param) for param in wanted} | {TIMEOUT_OPTION, "--help"}


def test_the_table_names_the_rules_it_documents() -> None:
    """Prose that names a rule's values names exactly the values of its one home."""
    assert re.findall(r"`(\w+)`", PARAM["mode"].help)[1:] == list(urls.MODES)
    assert f"{', '.join(TIE_BREAK)} (a backlink's identity)" in PARAM["order_by"].help
    assert set(TABLE_NAMES) == {*TABLES, "subscription_info"}
    assert parse_params("from=x&target=a.test&page=2&mode=domain")["target"] == [
        "a.test&page=2"]  # not a parameter of the table: put back into target


def test_the_planner_takes_its_defaults_from_the_table(example: Path) -> None:
    request = parse_request({"target": ["example.com"], "mode": ["domain"]})
    assert request.limit == int(PARAM["limit"].default or "")
    assert request.offset == int(PARAM["offset"].default or "")
    assert request.output == PARAM["output"].default
    assert ",".join(f"{name}:{'desc' if desc else 'asc'}" for name, desc in request.order_by
                    ) == PARAM["order_by"].default
    assert request.select == TABLES["broken_backlinks"].names  # what `*` means
    compiled = plan(request, current(example))
    # every ORDER BY ends in the tie-breaks the docs name, in their order
    order = compiled.sql.rpartition("ORDER BY")[2]
    assert re.findall(r'"(\w+)" ASC', order) == list(TIE_BREAK)


def _api_body(data: Path, params: dict[str, str]) -> httpx.Response:
    app = create_app(Settings(data, f"sqlite:///{data}/ledger.sqlite"))
    token = app.state.api.ledger.create("t", 10**6)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/", params={"token": token, "from": "broken_backlinks",
                                                 **params})

    response = asyncio.run(call())
    app.state.api.ledger.close()
    return response


@pytest.mark.parametrize("output", ["json", "xml", "php", "csv"])
def test_query_answers_the_bytes_the_api_sends(example: Path, output: str,
                                               capsysbinary: pytest.CaptureFixture[bytes]
                                               ) -> None:
    data = example
    params = {"target": "example.com", "mode": "subdomains", "where": "http_code=404",
              "order_by": "url_to", "limit": "5", "offset": "1", "output": output}
    response = _api_body(data, params)
    assert response.headers.get("X-Status") != "error"
    assert response.headers["X-Results-Count"] == "5"  # 7 rows: offset and limit both bite
    args = [f"--{name.replace('_', '-')}={value}" for name, value in params.items()]
    with pytest.raises(SystemExit) as done:
        cli.main(["--data", str(data), "query", *args])
    assert done.value.code == 0
    written = capsysbinary.readouterr().out
    extra = b"\n" if output in ("json", "xml") else b""  # for a terminal
    assert written == response.content + extra


def test_query_has_the_api_deadline(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    from linkatlas.sample.snapshot import write_synthetic

    data = tmp_path / "data"
    write_synthetic(data, 100_000, 500)
    slow = ["--data", str(data), "query", "--target", "test", "--mode", "subdomains",
            "--where", 'or(word(anchor,"7"),word(title,"9"),substring(text_pre,"x"))',
            "--order-by", "title:desc", "--limit", "5000000"]
    with pytest.raises(SystemExit) as done:
        cli.main([*slow, TIMEOUT_OPTION, "0.01"])
    assert done.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "error: query timeout: the request ran past 0.01 s"
    with pytest.raises(SystemExit) as done:  # the same request within the default deadline
        cli.main([*slow[:-1], "2", "--output", "csv"])
    assert done.value.code == 0
    assert len(capsys.readouterr().out.splitlines()) == 3  # a header and two rows

"""The planner and the billing arithmetic against a reference written in Python: every mode,
the total order and paging, where/having, one_per_domain, the count php writes first, and
each parameter's validation. Fast (one small synthetic snapshot), so mutation testing can run
it per mutant (docs/testing.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from linkatlas.api.billing import MAX_ROWS, check_rows, cost_of
from linkatlas.api.params import MAX_LIMIT, PARAM
from linkatlas.api.planner import parse_request, plan
from linkatlas.api.query import answer, open_reader
from linkatlas.api.tables import BACKLINKS, CHANGES, TARGETS
from linkatlas.columns import TIE_BREAK
from linkatlas.errors import LedgerError, QueryError
from linkatlas.snapshot import Snapshot, current
from linkatlas.snapshot import changes_log as log_dir

Row = dict[str, Any]


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    from linkatlas.sample.snapshot import write_synthetic

    data = tmp_path_factory.mktemp("planner") / "data"
    write_synthetic(data, 600, 4)
    return current(data)


@pytest.fixture(scope="module")
def table(snap: Snapshot) -> list[Row]:
    """Every row of the serve table, as Python values."""
    return _rows(snap.files_for("", "\U0010ffff"))


def _files(snap: Snapshot) -> list[str]:
    return snap.files_for("", "\U0010ffff")


@pytest.fixture(scope="module")
def folded(tmp_path_factory: pytest.TempPathFactory, snap: Snapshot) -> Snapshot:
    """The synthetic rows folded onto fewer targets (10 per host), anchors (10) and
    referring domains (10), so that grouping them has something to count."""
    from linkatlas import clock, snapshot

    data = tmp_path_factory.mktemp("folded") / "data"
    staging = data / "snapshots" / ".staging-folded"
    staging.mkdir(parents=True)
    con = duckdb.connect()
    files = snapshot.write_table(con, f"""SELECT * REPLACE (
            regexp_replace(url_to, '/p/[0-9]*([0-9])/[0-9]+$', '/p/\\1') AS url_to,
            regexp_replace(url_to_key, '/p/[0-9]*([0-9])/[0-9]+$', '/p/\\1') AS url_to_key,
            regexp_replace(anchor, '[0-9]*([0-9])$', '\\1') AS anchor,
            regexp_extract(url_from, 's[0-9]*([0-9])[.]', 1) || '.test' AS url_from_domain)
        FROM read_parquet({_files(snap)!r}) ORDER BY url_to_key, url_from""", staging)
    con.close()
    moment = clock.now()
    return snapshot.publish(data, staging, {"id": snapshot.new_id(moment), "rows": 600,
                                            "built_at": clock.iso(moment), "files": files})


def _rows(files: list[str], union: bool = False) -> list[Row]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    cursor = con.execute(f"SELECT * FROM read_parquet(?, union_by_name = {union})", [files])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _ask(snap: Snapshot, table: str = BACKLINKS.name, **params: str
         ) -> tuple[list[Row], bytes]:
    """The JSON rows a request answers (and the raw body of any other output)."""
    request = parse_request({k: [v] for k, v in params.items()}, table)
    body = b"".join(answer(open_reader(), snap, request))
    if request.output == "json":
        rows: list[Row] = json.loads(body)[request.columns.root]
        return rows, body
    return [], body


def _host(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def _bare(url: str) -> str:
    return url.split("://", 1)[1]


MATCHES: dict[str, Callable[[str, str], bool]] = {
    "exact": lambda url, target: _bare(url) == target,
    "domain": lambda url, target: _host(url) == target.split("/")[0],
    "subdomains": lambda url, target: (_host(url) == target.split("/")[0]
                                       or _host(url).endswith("." + target.split("/")[0])),
    "prefix": lambda url, target: _bare(url).startswith(target),
}


def _identity(row: Row) -> tuple[Any, ...]:
    return tuple(row[name] for name in TIE_BREAK)


def _pairs(rows: list[Row]) -> list[tuple[Any, ...]]:
    return [_identity(row) for row in rows]


@pytest.mark.parametrize("mode", ["exact", "domain", "subdomains", "prefix"])
def test_every_mode_answers_what_the_reference_selects(snap: Snapshot, table: list[Row],
                                                      mode: str) -> None:
    some = next(row["url_to"] for row in table if _host(row["url_to"]).startswith("www."))
    targets = {"exact": _bare(some), "domain": _host(some).removeprefix("www."),
               "subdomains": _host(some).removeprefix("www."),
               "prefix": _bare(some).rsplit("/", 1)[0] + "/"}
    target = targets[mode]
    wanted = sorted(_identity(r) for r in table if MATCHES[mode](r["url_to"], target))
    assert wanted  # the target selects something
    rows, _ = _ask(snap, target=target, mode=mode, limit=str(MAX_LIMIT), select="*")
    assert sorted(_pairs(rows)) == wanted
    if mode == "domain":  # not the www. host's rows, nor another domain's
        assert all(_host(r["url_to"]) == target for r in rows)


def test_the_default_order_is_total_and_paging_is_stable(snap: Snapshot,
                                                          table: list[Row]) -> None:
    inside = [r for r in table if MATCHES["subdomains"](r["url_to"], "d1.test")]
    inside.sort(key=lambda r: (-r["ahrefs_rank"], *_identity(r)))
    pages: list[Row] = []
    for offset in range(0, len(inside) + 7, 7):
        rows, _ = _ask(snap, target="d1.test", mode="subdomains", limit="7",
                       offset=str(offset))
        assert len(rows) == min(7, max(0, len(inside) - offset))
        pages += rows
    assert _pairs(pages) == _pairs(inside)


def test_order_by_ascending_descending_and_unknown_dates_last(snap: Snapshot,
                                                             table: list[Row]) -> None:
    inside = [r for r in table if MATCHES["domain"](r["url_to"], "d2.test")]
    rows, _ = _ask(snap, target="d2.test", mode="domain", order_by="prev_visited:asc,url_to",
                   limit="1000")
    known = sorted((r for r in inside if r["prev_visited"] is not None),
                   key=lambda r: (r["prev_visited"], r["url_to"], *_identity(r)))
    unknown = sorted((r for r in inside if r["prev_visited"] is None),
                     key=lambda r: (r["url_to"], *_identity(r)))
    assert unknown and known
    assert _pairs(rows) == _pairs(known + unknown)
    rows, _ = _ask(snap, target="d2.test", mode="domain", order_by="page_size:desc",
                   limit="1000")
    assert _pairs(rows) == _pairs(sorted(inside, key=lambda r: (-r["page_size"],
                                                                 *_identity(r))))


def test_where_and_having_are_both_applied(snap: Snapshot, table: list[Row]) -> None:
    inside = [r for r in table if MATCHES["subdomains"](r["url_to"], "d3.test")]
    cases = [({"where": "ahrefs_rank>=50"}, lambda r: r["ahrefs_rank"] >= 50),
             ({"having": "domain_rating<40"}, lambda r: r["domain_rating"] < 40),
             ({"where": "ahrefs_rank>=50", "having": "domain_rating<40"},
              lambda r: r["ahrefs_rank"] >= 50 and r["domain_rating"] < 40)]
    for extra, keep in cases:
        rows, _ = _ask(snap, target="d3.test", mode="subdomains", limit="1000", **extra)
        wanted = [r for r in inside if keep(r)]
        assert 0 < len(wanted) < len(inside), extra
        assert sorted(_pairs(rows)) == sorted(_pairs(wanted)), extra


def test_one_per_domain_keeps_the_best_link_per_domain(snap: Snapshot, table: list[Row]
                                                       ) -> None:
    """Every synthetic page is on linker.test, and every url_to is linked once: per domain
    and target (broken_backlinks) nothing goes; per domain (broken_targets) one link stays."""
    inside = [r for r in table if MATCHES["subdomains"](r["url_to"], "d0.test")
              and r["ahrefs_rank"] >= 10]
    rows, _ = _ask(snap, target="d0.test", mode="subdomains", limit="1000",
                   one_per_domain="1", where="ahrefs_rank>=10")
    assert sorted(_pairs(rows)) == sorted(_pairs(inside))
    kept = [r for r in inside if r["domain_rating"] >= 30]
    rows, _ = _ask(snap, target="d0.test", mode="subdomains", limit="1000",
                   one_per_domain="1", where="ahrefs_rank>=10", having="domain_rating>=30")
    assert sorted(_pairs(rows)) == sorted(_pairs(kept))  # having after the choice
    every = [r for r in table if MATCHES["subdomains"](r["url_to"], "d0.test")]
    best = min(every, key=lambda r: (-r["ahrefs_rank"], *_identity(r)))
    request = parse_request({"target": ["d0.test"], "mode": ["subdomains"],
                             "one_per_domain": ["1"]}, TARGETS.name)
    targets = json.loads(b"".join(answer(open_reader(), snap, request)))["targets"]
    assert [(t["url_to"], t["backlinks"]) for t in targets] == [(best["url_to"], 1)]


@pytest.mark.parametrize(("limit", "offset"), [("1", "0"), ("5", "3"), ("1000", "0"),
                                               ("50", "140"), ("10", "100000")])
def test_the_count_php_writes_first_is_the_rows_it_answers(snap: Snapshot, table: list[Row],
                                                            limit: str, offset: str) -> None:
    inside = [r for r in table if MATCHES["subdomains"](r["url_to"], "d1.test")]
    wanted = min(int(limit), max(0, len(inside) - int(offset)))
    _, body = _ask(snap, target="d1.test", mode="subdomains", limit=limit, offset=offset,
                   output="php", select="url_to")
    assert body.startswith(b'a:1:{s:8:"refpages";a:%d:{' % wanted)
    assert body.count(b's:6:"url_to"') == wanted
    compiled = plan(parse_request({"target": ["d1.test"], "mode": ["subdomains"],
                                   "limit": [limit], "offset": [offset]}), snap)
    counted = duckdb.connect().execute(compiled.count_sql, compiled.count_params).fetchone()
    assert counted == (wanted,)


def test_select_keeps_the_order_asked_once_per_name(snap: Snapshot) -> None:
    rows, _ = _ask(snap, target="d1.test", mode="domain", limit="3",
                   select=" http_code ,url_to,http_code")
    assert rows and all(list(r) == ["http_code", "url_to"] for r in rows)
    _, body = _ask(snap, target="d1.test", mode="domain", limit="2", output="csv",
                   select="url_to,anchor")
    assert body.splitlines()[0] == b"url_to,anchor"


def test_broken_targets_groups_the_backlinks(snap: Snapshot, table: list[Row]) -> None:
    inside = [r for r in table if MATCHES["subdomains"](r["url_to"], "d2.test")]
    request = parse_request({"target": ["d2.test"], "mode": ["subdomains"],
                             "limit": ["1000"]}, TARGETS.name)
    body = b"".join(answer(open_reader(), snap, request))
    rows = json.loads(body)["targets"]
    assert sorted(r["url_to"] for r in rows) == sorted({r["url_to"] for r in inside})
    assert sum(r["backlinks"] for r in rows) == len(inside)


def _grouped(rows: list[Row]) -> dict[str, Row]:
    """broken_targets by hand: the deterministic columns of each url_to's group."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row["url_to"], []).append(row)
    result = {}
    for url, members in groups.items():
        counts: dict[str, int] = {}
        for member in members:
            counts[member["anchor"]] = counts.get(member["anchor"], 0) + 1
        top = sorted(counts, key=lambda a: (-counts[a], a))[:5]
        result[url] = {"url_to": url, "backlinks": len(members),
                       "refdomains": len({m["url_from_domain"] for m in members}),
                       "dofollow_backlinks": sum(not m["nofollow"] for m in members),
                       "domain_rating_max": max(m["domain_rating"] for m in members),
                       "anchors_top": " | ".join(top)}
    return result


GROUPED = ("url_to", "backlinks", "refdomains", "dofollow_backlinks", "domain_rating_max",
           "anchors_top")


@pytest.mark.parametrize(("extra", "keep"), [
    ({}, lambda t: True),
    ({"where": "backlinks>=6"}, lambda t: t["backlinks"] >= 6),
    ({"having": "refdomains<=4"}, lambda t: t["refdomains"] <= 4),
    ({"where": 'substring(anchors_top,"7")'}, lambda t: "7" in t["anchors_top"]),
    ({"where": "dofollow_backlinks>=5", "having": "domain_rating_max>85"},
     lambda t: t["dofollow_backlinks"] >= 5 and t["domain_rating_max"] > 85),
])
@pytest.mark.parametrize("order", ["", "anchors_top:desc", "backlinks:asc,url_to:desc"])
def test_broken_targets_match_the_grouping_by_hand(folded: Snapshot, extra: dict[str, str],
                                                   keep: Callable[[Row], bool],
                                                   order: str) -> None:
    inside = [r for r in _rows(_files(folded)) if MATCHES["domain"](r["url_to"], "d1.test")]
    wanted = [t for t in _grouped(inside).values() if keep(t)]
    assert 0 < len(wanted) < 10 or not extra
    keys = [(part.split(":")[0], part.endswith(":desc")) for part in order.split(",") if part]
    keys = keys or [("refdomains", True), ("domain_rating_max", True)]

    def key(target: Row) -> tuple[Any, ...]:
        return tuple((-target[n] if isinstance(target[n], int) else target[n]) if desc
                     else target[n] for n, desc in keys) + (target["url_to"],)

    if any(isinstance(wanted[0][n], str) and desc for n, desc in keys):
        wanted.sort(key=lambda t: t["url_to"])
        for name, desc in reversed(keys):
            wanted.sort(key=lambda t: t[name], reverse=desc)
    else:
        wanted.sort(key=key)
    params = {"target": "d1.test", "mode": "domain", "limit": "4", "offset": "1", **extra}
    if order:
        params["order_by"] = order
    rows, _ = _ask(folded, TARGETS.name, select=",".join(GROUPED), **params)
    assert rows == wanted[1:5]
    _, body = _ask(folded, TARGETS.name, select="url_to,anchors_top,backlinks",
                   output="csv", **params)
    lines = body.decode().splitlines()
    assert lines[0] == "url_to,anchors_top,backlinks"
    assert lines[1:] == [f"{t['url_to']},{t['anchors_top']},{t['backlinks']}"
                         for t in wanted[1:5]]
    rows, _ = _ask(folded, TARGETS.name, select="url_to", output="json", **params)
    assert [r["url_to"] for r in rows] == [t["url_to"] for t in wanted[1:5]]
    for select in ("url_to,anchors_top", "url_to"):  # anchors after the page, or none
        _, body = _ask(folded, TARGETS.name, select=select, output="php", **params)
        shown = len(wanted[1:5])
        assert body.startswith(b'a:1:{s:7:"targets";a:%d:{' % shown), body[:60]
        assert body.count(b's:6:"url_to"') == shown


@pytest.fixture(scope="module")
def changes(tmp_path_factory: pytest.TempPathFactory, snap: Snapshot) -> Snapshot:
    """A changes log of two files, the older one written before `reason` existed."""
    data = snap.path.parent.parent
    log_dir(data).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    source = f"read_parquet({_files(snap)!r})"
    con.execute(f"""COPY (SELECT *, 'new' AS change, TIMESTAMP '2024-03-01' AS changed_at
                          FROM {source} WHERE ahrefs_rank < 50)
                    TO '{log_dir(data) / "1.parquet"}'""")
    con.execute(f"""COPY (SELECT *, 'lost' AS change, TIMESTAMP '2024-04-01' AS changed_at,
                                 'page_gone' AS reason
                          FROM {source} WHERE ahrefs_rank >= 40)
                    TO '{log_dir(data) / "2.parquet"}'""")
    con.close()
    return snap


def test_the_changes_log_is_asked_like_broken_backlinks(changes: Snapshot) -> None:
    every = [r for r in _rows(sorted(str(p) for p in log_dir(
        changes.path.parent.parent).glob("*.parquet")), union=True)
        if MATCHES["subdomains"](r["url_to"], "d2.test")]
    every.sort(key=lambda r: (-r["changed_at"].timestamp(), -r["ahrefs_rank"], *_identity(r)))
    rows, _ = _ask(changes, CHANGES.name, target="d2.test", mode="subdomains", limit="1000")
    assert [(*_identity(r), r["change"], r["reason"]) for r in rows] == [
        (*_identity(r), r["change"], r["reason"] or "") for r in every]
    assert {r["change"] for r in rows} == {"new", "lost"}
    rows, _ = _ask(changes, CHANGES.name, target="d2.test", mode="subdomains", limit="1000",
                   where='change="lost"', having="ahrefs_rank<45")
    wanted = [r for r in every if r["change"] == "lost" and r["ahrefs_rank"] < 45]
    assert wanted and _pairs(rows) == _pairs(wanted)


REFUSED = [
    ({}, "target: missing"),
    ({"target": [" "]}, "target: missing"),
    ({"target": ["a.test"]}, "mode: missing"),
    ({"target": ["a.test"], "mode": ["Domain"]},
     "mode: invalid value 'Domain'; expected exact, domain, subdomains or prefix"),
    ({"output": ["yaml"]}, "output: invalid value 'yaml'; expected json, xml, php or csv"),
    ({"output": [" "]}, "output: invalid value ''; expected json, xml, php or csv"),
    ({"limit": ["0"]}, f"limit: must be an integer from 1 to {MAX_LIMIT}"),
    ({"limit": [str(MAX_LIMIT + 1)]}, f"limit: must be an integer from 1 to {MAX_LIMIT}"),
    ({"limit": ["1" + "0" * 5000]}, f"limit: must be an integer from 1 to {MAX_LIMIT}"),
    ({"limit": ["-1"]}, f"limit: must be an integer from 1 to {MAX_LIMIT}"),
    ({"limit": ["٣"]}, f"limit: must be an integer from 1 to {MAX_LIMIT}"),
    ({"limit": ["X5X"]}, f"limit: must be an integer from 1 to {MAX_LIMIT}"),
    ({"offset": ["-1"]}, f"offset: must be an integer from 0 to {MAX_LIMIT - 1}"),
    ({"offset": [str(MAX_LIMIT)]}, f"offset: must be an integer from 0 to {MAX_LIMIT - 1}"),
    ({"offset": [str(MAX_LIMIT - 1000)], "limit": ["1001"]},
     f"offset: offset + limit may not exceed {MAX_LIMIT}"),
    ({"select": ["url_to,nope"]}, "select: column 'nope' not found"),
    ({"order_by": ["nope:desc"]}, "order_by: column 'nope' not found"),
    ({"order_by": ["url_to:up"]}, "order_by: invalid direction 'up'; expected asc or desc"),
    ({"one_per_domain": ["yes"]}, "one_per_domain: invalid value 'yes'; expected 1 or 0"),
    ({"csv_raw": ["2"]}, "csv_raw: invalid value '2'; expected 1 or 0"),
    ({"where": ["domain_rating>1"]}, "where: column 'domain_rating' can not be used in where"),
    ({"having": ["nope>1"]}, "having: column 'nope' not found"),
]


@pytest.mark.parametrize(("params", "message"), REFUSED)
def test_each_bad_parameter_is_named(params: dict[str, list[str]], message: str) -> None:
    whole = message.startswith(("target:", "mode:"))  # these cases give every parameter
    base = {} if whole else {"target": ["a.test"], "mode": ["domain"]}
    with pytest.raises(QueryError) as raised:
        parse_request({**base, **params})
    assert str(raised.value) == message


def test_accepted_values_and_defaults() -> None:
    request = parse_request({"target": ["a.test"], "mode": ["prefix"], "output": [" CSV "],
                             "limit": [' "5000000" '], "offset": ["0"],
                             "one_per_domain": ["true"], "csv_raw": ["1"],
                             "order_by": ["url_to , ahrefs_rank:DESC"],
                             "where": ["", "http_code=404", " "]})
    assert (request.output, request.limit, request.offset) == ("csv", MAX_LIMIT, 0)
    assert request.one_per_domain and request.csv_raw
    assert request.order_by == (("url_to", False), ("ahrefs_rank", True))
    assert request.where == ("http_code=404",) and request.having == ()
    assert request.where_sql is not None and request.having_sql is None
    plain = parse_request({"target": ["a.test"], "mode": ["exact"], "limit": [""],
                           "one_per_domain": ["0"], "csv_raw": ["false"], "select": [" "]})
    assert plain.select == BACKLINKS.names  # an empty select is `*`
    assert plain.limit == int(PARAM["limit"].default or "") and plain.offset == 0
    assert not plain.one_per_domain and not plain.csv_raw
    assert parse_request({"target": ["a.test"], "mode": ["exact"],
                          "offset": [str(MAX_LIMIT - 1)], "limit": ["1"]}).offset == MAX_LIMIT - 1


def test_what_a_request_costs() -> None:
    def asked(table: str = BACKLINKS.name, **params: str) -> Any:
        return parse_request({"target": ["a.test"], "mode": ["domain"],
                              **{k: [v] for k, v in params.items()}}, table)

    assert cost_of(asked(), 0) == 1
    assert cost_of(asked(), 3) == 16
    assert cost_of(asked(where="http_code=404"), 0) == 6
    assert cost_of(asked(having="domain_rating>1"), 2) == 16
    assert cost_of(asked(where="http_code=404", having="domain_rating>1"), 1) == 16
    assert cost_of(asked(offset="900"), 1) == 6  # offset is free
    assert cost_of(asked(TARGETS.name), 7) == 8  # a target row costs 1
    assert cost_of(asked(TARGETS.name, where="backlinks>1", having="backlinks>2"), 7) == 18


@pytest.mark.parametrize(("rows", "minimum", "ok"), [
    (0, 0, True), (-1, 0, False), (1, 1, True), (0, 1, False), (MAX_ROWS, 0, True),
    (MAX_ROWS + 1, 0, False), (True, 0, False), (False, 0, False), (2.0, 0, False),
    ("3", 0, False)])
def test_the_row_counts_a_ledger_accepts(rows: object, minimum: int, ok: bool) -> None:
    if ok:
        assert check_rows(rows, "rows", minimum) == rows
        return
    with pytest.raises(LedgerError) as raised:
        check_rows(rows, "cost", minimum)
    assert str(raised.value) == f"cost: must be a whole number from {minimum} to {MAX_ROWS}"
    assert re.fullmatch(r"cost: .*", str(raised.value))

"""Request parameters → one SQL statement with bound values over a snapshot's serve table.

The CLI `query` and the HTTP API both call `parse_request` then `plan`, so they cannot
disagree. Every mode is one range scan on `url_to_key` (DESIGN.md §4); conditions are compiled
by `conditions`, never spliced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .. import urls
from ..columns import Kind
from ..errors import QueryError, SnapshotError
from ..snapshot import Snapshot, changes_log_files
from .params import MAX_LIMIT, PARAM, Param
from .tables import BACKLINKS, CHANGES, TABLES, TARGETS, Table
from .targets import anchors_cte, best_per_domain, grouped_ctes

__all__ = ["Plan", "Request", "parse_request", "plan"]

Compiled = tuple[str, tuple[object, ...]]  # an SQL fragment and its bound values


@dataclass(frozen=True)
class Request:
    """A validated request; its defaults are the parameter table's (`parse_request`)."""

    target: str
    mode: str
    select: tuple[str, ...]
    order_by: tuple[tuple[str, bool], ...]  # (column, descending)
    limit: int
    offset: int
    output: str
    where: tuple[str, ...] = ()
    having: tuple[str, ...] = ()
    # where and having compiled, so a bad condition is named before any snapshot is opened
    where_sql: Compiled | None = None
    having_sql: Compiled | None = None
    table: str = BACKLINKS.name
    one_per_domain: bool = False  # (ext) spec/API.md
    csv_raw: bool = False  # ext: csv cells verbatim, no formula neutralisation (docs/security.md)

    @property
    def columns(self) -> Table:
        return TABLES[self.table]


@dataclass(frozen=True)
class Plan:
    sql: str
    params: list[object]
    columns: tuple[str, ...]
    count_sql: str          # rows this request returns, without sorting or reading them
    count_params: list[object]


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _integer(text: str | None, param: Param) -> int:
    assert param.default is not None and param.low is not None and param.high is not None
    low, high = param.low, param.high
    if text is None or text.strip() == "":
        text = param.default
    value = text.strip().strip('"')
    # Length first: int() of thousands of digits is slow, and refused past 4,300 digits.
    if (not (value.isascii() and value.isdigit()) or len(value.lstrip("0")) > len(str(high))
            or not low <= int(value) <= high):
        raise QueryError(param.name, f"must be an integer from {low} to {high}")
    return int(value)


def _choice(text: str | None, param: Param, choices: tuple[str, ...], fold: bool) -> str:
    """The value of a parameter with a closed set of values (lower-cased first when `fold`),
    or its default; a required one that is missing is named."""
    value = (text or param.default or "").strip()
    value = value.lower() if fold else value
    if not value and param.required:
        raise QueryError(param.name, "missing")
    if value not in choices:
        raise QueryError(param.name, f"invalid value {value!r}; expected "
                         f"{', '.join(choices[:-1])} or {choices[-1]}")
    return value


def _select(text: str | None, table: Table) -> tuple[str, ...]:
    if text is None or text.strip() in ("", "*"):
        return table.names
    # A column named twice is given once: a JSON row cannot hold a key twice.
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",")))
    for name in names:
        if name not in table.by_name:
            raise QueryError("select", f"column {name!r} not found")
    return names


def _order_by(text: str | None, table: Table) -> tuple[tuple[str, bool], ...]:
    keys: list[tuple[str, bool]] = []
    for part in (text if text and text.strip() else table.default_order).split(","):
        name, _, direction = part.strip().partition(":")
        name, direction = name.strip(), direction.strip().lower()
        if name not in table.by_name:
            raise QueryError("order_by", f"column {name!r} not found")
        if direction not in ("", "asc", "desc"):
            raise QueryError("order_by", f"invalid direction {direction!r}; expected asc or desc")
        keys.append((name, direction == "desc"))
    return tuple(keys)


def _flag(text: str | None, param: Param) -> bool:
    value = (text or "").strip().lower()
    if value not in ("", "0", "1", "true", "false"):
        raise QueryError(param.name, f"invalid value {value[:300]!r}; expected "
                         f"{' or '.join(param.choices)}")
    return value in ("1", "true")


def parse_request(params: Mapping[str, Sequence[str]], table: str = BACKLINKS.name
                  ) -> Request:
    """Validate the parameters of a row table's request (spec/API.md); QueryError names the
    bad one."""
    columns = TABLES[table]
    target = _one(params, "target")
    if target is None or not target.strip():
        raise QueryError("target", "missing")
    mode = _choice(_one(params, "mode"), PARAM["mode"], urls.MODES, fold=False)
    output = _choice(_one(params, "output"), PARAM["output"], PARAM["output"].choices, fold=True)
    from .conditions import compile_condition

    urls.mode_range(target, mode)  # validates the target
    select = _select(_one(params, "select"), columns)
    where = tuple(v for v in params.get("where", ()) if v.strip())
    having = tuple(v for v in params.get("having", ()) if v.strip())
    compiled: list[Compiled | None] = []
    for texts, param in ((where, "where"), (having, "having")):
        condition = compile_condition(list(texts), param, columns.by_name)
        compiled.append(None if condition is None else (condition[0], tuple(condition[1])))
    limit = _integer(_one(params, "limit"), PARAM["limit"])
    offset = _integer(_one(params, "offset"), PARAM["offset"])
    if offset + limit > MAX_LIMIT:  # spec/API.md: bounds the sort a request can ask for
        raise QueryError("offset", f"offset + limit may not exceed {MAX_LIMIT}")
    return Request(
        target=target, mode=mode, select=select, where=where, having=having,
        order_by=_order_by(_one(params, "order_by"), columns), limit=limit, offset=offset,
        output=output, where_sql=compiled[0], having_sql=compiled[1], table=table,
        one_per_domain=_flag(_one(params, "one_per_domain"), PARAM["one_per_domain"]),
        csv_raw=_flag(_one(params, "csv_raw"), PARAM["csv_raw"]))


def _clauses(conditions: list[Compiled | None], params: list[object]) -> list[str]:
    """The SQL of the given conditions, their values appended to params in order."""
    clauses = []
    for condition in conditions:
        if condition is not None:
            clauses.append(f"({condition[0]})")
            params.extend(condition[1])
    return clauses


def _where(clauses: list[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def plan(request: Request, snapshot: Snapshot) -> Plan:
    """The SQL of a request over the serve table of `snapshot` (only the files its key
    range overlaps)."""
    low, high = urls.mode_range(request.target, request.mode)
    params: list[object] = [snapshot.files_for(low, high), low, high]
    scan = ["url_to_key >= ?", "url_to_key < ?"]
    if request.table == TARGETS.name:
        return _targets_plan(request, params, scan)
    if request.table == CHANGES.name:  # the whole changes log, whose schema grew over time
        params[0] = _changes_log(snapshot)
        clauses = scan + _clauses([request.where_sql, request.having_sql], params)
        return _ordered(request, f"FROM read_parquet(?, union_by_name = true){_where(clauses)}",
                        params)
    if request.one_per_domain:
        # where first, then the best link per domain and target, then having (docs/report.md)
        rows = (f"SELECT * FROM read_parquet(?)"
                f"{_where(scan + _clauses([request.where_sql], params))} "
                f"{best_per_domain('url_from_domain, url_to')}")
        source = f"FROM ({rows}){_where(_clauses([request.having_sql], params))}"
    else:
        clauses = scan + _clauses([request.where_sql, request.having_sql], params)
        source = f"FROM read_parquet(?){_where(clauses)}"
    return _ordered(request, source, params)


def _targets_plan(request: Request, params: list[object], scan: list[str]) -> Plan:
    """broken_targets: the backlink rows grouped by url_to. The top anchors cost a second
    grouping, so unless a condition or the order reads them, they are computed after the
    sort and limit, for the returned targets only (bench/report.py)."""
    keep = best_per_domain("url_from_domain") if request.one_per_domain else ""
    rows = f"SELECT * FROM read_parquet(?){_where(scan)} {keep}"
    sql = " ".join(c[0] for c in (request.where_sql, request.having_sql) if c is not None)
    filtered = {name for name in request.columns.by_name if f'"{name}"' in sql}
    ordered = _order_keys(request)
    early = "anchors_top" in filtered or "anchors_top" in (name for name, _ in ordered)
    needed = tuple(dict.fromkeys([*request.select, *(n for n, _ in ordered), *filtered]))
    ctes = grouped_ctes(rows, needed, early)
    source = f"FROM targets{_where(_clauses([request.where_sql, request.having_sql], params))}"
    if early or "anchors_top" not in request.select:
        return _ordered(request, source, params, f"WITH {ctes} ")
    order = _order_sql(ordered)
    keys = tuple(n for n in dict.fromkeys([*request.select, *(n for n, _ in ordered)])
                 if n != "anchors_top")
    page = ("SELECT page.*, coalesce(a.anchors_top, '') AS anchors_top "
            "FROM page LEFT JOIN anchors a USING (url_to)")
    outer = (_json_object(request.select, request.columns) if request.output == "json"
             else _quoted(request.select))
    sql = (f"WITH {ctes}, page AS MATERIALIZED (SELECT {_quoted(keys)} {source} "
           f"ORDER BY {order} LIMIT ? OFFSET ?), "
           f"{anchors_cte('url_to IN (SELECT url_to FROM page)')} "
           f"SELECT {outer} FROM ({page}) ORDER BY {order}")
    return Plan(sql, [*params, request.limit, request.offset], request.select,
                *_count(request, source, params, f"WITH {ctes} "))


def _order_keys(request: Request) -> list[tuple[str, bool]]:
    """The requested keys, then the table's tie-breaks: a total order (stable paging)."""
    ordered = list(request.order_by)
    named = {name for name, _ in ordered}
    return ordered + [(name, False) for name in request.columns.tie_break if name not in named]


def _order_sql(ordered: list[tuple[str, bool]]) -> str:
    return ", ".join(f'"{name}" {"DESC" if desc else "ASC"} NULLS LAST' for name, desc in ordered)


def _count(request: Request, source: str, params: list[object], prefix: str
           ) -> tuple[str, list[object]]:
    """The count query and its values: the prefix's placeholders (the scan's three) come
    before the count's own two."""
    head = params[:3] if prefix else []
    return (f"{prefix}SELECT least(?, greatest(count(*) - ?, 0)) {source}",
            [*head, request.limit, request.offset, *params[len(head):]])


def _ordered(request: Request, source: str, params: list[object], prefix: str = "") -> Plan:
    table = request.columns
    ordered = _order_keys(request)
    order = _order_sql(ordered)
    if request.output != "json":
        sql = f"SELECT {_quoted(request.select)} {source} ORDER BY {order} LIMIT ? OFFSET ?"
    else:
        # JSON is built around the sorted, limited rows (sorted again: cheap on at most
        # `limit` rows); built inside, it was built for every row of the key range before
        # the sort, 2.5x slower on a 100,000-row domain.
        keys = tuple(dict.fromkeys([*request.select, *(name for name, _ in ordered)]))
        kept = f"SELECT {_quoted(keys)} {source} ORDER BY {order} LIMIT ? OFFSET ?"
        sql = f"SELECT {_json_object(request.select, table)} FROM ({kept}) ORDER BY {order}"
    return Plan(prefix + sql, [*params, request.limit, request.offset], request.select,
                *_count(request, source, params, prefix))


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _json_object(names: tuple[str, ...], table: Table) -> str:
    """One JSON object per row, built by DuckDB (about 3x faster than a dict per row in
    Python): dates as `YYYY-MM-DDTHH:MM:SSZ` and unknown values as `""` (spec/API.md)."""
    fields = []
    for name in names:
        kind = table.by_name[name].kind
        if kind is Kind.DATE:
            value = f"""coalesce(strftime("{name}", '%Y-%m-%dT%H:%M:%SZ'), '')"""
        elif kind is Kind.STRING:
            value = f"""coalesce("{name}", '')"""
        else:
            value = f'"{name}"'
        fields.append(f'"{name}" := {value}')
    return f"to_json(struct_pack({', '.join(fields)}))::VARCHAR"


def _changes_log(current: Snapshot) -> list[str]:
    """The files of the changes log of the DIR `current` belongs to (DIR/snapshots/<id>)."""
    files = changes_log_files(current.path.parent.parent)
    if not files:
        raise SnapshotError("no changes recorded yet: run `linkatlas build`")
    return files

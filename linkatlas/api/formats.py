"""Output formats of spec/API.md: json, xml, php (serialize) and csv (ext), streamed.

Each writer turns batches of result tuples into byte chunks; values are converted once by
column kind (dates → `YYYY-MM-DDTHH:MM:SSZ`, unknown → `""`, never null).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import orjson

from ..clock import iso
from ..columns import Column, Kind
from .tables import BACKLINKS, Table

__all__ = ["CONTENT_TYPES", "FORMULA_START", "error_body", "neutralise", "render",
           "terminal_safe"]

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "php": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
Batches = Iterable[list[tuple[Any, ...]]]


def _date(value: datetime | None) -> str:
    return iso(value)


def _converters(columns: tuple[str, ...], by_name: Mapping[str, Column]
                ) -> list[Callable[[Any], Any]]:
    table: dict[Kind, Callable[[Any], Any]] = {
        Kind.DATE: _date,
        Kind.STRING: lambda v: "" if v is None else v,
        Kind.INT: lambda v: 0 if v is None else int(v),
        Kind.BOOLEAN: lambda v: bool(v),
    }
    return [table[by_name[name].kind] for name in columns]


def _batches(columns: tuple[str, ...], batches: Batches, by_name: Mapping[str, Column]
             ) -> Iterator[list[list[Any]]]:
    """Converted rows, a batch at a time (one output chunk per batch, not per row)."""
    convert = _converters(columns, by_name)
    for batch in batches:
        yield [[f(v) for f, v in zip(convert, row, strict=True)] for row in batch]


# Characters XML 1.0 cannot hold, even escaped (§2.2): C0 controls but tab and newlines,
# lone surrogates, U+FFFE and U+FFFF. Page text may carry them (`&#1;`); they are dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("", text))


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _xml_text(str(value))


def _xml(columns: tuple[str, ...], batches: Batches, table: Table) -> Iterator[bytes]:
    root, item = table.root, table.item
    yield f'<?xml version="1.0" encoding="UTF-8"?><AhrefsApiResponse><{root}>'.encode()
    for batch in _batches(columns, batches, table.by_name):
        yield "".join(f"<{item}>" + "".join(f"<{c}>{_xml_value(v)}</{c}>"
                                            for c, v in zip(columns, values, strict=True))
                      + f"</{item}>" for values in batch).encode()
    yield f"</{root}></AhrefsApiResponse>".encode()


def _php_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    text = str(value)
    return f's:{len(text.encode())}:"{text}";'


def _php(columns: tuple[str, ...], batches: Batches, count: int | None, table: Table
         ) -> Iterator[bytes]:
    # serialize() writes the element count first: stream when it is known, else gather.
    if count is None:
        gathered = [row for batch in batches for row in batch]
        count, batches = len(gathered), [gathered]
    yield f'a:1:{{{_php_scalar(table.root)}a:{count}:{{'.encode()
    index = 0
    for batch in _batches(columns, batches, table.by_name):
        parts = []
        for values in batch:
            fields = "".join(_php_scalar(c) + _php_scalar(v) for c, v in zip(columns, values,
                                                                              strict=True))
            parts.append(f"i:{index};a:{len(columns)}:{{{fields}}}")
            index += 1
        yield "".join(parts).encode()
    yield b"}}"


# OWASP "CSV Injection": a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, prefixed with `'` (shown as text)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_cell(value: Any) -> Any:
    return "true" if value is True else "false" if value is False else value


def _csv(columns: tuple[str, ...], batches: Batches, table: Table, raw: bool = False
         ) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    cell = _csv_cell if raw else (lambda v: neutralise(_csv_cell(v)))
    for batch in _batches(columns, batches, table.by_name):
        writer.writerows([cell(v) for v in values] for values in batch)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()


def _json(columns: tuple[str, ...], batches: Batches, table: Table) -> Iterator[bytes]:
    """JSON rows are objects already, built by the query (planner._json_object), so they are
    only joined here."""
    yield b'{"' + table.root.encode() + b'": ['
    separator = b""
    for batch in batches:
        if batch:
            yield separator + ",".join(row[0] for row in batch).encode()
            separator = b","
    yield b"]}"


_WRITERS = {"json": _json, "xml": _xml}


def render(output: str, columns: tuple[str, ...], batches: Batches,
           count: int | None = None, table: Table = BACKLINKS, raw_csv: bool = False
           ) -> Iterator[bytes]:
    """Output chunks, one per batch; `count` (rows in all batches) lets php stream too;
    `table` names the row list and types the columns; `raw_csv` turns off the formula
    neutralisation of csv (the `csv_raw` ext parameter)."""
    if output == "php":
        return _php(columns, batches, count, table)
    if output == "csv":
        return _csv(columns, batches, table, raw_csv)
    return _WRITERS[output](columns, batches, table)


# What a terminal would act on: C0 controls (ESC, BEL, NUL…) but tab and newline, a carriage
# return not ending a line, DEL and C1 controls (8-bit CSI).
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")


def terminal_safe(chunk: bytes) -> bytes:
    """An output chunk fit for a terminal: each control character shown as `\\xNN` text."""
    text = chunk.decode("utf-8", "replace")
    return _TERMINAL_CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text).encode()


def info_body(output: str, body: dict[str, dict[str, Any]]) -> bytes:
    """`subscription_info` (spec/API.md) in the requested format."""
    info = body["info"]
    if output == "xml":
        fields = "".join(f"<{k}>{_xml_value(v)}</{k}>" for k, v in info.items())
        return (f'<?xml version="1.0" encoding="UTF-8"?><AhrefsApiResponse><info>{fields}'
                f"</info></AhrefsApiResponse>").encode()
    if output == "php":
        fields = "".join(_php_scalar(k) + _php_scalar(v) for k, v in info.items())
        return f'a:1:{{s:4:"info";a:{len(info)}:{{{fields}}}}}'.encode()
    if output == "csv":  # the subscription name is the operator's text: neutralised too
        return (",".join(info) + "\r\n" + ",".join(str(neutralise(v)) for v in info.values())
                + "\r\n").encode()
    return orjson.dumps(body)


def error_body(output: str, message: str) -> bytes:
    """A v2 error body (spec/API.md, Errors)."""
    if output == "xml":
        return (f'<?xml version="1.0" encoding="UTF-8"?><AhrefsApiResponse><error>'
                f"{_xml_text(message)}</error></AhrefsApiResponse>").encode()
    if output == "php":
        return f'a:1:{{s:5:"error";{_php_scalar(message)}}}'.encode()
    return orjson.dumps({"error": message})

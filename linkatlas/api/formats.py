"""Output formats of spec/API.md: json, xml, php (serialize) and csv (ext), streamed.

Each writer turns batches of result tuples into byte chunks; values are converted once by
column kind (dates → `YYYY-MM-DDTHH:MM:SSZ`, unknown → `""`, never null).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import orjson

from ..clock import iso
from ..columns import BY_NAME, Kind

__all__ = ["CONTENT_TYPES", "error_body", "render"]

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "php": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
Batches = Iterable[list[tuple[Any, ...]]]


def _date(value: datetime | None) -> str:
    return iso(value)


def _converters(columns: tuple[str, ...]) -> list[Callable[[Any], Any]]:
    table: dict[Kind, Callable[[Any], Any]] = {
        Kind.DATE: _date,
        Kind.STRING: lambda v: "" if v is None else v,
        Kind.INT: lambda v: 0 if v is None else int(v),
        Kind.BOOLEAN: lambda v: bool(v),
    }
    return [table[BY_NAME[name].kind] for name in columns]


def _rows(columns: tuple[str, ...], batches: Batches) -> Iterator[list[Any]]:
    convert = _converters(columns)
    for batch in batches:
        for row in batch:
            yield [f(v) for f, v in zip(convert, row, strict=True)]


def _json(columns: tuple[str, ...], batches: Batches) -> Iterator[bytes]:
    yield b'{"refpages": ['
    first = True
    for values in _rows(columns, batches):
        chunk = orjson.dumps(dict(zip(columns, values, strict=True)))
        yield chunk if first else b"," + chunk
        first = False
    yield b"]}"


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _xml(columns: tuple[str, ...], batches: Batches) -> Iterator[bytes]:
    yield b'<?xml version="1.0" encoding="UTF-8"?><AhrefsApiResponse><refpages>'
    for values in _rows(columns, batches):
        fields = "".join(f"<{c}>{_xml_value(v)}</{c}>" for c, v in zip(columns, values,
                                                                         strict=True))
        yield f"<refpage>{fields}</refpage>".encode()
    yield b"</refpages></AhrefsApiResponse>"


def _php_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    text = str(value)
    return f's:{len(text.encode())}:"{text}";'


def _php(columns: tuple[str, ...], batches: Batches) -> Iterator[bytes]:
    # serialize() needs the element count up front, so the rows are gathered first.
    rows = list(_rows(columns, batches))
    parts = [f'a:1:{{s:8:"refpages";a:{len(rows)}:{{']
    for index, values in enumerate(rows):
        fields = "".join(_php_scalar(c) + _php_scalar(v) for c, v in zip(columns, values,
                                                                          strict=True))
        parts.append(f"i:{index};a:{len(columns)}:{{{fields}}}")
    parts.append("}}")
    yield "".join(parts).encode()


def _csv(columns: tuple[str, ...], batches: Batches) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for values in _rows(columns, batches):
        writer.writerow(["true" if v is True else "false" if v is False else v for v in values])
        if buffer.tell() > 65536:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


_WRITERS = {"json": _json, "xml": _xml, "php": _php, "csv": _csv}


def render(output: str, columns: tuple[str, ...], batches: Batches) -> Iterator[bytes]:
    return _WRITERS[output](columns, batches)


def error_body(output: str, message: str) -> bytes:
    """A v2 error body (spec/API.md, Errors)."""
    if output == "xml":
        return (f'<?xml version="1.0" encoding="UTF-8"?><AhrefsApiResponse><error>'
                f"{escape(message)}</error></AhrefsApiResponse>").encode()
    if output == "php":
        return f'a:1:{{s:5:"error";{_php_scalar(message)}}}'.encode()
    return orjson.dumps({"error": message})

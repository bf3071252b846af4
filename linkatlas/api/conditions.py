"""Where/having conditions (spec/API.md "Conditions"): text → tokens → AST → checks → SQL.

The pipeline is `parse` (tokenizer and recursive-descent parser; syntax errors carry a 1-based
position into the text as the client sent it, after URL-decoding), `check` (columns, permissions
and literal types against the column table), `to_sql` (a fragment with `?` placeholders; every
value is bound, column names come only from `columns.BY_NAME`) and `evaluate`, a plain-Python
reference evaluator over a row as stored that the property tests hold the SQL to.

Decisions the spec leaves open (ours):
- `=`, `<>`, `<` … on strings are exact and case-sensitive, ordered by code point (DuckDB
  compares VARCHAR by UTF-8 bytes, which is the same order).
- `substring`, `word` and `subdomain` are case-insensitive: both sides are lower-cased by DuckDB's
  `lower()` (simple per-character mapping); `_fold` reproduces it in Python.
- A boolean column accepts bare `true`/`false` and also quoted `"true"`/`"false"` (any case),
  mirroring the rule that a quoted number is accepted for an int column. `true`, `false` and
  function names are case-insensitive; column names are not.
- Any comparison with an unknown (NULL) date is unknown, and `not()` of unknown stays unknown
  (SQL three-valued logic); a row passes only when the whole condition is true.
- Limits apply to everything sent for one parameter: repeated `where=` texts together are at
  most 4,096 characters and 64 expressions (comparisons, functions, and/or/not each count one;
  the top-level commas do not). Nesting depth is bounded by the same count.
- Inside strings only `\\"` and `\\\\` are escapes; any other backslash is an error. NUL and
  lone surrogates are rejected anywhere.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, TypeAlias

import idna

from ..columns import BY_NAME, Column, Kind
from ..errors import ConditionError, QueryError

__all__ = [
    "MAX_CHARS",
    "MAX_EXPRESSIONS",
    "And",
    "Compare",
    "Literal",
    "Node",
    "Not",
    "Op",
    "Or",
    "Subdomain",
    "Substring",
    "Word",
    "check",
    "compile_condition",
    "evaluate",
    "parse",
    "to_sql",
    "to_text",
]

MAX_CHARS = 4096
MAX_EXPRESSIONS = 64
_SPACE = " \t\r\n"
_INT64 = (-(2**63), 2**63 - 1)


# --- tokens -------------------------------------------------------------------------------


class T(Enum):
    """Token kinds."""

    NAME = "name"
    INT = "integer"
    STRING = "string"
    OP = "operator"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    END = "end of condition"


class Op(StrEnum):
    """Comparison operators, by spelling."""

    EQ = "="
    NE = "<>"
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


_PUNCTUATION = {"(": T.LPAREN, ")": T.RPAREN, ",": T.COMMA}
_OP_SPELLINGS = {op.value: op for op in Op}


@dataclass(frozen=True)
class Token:
    kind: T
    value: str | int  # decoded: name, operator spelling, string contents or integer
    position: int  # 1-based


def _show(char: str) -> str:
    return f"'{char}'" if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


def _forbidden(char: str) -> bool:
    return char == "\x00" or "\ud800" <= char <= "\udfff"


def _tokens(text: str, param: str) -> list[Token]:
    """Scan the whole text (at most MAX_CHARS, so a list is fine) in one loop."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        start = i
        if char in _SPACE:
            i += 1
            continue
        if char in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[char], char, i + 1))
            i += 1
        elif char in "<>=":
            spelling = text[i : i + 2] if text[i : i + 2] in _OP_SPELLINGS else char
            tokens.append(Token(T.OP, spelling, i + 1))
            i += len(spelling)
        elif char == '"':
            value, i = _scan_string(text, i, param)
            tokens.append(Token(T.STRING, value, start + 1))
        elif "0" <= char <= "9" or (char == "-" and "0" <= text[i + 1 : i + 2] <= "9"):
            i += 1
            while i < n and "0" <= text[i] <= "9":
                i += 1
            tokens.append(Token(T.INT, _integer(text[start:i], param, start + 1), start + 1))
        elif char.isalpha() or char == "_":
            while i < n and (text[i].isalnum() or text[i] == "_"):
                i += 1
            tokens.append(Token(T.NAME, text[start:i], start + 1))
        else:
            raise ConditionError(param, f"unexpected character {_show(char)}", i + 1)
    tokens.append(Token(T.END, "", n + 1))
    return tokens


def _scan_string(text: str, i: int, param: str) -> tuple[str, int]:
    """Decode the string whose opening quote is at text[i]; return it and the index after it."""
    parts: list[str] = []
    j = i + 1
    while j < len(text):
        char = text[j]
        if char == '"':
            return "".join(parts), j + 1
        if _forbidden(char):
            raise ConditionError(param, f"unexpected character {_show(char)}", j + 1)
        if char == "\\":
            escaped = text[j + 1 : j + 2]
            if not escaped:
                break
            if escaped not in '"\\':
                raise ConditionError(param, 'invalid escape; only \\" and \\\\ are allowed', j + 1)
            char = escaped
            j += 1
        parts.append(char)
        j += 1
    raise ConditionError(param, "unterminated string", i + 1)


def _integer(digits: str, param: str, position: int) -> int:
    value = int(digits) if len(digits) <= 20 else _INT64[1] + 1
    if not _INT64[0] <= value <= _INT64[1]:
        raise ConditionError(param, "integer out of range", position)
    return value


# --- AST ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: int | bool | str  # as written: bare integer, true/false, or quoted string
    position: int


@dataclass(frozen=True)
class Compare:
    column: str
    op: Op
    literal: Literal
    position: int


@dataclass(frozen=True)
class _Match:
    column: str
    text: str
    position: int

    @property
    def function(self) -> str:
        return type(self).__name__.lower()


class Subdomain(_Match):
    """subdomain(column,"host")"""


class Substring(_Match):
    """substring(column,"text")"""


class Word(_Match):
    """word(column,"text")"""


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]
    position: int


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]
    position: int


@dataclass(frozen=True)
class Not:
    item: Node
    position: int


Node: TypeAlias = Compare | Subdomain | Substring | Word | And | Or | Not

_MatchClass: TypeAlias = type[Subdomain] | type[Substring] | type[Word]
_MATCHES: dict[str, _MatchClass] = {"subdomain": Subdomain, "substring": Substring, "word": Word}
_LOGICAL: dict[str, type[And] | type[Or]] = {"and": And, "or": Or}
_BOOLEANS = {"true": True, "false": False}


# --- parser -------------------------------------------------------------------------------


class _Parser:
    """condition := expr ("," expr)* ; expr := name OP literal | name "(" args ")"."""

    def __init__(self, text: str, param: str, budget: int) -> None:
        self.param = param
        self.tokens = _tokens(text, param)
        self.index = 0
        self.budget = budget
        self.count = 0

    def _peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def _advance(self) -> Token:
        token = self._peek()
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def _match(self, kind: T) -> Token | None:
        return self._advance() if self._peek().kind is kind else None

    def _expect(self, kind: T, problem: str) -> Token:
        token = self._match(kind)
        if token is None:
            raise self._error(problem)
        return token

    def _error(self, problem: str, token: Token | None = None) -> ConditionError:
        return ConditionError(self.param, problem, (token or self._peek()).position)

    def parse_condition(self) -> list[Node]:
        items = [self._parse_expr()]
        while self._match(T.COMMA):
            items.append(self._parse_expr())
        if self._peek().kind is not T.END:
            raise self._error("expected ',' or the end of the condition")
        return items

    def _parse_expr(self) -> Node:
        token = self._peek()
        if token.kind is not T.NAME:
            raise self._error("expected a column or function name")
        self.count += 1
        if self.count > self.budget:
            raise self._error(f"more than {MAX_EXPRESSIONS} expressions")
        if self._peek(1).kind is T.LPAREN:
            return self._parse_call()
        return self._parse_compare()

    def _parse_compare(self) -> Compare:
        name = self._advance()
        op = self._expect(T.OP, f"expected an operator after '{name.value}'")
        literal = self._parse_literal(op)
        return Compare(str(name.value), _OP_SPELLINGS[str(op.value)], literal, name.position)

    def _parse_literal(self, after: Token) -> Literal:
        token = self._peek()
        if token.kind is T.NAME and str(token.value).lower() in _BOOLEANS:
            self._advance()
            return Literal(_BOOLEANS[str(token.value).lower()], token.position)
        if token.kind in (T.INT, T.STRING):
            self._advance()
            return Literal(token.value, token.position)
        raise self._error(f"expected a value after '{after.value}'")

    def _parse_call(self) -> Node:
        name = self._advance()
        function = str(name.value).lower()
        self._advance()  # "("
        if function in _MATCHES:
            return self._parse_match(_MATCHES[function], name)
        if function in _LOGICAL:
            return self._parse_logical(_LOGICAL[function], name)
        if function == "not":
            return self._parse_not(name)
        raise self._error(f"unknown function '{name.value}'", name)

    def _parse_match(self, cls: _MatchClass, name: Token) -> Subdomain | Substring | Word:
        column = self._expect(T.NAME, "expected a column name")
        self._expect(T.COMMA, "expected ','")
        text = self._expect(T.STRING, "expected a double-quoted string")
        self._expect(T.RPAREN, "expected ')'")
        return cls(str(column.value), str(text.value), name.position)

    def _parse_logical(self, cls: type[And] | type[Or], name: Token) -> And | Or:
        items = [self._parse_expr()]
        while self._match(T.COMMA):
            items.append(self._parse_expr())
        self._expect(T.RPAREN, "expected ',' or ')'")
        return cls(tuple(items), name.position)

    def _parse_not(self, name: Token) -> Not:
        item = self._parse_expr()
        self._expect(T.RPAREN, "expected ')'")
        return Not(item, name.position)


def _parse(text: str, param: str, budget: int) -> tuple[list[Node], int]:
    if len(text) > MAX_CHARS:
        raise ConditionError(param, f"condition is longer than {MAX_CHARS} characters")
    parser = _Parser(text, param, budget)
    return parser.parse_condition(), parser.count


def _conjunction(items: list[Node]) -> Node:
    return items[0] if len(items) == 1 else And(tuple(items), 1)


def parse(text: str, param: str) -> Node:
    """The AST of one condition; a top-level list of several expressions becomes an And."""
    return _conjunction(_parse(text, param, MAX_EXPRESSIONS)[0])


# --- checks -------------------------------------------------------------------------------


Value: TypeAlias = int | bool | str | datetime

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})Z)?", re.ASCII)
_DATE_HINT = ' (dates are "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ")'
_QUOTED_INT = re.compile(r"-?\d{1,20}", re.ASCII)


def _column(name: str, param: str, columns: Mapping[str, Column]) -> Column:
    column = columns.get(name)
    if column is None:
        raise QueryError(param, f"column '{name}' not found")
    if param in ("where", "having") and not getattr(column, param):
        raise QueryError(param, f"column '{name}' can not be used in {param}")
    return column


def _describe(value: int | bool | str) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"int {value}"
    shown = value if len(value) <= 40 else value[:40] + "…"
    return f"string {_quote(shown)}"


def _coerce(column: Column, literal: Literal, param: str) -> Value:
    """The literal as a value of the column's type, or QueryError."""
    value = literal.value
    converted: Value | None = None
    if column.kind is Kind.INT:
        if isinstance(value, str) and _QUOTED_INT.fullmatch(value):
            number = int(value)
            converted = number if _INT64[0] <= number <= _INT64[1] else None
        elif isinstance(value, int) and not isinstance(value, bool):
            converted = value
    elif column.kind is Kind.BOOLEAN:
        if isinstance(value, bool):
            converted = value
        elif isinstance(value, str):
            converted = _BOOLEANS.get(value.lower())
    elif column.kind is Kind.DATE:
        converted = _date(value) if isinstance(value, str) else None
    elif isinstance(value, str):
        converted = value
    if converted is None:
        hint = _DATE_HINT if column.kind is Kind.DATE else ""
        raise QueryError(param, f"column '{column.name}' is {column.kind.value}, got "
                         f"{_describe(value)}{hint}")
    return converted


def _date(text: str) -> datetime | None:
    """Midnight UTC or the given second, as a naive datetime (storage is naive UTC)."""
    found = _DATE.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in found.groups(default="0"))
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:  # month 13, February 30, hour 24 …
        return None


def _host(text: str, param: str) -> str:
    """The host subdomain() looks for: lower-case, no trailing dot, IDN as punycode."""
    host = text.lower().rstrip(".")
    if host and not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            host = ""
    if not host or any(char in host for char in "/:?#" + _SPACE):
        raise QueryError(param, f"subdomain() needs a host name, got {_describe(text)}")
    return host


def _walk(node: Node) -> list[Node]:
    """Every node, parents before children (iterative: no recursion limit to hit)."""
    nodes: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        nodes.append(current)
        if isinstance(current, And | Or):
            stack.extend(reversed(current.items))
        elif isinstance(current, Not):
            stack.append(current.item)
    return nodes


def check(node: Node, param: str, columns: Mapping[str, Column] = BY_NAME) -> None:
    """Raise QueryError for an unknown column, a forbidden column or a mistyped literal
    (columns: the table's column table; `broken_backlinks` unless told)."""
    for current in _walk(node):
        if isinstance(current, Compare):
            _coerce(_column(current.column, param, columns), current.literal, param)
        elif isinstance(current, _Match):
            column = _column(current.column, param, columns)
            if column.kind is not Kind.STRING:
                raise QueryError(param, f"{current.function}() needs a string column, "
                                 f"column '{column.name}' is {column.kind.value}")
            if isinstance(current, Subdomain):
                _host(current.text, param)
            if isinstance(current, Word) and not current.text:
                raise QueryError(param, f"word() needs a word, got {_describe(current.text)}")


# --- SQL ----------------------------------------------------------------------------------

# Host of a URL: after the first "://" up to the next "/", ":", "?" or "#" ("" without "://").
_HOST_PATTERN = r"://([^/:?#]*)"
# Not a letter, digit or "_" (Unicode categories L* and N*, as `_is_word` below).
_NON_WORD = r"[^\p{L}\p{N}_]"


def _identifier(name: str, columns: Mapping[str, Column]) -> str:
    column = columns.get(name)
    if column is None:
        raise QueryError("", f"column '{name}' not found")
    return f'"{column.name}"'


# A whole word: the text, quoted literally (RE2's \\Q…\\E), between non-word characters or the
# ends. The text is lower-cased in SQL by the same lower() as the value: folding it in Python
# made `word(anchor,"İstanbul")` miss wherever Python and DuckDB lower-case differently. A
# lower-cased text holds no "E", so it cannot end the quote early.
_WORD_BEFORE = f"(^|{_NON_WORD})\\Q"
_WORD_AFTER = f"\\E($|{_NON_WORD})"


def _sql_compare(node: Compare, params: list[object], columns: Mapping[str, Column]) -> str:
    params.append(_coerce(columns[node.column], node.literal, ""))
    return f"{_identifier(node.column, columns)} {node.op.value} ?"


def _sql_substring(node: Substring, params: list[object], columns: Mapping[str, Column]
                   ) -> str:
    params.append(node.text)
    return f"contains(lower({_identifier(node.column, columns)}), lower(?))"


def _sql_word(node: Word, params: list[object], columns: Mapping[str, Column]) -> str:
    params.extend([_WORD_BEFORE, node.text, _WORD_AFTER])
    return f"regexp_matches(lower({_identifier(node.column, columns)}), ? || lower(?) || ?)"


def _sql_subdomain(node: Subdomain, params: list[object], columns: Mapping[str, Column]
                   ) -> str:
    # host = x or host ends with ".x"  ⇔  "." + host ends with "." + x
    params.extend([_HOST_PATTERN, "." + _host(node.text, "")])
    return f"suffix('.' || lower(regexp_extract({_identifier(node.column, columns)}, ?, 1)), ?)"


def _sql_and(node: And, params: list[object], columns: Mapping[str, Column]) -> str:
    return "(" + " AND ".join(_sql(item, params, columns) for item in node.items) + ")"


def _sql_or(node: Or, params: list[object], columns: Mapping[str, Column]) -> str:
    return "(" + " OR ".join(_sql(item, params, columns) for item in node.items) + ")"


def _sql_not(node: Not, params: list[object], columns: Mapping[str, Column]) -> str:
    return f"(NOT ({_sql(node.item, params, columns)}))"


def _sql(node: Node, params: list[object], columns: Mapping[str, Column]) -> str:
    match node:
        case Compare():
            return _sql_compare(node, params, columns)
        case Substring():
            return _sql_substring(node, params, columns)
        case Word():
            return _sql_word(node, params, columns)
        case Subdomain():
            return _sql_subdomain(node, params, columns)
        case And():
            return _sql_and(node, params, columns)
        case Or():
            return _sql_or(node, params, columns)
        case Not():
            return _sql_not(node, params, columns)
    raise TypeError(f"unknown condition node {type(node).__name__}")


def to_sql(node: Node, columns: Mapping[str, Column] = BY_NAME) -> tuple[str, list[object]]:
    """SQL boolean expression (safe to AND with others) and its parameters, in order."""
    params: list[object] = []
    return _sql(node, params, columns), params


def compile_condition(texts: list[str], param: str, columns: Mapping[str, Column] = BY_NAME
                      ) -> tuple[str, list[object]] | None:
    """All texts sent for one parameter, ANDed, checked and compiled; None when all empty."""
    texts = [text for text in texts if text.strip(_SPACE)]
    if not texts:
        return None
    if sum(len(text) for text in texts) > MAX_CHARS:
        raise ConditionError(param, f"condition is longer than {MAX_CHARS} characters")
    items: list[Node] = []
    budget = MAX_EXPRESSIONS
    for text in texts:
        parsed, used = _parse(text, param, budget)
        items.extend(parsed)
        budget -= used
    node = _conjunction(items)
    check(node, param, columns)
    return to_sql(node, columns)


# --- reference evaluator ------------------------------------------------------------------

# Python's str.lower() differs from DuckDB's lower() (utf8proc, one code point at a time) only
# in İ (full mapping "i̇") and the context-dependent final sigma; pin both to DuckDB's result.
_FOLD_FIXES = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})
_COMPARE: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq, Op.NE: operator.ne, Op.LT: operator.lt,
    Op.LE: operator.le, Op.GT: operator.gt, Op.GE: operator.ge,
}


def _fold(text: str) -> str:
    return text.translate(_FOLD_FIXES).lower()


def _is_word(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN" or char == "_"


def _has_word(value: str, text: str) -> bool:
    start = value.find(text)
    while start >= 0:
        end = start + len(text)
        if (start == 0 or not _is_word(value[start - 1])) and (
            end == len(value) or not _is_word(value[end])
        ):
            return True
        start = value.find(text, start + 1)
    return False


def _url_host(value: str) -> str:
    found = re.search(_HOST_PATTERN, value)
    return found.group(1) if found else ""


def _eval(node: Node, row: dict[str, object]) -> bool | None:
    """Three-valued: None is SQL's unknown."""
    if isinstance(node, And | Or):
        results = [_eval(item, row) for item in node.items]
        decisive = isinstance(node, Or)  # True decides an Or, False an And
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    if isinstance(node, Not):
        result = _eval(node.item, row)
        return None if result is None else not result
    value = row[node.column]
    if value is None:
        return None
    if isinstance(node, Compare):
        return _COMPARE[node.op](value, _coerce(BY_NAME[node.column], node.literal, ""))
    assert isinstance(value, str)
    if isinstance(node, Substring):
        return _fold(node.text) in _fold(value)
    if isinstance(node, Word):
        return _has_word(_fold(value), _fold(node.text))
    return ("." + _fold(_url_host(value))).endswith("." + _host(node.text, ""))


def evaluate(node: Node, row: dict[str, object]) -> bool:
    """Whether a stored row passes the condition (unknown does not pass)."""
    return _eval(node, row) is True


# --- text ---------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal_text(value: int | bool | str) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int) else _quote(value)


def to_text(node: Node) -> str:
    """Condition text that parses back to the same tree (positions aside)."""
    match node:
        case Compare():
            return f"{node.column}{node.op.value}{_literal_text(node.literal.value)}"
        case Subdomain() | Substring() | Word():
            return f"{node.function}({node.column},{_quote(node.text)})"
        case And() | Or():
            name = type(node).__name__.lower()
            return f"{name}(" + ",".join(to_text(item) for item in node.items) + ")"
        case Not():
            return f"not({to_text(node.item)})"
    raise TypeError(f"unknown condition node {type(node).__name__}")

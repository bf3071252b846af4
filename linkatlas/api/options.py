"""The options of `linkatlas query`, generated from the request parameter table
(`params.PARAMS`): one option per parameter a local request takes, with the table's default
and help text, so `--help`, /docs and the planner cannot drift apart."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ..columns import option_help
from .params import PARAMS, QUERY_TIMEOUT, Param

__all__ = ["COLUMN_LISTS", "TIMEOUT_OPTION", "option_name", "query_options"]

TIMEOUT_OPTION = "--query-timeout"
Run = Callable[[dict[str, list[str]], float], None]


def option_name(param: Param) -> str:
    return "--" + param.name.replace("_", "-")


COLUMN_LISTS = ("select", "where", "having")  # their help names columns: the column table's


def _help(param: Param) -> str:
    """The table's prose for a terminal (no code marks, a full stop); the options that take
    column names list them, as the column table words it (`columns.option_help`)."""
    if param.name in COLUMN_LISTS:
        return option_help(param.name)
    text = param.help.replace("`", "")
    return text + ("" if text.endswith(".") else ".")


def _parameter(param: Param) -> inspect.Parameter:
    name, text = option_name(param), _help(param)
    annotation: Any
    if param.flag:
        annotation = Annotated[bool, typer.Option(name, help=text)]
        default: Any = param.default == param.choices[0]
    elif param.repeat:
        annotation = Annotated[list[str] | None, typer.Option(name, help=text + " Repeatable.")]
        default = None
    else:
        annotation = Annotated[str, typer.Option(name, help=text)]
        default = inspect.Parameter.empty if param.required else (param.default or "")
    return inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


def _timeout() -> inspect.Parameter:
    annotation = Annotated[float, typer.Option(
        TIMEOUT_OPTION, help="Seconds the request may take, the output written included "
                             "(as serve's --query-timeout).")]
    return inspect.Parameter("query_timeout", inspect.Parameter.KEYWORD_ONLY,
                             default=QUERY_TIMEOUT, annotation=annotation)


def _request(options: dict[str, Any]) -> dict[str, list[str]]:
    """The options given, as the parameters of a request (what `parse_params` returns)."""
    params: dict[str, list[str]] = {}
    for param in PARAMS:
        if not param.cli:
            continue
        value = options[param.name]
        if param.flag:
            params[param.name] = [param.choices[0] if value else param.choices[1]]
        elif param.repeat:
            params[param.name] = list(value or [])
        else:
            params[param.name] = [value]
    return params


def query_options(run: Run) -> Callable[..., None]:
    """A typer command taking one option per request parameter (and the deadline) that calls
    `run(parameters, seconds)`; its name and help are those of `run`."""

    def command(**options: Any) -> None:
        run(_request(options), float(options["query_timeout"]))

    command.__name__ = run.__name__
    command.__doc__ = run.__doc__
    parameters = [_parameter(param) for param in PARAMS if param.cli] + [_timeout()]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return command

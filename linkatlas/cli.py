"""Command-line entry points (spec/CLI.md). Parsing and printing only: each command turns
options into plain values and calls one function of its package; a LinkatlasError becomes
one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .api.options import query_options
from .api.params import QUERY_TIMEOUT
from .errors import LinkatlasError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="linkatlas: a self-hosted backlink index that finds broken backlinks.")
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
_state: dict[str, Path] = {}


def data_dir() -> Path:
    return _state["data"]


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except LinkatlasError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        raise typer.Exit(130) from None


def _version(value: bool) -> None:
    if value:
        from . import __version__

        out.print(f"linkatlas {__version__}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def main_options(
    data: Annotated[Path, typer.Option("--data", envvar="LINKATLAS_DATA",
                                       help="Directory that holds archives, checks, snapshots "
                                            "and the ledger.")] = Path("linkatlas-data"),
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    if data.exists() and not data.is_dir():
        err.print(f"error: --data: {data} is not a directory (it holds archives, checks, "
                  "snapshots and the ledger)", markup=False, highlight=False)
        raise typer.Exit(2)
    _state["data"] = data


def _port(value: int, option: str) -> int:
    from .errors import UsageError

    if not 1 <= value <= 65535:
        raise UsageError(f"{option}: {value} is not a TCP port (1–65535)")
    return value


@app.command()
def ingest(files: Annotated[list[Path] | None, typer.Argument(
               help="WARC, ARC or WAT files, plain or gzip.")] = None,
           common_crawl: Annotated[str | None, typer.Option(
               "--common-crawl", help="Download and import this Common Crawl crawl's files, "
                                      "e.g. CC-MAIN-2025-47.")] = None,
           kind: Annotated[str, typer.Option(help="wat or warc (with --common-crawl).")] = "wat",
           first: Annotated[int | None, typer.Option("--files", help="Only the first N "
                                                     "files of the crawl.")] = None,
           sample: Annotated[int | None, typer.Option(help="N files drawn with --seed.")] = None,
           seed: Annotated[int, typer.Option(help="Seed of --sample.")] = 0,
           base_url: Annotated[str, typer.Option("--base-url", help="Common Crawl's "
                                                 "endpoint.")] = "https://data.commoncrawl.org/",
           parallel: Annotated[int, typer.Option(help="Parallel downloads.")] = 2,
           keep: Annotated[int, typer.Option(help="Downloaded files on disk at most, "
                                             "beyond the imported ones.")] = 2,
           ) -> None:
    """Import web archives (e.g. Common Crawl WARC/WAT files) into DIR/archives."""
    from .extract.ingest import ingest as run

    if common_crawl is not None:
        from .commoncrawl.cli import ingest_crawl

        with _errors():
            ingest_crawl(data_dir(), common_crawl, kind, first, sample, seed, base_url,
                         parallel, keep, files or [], err, out)
        return
    with _errors():
        if not files:
            from .errors import UsageError

            raise UsageError("ingest: give archive files, or --common-crawl CRAWL")
        for item in run(data_dir(), files):
            state = "imported" if item.new else "already imported"
            out.print(f"{state}: {item.source} → {item.stored.name}", highlight=False)
        _quick_exit["allowed"] = True


NotifyOption = Annotated[list[str] | None, typer.Option(
    "--notify", help="Apprise URL to send a digest of new and fixed broken backlinks to "
                     "(repeatable; also [notify] urls in DIR/linkatlas.toml).")]


@app.command()
def build(
    engine: Annotated[str, typer.Option(help="duckdb (default) or spark.")] = "duckdb",
    spark_master: Annotated[str | None, typer.Option(
        "--spark-master", help="Spark master URL for --engine spark: local[N], "
                               "spark://host:7077, … (default: local[*]).")] = None,
    workers: Annotated[int, typer.Option(help="Extraction processes (default: every core; "
                                         "on Spark, its executors extract).")] = 0,
    memory_limit: Annotated[str, typer.Option("--memory-limit", help="DuckDB memory limit "
                                              "(sorts and joins spill to DIR/tmp).")] = "512MB",
    notify: NotifyOption = None,
) -> None:
    """Build a new index snapshot from everything in DIR and make it current atomically."""
    from .errors import UsageError
    from .index import build as run
    from .watch.notify import after_build, prepare

    with _errors():
        if engine not in ("duckdb", "spark"):
            raise UsageError(f"--engine: {engine!r} is not an engine; use duckdb or spark")
        if spark_master is not None and engine != "spark":
            raise UsageError("--spark-master: only with --engine spark")
        settings = prepare(data_dir(), notify)
        with _build_progress() as progress:
            report = run(data_dir(), workers=workers or None, memory_limit=memory_limit,
                         spark_master=(spark_master or "local[*]") if engine == "spark" else None,
                         progress=progress)
        _print_report(report.to_json())
        _print_notify(*after_build(data_dir(), report.snapshot, settings))
        _quick_exit["allowed"] = True


def _print_notify(message: Any, delivery: Any) -> None:
    if message is not None:
        out.print(f"digest: {message.new} new, {message.fixed} fixed, {message.ignored} "
                  f"ignored; sent {delivery.sent}, failed {delivery.failed} "
                  f"({delivery.attempts} attempts, see DIR/notify.log)", highlight=False)


def _print_report(report: dict[str, Any]) -> None:
    table = Table(title=f"snapshot {report['snapshot']}", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("archives (parsed now)", f"{report['archives']} ({report['archives_parsed']})")
    for kind, count in sorted(report["records"].items()):
        table.add_row(f"records: {kind}", str(count))
    for name, count in report["counts"].items():
        table.add_row(name.replace("_", " "), str(count))
    for how, count in report.get("dated", {}).items():
        if how != "WARC-Date":  # the usual way; the others say the archive was unusual
            table.add_row(f"records dated by: {how}", str(count))
    for reason, count in sorted(report["skipped"].items()):
        table.add_row(f"skipped: {reason}", str(count))
    for stage, seconds in report["seconds"].items():
        table.add_row(f"time: {stage}", f"{seconds:.2f} s")
    out.print(table)


@app.command()
@query_options  # one option per request parameter (api/params.py), and --query-timeout
def query(params: dict[str, list[str]], seconds: float) -> None:
    """Answer a broken_backlinks request locally: no token, no billing, same result as the API."""
    from . import snapshot
    from .api.planner import parse_request
    from .api.query import answer, open_reader

    with _errors():
        request = parse_request(params)
        body = answer(open_reader(), snapshot.current(data_dir()), request, seconds)
        # CSV ends with its own line break, and a PHP serialization is byte-exact: nothing added.
        _write(body, newline=request.output in ("json", "xml"))


NameserverOption = Annotated[str | None, typer.Option(
    "--nameserver", help="DNS server IP[:PORT] to ask instead of the system's resolver.")]
CanaryOption = Annotated[list[str] | None, typer.Option(
    "--canary", help="A name that must resolve before an NXDOMAIN is believed (repeatable; "
                     "default example.com, example.net, example.org; not used with "
                     "--hosts-only).")]


def _agent_option(user_agent: str | None) -> dict[str, Any]:
    """The `user_agent` option, only when given (the options' default names the project)."""
    return {"user_agent": user_agent} if user_agent else {}


def _resolver_options(nameserver: str | None, canaries: list[str] | None) -> dict[str, Any]:
    from .net import parse_nameserver

    options: dict[str, Any] = {}
    if nameserver is not None:
        options["nameserver"] = parse_nameserver(nameserver)
    if canaries:
        options["canaries"] = tuple(name.strip().lower() for name in canaries if name.strip())
    return options


def _doubt_resolver(works: bool | None) -> None:
    if works is False:
        err.print("warning: the resolver does not answer the canary names: an NXDOMAIN is "
                  "recorded as undecided (error=resolver), not as broken", markup=False,
                  highlight=False)


@app.command()
def diff(
    since: Annotated[str | None, typer.Option("--from", help="Snapshot id (default: the one "
                                              "the --to snapshot replaced).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Snapshot id (default: current).")
                  ] = None,
    output: Annotated[str, typer.Option(help="table, json or csv.")] = "table",
) -> None:
    """New, fixed and lost broken backlinks between two snapshots, grouped by target."""
    from .errors import UsageError
    from .watch import diff as changes

    with _errors():
        if output not in ("table", "json", "csv"):
            raise UsageError(f"--output: {output!r}; expected table, json or csv")
        found = changes.diff(data_dir(), since, to)
        if output == "json":
            _write(iter([changes.render_json(found)]), newline=False)
        elif output == "csv":
            _write(changes.render_csv(found), newline=False)
        else:
            _print_changes(found, changes.table_groups(found))


def _print_changes(found: Any, groups: Iterator[tuple[str, list[tuple[str, ...]]]]) -> None:
    counts = found.counts()
    out.print(Text(f"{found.before} → {found.after}: {counts['new']} new, {counts['fixed']} "
                   f"fixed, {counts['lost']} lost"))
    for heading, rows in groups:
        table = Table(title=Text(heading), title_justify="left")
        for name in ("change", "reason", "referring page", "anchor", "type"):
            table.add_column(name)
        for row in rows:
            table.add_row(*(Text(value) for value in row))
        out.print(table)


@app.command()
def crawl(
    urls: Annotated[list[str] | None, typer.Argument(help="Seed URLs.")] = None,
    seeds_file: Annotated[Path | None, typer.Option("--seeds-file", help="File with one seed "
                                                    "URL per line.")] = None,
    max_pages: Annotated[int | None, typer.Option("--max-pages", help="Stop after this many "
                                                  "fetches.")] = None,
    max_depth: Annotated[int | None, typer.Option("--max-depth", help="Link hops from a seed.")
                         ] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 32,
    per_host: Annotated[int, typer.Option("--per-host", help="Parallel requests to one host.")
                        ] = 2,
    delay: Annotated[float, typer.Option(help="Seconds between requests to one host.")] = 1.0,
    user_agent: Annotated[str | None, typer.Option("--user-agent", help="User-Agent header.")
                          ] = None,
    hosts: Annotated[Path | None, typer.Option(help="Hosts file overriding DNS.")] = None,
    hosts_only: Annotated[bool, typer.Option("--hosts-only", help="Names not in --hosts "
                                             "do not resolve.")] = False,
    allow_private: Annotated[bool, typer.Option("--allow-private", help="Allow private and "
                                                "loopback addresses.")] = False,
    recrawl_after: Annotated[float | None, typer.Option("--recrawl-after", help="Days after "
                                                        "which a page is due again.")] = None,
    nameserver: NameserverOption = None,
    canary: CanaryOption = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress line.")] = False,
    json_log: Annotated[bool, typer.Option("--json", help="Progress as JSON lines on stderr.")
                        ] = False,
) -> None:
    """Fetch pages breadth-first from the seeds into WARC archives under DIR."""
    from .crawl import CrawlOptions, run
    from .errors import UsageError

    with _errors():
        seeds = _seeds(urls, seeds_file)
        if concurrency < 1 or per_host < 1 or delay < 0:
            raise UsageError("--concurrency and --per-host must be at least 1, --delay ≥ 0")
        _check_hosts(hosts, hosts_only)
        options = CrawlOptions(max_pages=max_pages, max_depth=max_depth,
                               concurrency=concurrency, per_host=per_host, delay=delay,
                               hosts=hosts, hosts_only=hosts_only, allow_private=allow_private,
                               recrawl_after=recrawl_after,
                               **_resolver_options(nameserver, canary),
                               **_agent_option(user_agent))
        with _progress(quiet or json_log) as show:
            def report(stats: Any) -> None:
                if json_log:
                    import orjson

                    sys.stderr.write(orjson.dumps({
                        "fetched": stats.fetched, "errors": stats.errors,
                        "queued": stats.queued, "pages_per_s": round(stats.pages_per_s, 1),
                        "hosts_waiting": stats.hosts_waiting}).decode() + "\n")
                show(f"fetched {stats.fetched}  errors {stats.errors}  queued {stats.queued}  "
                     f"{stats.pages_per_s:.0f} pages/s  hosts waiting {stats.hosts_waiting}")

            stats = run(data_dir(), seeds, options, report)
        _doubt_resolver(stats.resolver_works)
        if not quiet:
            _print_crawl(stats)


def _seeds(urls: list[str] | None, seeds_file: Path | None) -> list[str]:
    from .errors import UsageError

    seeds = list(urls or [])
    if seeds_file is not None:
        try:
            seeds += [line.strip() for line in seeds_file.read_text().splitlines()
                      if line.strip() and not line.startswith("#")]
        except OSError as exc:
            raise UsageError(f"--seeds-file: cannot read {seeds_file}: {exc}") from None
    return seeds


@app.command()
def refresh(
    urls: Annotated[list[str] | None, typer.Argument(help="Seed URLs (besides the pages "
                                                           "already known).")] = None,
    seeds_file: Annotated[Path | None, typer.Option("--seeds-file", help="File with one seed "
                                                    "URL per line.")] = None,
    max_pages: Annotated[int | None, typer.Option("--max-pages", help="Stop the crawl after "
                                                  "this many fetches.")] = None,
    max_depth: Annotated[int | None, typer.Option("--max-depth", help="Link hops from a seed.")
                         ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight (crawl default "
                                                    "32, check 64).")] = None,
    per_host: Annotated[int | None, typer.Option("--per-host", help="Parallel requests to one "
                                                 "host (crawl default 2, check 4).")] = None,
    delay: Annotated[float, typer.Option(help="Crawl: seconds between requests to one host.")
                     ] = 1.0,
    user_agent: Annotated[str | None, typer.Option("--user-agent", help="Crawl: User-Agent "
                                                   "header.")] = None,
    hosts: Annotated[Path | None, typer.Option(help="Hosts file overriding DNS.")] = None,
    hosts_only: Annotated[bool, typer.Option("--hosts-only", help="Names not in --hosts "
                                             "do not resolve.")] = False,
    allow_private: Annotated[bool, typer.Option("--allow-private", help="Allow private and "
                                                "loopback addresses.")] = False,
    recrawl_after: Annotated[float, typer.Option("--recrawl-after", help="Days after which a "
                                                 "known page is due again.")] = 7.0,
    recheck_after: Annotated[float, typer.Option("--recheck-after", help="Days after which a "
                                                 "target is observed again.")] = 7.0,
    nameserver: NameserverOption = None,
    canary: CanaryOption = None,
    ignore_robots_for: Annotated[list[str] | None, typer.Option(
        "--ignore-robots-for", help="Check: a host of your own whose robots.txt the checker "
                                    "may ignore (repeatable).")] = None,
    engine: Annotated[str, typer.Option(help="Build engine: duckdb or spark.")] = "duckdb",
    spark_master: Annotated[str | None, typer.Option("--spark-master", help="Spark master URL "
                                                     "for --engine spark.")] = None,
    workers: Annotated[int, typer.Option(help="Extraction processes (default: every core).")
                       ] = 0,
    memory_limit: Annotated[str, typer.Option("--memory-limit", help="DuckDB memory limit.")
                            ] = "512MB",
    notify: NotifyOption = None,
) -> None:
    """Recrawl due pages, check due targets, build, diff, notify: one run for cron or a
    systemd timer (an overlapping run refuses)."""
    from .check.checker import CheckOptions
    from .crawl import CrawlOptions
    from .errors import UsageError
    from .watch.refresh import refresh as run

    with _errors():
        if engine not in ("duckdb", "spark"):
            raise UsageError(f"--engine: {engine!r} is not an engine; use duckdb or spark")
        if (concurrency is not None and concurrency < 1) or (per_host is not None
                                                             and per_host < 1) or delay < 0:
            raise UsageError("--concurrency and --per-host must be at least 1, --delay ≥ 0")
        _check_hosts(hosts, hosts_only)
        net = {"hosts": hosts, "hosts_only": hosts_only, "allow_private": allow_private,
               **_resolver_options(nameserver, canary)}
        crawl_options = CrawlOptions(
            max_pages=max_pages, max_depth=max_depth, concurrency=concurrency or 32,
            per_host=per_host or 2, delay=delay, recrawl_after=recrawl_after, **net,
            **_agent_option(user_agent))
        check_options = CheckOptions(
            concurrency=concurrency or 64, per_host=per_host or 4, **net,
            ignore_robots_for=frozenset(h.strip().lower() for h in ignore_robots_for or ()))
        done = run(data_dir(), _seeds(urls, seeds_file), crawl_options, check_options,
                   recheck_after=recheck_after, notify=notify, workers=workers or None,
                   memory_limit=memory_limit,
                   spark_master=(spark_master or "local[*]") if engine == "spark" else None)
        changes = done.changes
        out.print(f"refresh: crawled {done.crawled.fetched} pages, checked "
                  f"{done.checked.observed} targets, snapshot {done.report['snapshot']}, "
                  + ("first snapshot (baseline)" if changes is None else
                     f"{changes['new']} new, {changes['fixed']} fixed, {changes['lost']} lost"),
                  highlight=False)
        _print_notify(done.digest, done.delivery)


def _print_crawl(stats: Any) -> None:
    table = Table(title="crawl" + (" (frontier empty)" if stats.done else ""))
    table.add_column("what")
    table.add_column("count", justify="right")
    for name in ("fetched", "errors", "queued", "robots_fetched", "robots_blocked",
                 "truncated", "bytes"):
        table.add_row(name.replace("_", " "), str(getattr(stats, name)))
    for code, count in sorted(stats.by_status.items()):
        table.add_row(f"status {code}", str(count))
    for error, count in sorted(stats.by_error.items()):
        table.add_row(f"error {error}", str(count))
    table.add_row("pages/s", f"{stats.pages_per_s:.1f}")
    out.print(table)


@app.command()
def check(
    urls: Annotated[list[str] | None, typer.Argument(
        help="Re-check just these link targets now and publish a patched snapshot.")] = None,
    recheck_after: Annotated[float, typer.Option("--recheck-after", help="Days after which a "
                                                 "target is observed again.")] = 7.0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 64,
    per_host: Annotated[int, typer.Option("--per-host", help="Requests in flight per host.")
                        ] = 4,
    hosts: Annotated[Path | None, typer.Option(help="Hosts file overriding DNS.")] = None,
    hosts_only: Annotated[bool, typer.Option("--hosts-only", help="Names not in --hosts "
                                             "do not resolve.")] = False,
    allow_private: Annotated[bool, typer.Option("--allow-private", help="Allow private and "
                                                "loopback addresses.")] = False,
    nameserver: NameserverOption = None,
    canary: CanaryOption = None,
    ignore_robots_for: Annotated[list[str] | None, typer.Option(
        "--ignore-robots-for", help="A host of your own whose robots.txt the checker may "
                                    "ignore (repeatable).")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress line.")] = False,
) -> None:
    """Observe the status of every link target not observed within --recheck-after days;
    with URLs, re-check just those now and publish a patched snapshot."""
    from dataclasses import replace

    from .check.checker import CheckOptions, run
    from .errors import UsageError
    from .index.due import due_targets
    from .index.recheck import recheck

    with _errors():
        if concurrency < 1 or per_host < 1:
            raise UsageError("--concurrency and --per-host must be at least 1")
        _check_hosts(hosts, hosts_only)
        options = CheckOptions(
            concurrency=concurrency, per_host=per_host, hosts=hosts, hosts_only=hosts_only,
            allow_private=allow_private, **_resolver_options(nameserver, canary),
            ignore_robots_for=frozenset(h.strip().lower() for h in ignore_robots_for or ()))
        if urls:
            _print_recheck(recheck(data_dir(), urls, replace(options, confirm_delay=0.5)))
            return
        due = due_targets(data_dir(), recheck_after)
        warned: list[bool] = []

        def progress(s: Any) -> None:
            if s.resolver_works is False and not warned:
                warned.append(True)
                _doubt_resolver(False)
            show(f"checked {s.observed}/{s.queued}  {s.urls_per_second:.0f} URLs/s  "
                 f"broken {s.verdicts.get('broken', 0)}")

        with _progress(quiet) as show:
            stats = run(data_dir(), due.urls, options, progress, previous=due.previous,
                        fresh=due.fresh)
        if not warned:
            _doubt_resolver(stats.resolver_works)
        notes = [f"{len(due.fresh)} fresh targets skipped"]
        if stats.errors.get("robots"):
            notes.append(f"{stats.errors['robots']} disallowed by robots.txt")
        if stats.errors.get("resolver"):
            notes.append(f"{stats.errors['resolver']} NXDOMAIN not believed (resolver)")
        table = Table(title=f"check: {stats.observed} observations, {', '.join(notes)}")
        for name in ("verdict", "http_code", "error", "count"):
            table.add_column(name)
        for (verdict, code, error), count in sorted(stats.table.items()):
            table.add_row(verdict, str(code), error, str(count))
        out.print(table)


def _print_recheck(done: Any) -> None:
    table = Table(title=f"re-check: snapshot {done.snapshot or done.before}"
                        + ("" if done.snapshot else " (unchanged)"))
    for name in ("url", "state", "http_code", "error", "broken_at"):
        table.add_column(name)
    for target in done.targets:
        state = "broken" if target["broken"] else "good" if target["broken"] is False else "?"
        if target["changed"]:
            state = f"{state} ({'broken now' if target['broken'] else 'fixed'})"
        table.add_row(Text(target["url"]), state, str(target["http_code"] or ""),
                      target["error"] or "", str(target["broken_at"] or ""))
    out.print(table)
    out.print(f"{done.seconds:.2f} s", highlight=False)


def _check_hosts(hosts: Path | None, hosts_only: bool) -> None:
    from .errors import UsageError
    from .net import read_hosts

    if hosts_only and hosts is None:
        raise UsageError("--hosts-only needs --hosts FILE")
    if hosts is not None:
        read_hosts(hosts)  # a bad file is named before any work starts


@contextmanager
def _build_progress() -> Iterator[Callable[[str, int, int, int], None] | None]:
    """A rich progress bar for `build` on a terminal (archives extracted, pages/s, then the
    stage running); None when stderr is not a terminal."""
    if not err.is_terminal:
        yield None
        return
    import time

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.monotonic()
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task("extract", total=None, rate="")

        def show(stage: str, done: int, total: int, pages: int) -> None:
            if stage == "extract":
                rate = pages / max(time.monotonic() - started, 1e-3)
                bar.update(task, description="extract archives", completed=min(done, total),
                           total=total, rate=f"{pages:,} pages, {rate:,.0f} pages/s")
            else:
                bar.update(task, description=f"stage: {stage}")
        yield show


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None]]:
    """A live status line on a terminal; nothing when quiet or not a terminal."""
    if quiet or not err.is_terminal:
        yield lambda text: None
        return
    with err.status("") as status:
        yield lambda text: status.update(text)


LedgerOption = Annotated[str | None, typer.Option(
    "--ledger", envvar="LINKATLAS_LEDGER",
    help="sqlite:///PATH (default DIR/ledger.sqlite) or postgresql://…")]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
    ledger: LedgerOption = None,
    query_timeout: Annotated[float, typer.Option("--query-timeout", help="Seconds before a "
                                                 "query is cancelled.")] = QUERY_TIMEOUT,
    hosts: Annotated[Path | None, typer.Option(help="Hosts file for POST /recheck.")] = None,
    hosts_only: Annotated[bool, typer.Option("--hosts-only", help="POST /recheck: names not "
                                             "in --hosts do not resolve.")] = False,
    allow_private: Annotated[bool, typer.Option("--allow-private", help="POST /recheck: allow "
                                                "private and loopback addresses.")] = False,
) -> None:
    """Serve the API and web pages from the current snapshot (new snapshots without restart)."""
    from .api.app import Settings
    from .server import serve as run

    with _errors():
        _port(port, "--port")
        _check_hosts(hosts, hosts_only)
        run(Settings(data_dir(), ledger, query_timeout, hosts, hosts_only, allow_private),
            host, port, workers,
            lambda url: err.print(f"linkatlas API on {url} (docs: {url}docs)", highlight=False))


ratings_app = typer.Typer(help="Import Common Crawl's domain ranks for Domain Rating and rank.",
                          no_args_is_help=True)
app.add_typer(ratings_app, name="ratings")


@ratings_app.command("import")
def ratings_import(source: Annotated[str, typer.Argument(
        help="A …-domain-ranks.txt.gz of a Common Crawl web graph release: a file or an "
             "http(s) URL.")]) -> None:
    """Import domain ranks; later builds take DR and rank from them (docs/ratings.md)."""
    from .ranks import import_ranks

    with _errors(), _progress(False) as say:
        done = import_ranks(data_dir(), source, lambda n: say(f"{n:,} lines read"))
        out.print(f"imported {done.domains:,} domains from {done.lines:,} lines "
                  f"({done.skipped:,} skipped) in {done.seconds:.1f} s → {done.path}",
                  highlight=False)


@ratings_app.command("remove")
def ratings_remove() -> None:
    """Forget imported ranks: builds rate every domain from the local link graph again."""
    from .ranks import remove

    with _errors():
        out.print("removed the imported ranks" if remove(data_dir()) else
                  "no imported ranks", highlight=False)


ignore_app = typer.Typer(help="Silence dead URLs, URL prefixes (ending in *) or referring "
                                "domains in digests.", no_args_is_help=True)
app.add_typer(ignore_app, name="ignore")


@ignore_app.command("add")
def ignore_add(pattern: Annotated[str, typer.Argument(help="URL, URL prefix ending in *, or "
                                                      "referring domain.")]) -> None:
    """Add a pattern to the ignore list (DIR/ignore.txt)."""
    from .watch import ignore

    with _errors():
        found = ignore.add(data_dir(), pattern)
        out.print(Text(f"ignoring {found.kind} {found.text}"))


@ignore_app.command("remove")
def ignore_remove(pattern: str) -> None:
    """Remove a pattern from the ignore list."""
    from .errors import UsageError
    from .watch import ignore

    with _errors():
        if not ignore.remove(data_dir(), pattern):
            raise UsageError(f"ignore remove: {pattern!r} is not in the ignore list")
        out.print(Text(f"removed {pattern}"))


@ignore_app.command("list")
def ignore_list() -> None:
    """The ignore list, one pattern per line."""
    from .watch import ignore

    with _errors():
        for found in ignore.load(data_dir()).patterns:
            out.print(Text(f"{found.kind}\t{found.text}"))


tokens_app = typer.Typer(help="Create, list, top up and revoke API tokens.",
                         no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


@contextmanager
def _ledger(url: str | None) -> Iterator[Any]:
    from .api.ledger import open_ledger

    with _errors():
        ledger = open_ledger(url, data_dir())
        try:
            yield ledger
        finally:
            ledger.close()


@tokens_app.command("create")
def tokens_create(name: Annotated[str, typer.Argument(help="Who the token is for.")],
                  rows: Annotated[int, typer.Option(help="Row budget.")],
                  ledger: LedgerOption = None) -> None:
    """Create a token; prints the token alone on stdout (it is stored only as a hash)."""
    with _ledger(ledger) as book:
        print(book.create(name, rows))


@tokens_app.command("list")
def tokens_list(ledger: LedgerOption = None) -> None:
    """List tokens (by hint: the first 8 hex digits of the token's hash)."""
    with _ledger(ledger) as book:
        table = Table()
        for name in ("hint", "name", "rows_left", "rows_limit", "state", "created"):
            table.add_column(name)
        for info in book.list():
            table.add_row(info.hint, info.name, str(info.rows_left), str(info.rows_limit),
                          "revoked" if info.revoked else "active", info.created)
        out.print(table)


@tokens_app.command("topup")
def tokens_topup(token: str, rows: Annotated[int, typer.Option(help="Rows to add.")],
                 ledger: LedgerOption = None) -> None:
    """Add rows to a token's budget."""
    with _ledger(ledger) as book:
        info = book.topup(token, rows)
        out.print(f"{info.name}: {info.rows_left} of {info.rows_limit} rows left",
                  highlight=False)


@tokens_app.command("revoke")
def tokens_revoke(token: Annotated[str, typer.Argument(help="The token, or its 8-digit hint "
                                                       "from `tokens list`.")],
                  ledger: LedgerOption = None) -> None:
    """Revoke a token: every later request with it answers `invalid token`."""
    with _ledger(ledger) as book:
        if len(token) == 8:
            out.print(f"revoked {book.revoke_hint(token).name}", highlight=False)
        else:
            book.revoke(token)
            out.print("revoked")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the API.")] = 8080,
    sample_port: Annotated[int | None, typer.Option("--sample-port", help="Port of the sample "
                                                    "web (default: port + 1).")] = None,
    pages: Annotated[int, typer.Option(help="Pages of the sample web.")] = 300,
) -> None:
    """The whole job on a bundled sample web: crawl, check, build, serve; prints examples."""
    from .demo import run

    with _errors():
        _port(port, "--port")
        sample = _port(sample_port if sample_port is not None else port + 1, "--sample-port")
        run(data_dir(), port, sample,
            lambda text: out.print(text, highlight=False, markup=False), pages=pages)


def _write(chunks: Iterator[bytes], newline: bool) -> None:
    """The API's bytes, and a newline after them for a terminal when asked; on a terminal,
    control characters from pages' text are shown escaped, never sent raw."""
    from .api.formats import terminal_safe

    stream = sys.stdout.buffer
    tty = sys.stdout.isatty()
    for chunk in chunks:
        stream.write(terminal_safe(chunk) if tty else chunk)
    if newline:
        stream.write(b"\n")
    stream.flush()


def main(argv: list[str] | None = None) -> None:
    """Entry point; `argv` lets tests call the CLI in-process."""
    command: Callable[..., Any] = typer.main.get_command(app)
    try:
        command(args=argv, prog_name="linkatlas", standalone_mode=True)
    except OSError as exc:  # a full disk, a closed pipe: no traceback for those either
        _output_failed(exc)
    except sqlite3.Error as exc:  # the crawl frontier or check log on a full or failing disk
        err.print(f"error: {str(exc).splitlines()[0]} (is the disk of --data full?)",
                  markup=False, highlight=False)
        raise SystemExit(1) from None


def _output_failed(exc: OSError) -> NoReturn:
    """A closed pipe (`linkatlas query … | head`) ends quietly; a full disk says so."""
    with suppress(OSError, ValueError):  # later flushes of what is left must not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if not isinstance(exc, BrokenPipeError):
        where = exc.filename or "cannot write the output"
        err.print(f"error: {where}: {exc.strerror or exc}", markup=False, highlight=False)
    raise SystemExit(1)


# Set by commands that leave nothing open (no server, no children, no temp files) when they
# succeed: the console script then skips the interpreter's teardown of NumPy, SciPy, DuckDB
# and Arrow, ≈0.1 s of every `ingest` and `build`.
_quick_exit = {"allowed": False}


def console() -> None:
    """The `linkatlas` console script: main(), then a quick exit where a command allows it."""
    try:
        main()
    except SystemExit as exc:
        if exc.code not in (0, None) or not _quick_exit["allowed"]:
            raise
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError as exc:
        _output_failed(exc)
    os._exit(0)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

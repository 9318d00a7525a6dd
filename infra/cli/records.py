"""`npq-events records`: recent events of a stack's table, with the cost known before it runs."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import datetime

from google.api_core import exceptions as api_exceptions
from rich.table import Table

from infra.bigquery import bytesize, records
from infra.bigquery.client import DEFAULT_DEADLINES, make_client
from infra.bigquery.window import DEFAULT_SINCE, NOW, When, Window, parse_when, show, utc_now
from infra.cli import options
from infra.cli.output import console, emit_json, shown
from infra.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    InvalidValue,
    UserError,
    explain,
    one_line,
)
from infra.model import schema
from infra.model.declared import Declaration, declare
from infra.model.stackfiles import settings_for

DEFAULT_MAX_BYTES = "1GB"
# Exit status when the dry run says the query would process more than --max-bytes.
EXIT_TOO_COSTLY = EXIT_FINDINGS
FORMATS = ("table", "json", "ndjson")
# Shown as the "subject" of an event in the table, before its details.
_DETAILS = (
    schema.DATA,
    schema.HIDDEN_DATA,
    schema.REQUEST_QUERY,
    schema.EVENT_TAGS,
    schema.USER_ID,
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "List the newest events of a stack's events table in a time window. The "
        "query reads only the window's day partitions and the columns shown; a dry run gives "
        "the bytes it will process before it runs, and it is refused above --max-bytes."
    )
    options.add_stack(parser, "stack name, e.g. staging")
    parser.add_argument(
        "--since",
        type=options.typed("--since", parse_when),
        default=DEFAULT_SINCE,
        help=f"start of the window: 30m, 24h, 7d, 2w, YYYY-MM-DD or a UTC time "
        f"(default {DEFAULT_SINCE})",
    )
    parser.add_argument(
        "--until",
        type=options.typed("--until", parse_when),
        default=NOW,
        help="end of the window (exclusive), same forms; a date includes that whole day "
        "(default now)",
    )
    parser.add_argument(
        "--event-type",
        dest="event_types",
        action="extend",
        nargs="+",
        metavar="TYPE",
        help="only these event types (repeatable)",
    )
    parser.add_argument("--entity-table", help="only events of this entity table")
    parser.add_argument("--namespace", help="only events of this namespace")
    parser.add_argument(
        "--limit",
        type=options.typed("--limit", options.whole_number(1, records.MAX_LIMIT)),
        default=str(records.DEFAULT_LIMIT),
        help=f"at most this many events, newest first (default {records.DEFAULT_LIMIT})",
    )
    options.add_format(parser, FORMATS)
    parser.add_argument(
        "--max-bytes",
        type=options.typed("--max-bytes", bytesize.parse_bytes),
        default=DEFAULT_MAX_BYTES,
        help=f"refuse a query that would process more (default {DEFAULT_MAX_BYTES})",
    )
    parser.add_argument(
        "--show-hidden",
        action="store_true",
        help="read and show hidden_DATA values (personal data); masked otherwise",
    )
    options.add_endpoint(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    window = _window(args.since, args.until, utc_now())
    limit, max_bytes = args.limit, args.max_bytes
    declaration = declare(settings_for(args.stack, args.project_dir))
    project = declaration.dataset.project
    endpoint, credentials_env = options.endpoint(args, args.stack)
    client = make_client(project, endpoint, env=credentials_env)
    filters = records.Filters(
        window=window,
        event_types=tuple(args.event_types or ()),
        entity_table=args.entity_table,
        namespace=args.namespace,
        limit=limit,
        show_hidden=args.show_hidden,
    )
    query = records.build_query(declaration.table, filters)
    location = declaration.dataset.location
    where = endpoint or "BigQuery"
    with _api_errors(declaration, where, args.stack, max_bytes):
        processed = records.dry_run(client, query, location, DEFAULT_DEADLINES)
    machine = args.format != "table"
    _say_cost(declaration, window, processed, max_bytes, to_stderr=machine)
    if processed > max_bytes:
        raise UserError(_refusal(declaration, processed, max_bytes), EXIT_TOO_COSTLY)
    with _api_errors(declaration, where, args.stack, max_bytes):
        events = records.run(client, query, max_bytes, location, DEFAULT_DEADLINES)
    if args.format == "json":
        emit_json(
            {
                "stack": args.stack,
                "table": declaration.table.ref,
                "since": records.iso(window.since),
                "until": records.iso(window.until),
                "bytes_processed": processed,
                "limit": limit,
                "events": events,
            }
        )
    elif args.format == "ndjson":
        for event in events:
            sys.stdout.write(json.dumps(event) + "\n")
    else:
        _print_table(events, limit)
    return EXIT_OK


def _window(since: When, until: When, now: datetime) -> Window:
    """The window --since and --until name, both read at the same `now`."""
    start = _at("--since", since, now)
    stop = _at("--until", until, now, end=True)
    if start >= stop:
        raise UserError(
            f"--since {since.text!r} ({show(start)}) is not before --until {until.text!r} "
            f"({show(stop)}): give a window that starts before it ends"
        )
    return Window(since=start, until=stop)


def _at(flag: str, when: When, now: datetime, end: bool = False) -> datetime:
    try:
        return when.at(now, end=end)
    except InvalidValue as exc:
        raise UserError(f"{flag} {when.text!r} {exc}") from None


def _say_cost(
    declaration: Declaration, window: Window, processed: int, max_bytes: int, to_stderr: bool
) -> None:
    line = (
        f"{declaration.table.ref}, {window.describe()}: {bytesize.human(processed)} to process "
        f"(--max-bytes {bytesize.human(max_bytes)})"
    )
    console(stderr=to_stderr).print(shown(line), style="dim")


def _refusal(declaration: Declaration, processed: int, max_bytes: int) -> str:
    return (
        f"refused: the query would process {bytesize.human(processed)} of "
        f"{declaration.table.ref}, above --max-bytes {bytesize.human(max_bytes)}; narrow the "
        "window with --since/--until, or raise --max-bytes"
    )


@contextlib.contextmanager
def _api_errors(declaration: Declaration, where: str, stack: str, max_bytes: int) -> Iterator:
    """BigQuery's answers and the network's failures as one line each (exit 2; 1 for the byte
    ceiling), the cause in infra.errors.explain's words."""
    table = declaration.table.ref
    try:
        yield
    except api_exceptions.NotFound:
        raise UserError(
            f"{table} was not found at {where}: is the {stack} stack deployed "
            f"(for a local emulator: npq-events local up --stack {stack})?",
            EXIT_USAGE,
        ) from None
    except api_exceptions.GoogleAPICallError as exc:
        reasons = {str(error.get("reason")) for error in exc.errors or () if error}
        if "bytesBilledLimitExceeded" in reasons:
            raise UserError(
                f"refused by BigQuery: the query would bill more than --max-bytes "
                f"{bytesize.human(max_bytes)}; narrow the window with --since/--until, or "
                "raise --max-bytes",
                EXIT_TOO_COSTLY,
            ) from None
        raise UserError(f"reading {table} at {where}: {explain(exc).message}") from None
    except Exception as exc:
        failure = explain(exc, retry_seconds=DEFAULT_DEADLINES.retry_seconds)
        if not failure.internal:
            raise UserError(f"reading {table} at {where}: {failure.message}") from None
        if isinstance(exc, KeyError | TypeError | ValueError | AttributeError):
            # An endpoint answering 200 with something that is not a job or not rows.
            raise UserError(
                f"reading {table} at {where}: the answer is not in BigQuery's shape "
                f"({type(exc).__name__}: {one_line(exc)})"
            ) from None
        raise


def _subject(event: dict) -> str:
    if event.get(schema.ENTITY_TABLE_NAME):
        return str(event[schema.ENTITY_TABLE_NAME])
    if event.get(schema.REQUEST_PATH):
        parts = (event.get(schema.REQUEST_METHOD), event[schema.REQUEST_PATH])
        status = event.get(schema.RESPONSE_STATUS)
        return " ".join(str(p) for p in parts if p) + (f" -> {status}" if status else "")
    return ""


def _short_time(iso: str) -> str:
    """`2026-11-27T10:00:00.123456Z` as `2026-11-27 10:00:00`, for a narrow column."""
    return iso.replace("T", " ")[:19]


def _details(event: dict) -> list[str]:
    lines = []
    for name in _DETAILS:
        value = event.get(name)
        if not value:
            continue
        if name in schema.KEY_VALUE_COLUMNS:
            value = records.render_key_values(value)
        elif isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        lines.append(f"{name}: {value}")
    return lines


def _print_table(events: list[dict], limit: int) -> None:
    out = console()
    if not events:
        out.print("No events in the window.")
        return
    if not out.is_terminal:
        for event in events:
            fields = [
                str(event[schema.OCCURRED_AT]),
                str(event[schema.EVENT_TYPE]),
                _subject(event),
                *_details(event),
            ]
            out.print(shown("  ".join(field for field in fields if field)))
    else:
        table = Table(show_lines=True, header_style="bold", expand=True)
        table.add_column(f"{schema.OCCURRED_AT} (UTC)", style="cyan", no_wrap=True)
        table.add_column(schema.EVENT_TYPE, style="bold", no_wrap=True)
        table.add_column("subject", overflow="fold", max_width=36)
        table.add_column("details", overflow="fold", ratio=1)
        for event in events:
            table.add_row(
                shown(_short_time(str(event[schema.OCCURRED_AT]))),
                shown(str(event[schema.EVENT_TYPE])),
                shown(_subject(event)),
                shown("\n".join(_details(event))),
            )
        out.print(table)
    more = " (the limit: --limit for more)" if len(events) == limit else ""
    noun = "event" if len(events) == 1 else "events"
    out.print(f"{len(events)} {noun}, newest first{more}")

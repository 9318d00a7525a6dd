"""`npq-events local up|down|status`: a local BigQuery with a stack's table and sample events."""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from infra.bigquery import emulator, local
from infra.cli import options
from infra.cli.output import console, emit_json, shown
from infra.errors import EXIT_FINDINGS, EXIT_OK, UserError


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "A BigQuery emulator on loopback, with the dataset and table a stack "
        "declares and a sample of DfE Analytics events: try verify and records with no GCP "
        f"account. State and data live in ${local.STATE_DIR_ENV}/local/ (default "
        ".npq-events/local/ in the repository)."
    )
    actions = parser.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    start = actions.add_parser(
        "up",
        help="start it (or say it runs) and load a stack",
        description="Start the emulator on 127.0.0.1, create the stack's declared dataset and "
        "table in it and load sample events spread over the last days. Running it again is "
        "harmless; with another --stack it loads that stack too.",
    )
    options.add_stack(
        start,
        f"stack whose declaration to create (default {local.DEFAULT_STACK})",
        required=False,
        default=local.DEFAULT_STACK,
    )
    start.add_argument(
        "--port",
        type=options.typed("--port", options.whole_number(1, 65535)),
        help=f"loopback port for its REST API (default {emulator.DEFAULT_PORT})",
    )
    start.set_defaults(run=run_up)
    stop = actions.add_parser("down", help="stop it and delete its data")
    stop.set_defaults(run=run_down)
    show = actions.add_parser("status", help="say whether it runs (exit 0) or not (exit 1)")
    options.add_format(show, ("text", "json"))
    show.set_defaults(run=run_status)


def run_up(args: argparse.Namespace) -> int:
    out = console()
    port = args.port or emulator.DEFAULT_PORT
    try:
        result = local.up(
            args.stack, port, step=lambda message: _step(out, message), project_dir=args.project_dir
        )
    except emulator.EmulatorError as exc:
        hint = "; choose another with --port" if exc.port_taken and args.port is None else ""
        raise UserError(f"{exc}{hint}") from None
    state = result.state
    where = f"{shown(state.endpoint)} (pid {state.pid})"
    stack = shown(args.stack)
    if result.loaded is None and not result.started:
        out.print(f"Local BigQuery already runs at {where} with {stack} loaded; nothing to do.")
    elif result.loaded is None:
        held = shown(", ".join(state.stacks))
        out.print(f"[bold]Local BigQuery started[/bold] at {where}, ready in {result.seconds:.1f}s")
        out.print(f"  holding {held}, kept on disk from its last run")
    else:
        loaded = result.loaded
        verb = "started" if result.started else "already ran"
        out.print(f"[bold]Local BigQuery {verb}[/bold] at {where}, ready in {result.seconds:.1f}s")
        table = shown(loaded.table_ref)
        if loaded.kept:
            out.print(
                f"  {table}: kept the {loaded.events} events already there "
                f"(newest {loaded.newest}); for a fresh sample: npq-events local down, then up"
            )
        else:
            out.print(f"  {table}: {loaded.events} sample events up to {loaded.newest}")
    if not result.started and args.port is not None and state.port != args.port:
        out.print(
            f"  (--port {args.port} ignored: it runs on port {state.port}; "
            "npq-events local down first to move it)"
        )
    out.print(f"  state: {shown(_relative(local.paths().state_file))}")
    out.print("Try:")
    out.print(f"  npq-events verify --stack {stack} --local")
    out.print(f"  npq-events records --stack {stack} --local --since 2d")
    out.print("  npq-events local down")
    return EXIT_OK


def run_down(args: argparse.Namespace) -> int:
    out = console()
    result = local.down()
    if result.was_running:
        pids = ", ".join(str(pid) for pid in result.stopped)
        out.print(f"Stopped local BigQuery (pid {pids}) and deleted its data.")
    elif result.state is not None:
        out.print("Local BigQuery was not running; cleared its state and data.")
    elif result.unreadable:
        out.print("No local BigQuery runs; cleared its unreadable state file and its data.")
    else:
        out.print("No local BigQuery runs; nothing to stop.")
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    state, running = local.status()
    if args.format == "json":
        emit_json({"running": running, "state": state.as_json() if state else None})
        return EXIT_OK if running else EXIT_FINDINGS
    out = console()
    if running:
        out.print(
            shown(
                f"Local BigQuery runs at {state.endpoint} (pid {state.pid}, since "
                f"{state.started_at}), holding: {', '.join(state.stacks) or 'no stack yet'}"
            )
        )
        out.print(shown(f"  data: {state.data_dir}\n  log:  {state.log}"))
        return EXIT_OK
    if state is not None:
        out.print(
            shown(
                f"Local BigQuery is not running (the one started at {state.started_at} has "
                "stopped); npq-events local up starts it again on its data."
            )
        )
    else:
        out.print("No local BigQuery runs; start one with: npq-events local up")
    return EXIT_FINDINGS


def _relative(path: Path) -> Path:
    """A path relative to the working directory when it lies below it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


@contextlib.contextmanager
def _step(out: Console, message: str) -> Iterator[None]:
    """Show a step: a spinner, then a tick, on a terminal; one plain line on a pipe."""
    began = time.monotonic()
    if not out.is_terminal:
        out.print(f"{shown(message)} ...")
        yield
        return
    with out.status(f"{shown(message)} ..."):
        yield
    out.print(f"[green]✓[/green] {shown(message)} [dim]({time.monotonic() - began:.1f}s)[/dim]")

"""`npq-events verify`: prove each stack's live dataset and table equal its declaration."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from datetime import timedelta

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from infra.bigquery.client import DEFAULT_DEADLINES
from infra.bigquery.live import Target, check_all, load_target
from infra.bigquery.window import utc_now
from infra.cli import options, verify_report
from infra.cli.output import PROG, console, emit_json, error_line, warning_line
from infra.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, InvalidValue, UserError, printable
from infra.model import times
from infra.model.events import ENTITY_TABLE_CHECK
from infra.model.stackfiles import committed_stacks
from infra.rules.freshness import Limits
from infra.rules.verify import DRIFT, ERROR, StackResult

FORMATS = ("text", "json", "markdown")
NO_LIMIT = "none"  # --max-staleness none: lift the stack's limit for this run
_UNSET = object()
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Read each stack's dataset and events table from BigQuery and compare "
        "them with what Pulumi.<stack>.yaml and infra/model/schema.py declare. Exit 0: every "
        "stack matches; 1: drift, or events older than a freshness limit; 2: a stack could not "
        "be checked. Each stack's result also says when its newest event, and its newest "
        f"{ENTITY_TABLE_CHECK}, occurred (docs/freshness.md). With --before-up, drift that "
        "pulumi up would resolve in place (or by creating what is missing) exits 0: only a "
        "dropped column, a replaced table or an expiry exits 1."
    )
    which = parser.add_mutually_exclusive_group(required=True)
    options.add_stack(
        which, "stack to check (repeatable), e.g. staging or review-pr-42", repeatable=True
    )
    which.add_argument("--all", action="store_true", help="every committed Pulumi.<stack>.yaml")
    options.add_format(parser, FORMATS)
    options.add_endpoint(parser)
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="the --api-endpoint is a BigQuery emulator, which keeps no CMEK settings: a KMS "
        "key it does not report is a note, not drift (implied by --local); a dataset that "
        "reports a key still holds its table to one",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="a different description is drift (in place), not a note",
    )
    parser.add_argument(
        "--before-up",
        action="store_true",
        help="the check a deploy runs before `pulumi up`: exit 1 only when live differs from "
        "the code in a way that loses stored events (drop_column, replace, expires); a pending "
        "in-place change is what the up is for; the stacks' freshness limits are not in force "
        "(the up may be what lets events arrive again), the flags' are",
    )
    parser.add_argument(
        "--max-staleness",
        type=options.typed("--max-staleness", limit_or_none),
        default=_UNSET,
        metavar="DURATION",
        help="fail (exit 1) when a stack's newest event is older than this, or its table holds "
        f"none: {times.EXAMPLES}, as for `records --since`; `{NO_LIMIT}`: no limit, the age is "
        "reported only (default: the stack's maxStaleness)",
    )
    parser.add_argument(
        "--max-check-staleness",
        type=options.typed("--max-check-staleness", limit_or_none),
        default=_UNSET,
        metavar="DURATION",
        help=f"the same for the newest {ENTITY_TABLE_CHECK} event, which the app streams every "
        f"night, or `{NO_LIMIT}` (default: the stack's maxCheckStaleness)",
    )
    parser.add_argument(
        "--adopt",
        action="store_true",
        help="adoption mode: every difference that would block or follow an import is drift "
        "(implied for a stack whose file sets adopt: true)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    events_limit, checks_limit = args.max_staleness, args.max_check_staleness
    stacks = committed_stacks(args.project_dir) if args.all else list(dict.fromkeys(args.stack))
    if not stacks:
        raise UserError(
            f"--all: no Pulumi.<stack>.yaml in {args.project_dir}: nothing to verify", EXIT_USAGE
        )
    if args.emulator and not args.api_endpoint:
        raise UserError("--emulator describes the --api-endpoint: give --api-endpoint URL too")
    endpoint, credentials_env = options.endpoint(args, *stacks)
    targets = [
        _with_limits(load_target(stack, args.project_dir), events_limit, checks_limit, args)
        for stack in stacks
    ]
    results = _check_with_progress(targets, endpoint, credentials_env, args)
    _write(results, args.format)
    for result in results:
        if result.status == ERROR:
            error_line(f"stack {result.stack}: {result.error}")
        for line in verify_report.quiet_lines(result):
            print(f"{PROG}: {printable(line)}", file=sys.stderr)
    return exit_status(results, before_up=args.before_up)


def limit_or_none(text: str) -> timedelta | None:
    """A freshness limit, or None for `none`: the stack's limit lifted for this run."""
    if text.strip().lower() == NO_LIMIT:
        return None
    try:
        return times.parse_limit(text)
    except InvalidValue:
        raise InvalidValue(
            f"is not accepted: give {times.ACCEPTED}, longer than zero, or {NO_LIMIT}"
        ) from None


def _with_limits(
    target: Target, events: object, checks: object, args: argparse.Namespace
) -> Target:
    """The target with the limits in force: each flag's, else (not --before-up) the stack's."""
    settings = None if target.declaration is None else target.declaration.settings
    stack_events = None if settings is None or args.before_up else settings.max_staleness
    stack_checks = None if settings is None or args.before_up else settings.max_check_staleness
    limits = Limits(
        events=stack_events if events is _UNSET else events,
        checks=stack_checks if checks is _UNSET else checks,
    )
    return replace(target, limits=limits)


def exit_status(results: list[StackResult], before_up: bool = False) -> int:
    """2 when a stack could not be checked, else 1 when any drifts or is quiet, else 0.

    Quiet: a figure over a freshness limit in force (stale, or no event at all).
    `before_up`: only drift whose effect loses stored events counts (drop_column, expires,
    delete, replace); in-place drift and missing resources are what the up is about to apply.
    """
    if any(r.status == ERROR for r in results):
        return EXIT_USAGE
    drifting = [r for r in results if r.status == DRIFT]
    if before_up:
        drifting = [r for r in drifting if r.effect.destructive]
    quiet = [r for r in results if r.freshness is not None and r.freshness.failing]
    return EXIT_FINDINGS if drifting or quiet else EXIT_OK


def _check_with_progress(targets, endpoint, credentials_env, args) -> list[StackResult]:
    err = console(stderr=True)
    options = {
        "api_endpoint": endpoint,
        "env": credentials_env,
        "deadlines": DEFAULT_DEADLINES,
        "strict": args.strict,
        "adopt": args.adopt,
        "emulator": args.local or args.emulator,
        "now": utc_now(),
    }
    if not (args.all and err.is_terminal):
        return check_all(targets, **options)
    with Progress(
        TextColumn("checking stacks"), BarColumn(), MofNCompleteColumn(), console=err
    ) as progress:
        task = progress.add_task("verify", total=len(targets))
        return check_all(targets, on_done=lambda _result: progress.advance(task), **options)


def _write(results: list[StackResult], fmt: str) -> None:
    if fmt == "json":
        emit_json(verify_report.as_json(results))
        return
    if fmt == "markdown":
        text = verify_report.markdown(results)
        sys.stdout.write(text)
        summary = os.environ.get(STEP_SUMMARY_ENV)
        if summary:
            try:
                with open(summary, "a", encoding="utf-8") as handle:
                    handle.write(text)
            except OSError as exc:
                # The summary is a copy for people: its loss must not turn a result into exit 2.
                warning_line(
                    f"cannot append to ${STEP_SUMMARY_ENV} ({summary}): {exc.strerror or exc}; "
                    "the summary is on stdout only"
                )
        return
    out = console()
    if out.is_terminal:
        verify_report.write_rich(results, out)
    else:
        verify_report.write_plain(results, out)

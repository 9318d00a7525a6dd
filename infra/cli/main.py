"""`npq-events`: the command line. Each subcommand lives in its own module beside this one.

`main` is the one guard around every command: whatever goes wrong ends as one line on stderr
and a documented exit status (infra.errors.explain); an exception the code does not know is an
internal error (exit 2), with its traceback only when NPQ_EVENTS_DEBUG=1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from infra.cli import options
from infra.cli.output import error_line, quiet_when_closed
from infra.errors import DEBUG_ENV, EXIT_USAGE, SchemaError, UserError, explain


@dataclass(frozen=True)
class Command:
    """A subcommand: the module that registers and runs it, and its one-line summary."""

    module: str
    summary: str


# A command's module (and the libraries it needs: pulumi, google-cloud-bigquery) is imported
# only when that command runs; `npq-events --help` lists the summaries without importing any.
COMMANDS: dict[str, Command] = {
    "plan": Command(
        "infra.cli.plan", "show every resource a stack declares (offline, on Pulumi's mock engine)"
    ),
    "schema": Command(
        "infra.cli.schema", "export the events schema; check, lock and diff schema changes"
    ),
    "verify": Command(
        "infra.cli.verify", "check that live BigQuery equals what each stack declares"
    ),
    "preview-gate": Command(
        "infra.cli.preview_gate",
        "fail when a `pulumi preview --json` replaces or deletes a table, dataset or the KMS grant",
    ),
    "review": Command(
        "infra.cli.review",
        "create, destroy, list and prune review app stacks review-pr-<N> (Pulumi CLI)",
    ),
    "records": Command(
        "infra.cli.records",
        "list recent events of a stack's table (dry-run first, refused above --max-bytes)",
    ),
    "local": Command(
        "infra.cli.local",
        "run a local BigQuery emulator holding a stack's table and sample events",
    ),
}

# google-cloud-bigquery imports these whenever they are installed (the `local` extra's emulator
# brings them into the environment), yet only its DataFrame, Arrow and Storage API paths use
# them, which no command takes: the `npq-events` process runs the client as its base install
# does, without them (about 0.13 s and 40 MiB per run).
UNUSED_MODULES = (
    "pyarrow",
    "numpy",
    "pandas",
    "google.cloud.bigquery_storage",
    "google.cloud.bigquery_storage_v1",
)


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as the CLI's one line (exit 2) instead of usage text."""

    def error(self, message: str):  # argparse's naming
        raise UserError(f"{message} (see: {self.prog} --help)", EXIT_USAGE)


def build_parser(only: str | None = None, overview: bool = False) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with just `only` when it names one.

    With `overview`, every subcommand is a bare entry (name and summary) and no command module
    is imported: enough for `npq-events --help` and for a command name that is not one.
    """
    parser = Parser(
        prog="npq-events",
        description="The NPQ DfE Analytics BigQuery datasets: plan, check and inspect them.",
    )
    options.add_project_dir(parser)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        if only is None or name == only:
            sub = subparsers.add_parser(name, help=command.summary)
            if not overview:
                importlib.import_module(command.module).register(sub)
    return parser


def _requested(argv: Sequence[str] | None) -> str | None:
    """The subcommand named on the command line, if it is one of ours."""
    pre = Parser(add_help=False, allow_abbrev=False)  # `review up --pr 42` is not --project-dir
    pre.add_argument("--project-dir")
    _known, rest = pre.parse_known_args(argv)
    return rest[0] if rest and rest[0] in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status (0, 1, 2 or 3; 130 when interrupted)."""
    with quiet_when_closed():
        try:
            return _run(argv)
        except SystemExit as exc:  # --help
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        except BaseException as exc:  # the one place every failure ends
            failure = explain(exc)
            if failure.internal and os.environ.get(DEBUG_ENV) == "1":
                traceback.print_exc()
            message = failure.message
            if failure.internal and os.environ.get(DEBUG_ENV) != "1":
                message += f" ({DEBUG_ENV}=1 shows the traceback)"
            error_line(message, internal=failure.internal)
            return failure.exit_code


def _run(argv: Sequence[str] | None) -> int:
    requested = _requested(argv)
    try:
        parser = build_parser(requested, overview=requested is None)
    except SchemaError as exc:
        raise UserError(f"the schema in infra/model/schema.py is not valid: {exc}") from None
    args = parser.parse_args(argv)
    if not args.project_dir.is_dir():
        raise UserError(f"--project-dir {args.project_dir}: not a directory")
    return args.run(args)


def entry() -> int:
    """The `npq-events` script and `python -m infra.cli`: main() in a process of its own."""
    for name in UNUSED_MODULES:
        # None in sys.modules makes `import name` raise ImportError, as if not installed.
        sys.modules.setdefault(name, None)
    return main()

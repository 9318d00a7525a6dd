"""`npq-events`: the command line. Each subcommand lives in its own module beside this one.

`main` is the one guard around every command: whatever goes wrong ends as one line on stderr
and a documented exit status (infra.errors.explain); an exception the code does not know is an
internal error (exit 2), with its traceback only when NPQ_EVENTS_DEBUG=1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import traceback
from collections.abc import Sequence

from infra.cli import options
from infra.cli.output import error_line, quiet_when_closed
from infra.errors import DEBUG_ENV, EXIT_USAGE, SchemaError, UserError, explain

# Subcommand name -> its module. A command's module (and the libraries it needs: pulumi,
# google-cloud-bigquery) is imported only when that command runs, or for the full --help.
COMMANDS: dict[str, str] = {
    "plan": "infra.cli.plan",
    "schema": "infra.cli.schema",
    "verify": "infra.cli.verify",
    "preview-gate": "infra.cli.preview_gate",
    "review": "infra.cli.review",
    "records": "infra.cli.records",
    "local": "infra.cli.local",
}


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as the CLI's one line (exit 2) instead of usage text."""

    def error(self, message: str):  # argparse's naming
        raise UserError(f"{message} (see: {self.prog} --help)", EXIT_USAGE)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with just `only` when it names one."""
    parser = Parser(
        prog="npq-events",
        description="The NPQ DfE Analytics BigQuery datasets: plan, check and inspect them.",
    )
    options.add_project_dir(parser)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(module).register(subparsers)
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
    try:
        parser = build_parser(_requested(argv))
    except SchemaError as exc:
        raise UserError(f"the schema in infra/model/schema.py is not valid: {exc}") from None
    args = parser.parse_args(argv)
    if not args.project_dir.is_dir():
        raise UserError(f"--project-dir {args.project_dir}: not a directory")
    return args.run(args)

"""`npq-events`: the command line. Each subcommand lives in its own module beside this one.."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from infra.errors import EXIT_USAGE, SchemaError, UserError
from infra.model.settings import ConfigError
from infra.model.stackfiles import ROOT, StackFileError

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


def _global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="directory holding the Pulumi.<stack>.yaml files (default: this checkout; for an "
        "installed package, the current directory)",
    )


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with just `only` when it names one."""
    parser = argparse.ArgumentParser(
        prog="npq-events",
        description="The NPQ DfE Analytics BigQuery datasets: plan, check and inspect them.",
    )
    _global_options(parser)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(module).register(subparsers)
    return parser


def _requested(argv: Sequence[str] | None) -> str | None:
    """The subcommand named on the command line, if it is one of ours."""
    pre = argparse.ArgumentParser(add_help=False)
    _global_options(pre)
    _known, rest = pre.parse_known_args(argv)
    return rest[0] if rest and rest[0] in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser(_requested(argv)).parse_args(argv)
    except SchemaError as exc:
        return _fail(f"the schema in infra/model/schema.py is not valid: {exc}", EXIT_USAGE)
    try:
        if not args.project_dir.is_dir():
            raise UserError(f"--project-dir {args.project_dir}: not a directory")
        return args.run(args)
    except (ConfigError, StackFileError, SchemaError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except UserError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, code: int) -> int:
    print(f"npq-events: error: {message}", file=sys.stderr)
    return code

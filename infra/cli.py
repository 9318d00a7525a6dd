"""`npq-events`: the command line. Each subcommand lives in infra/commands/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from infra.commands import local as local_command
from infra.commands import plan as plan_command
from infra.commands import preview_gate as preview_gate_command
from infra.commands import records as records_command
from infra.commands import review as review_command
from infra.commands import schema as schema_command
from infra.commands import verify as verify_command
from infra.errors import EXIT_USAGE, UserError
from infra.settings import ConfigError
from infra.stackfiles import ROOT, StackFileError

COMMANDS = (
    plan_command,
    schema_command,
    verify_command,
    preview_gate_command,
    review_command,
    records_command,
    local_command,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="npq-events",
        description="The NPQ DfE Analytics BigQuery datasets: plan, check and inspect them.",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="directory holding the Pulumi.<stack>.yaml files (default: this checkout)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not args.project_dir.is_dir():
            raise UserError(f"--project-dir {args.project_dir}: not a directory")
        return args.run(args)
    except (ConfigError, StackFileError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except UserError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, code: int) -> int:
    print(f"npq-events: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""`npq-events schema`: the events schema as the console, `bq` and DDL take it."""

from __future__ import annotations

import argparse
import sys

from infra import schema
from infra.declared import declare
from infra.errors import UserError
from infra.stackfiles import settings_for


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("schema", help="export the events schema")
    actions = parser.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="print the schema as JSON (console 'Edit as text', bq mk) or a CREATE TABLE",
    )
    export.add_argument("--format", choices=("json", "ddl"), default="json")
    export.add_argument(
        "--stack",
        help="stack whose table the DDL creates and whose policy tag the JSON carries "
        "(required for ddl)",
    )
    export.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    declaration = declare(settings_for(args.stack, args.project_dir)) if args.stack else None
    if args.format == "ddl":
        if declaration is None:
            raise UserError("schema export --format ddl needs --stack NAME to name the table")
        sys.stdout.write(declaration.table.ddl())
        return 0
    policy_tag = declaration.table.policy_tag if declaration else None
    sys.stdout.write(schema.to_json(schema.EVENTS, policy_tag, indent=2) + "\n")
    return 0

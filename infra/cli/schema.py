"""`npq-events schema`: export the events schema, and gate changes that would lose events."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from infra.cli import options
from infra.cli.output import console, emit_json, shown
from infra.errors import EXIT_FINDINGS, EXIT_OK, EXIT_STALE, EXIT_USAGE, UserError, printable
from infra.model.declared import declare
from infra.model.schema_files import (
    SchemaDocument,
    SchemaFileError,
    parse_schema_document,
    read_schema_file,
)
from infra.model.stackfiles import settings_for
from infra.rules import schema_lock
from infra.rules.effects import DESTRUCTIVE, Effect
from infra.rules.schema_changes import Change, classify_schema, classify_settings, schema_notes

STYLES = {Effect.IN_PLACE: "green", **{effect: "bold red" for effect in DESTRUCTIVE}}
DOCS_PAGE = "docs/schema-changes.md"


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="print the schema as JSON (console 'Edit as text', bq mk) or a CREATE TABLE",
    )
    options.add_format(export, ("json", "ddl"))
    options.add_stack(
        export,
        "stack whose table the DDL creates and whose policy tag the JSON carries "
        "(required for ddl)",
        required=False,
    )
    export.set_defaults(run=run_export)

    lock_dir_help = f"directory of the lock files (default: {schema_lock.LOCK_DIR})"
    check = actions.add_parser(
        "check",
        help="compare the schema module and the stacks' table settings with the lock",
        description="Exit 0 when the code equals the lock; 1 when a change would destroy "
        "stored events under pulumi up (drop a column or replace the table); 3 when every "
        "change is safe but the lock is stale (run `npq-events schema lock`).",
    )
    check.add_argument("--lock-dir", type=Path, default=schema_lock.LOCK_DIR, help=lock_dir_help)
    check.set_defaults(run=run_check)

    lock = actions.add_parser(
        "lock",
        help="write the lock from the code; refuses a destructive change",
        description="Record the schema module and the stacks' table settings as released. "
        "Refuses (exit 1) when the code's change against the current lock would destroy "
        "stored events, unless --accept-destructive is given.",
    )
    lock.add_argument("--lock-dir", type=Path, default=schema_lock.LOCK_DIR, help=lock_dir_help)
    lock.add_argument(
        "--accept-destructive",
        action="store_true",
        help="write the lock even though the change would drop a column or replace a table "
        "(only after the live tables have been migrated by hand)",
    )
    lock.set_defaults(run=run_lock)

    diff = actions.add_parser(
        "diff",
        help="classify the change between two BigQuery JSON schema files",
        description="OLD is what exists (e.g. `bq show --schema --format=prettyjson`), NEW "
        'what would be applied. Accepts a list of fields, an object with "fields", or a '
        "table resource (then the table settings are compared too); '-' for one of them reads "
        "stdin. Exit 0 when nothing is destructive, 1 when something is, 2 on unreadable input.",
    )
    diff.add_argument("old", metavar="OLD", help="the schema that exists; '-' reads stdin")
    diff.add_argument("new", metavar="NEW", help="the schema to apply; '-' reads stdin")
    options.add_format(diff, ("text", "json"))
    diff.set_defaults(run=run_diff)


def run_export(args: argparse.Namespace) -> int:
    declaration = declare(settings_for(args.stack, args.project_dir)) if args.stack else None
    if args.format == "ddl":
        if declaration is None:
            raise UserError("schema export --format ddl needs --stack NAME to name the table")
        sys.stdout.write(declaration.table.ddl())
        return EXIT_OK
    policy_tag = declaration.table.policy_tag if declaration else None
    sys.stdout.write(schema_lock.schema_text(policy_tag))
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    result = _lock_check(args.lock_dir, args.project_dir)
    out = console()
    for finding in result.findings:
        _print_change(finding.change, finding.scope, out)
    for note in result.notes:
        out.print(f"note: {shown(note)}")
    if not result.findings:
        out.print(shown(f"schema check: the code matches the lock in {args.lock_dir}"))
        return EXIT_OK
    if result.destructive:
        out.print(
            shown(
                f"schema check: {len(result.destructive)} of {len(result.findings)} changes "
                f"would destroy stored events under pulumi up; undo them (see {DOCS_PAGE})"
            )
        )
        return EXIT_FINDINGS
    out.print(
        shown(
            f"schema check: the lock is stale: {len(result.findings)} changes, all in place; run "
            f"`npq-events schema lock` and commit {args.lock_dir}"
        )
    )
    return EXIT_STALE


def run_lock(args: argparse.Namespace) -> int:
    out = console()
    lock_dir: Path = args.lock_dir
    present = [lock_dir / name for name in (schema_lock.SCHEMA_LOCK, schema_lock.SETTINGS_LOCK)]
    if all(path.exists() for path in present):
        try:
            result = schema_lock.check(lock_dir, args.project_dir)
        except SchemaFileError as exc:
            if not args.accept_destructive:
                raise UserError(
                    f"{exc}; the change cannot be checked against it: restore it from git, "
                    "or rerun with --accept-destructive to overwrite it"
                ) from None
            result = schema_lock.LockCheck((), ())
        if result.destructive and not args.accept_destructive:
            for finding in result.destructive:
                _print_change(finding.change, finding.scope, out)
            out.print(
                shown(
                    f"schema lock: refused: {len(result.destructive)} change(s) above would "
                    "destroy stored events under pulumi up, and a lock refresh must not hide "
                    "them; undo "
                    "them, or, only once the live tables have been migrated by hand, rerun with "
                    f"--accept-destructive (see {DOCS_PAGE})"
                )
            )
            return EXIT_FINDINGS
        for finding in result.destructive:
            _print_change(finding.change, finding.scope, out)
            out.print(shown(f"  accepted: {finding.scope}: {finding.change.path}"))
    elif any(path.exists() for path in present) and not args.accept_destructive:
        missing = next(path for path in present if not path.exists())
        raise UserError(
            f"schema lock: {missing} is missing while the other lock file exists, so the "
            "change cannot be checked; restore it from git, or rerun with --accept-destructive "
            "to write both from the code"
        )
    written = schema_lock.write(lock_dir, args.project_dir)
    if written:
        out.print(
            shown(f"schema lock: wrote {', '.join(str(path) for path in written)}; commit it")
        )
    else:
        out.print(shown(f"schema lock: the lock in {lock_dir} is up to date"))
    return EXIT_OK


def run_diff(args: argparse.Namespace) -> int:
    if args.old == options.STDIN and args.new == options.STDIN:
        raise UserError("schema diff: only one of OLD and NEW can be '-' (stdin)")
    old, new = _schema_document(args.old), _schema_document(args.new)
    changes = list(classify_schema(old.fields, new.fields))
    notes = list(schema_notes(old.fields, new.fields))
    if old.table is not None and new.table is not None:
        changes += classify_settings(old.table, new.table)
    elif old.table is not None or new.table is not None:
        bare = args.new if old.table is not None else args.old
        notes.append(f"only the schemas are compared: {bare} holds no table settings")
    destructive = any(change.destructive for change in changes)
    if args.format == "json":
        emit_json(
            {
                "changes": [change.as_json() for change in changes],
                "notes": notes,
                "destructive": destructive,
            }
        )
    else:
        out = console()
        for change in changes:
            _print_change(change, None, out)
        for note in notes:
            out.print(f"note: {shown(note)}")
        worst = sum(change.destructive for change in changes)
        if not changes:
            summary = "no changes"
        elif destructive:
            summary = f"{worst} of {len(changes)} changes would destroy stored events"
        else:
            summary = f"{len(changes)} changes, all in place"
        out.print(shown(f"schema diff: {summary}"))
    return EXIT_FINDINGS if destructive else EXIT_OK


def _schema_document(name: str) -> SchemaDocument:
    if name == options.STDIN:
        text = options.read_stdin("a BigQuery JSON schema")
        return parse_schema_document(text, options.STDIN_LABEL)
    return read_schema_file(Path(name))


def _lock_check(lock_dir: Path, stack_dir: Path) -> schema_lock.LockCheck:
    try:
        return schema_lock.check(lock_dir, stack_dir)
    except SchemaFileError as exc:
        raise UserError(str(exc), EXIT_USAGE) from None


def _print_change(change: Change, scope: str | None, out: Console) -> None:
    """One line per change: coloured on a terminal; written as plain text to a pipe, where
    Rich would only strip the colours again (a diff of 200,000 columns is 100,000 lines)."""
    where = f"{scope}: " if scope else ""
    text = f"{where}{change.path} ({change.change}): {change.message}"
    if not out.is_terminal:
        out.file.write(f"{change.effect:<11} {printable(text)}\n")
        return
    style = STYLES.get(change.effect)
    effect = f"[{style}]{change.effect:<11}[/{style}]" if style else f"{change.effect:<11}"
    out.print(f"{effect} {shown(text)}")

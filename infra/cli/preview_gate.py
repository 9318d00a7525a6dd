"""`npq-events preview-gate`: refuse a `pulumi preview --json` that would destroy stored events."""

from __future__ import annotations

import argparse

from infra.cli import options
from infra.cli.output import console, emit_json, shown
from infra.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UserError
from infra.rules.preview_gate import PreviewError, Verdict, judge, read_preview

EXPECTED = "the output of `pulumi preview --json`"


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Read the output of `pulumi preview --json` and exit 1 when applying it "
        "would replace, delete or unprotect a BigQuery table or dataset or the KMS key grant, "
        "or drop a column of the table, naming each one and why; exit 2 when the input is not "
        "a preview or the preview itself failed."
    )
    parser.add_argument("file", metavar="FILE", help="the preview JSON; '-' reads stdin")
    options.add_format(parser, ("text", "json"))
    parser.add_argument(
        "--adoption",
        action="store_true",
        help="also fail on anything but imports of custom resources (the adoption runbook)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    text = _read(args.file)
    try:
        preview = read_preview(text)
    except PreviewError as exc:
        raise UserError(f"{_shown(args.file)}: {exc}", EXIT_USAGE) from None
    verdict = judge(preview, adoption=args.adoption)
    if args.format == "json":
        emit_json(verdict.as_json())
    else:
        _print_text(verdict, args.adoption)
    if verdict.blocked:
        return EXIT_FINDINGS
    if verdict.incomplete:
        raise UserError(
            f"{_shown(args.file)}: the preview did not complete, so the gate cannot vouch "
            f"for it: {verdict.incomplete[0]}",
            EXIT_USAGE,
        )
    return EXIT_OK


def _read(path: str) -> str:
    if path == options.STDIN:
        return options.read_stdin(EXPECTED)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError:
        raise UserError(f"{_shown(path)}: not UTF-8 text; expected {EXPECTED}") from None
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL character
        reason = getattr(exc, "strerror", None) or exc
        raise UserError(f"{_shown(path)}: cannot read it: {reason}") from None


def _shown(path: str) -> str:
    return options.STDIN_LABEL if path == options.STDIN else path


def _print_text(verdict: Verdict, adoption: bool) -> None:
    out = console()
    stack = f"stack {shown(verdict.stack)}" if verdict.stack else "preview"
    guarded = "resource" if adoption else "table, dataset or KMS grant"
    if verdict.blocked:
        count = len(verdict.blocked)
        out.print(
            f"{stack}: BLOCKED: {count} change{'s' * (count != 1)} must not be applied",
            style="bold red",
        )
    elif verdict.incomplete:
        out.print(f"{stack}: INCOMPLETE: the preview did not finish", style="bold yellow")
    else:
        out.print(
            f"{stack}: pass: no {guarded} is replaced, deleted or unprotected"
            + (", and everything else is imported or unchanged" if adoption else ""),
            style="bold green",
        )
    for change in verdict.changes:
        mark = "BLOCKED" if change.blocked else "ok"
        resource = change.resource or change.name
        out.print(
            f"  {mark:<7} {change.action} {shown(change.kind)} {shown(resource)} "
            f"({shown(change.name)})"
        )
        if change.blocked:
            details = f"steps: {', '.join(change.ops)}"
            if change.reasons:
                details += f"; because of: {', '.join(change.reasons)}"
            out.print(f"          {shown(details)}")
        out.print(f"          {shown(change.message)}")
    shown_diagnostics = [d for d in verdict.diagnostics if d.severity in ("warning", "error")]
    if shown_diagnostics:
        out.print("Pulumi reported:")
        for diagnostic in shown_diagnostics:
            out.print(f"  {shown(diagnostic.text)}")
    for problem in verdict.incomplete:
        if not verdict.blocked:
            out.print(shown(problem))
    if verdict.change_summary:
        summary = ", ".join(f"{count} {op}" for op, count in verdict.change_summary)
        out.print(f"Resources: {shown(summary)}")

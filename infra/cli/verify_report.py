"""Writing verify results: JSON, plain text, rich tables, and a Markdown step summary."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from infra.cli.output import shown
from infra.errors import printable
from infra.rules.verify import DRIFT, ERROR, MATCH, Finding, StackResult

_STYLE = {MATCH: "green", DRIFT: "red", ERROR: "yellow"}


def as_json(results: Sequence[StackResult]) -> dict:
    return {"stacks": [result.as_json() for result in results]}


def headline(result: StackResult) -> str:
    table = result.table or "(table unknown)"
    if result.status == ERROR:
        return f"{result.stack}: {table}: error: {result.error}"
    if result.status == MATCH:
        count = len(result.notes)
        notes = f" ({count} note{'s' if count != 1 else ''})" if count else ""
        return f"{result.stack}: {table}: match{notes}"
    count = len(result.drift)
    return (
        f"{result.stack}: {table}: drift, {count} difference{'s' if count != 1 else ''}; "
        f"pulumi up effect: {result.effect}"
    )


def summary_line(results: Sequence[StackResult]) -> str:
    counts = {status: sum(r.status == status for r in results) for status in (MATCH, DRIFT, ERROR)}
    return (
        f"{len(results)} stacks: {counts[MATCH]} match, {counts[DRIFT]} drift, "
        f"{counts[ERROR]} could not be checked"
    )


def show(value: object) -> str:
    """A finding's expected or actual value as one short line."""
    if value is None:
        return "(absent)"
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value, sort_keys=True)


def write_plain(results: Sequence[StackResult], out: Console) -> None:
    for result in results:
        out.print(shown(headline(result)))
        for finding in result.findings:
            out.print(shown(_plain_finding(finding)))
    out.print(summary_line(results))


def _plain_finding(finding: Finding) -> str:
    return (
        f"  {finding.level} [{finding.effect}] {finding.path}: expected {show(finding.expected)},"
        f" live {show(finding.actual)}: {finding.message}"
    )


def write_rich(results: Sequence[StackResult], out: Console) -> None:
    for result in results:
        style = _STYLE[result.status]
        out.print(
            f"[bold]{shown(result.stack)}[/bold] {shown(result.table or '(table unknown)')}"
            f"  [bold {style}]{result.status}[/bold {style}]",
            end="",
        )
        if result.status == DRIFT:
            out.print(f"  pulumi up effect: [bold]{result.effect}[/bold]", end="")
        out.print()
        if result.error:
            out.print(f"  {shown(result.error)}", style=style)
        if result.findings:
            table = Table(show_lines=True, expand=True)
            table.add_column("level / effect", no_wrap=True)
            table.add_column("path", overflow="fold", ratio=1)
            table.add_column("expected, live, and what pulumi up does", ratio=3)
            for finding in result.findings:
                level_style = "red" if finding.level == DRIFT else "dim"
                detail = (
                    f"[bold]expected:[/bold] {shown(show(finding.expected))}\n"
                    f"[bold]live:    [/bold] {shown(show(finding.actual))}\n"
                    f"{shown(finding.message)}"
                )
                table.add_row(
                    f"[{level_style}]{finding.level}\n{finding.effect}[/{level_style}]",
                    shown(finding.path),
                    detail,
                )
            out.print(table)
    out.print(f"[bold]{summary_line(results)}[/bold]")


def markdown(results: Sequence[StackResult]) -> str:
    """A GitHub Actions step summary."""
    lines = [
        "## npq-events verify",
        "",
        summary_line(results),
        "",
        "| stack | table | status | pulumi up effect |",
        "|---|---|---|---|",
    ]
    for result in results:
        status = {MATCH: "✅ match", DRIFT: "❌ drift", ERROR: "⚠️ error"}[result.status]
        effect = result.effect if result.status == DRIFT else ""
        lines.append(
            f"| {_cell(result.stack)} | {_cell(result.table or '')} | {status} | {effect} |"
        )
    for result in results:
        if result.status == MATCH and not result.findings:
            continue
        lines += ["", f"### {_cell(result.stack)}", ""]
        if result.error:
            lines.append(f"Could not check: {_cell(result.error)}")
            continue
        lines += [
            "| level | path | expected | live | effect | what pulumi up does |",
            "|---|---|---|---|---|---|",
        ]
        for f in result.findings:
            lines.append(
                f"| {f.level} | `{_cell(f.path)}` | {_cell(show(f.expected))} | "
                f"{_cell(show(f.actual))} | {f.effect} | {_cell(f.message)} |"
            )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return printable(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

"""Writing verify results: JSON, plain text, rich tables, and a Markdown step summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from rich.console import Console
from rich.table import Table

from infra.bigquery.bytesize import human, human_binary
from infra.cli.output import shown
from infra.errors import printable
from infra.rules import freshness
from infra.rules.billing import HOURS_A_MONTH, MIN_BILLED_BYTES
from infra.rules.verify import DRIFT, ERROR, MATCH, Finding, StackResult

_STYLE = {MATCH: "green", DRIFT: "red", ERROR: "yellow"}
_ICON = {
    freshness.FRESH: "✅",
    freshness.STALE: "❌",
    freshness.EMPTY: "❌",
    freshness.UNKNOWN: "❔",
}


def as_json(results: Sequence[StackResult]) -> dict:
    return {
        "stacks": [result.as_json() for result in results],
        "freshness_cost": freshness_cost(results),
    }


def headline(result: StackResult) -> str:
    table = result.table or "(table unknown)"
    fresh = f"; {freshness_text(result.freshness)}" if result.freshness else ""
    if result.status == ERROR:
        return f"{result.stack}: {table}: error: {result.error}{fresh}"
    if result.status == MATCH:
        count = len(result.notes)
        notes = f" ({count} note{'s' if count != 1 else ''})" if count else ""
        return f"{result.stack}: {table}: match{notes}{fresh}"
    count = len(result.drift)
    return (
        f"{result.stack}: {table}: drift, {count} difference{'s' if count != 1 else ''}; "
        f"pulumi up effect: {result.effect}{fresh}"
    )


def summary_line(results: Sequence[StackResult]) -> str:
    counts = {status: sum(r.status == status for r in results) for status in (MATCH, DRIFT, ERROR)}
    line = (
        f"{len(results)} stacks: {counts[MATCH]} match, {counts[DRIFT]} drift, "
        f"{counts[ERROR]} could not be checked"
    )
    quiet = sum(bool(r.freshness and r.freshness.failing) for r in results)
    return f"{line}; {quiet} quiet (past a freshness limit)" if quiet else line


# -- freshness ----------------------------------------------------------------------------------


def figure_text(figure: freshness.Figure, since: datetime, at: bool = False) -> str:
    """`newest event 12 min ago (limit 6h): fresh`; `at`: with the newest event's time."""
    text = figure.describe(since, at)
    judged = figure.limit is not None or figure.status in (freshness.EMPTY, freshness.UNKNOWN)
    return f"{text}: {figure.status}" if judged else text


def freshness_text(fresh: freshness.Freshness, at: bool = False) -> str:
    text = "; ".join(figure_text(f, fresh.since, at) for f in fresh.figures)
    return f"{text} ({fresh.reason})" if fresh.reason else text


def quiet_lines(result: StackResult) -> list[str]:
    """A line for each figure past its limit, e.g. `stale: stack production: newest event
    7 h 2 min ago, 2026-11-28T06:48:53Z (limit 6h)`."""
    fresh = result.freshness
    if fresh is None:
        return []
    lines = []
    for figure in fresh.failing:
        text = figure.describe(fresh.since, at=True)
        reason = f" ({fresh.reason})" if figure.status == freshness.EMPTY and fresh.reason else ""
        lines.append(f"{figure.status}: stack {result.stack}: {text}{reason}")
    return lines


def freshness_cost(results: Sequence[StackResult]) -> dict:
    """What this run's freshness queries bill, and an hourly schedule of the same a month."""
    read = [r.freshness for r in results if r.freshness is not None]
    queried = [f for f in read if f.bytes_processed is not None]
    per_run = sum(f.bytes_billed for f in queried)
    return {
        "queries": len(queried),
        "bytes_processed": sum(f.bytes_processed or 0 for f in queried),
        "bytes_billed": per_run,
        "runs_a_month_hourly": HOURS_A_MONTH,
        "bytes_billed_a_month_hourly": per_run * HOURS_A_MONTH,
    }


def cost_line(results: Sequence[StackResult]) -> str | None:
    """One line: the freshness queries' bill per run and per month at one run an hour."""
    if not any(r.freshness is not None for r in results):
        return None
    cost = freshness_cost(results)
    if not cost["queries"]:
        return (
            "freshness: no query ran (metadata answered, or the endpoint runs none): nothing billed"
        )
    count = cost["queries"]
    return (
        f"freshness: {count} quer{'ies' if count != 1 else 'y'} processing "
        f"{human(cost['bytes_processed'])} (dry run); BigQuery on-demand bills "
        f"{human_binary(cost['bytes_billed'])} a run (at least "
        f"{human_binary(MIN_BILLED_BYTES)} a query), "
        f"{human_binary(cost['bytes_billed_a_month_hourly'])} a month at one run an hour"
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
    cost = cost_line(results)
    if cost:
        out.print(shown(cost))


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
        if result.freshness is not None:
            fresh_style = "red" if result.freshness.failing else "dim"
            out.print(f"  {shown(freshness_text(result.freshness))}", style=fresh_style)
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
    cost = cost_line(results)
    if cost:
        out.print(shown(cost), highlight=False)


def markdown(results: Sequence[StackResult]) -> str:
    """A GitHub Actions step summary."""
    lines = [
        "## npq-events verify",
        "",
        summary_line(results),
        "",
        "| stack | table | status | pulumi up effect | newest events |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        status = {MATCH: "✅ match", DRIFT: "❌ drift", ERROR: "⚠️ error"}[result.status]
        effect = result.effect if result.status == DRIFT else ""
        lines.append(
            f"| {_cell(result.stack)} | {_cell(result.table or '')} | {status} | {effect} | "
            f"{_cell(_freshness_cell(result.freshness))} |"
        )
    cost = cost_line(results)
    if cost:
        lines += ["", cost]
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


def _freshness_cell(fresh: freshness.Freshness | None) -> str:
    if fresh is None:
        return ""
    cells = []
    for figure in fresh.figures:
        text = figure_text(figure, fresh.since, at=True)
        judged = figure.limit is not None or figure.status == freshness.UNKNOWN
        cells.append(f"{_ICON[figure.status]} {text}" if judged else text)
    reason = f" ({fresh.reason})" if fresh.reason else ""
    return "<br>".join(cells) + reason


def _cell(text: str) -> str:
    return printable(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

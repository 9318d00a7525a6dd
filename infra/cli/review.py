"""`npq-events review`: the review app stacks pipelines create and destroy.

Every argument is checked (infra.review.decisions) before any Pulumi call; the calls
themselves are in infra/review/automation.py. Pulumi's own output goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table
from rich.text import Text

from infra.cli import options
from infra.cli.output import console, emit_json, error_line, shown
from infra.errors import EXIT_USAGE, UserError
from infra.review import automation as review_automation
from infra.review import decisions as review

GITHUB_OUTPUT = "GITHUB_OUTPUT"


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Review app stacks review-pr-<N> on Pulumi's Automation API, with the "
        "project's own program. Backend and secrets come from PULUMI_BACKEND_URL, "
        "PULUMI_CONFIG_PASSPHRASE and PULUMI_ACCESS_TOKEN. Acts only on review-pr-<N> stacks."
    )
    actions = parser.add_subparsers(dest="review_command", required=True, metavar="ACTION")

    up = actions.add_parser(
        "up",
        help="create or update review-pr-N and print its dataset and table",
        description="Select or create stack review-pr-N, set its config (Pulumi.review.yaml, "
        "the PR, createdOn), run pulumi up. Prints the dataset and table; under GitHub Actions "
        "also appends project=, dataset=, table=, table_ref= to $GITHUB_OUTPUT.",
    )
    _add_pr(up, "the NPQ app's pull request number")
    up.add_argument(
        "--secrets-provider",
        type=options.typed("--secrets-provider", review.parse_secrets_provider),
        metavar="URL",
        help="the secrets provider a new stack is created with (default: the backend's, "
        f"passphrase); {review.SECRETS_PROVIDER_ACCEPTED}",
    )
    up.set_defaults(run=run_up)

    destroy = actions.add_parser(
        "destroy",
        help="destroy review-pr-N and remove the stack (a missing stack is not an error)",
    )
    _add_pr(destroy, "the pull request number")
    destroy.set_defaults(run=run_destroy)

    listing = actions.add_parser("list", help="list the review-pr-N stacks")
    options.add_format(listing, ("text", "json"))
    listing.set_defaults(run=run_list)

    prune = actions.add_parser(
        "prune",
        help="destroy the review stacks of closed PRs and/or not updated for DAYS days",
        description="Lists what it will destroy, then destroys and removes each stack. A stack "
        "is selected when its PR is in --closed, or its last update is more than --older-than "
        "days ago. Stacks never updated, or with an update running, are kept.",
    )
    prune.add_argument(
        "--closed",
        type=options.typed("--closed", review.parse_closed),
        metavar="N,N...",
        help="pull requests that are closed",
    )
    prune.add_argument(
        "--older-than",
        type=options.typed("--older-than", review.parse_days),
        metavar="DAYS",
        help="days since the last update",
    )
    prune.add_argument("--dry-run", action="store_true", help="print the selection only")
    prune.set_defaults(run=run_prune)


def _add_pr(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--pr", type=options.typed("--pr", review.parse_pr), required=True, metavar="N", help=help
    )


def run_up(args: argparse.Namespace) -> int:
    pr = args.pr
    app = review_automation.up(
        pr, _emitter(console(stderr=True)), _today(), _project(args), args.secrets_provider
    )
    out = console()
    out.print(shown(f"stack      {app.stack} (created {app.created_on.isoformat()})"))
    out.print(shown(f"dataset    {app.value('dataset')}"))
    out.print(shown(f"table      {app.value('table_ref')}"))
    target = os.environ.get(GITHUB_OUTPUT)
    if target:
        try:
            with open(target, "a", encoding="utf-8") as handle:
                handle.writelines(line + "\n" for line in app.github_output_lines())
        except OSError as exc:
            raise UserError(f"cannot append to {GITHUB_OUTPUT} file {target}: {exc}") from None
    return 0


def run_destroy(args: argparse.Namespace) -> int:
    pr = args.pr
    name = review.stack_name(pr)
    if review_automation.destroy(pr, _emitter(console(stderr=True)), _today(), _project(args)):
        console().print(shown(f"{name}: destroyed its resources and removed the stack"))
    else:
        console().print(shown(f"{name}: no such stack; nothing to destroy"))
    return 0


def run_list(args: argparse.Namespace) -> int:
    root = _project(args)
    workspace = review_automation.open_workspace(root)
    stacks, others = review_automation.list_stacks(workspace)
    today = _today()
    rows = []
    for stack in stacks:
        settings = review.review_settings(stack.pr, today, root)
        held = review.held_datasets(review_automation.state_of(workspace, stack.name))
        rows.append(
            {
                "stack": stack.name,
                "pr": stack.pr,
                "dataset": settings.dataset_id,
                "holds": list(held),
                "lastUpdate": stack.last_update.isoformat() if stack.last_update else None,
                "resourceCount": stack.resource_count,
                "updateInProgress": stack.update_in_progress,
            }
        )
    if args.format == "json":
        emit_json({"stacks": rows})
        return 0
    out = console()
    if not rows:
        out.print("no review app stacks")
    else:
        table = Table("stack", "PR", "dataset", "state holds", "last update", "resources", box=None)
        for row, stack in zip(rows, stacks, strict=True):
            when = stack.last_update.strftime("%Y-%m-%d %H:%M") if stack.last_update else "never"
            if stack.update_in_progress:
                when = "update running"
            count = "-" if stack.resource_count is None else str(stack.resource_count)
            holds = ", ".join(row["holds"]) or "nothing"
            table.add_row(
                shown(row["stack"]), str(stack.pr), shown(row["dataset"]), shown(holds), when, count
            )
        out.print(table)
    if others:
        out.print(f"({len(others)} other stacks of this project are not review stacks: not shown)")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    closed = args.closed or frozenset()
    days = args.older_than
    if not closed and days is None:
        raise UserError("review prune needs --closed N,N... and/or --older-than DAYS")
    today, root = _today(), _project(args)
    workspace = review_automation.open_workspace(root)
    stacks, _others = review_automation.list_stacks(workspace)
    plan = review.select_for_prune(stacks, closed, days, datetime.now(UTC))
    owners = {c.stack.name: review.review_settings(c.stack.pr, today, root) for c in plan.selected}
    # Judged before anything is listed as "to destroy": what destroy would refuse is refused.
    selected, refused = [], []
    for choice in plan.selected:
        settings = owners[choice.stack.name]
        try:
            review.check_owned_state(
                choice.stack.name,
                settings.dataset_id,
                settings.project,
                review_automation.state_of(workspace, choice.stack.name),
            )
        except UserError as exc:
            refused.append((choice, str(exc)))
            continue
        selected.append(choice)

    out, err = console(), console(stderr=True)
    out.print(f"review prune: {len(selected)} of {len(stacks)} review stacks to destroy")
    for choice in selected:
        out.print(shown(f"  {choice.stack.name}  {choice.reason}"))
    if refused:
        out.print("refused (not destroyed):")
        for choice, reason in refused:
            out.print(shown(f"  {choice.stack.name}  {reason}"))
    if plan.kept:
        out.print("kept:")
        for choice in plan.kept:
            out.print(shown(f"  {choice.stack.name}  {choice.reason}"))
    if args.dry_run:
        out.print("dry run: nothing destroyed")
        return 0

    failures: list[str] = []
    for choice, reason in refused:
        failures.append(choice.stack.name)
        err.print(shown(f"npq-events: error: {reason}"))

    def destroy_one(choice: review.PruneChoice, emit: review_automation.Emit) -> None:
        name = choice.stack.name
        settings = owners[name]
        try:
            gone = review_automation.destroy_in(
                workspace, name, settings.dataset_id, settings.project, emit
            )
        except UserError as exc:
            failures.append(name)
            error_line(exc)
            return
        out.print(shown(f"{name}: {'destroyed and removed' if gone else 'already gone'}"))

    if err.is_terminal and selected:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
        with Progress(*columns, MofNCompleteColumn(), console=err) as progress:
            task = progress.add_task("pruning", total=len(selected))
            for choice in selected:
                progress.update(task, description=f"destroying {choice.stack.name}")
                destroy_one(choice, _emitter(progress.console))
                progress.advance(task)
    else:
        for number, choice in enumerate(selected, start=1):
            err.print(shown(f"[{number}/{len(selected)}] destroying {choice.stack.name}"))
            destroy_one(choice, _emitter(err))
    if failures:
        out.print(shown(f"review prune: {len(failures)} failed: {', '.join(failures)}"))
        return EXIT_USAGE
    return 0


def _emitter(target: Console) -> review_automation.Emit:
    """Pulumi's output, line by line, on stderr (its own colours kept on a terminal)."""
    return lambda line: target.print(Text.from_ansi(line))


def _project(args: argparse.Namespace) -> Path:
    """The Pulumi project the review commands run: this checkout, or --project-dir."""
    root = args.project_dir
    if not (root / "Pulumi.yaml").is_file():
        raise UserError(
            f"--project-dir {root}: no Pulumi.yaml there; review commands run the Pulumi "
            "project in that directory"
        )
    return root


def _today() -> date:
    return datetime.now(UTC).date()

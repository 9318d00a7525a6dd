"""Review app stacks on Pulumi's Automation API: up, destroy and list.

The workspace is the project's own directory, so the local program is `__main__.py` run
exactly as `pulumi up` runs it. The backend and secrets come from Pulumi's usual environment
(PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, PULUMI_ACCESS_TOKEN, or a prior `pulumi login`).
Every stack name passes infra.review.decisions's guard before it is selected, updated or destroyed.
Pulumi failures become one-line UserErrors (exit 2); Pulumi's own output streams to `emit`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from pulumi import automation as auto

from infra.errors import UserError, explain, one_line, pulumi_command_line
from infra.model.settings import load_settings
from infra.model.stackfiles import ROOT
from infra.review import decisions as review

PULUMI = "pulumi"
INSTALL_URL = "https://www.pulumi.com/docs/iac/download-install/"

Emit = Callable[[str], None]


def open_workspace(root: Path = ROOT, secrets_provider: str | None = None) -> auto.LocalWorkspace:
    """A LocalWorkspace on the project directory; UserError when the CLI is missing or unusable.

    `secrets_provider` is what a stack created in it is initialised with (`pulumi stack init
    --secrets-provider`); stacks that exist keep their own.
    """
    if shutil.which(PULUMI) is None:
        raise UserError(f"the Pulumi CLI ({PULUMI}) is not on PATH; install it: {INSTALL_URL}")
    try:
        return auto.LocalWorkspace(work_dir=str(root), secrets_provider=secrets_provider)
    except auto.InvalidVersionError as exc:
        raise UserError(explain(exc).message) from None
    except (OSError, subprocess.CalledProcessError) as exc:
        raise UserError(f"`{PULUMI} version` failed: {one_line(exc, '(no message)')}") from None


@contextmanager
def pulumi_errors(doing: str) -> Iterator[None]:
    """Turn a failed Pulumi command into one line naming what was being done."""
    try:
        yield
    except auto.ConcurrentUpdateError as exc:
        raise UserError(f"{doing}: {explain(exc).message}") from None
    except (auto.CommandError, OSError) as exc:  # OSError: the CLI vanished or cannot be run
        raise UserError(f"{doing} failed: {explain(exc).message}") from None


def command_error_line(exc: auto.CommandError) -> str:
    """The line of a CommandError worth showing: Pulumi's first `error:` line, with its code."""
    return pulumi_command_line(str(exc))


def up(
    pr: int, emit: Emit, today: date, root: Path = ROOT, secrets_provider: str | None = None
) -> review.ReviewApp:
    """Create or select `review-pr-<N>`, set its config, up; idempotent."""
    name = review.stack_name(pr)
    expected = review.review_settings(pr, today, root).dataset_id  # config checked first
    workspace = open_workspace(root, secrets_provider)
    with pulumi_errors(f"selecting stack {name}"):
        try:
            stack, created = auto.Stack.select(name, workspace), False
        except auto.StackNotFoundError:
            stack, created = auto.Stack.create(name, workspace), True
    recorded = None
    if not created:
        with pulumi_errors(f"reading the history of {name}"):
            last = stack.history(page_size=1, show_secrets=False)
        recorded = review.recorded_created_on(last[0].config if last else None)
    created_on = review.choose_created_on(recorded, today)
    desired = review.review_config(pr, created_on, root)
    load_settings(name, desired)  # the very config set below, checked
    with pulumi_errors(f"setting the config of {name}"):
        stale = review.stale_config_keys(stack.get_all_config(), desired)
        if stale:
            stack.remove_all_config(stale)
        stack.set_all_config({key: auto.ConfigValue(value) for key, value in desired.items()})
    with pulumi_errors(f"pulumi up of {name}"):
        result = stack.up(on_output=emit, on_error=emit)
    outputs = {key: value.value for key, value in result.outputs.items()}
    return review.review_app(pr, created_on, expected, outputs)


def destroy(pr: int, emit: Emit, today: date, root: Path = ROOT) -> bool:
    """Destroy `review-pr-<N>` and remove the stack; False when there was no such stack."""
    name = review.stack_name(pr)
    settings = review.review_settings(pr, today, root)
    return destroy_in(open_workspace(root), name, settings.dataset_id, settings.project, emit)


def state_of(workspace: auto.LocalWorkspace, name: str) -> list:
    """The resources the stack's state holds (`pulumi stack export`)."""
    review.require_review_stack(name)
    with pulumi_errors(f"reading the state of {name}"):
        deployment = workspace.export_stack(name).deployment
    return review.state_resources(deployment)


def destroy_in(
    workspace: auto.LocalWorkspace, name: str, expected_dataset: str, project: str, emit: Emit
) -> bool:
    """Destroy one review stack in an open workspace, then `stack rm` it.

    Refused unless the stack's state holds only its own dataset and what belongs to it.
    """
    review.require_review_stack(name)
    with pulumi_errors(f"selecting stack {name}"):
        try:
            stack = auto.Stack.select(name, workspace)
        except auto.StackNotFoundError:
            return False
    review.check_owned_state(name, expected_dataset, project, state_of(workspace, name))
    with pulumi_errors(f"pulumi destroy of {name}"):
        stack.destroy(on_output=emit, on_error=emit, remove=True)
    return True


def list_stacks(
    workspace: auto.LocalWorkspace,
) -> tuple[tuple[review.ReviewStack, ...], tuple[str, ...]]:
    """The project's review stacks (by PR) and the names of every other stack (ignored)."""
    with pulumi_errors("listing stacks"):
        summaries = workspace.list_stacks()
    return review.review_stacks(summaries)

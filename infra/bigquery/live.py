"""Read each stack's live dataset and table and compare them with its declaration.

Every stack is checked in its own thread with its own client, under short deadlines and a
bounded retry (infra.bigquery.client.Deadlines): one slow or failing stack never delays or
hides another's result, and whatever goes wrong becomes that stack's one-line error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from google.api_core import exceptions as api_exceptions

from infra.bigquery.client import DEFAULT_DEADLINES, Deadlines, make_client
from infra.errors import BadInput, UserError, explain, one_line
from infra.model.declared import Declaration, declare
from infra.model.stackfiles import ROOT, settings_for
from infra.rules.verify import StackResult, compare, error_result

MAX_WORKERS = 64


@dataclass(frozen=True)
class Target:
    """A stack to check: its name, and its declaration once its config has loaded."""

    stack: str
    declaration: Declaration | None = None
    config_error: str | None = None


def load_target(stack: str, stack_dir: Path = ROOT) -> Target:
    """The stack's declaration from its stack file, or the one-line reason it has none."""
    try:
        return Target(stack, declaration=declare(settings_for(stack, stack_dir)))
    except BadInput as exc:  # an unreadable stack file, or a config value not accepted
        return Target(stack, config_error=str(exc))


def check_stack(
    target: Target,
    api_endpoint: str | None = None,
    deadlines: Deadlines = DEFAULT_DEADLINES,
    strict: bool = False,
    adopt: bool = False,
    env: Mapping[str, str] = os.environ,
    emulator: bool = False,
) -> StackResult:
    """Fetch the live dataset and table of one stack and compare them; never raises.

    `emulator`: the endpoint is a BigQuery emulator, which keeps no CMEK settings (see
    infra.rules.verify.compare).
    """
    declaration = target.declaration
    if declaration is None:
        return error_result(target.stack, None, target.config_error or "no declaration")
    table_ref = declaration.table.ref
    try:
        client = make_client(declaration.dataset.project, api_endpoint, env, deadlines)
    except UserError as exc:
        return error_result(target.stack, table_ref, str(exc))
    try:
        live_dataset = _fetch(client.get_dataset, declaration.dataset.ref, deadlines)
        live_table = (
            None
            if live_dataset is None
            else _fetch(client.get_table, declaration.table.ref, deadlines)
        )
    except Exception as exc:  # each failure is this stack's one-line error
        return error_result(target.stack, table_ref, describe_error(exc, deadlines))
    finally:
        client.close()
    try:
        return compare(
            declaration,
            live_dataset,
            live_table,
            strict=strict,
            adopt=adopt or declaration.adopt,
            encryption_optional=emulator,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # An endpoint answering outside BigQuery's REST shapes (a column without a name,
        # labels that are not a map): this stack's error, never the whole run's traceback.
        return error_result(
            target.stack,
            table_ref,
            f"the answer for {declaration.dataset.ref} or {table_ref} is not in BigQuery's "
            f"shape ({type(exc).__name__}: {one_line(exc)})",
        )


def check_all(
    targets: Sequence[Target],
    api_endpoint: str | None = None,
    deadlines: Deadlines = DEFAULT_DEADLINES,
    strict: bool = False,
    adopt: bool = False,
    env: Mapping[str, str] = os.environ,
    on_done: Callable[[StackResult], None] | None = None,
    emulator: bool = False,
) -> list[StackResult]:
    """Check every target concurrently; results in the order of `targets`."""
    if not targets:
        return []
    results: dict[int, StackResult] = {}
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(targets))) as pool:
        futures = {
            pool.submit(
                check_stack, target, api_endpoint, deadlines, strict, adopt, env, emulator
            ): index
            for index, target in enumerate(targets)
        }
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # a bug in one stack's check never hides the others
                stack = targets[futures[future]].stack
                result = error_result(stack, None, f"internal error: {explain(exc).message}")
            results[futures[future]] = result
            if on_done is not None:
                on_done(result)
    return [results[index] for index in range(len(targets))]


def _fetch(get: Callable, ref: str, deadlines: Deadlines) -> dict | None:
    """The REST payload of a dataset or table, None when BigQuery says it does not exist."""
    try:
        resource = get(ref, retry=deadlines.retry, timeout=deadlines.timeout)
    except api_exceptions.NotFound:
        return None
    return resource.to_api_repr()


def describe_error(exc: BaseException, deadlines: Deadlines = DEFAULT_DEADLINES) -> str:
    """One line saying why a stack could not be checked (never a credential)."""
    return explain(exc, retry_seconds=_retry_deadline(deadlines)).message


def _retry_deadline(deadlines: Deadlines) -> float | None:
    return getattr(deadlines.retry, "timeout", None) or getattr(deadlines.retry, "deadline", None)

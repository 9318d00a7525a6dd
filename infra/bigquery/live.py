"""Read each stack's live dataset and table and compare them with its declaration.

Every stack is checked in its own thread with its own client, under short deadlines and a
bounded retry (infra.bigquery.client.Deadlines): one slow or failing stack never delays or
hides another's result, and whatever goes wrong becomes that stack's one-line error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import google.auth.exceptions
import requests
from google.api_core import exceptions as api_exceptions

from infra.bigquery.client import DEFAULT_DEADLINES, Deadlines, make_client
from infra.errors import UserError
from infra.model.declared import Declaration, declare
from infra.model.settings import ConfigError
from infra.model.stackfiles import ROOT, StackFileError, settings_for
from infra.rules.verify import StackResult, compare, error_result

MAX_WORKERS = 64
_ERRNO_RE = re.compile(r"\[Errno -?[0-9]+\] ([^'\")\]]+)")


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
    except (ConfigError, StackFileError) as exc:
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
        client = make_client(declaration.dataset.project, api_endpoint, env)
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
            f"shape ({type(exc).__name__}: {_first_line(exc)})",
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
            result = future.result()
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
    if isinstance(exc, api_exceptions.RetryError):
        cause = exc.cause
        reason = describe_error(cause, deadlines) if cause is not None else "no answer"
        return f"gave up after retrying for {_retry_deadline(deadlines)}: {reason}"
    if isinstance(exc, api_exceptions.Unauthorized | api_exceptions.Forbidden):
        return (
            f"access refused: BigQuery answered {exc.code} {_reason(exc)} "
            "(check the credentials and their roles on the dataset)"
        )
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return f"BigQuery answered {exc.code} {_reason(exc)}"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"no answer within the {deadlines.timeout:g}s deadline"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"cannot reach BigQuery{_where(exc)}: {_connection_reason(exc)}"
    if isinstance(exc, google.auth.exceptions.TransportError):
        return f"cannot get an access token: {_connection_reason(exc)}"
    if isinstance(exc, google.auth.exceptions.GoogleAuthError):
        first = exc.args[0] if exc.args and isinstance(exc.args[0], str) else exc
        return f"credentials refused: {_first_line(first)}"
    if isinstance(exc, UserError | ConfigError | StackFileError):
        return str(exc)
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _reason(exc: api_exceptions.GoogleAPICallError) -> str:
    message = _first_line(exc.message) if exc.message else ""
    # The client prefixes the method and URL; the server's own words are enough.
    if ": " in message and message.split(" ", 1)[0] in ("GET", "POST", "PATCH"):
        message = message.split(": ", 1)[1]
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _where(exc: requests.exceptions.RequestException) -> str:
    url = getattr(exc.request, "url", None) if exc.request is not None else None
    if not url:
        return ""
    parts = urlsplit(url)
    return f" at {parts.scheme}://{parts.netloc}"


def _connection_reason(exc: BaseException) -> str:
    """The operating system's reason (connection refused, name not known), not urllib3's story."""
    match = _ERRNO_RE.search(str(exc))
    return match[1].strip() if match else _first_line(exc)


def _retry_deadline(deadlines: Deadlines) -> str:
    seconds = getattr(deadlines.retry, "timeout", None) or getattr(
        deadlines.retry, "deadline", None
    )
    return f"{seconds:g}s" if seconds else "the retry deadline"


def _first_line(value: object) -> str:
    text = str(value).strip()
    line = text.splitlines()[0] if text else ""
    return line[:300]

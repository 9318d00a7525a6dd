"""A local BigQuery (the emulator) holding a stack's declared dataset and a sample of events.

`up` starts the emulator on loopback with its data on disk, creates each requested stack's
dataset and table from the project's own declaration and loads a sample of events; `down`
stops it and deletes its data; `local_endpoint` gives other commands (records, verify) its
address. Its state lives in one JSON file under the state directory:
`$NPQ_EVENTS_STATE_DIR/local/` or `.npq-events/local/` in the repository. Only loading a stack
needs google-cloud-bigquery, so only `up` imports it: `status` and `down` start quickly.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from infra.bigquery import emulator
from infra.bigquery.sample_events import DEFAULT_SEED, sample_events
from infra.bigquery.window import utc_now
from infra.errors import UserError, explain
from infra.model import schema
from infra.model.declared import Declaration, declare
from infra.model.stackfiles import ROOT, settings_for

if TYPE_CHECKING:
    from google.cloud import bigquery

STATE_DIR_ENV = "NPQ_EVENTS_STATE_DIR"
DEFAULT_STATE_DIR = ROOT / ".npq-events"
DEFAULT_STACK = "staging"
INSERT_BATCH = 500
# The environment a client of the local emulator reads credentials from: none. A real key
# would be sent to loopback for nothing, and refreshing its token needs the internet.
NO_CREDENTIALS: Mapping[str, str] = MappingProxyType({})

Step = Callable[[str], AbstractContextManager]


@dataclass(frozen=True)
class Paths:
    """Where the local emulator keeps its state, data and log."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "emulator.log"


def paths(env: Mapping[str, str] = os.environ) -> Paths:
    base = env.get(STATE_DIR_ENV)
    return Paths((Path(base).expanduser() if base else DEFAULT_STATE_DIR) / "local")


@dataclass(frozen=True)
class LocalState:
    """What `local up` started: the process, where it answers, and the stacks it holds."""

    pid: int
    port: int
    endpoint: str
    project: str
    stacks: tuple[str, ...]
    data_dir: str
    log: str
    started_at: str

    def as_json(self) -> dict:
        return {**asdict(self), "stacks": list(self.stacks)}


def read_state(where: Paths) -> LocalState | None:
    """The recorded state, None when there is none; UserError when it is unreadable."""
    try:
        text = where.state_file.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # no state (nor state directory) yet
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise UserError(
            f"cannot read {where.state_file}: {reason}; run 'npq-events local down' to clear it"
        ) from None
    try:
        document = json.loads(text)
        state = LocalState(
            pid=int(document["pid"]),
            port=int(document["port"]),
            endpoint=str(document["endpoint"]),
            project=str(document["project"]),
            stacks=tuple(str(stack) for stack in document["stacks"]),
            data_dir=str(document["data_dir"]),
            log=str(document["log"]),
            started_at=str(document["started_at"]),
        )
        # pid 0 or -1 would name whole process groups, pid 1 the system's init.
        if not 1 < state.pid <= emulator.MAX_PID or not 1 <= state.port <= 65535:
            raise ValueError("pid or port out of range")
    except (ValueError, KeyError, TypeError, RecursionError):
        raise UserError(
            f"{where.state_file} is not a local emulator state file; "
            "run 'npq-events local down' to clear it"
        ) from None
    return state


def write_state(where: Paths, state: LocalState) -> None:
    _make_root(where)
    partial = where.state_file.with_suffix(".tmp")
    try:
        partial.write_text(json.dumps(state.as_json(), indent=2) + "\n", encoding="utf-8")
        partial.replace(where.state_file)
    except OSError as exc:
        raise UserError(f"cannot write {where.state_file}: {exc.strerror or exc}") from None


def _make_root(where: Paths) -> None:
    try:
        where.root.mkdir(parents=True, exist_ok=True)
        if not where.root.is_dir():
            raise NotADirectoryError(0, "not a directory")
    except OSError as exc:
        raise UserError(
            f"cannot use {where.root} for the local emulator's state (${STATE_DIR_ENV} chooses "
            f"where): {exc.strerror or exc}"
        ) from None


def is_alive(state: LocalState, where: Paths) -> bool:
    """Whether the recorded process still runs and is the emulator this state directory
    started (not a reused pid, not another program)."""
    return emulator.owned(state.pid, where.data_dir)


@dataclass(frozen=True)
class Loaded:
    """What `up` did for one stack."""

    stack: str
    table_ref: str
    events: int
    kept: bool  # True: the table already held events, which were kept
    newest: str | None = None


@dataclass(frozen=True)
class UpResult:
    state: LocalState
    started: bool  # False: it was already running
    loaded: Loaded | None  # None: the stack was already loaded
    seconds: float


def _null_step(_message: str) -> AbstractContextManager:
    return contextlib.nullcontext()


def up(
    stack: str = DEFAULT_STACK,
    port: int = emulator.DEFAULT_PORT,
    step: Step = _null_step,
    now: datetime | None = None,
    seed: int = DEFAULT_SEED,
    env: Mapping[str, str] = os.environ,
    project_dir: Path = ROOT,
) -> UpResult:
    """Start the emulator (unless it runs) and give it `stack`'s table with sample events
    (the stack as `Pulumi.<stack>.yaml` in `project_dir` declares it)."""
    began = time.monotonic()
    declaration = declare(settings_for(stack, project_dir))
    where = paths(env)
    state = read_state(where)
    started = False
    if state is None or not is_alive(state, where):
        _make_root(where)
        project = declaration.dataset.project
        with step(f"Starting the BigQuery emulator on {emulator.HOST}:{port}"):
            running = emulator.start(port, project, where.log_file, data_dir=where.data_dir)
        earlier = state.stacks if state is not None else ()
        state = LocalState(
            pid=running.pid,
            port=running.port,
            endpoint=running.endpoint,
            project=project,
            stacks=(),
            data_dir=str(where.data_dir),
            log=str(where.log_file),
            started_at=utc_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        # The stacks loaded before it stopped whose tables it still holds on disk.
        state = replace(state, stacks=_still_held(state, earlier, project_dir))
        write_state(where, state)
        started = True
    if stack in state.stacks:
        return UpResult(state, started, None, time.monotonic() - began)
    loaded = _load(state, stack, declaration, step, now or utc_now(), seed)
    state = replace(state, stacks=(*state.stacks, stack))
    write_state(where, state)
    return UpResult(state, started, loaded, time.monotonic() - began)


def _load(
    state: LocalState,
    stack: str,
    declaration: Declaration,
    step: Step,
    now: datetime,
    seed: int,
) -> Loaded:
    from infra.bigquery.client import DEFAULT_DEADLINES, make_client
    from infra.bigquery.provision import create_declared

    client = make_client(declaration.dataset.project, state.endpoint, env=NO_CREDENTIALS)
    table = declaration.table
    with step(f"Creating {table.ref} as the {stack} stack declares it"), _api(state):
        create_declared(client, declaration)
        existing = _count(client, table.ref, table.partition_field)
    if existing[0]:
        return Loaded(stack, table.ref, existing[0], kept=True, newest=existing[1])
    rows = sample_events(now, declaration.settings.environment, seed=seed)
    with step(f"Loading {len(rows)} sample events into {table.ref}"), _api(state):
        for batch in _batches(rows, INSERT_BATCH):
            errors = client.insert_rows_json(
                table.ref,
                batch,
                retry=DEFAULT_DEADLINES.retry,
                timeout=DEFAULT_DEADLINES.timeout,
            )
            if errors:
                raise UserError(f"the emulator refused sample events: {errors[0]}")
    newest = rows[-1][schema.OCCURRED_AT].split(".")[0] + "Z"
    return Loaded(stack, table.ref, len(rows), kept=False, newest=newest)


def _still_held(state: LocalState, stacks: tuple[str, ...], project_dir: Path) -> tuple[str, ...]:
    from infra.bigquery.client import DEFAULT_DEADLINES, make_client

    held = []
    client = make_client(state.project, state.endpoint, env=NO_CREDENTIALS)
    for stack in stacks:
        try:
            table = declare(settings_for(stack, project_dir)).table
            client.get_table(
                table.ref, retry=DEFAULT_DEADLINES.retry, timeout=DEFAULT_DEADLINES.timeout
            )
        except Exception:  # its file changed, or the table is gone: load it again when asked
            continue
        held.append(stack)
    return tuple(held)


def _count(client: bigquery.Client, table_ref: str, time_column: str) -> tuple[int, str | None]:
    """Rows in the table and the newest event time (a local table: no cost concern)."""
    from infra.bigquery.client import DEFAULT_DEADLINES
    from infra.bigquery.records import NO_JOB_RETRY

    sql = f"SELECT COUNT(*) AS n, MAX(`{time_column}`) AS newest FROM `{table_ref}`"
    row = next(
        iter(
            client.query(
                sql,
                retry=DEFAULT_DEADLINES.retry,
                timeout=DEFAULT_DEADLINES.timeout,
                job_retry=NO_JOB_RETRY,
            ).result(timeout=DEFAULT_DEADLINES.timeout, job_retry=NO_JOB_RETRY)
        )
    )
    newest = row["newest"].strftime("%Y-%m-%dT%H:%M:%SZ") if row["newest"] else None
    return int(row["n"]), newest


@contextlib.contextmanager
def _api(state: LocalState) -> Iterator[None]:
    from google.api_core import exceptions as api_exceptions

    try:
        yield
    except (api_exceptions.GoogleAPIError, OSError) as exc:
        raise UserError(
            f"the local emulator at {state.endpoint} failed: {explain(exc).message} "
            f"(log: {state.log})"
        ) from None


def _batches(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


@dataclass(frozen=True)
class DownResult:
    state: LocalState | None  # None: nothing (readable) was recorded
    was_running: bool
    stopped: tuple[int, ...] = ()  # the pids stopped
    unreadable: bool = False  # a state file was there but could not be read (it is cleared)


def down(env: Mapping[str, str] = os.environ) -> DownResult:
    """Stop the emulator this state directory started (also when its state file is lost or
    unreadable: it is found by its command line), delete its data and clear its state."""
    where = paths(env)
    unreadable = False
    try:
        state = read_state(where)
    except UserError:
        state, unreadable = None, True  # cleared below
    pids = dict.fromkeys(emulator.find(where.data_dir))
    if state is not None and is_alive(state, where):
        pids[state.pid] = None
    stopped = tuple(pid for pid in pids if emulator.stop(pid, where.data_dir))
    # Only ever the directory this module owns, never a path read from the state file.
    shutil.rmtree(where.data_dir, ignore_errors=True)
    _clear(where.state_file)
    return DownResult(state, bool(stopped), stopped, unreadable)


def _clear(state_file: Path) -> None:
    if state_file.is_symlink() or state_file.is_file():
        state_file.unlink(missing_ok=True)
    elif state_file.exists():
        raise UserError(f"{state_file} is not a state file (a directory?); remove it by hand")


def status(env: Mapping[str, str] = os.environ) -> tuple[LocalState | None, bool]:
    """The recorded state and whether the emulator runs and answers."""
    where = paths(env)
    state = read_state(where)
    if state is None:
        return None, False
    return state, is_alive(state, where) and emulator.answers(state.endpoint, state.project)


def local_endpoint(*stacks: str, env: Mapping[str, str] = os.environ) -> str:
    """The endpoint of the running local emulator, holding every stack named, or UserError.

    A client for it must not send real credentials: make_client(project, endpoint,
    env=NO_CREDENTIALS).
    """
    hint = f" --stack {stacks[0]}" if len(stacks) == 1 else ""
    state, running = status(env)
    if state is None or not running:
        raise UserError(
            f"no local emulator runs (state: {paths(env).state_file}); "
            f"start one with: npq-events local up{hint}"
        )
    missing = [stack for stack in dict.fromkeys(stacks) if stack not in state.stacks]
    if missing:
        load = (
            f"load it with: npq-events local up --stack {missing[0]}"
            if len(missing) == 1
            else "load each with: npq-events local up --stack NAME"
        )
        raise UserError(
            f"the local emulator holds {', '.join(state.stacks) or 'no stack'}, not "
            f"{', '.join(missing)}; {load}"
        )
    return state.endpoint

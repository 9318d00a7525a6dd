"""The schema lock: the events schema and each stack's table settings as released.

`schema/events.lock.json` holds the schema exactly as `npq-events schema export` prints it
(no policy tag); `schema/events.settings.lock.json` holds each committed stack's table
settings (table id, partitioning, clustering, partition filter, KMS key, description) in
BigQuery's REST shape. `check()` classifies the code against them (old = lock, new = code)
with the same classifier the verifier uses on a live table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from infra.model import schema
from infra.model.declared import declare
from infra.model.schema_files import SchemaFileError, read_schema_file
from infra.model.stackfiles import ROOT, committed_stacks, settings_for
from infra.rules.effects import Effect
from infra.rules.schema_changes import Change, classify_schema, classify_settings, schema_notes

LOCK_DIR = ROOT / "schema"
SCHEMA_LOCK = "events.lock.json"
SETTINGS_LOCK = "events.settings.lock.json"
SCHEMA_SCOPE = "schema"
SETTINGS_ACCEPTED = "accepted: a JSON object of stack name to table settings in BigQuery's shape"


@dataclass(frozen=True)
class ScopedChange:
    """A change with where it is: the schema, or one stack's table settings."""

    scope: str  # "schema", or "table <stack>"
    change: Change


@dataclass(frozen=True)
class LockCheck:
    findings: tuple[ScopedChange, ...]
    notes: tuple[str, ...]

    @property
    def destructive(self) -> tuple[ScopedChange, ...]:
        return tuple(f for f in self.findings if f.change.destructive)


def schema_text(policy_tag: str | None = None) -> str:
    """The events schema as `schema export` prints it, and as the lock holds it (no tag)."""
    return schema.to_json(schema.EVENTS, policy_tag, indent=2) + "\n"


def declared_settings(stack_dir: Path = ROOT) -> dict[str, dict]:
    """Every committed stack's table settings, from the declared state (schema left out)."""
    settings = {}
    for stack in committed_stacks(stack_dir):
        table = declare(settings_for(stack, stack_dir)).table.api_repr()
        table.pop("schema")
        settings[stack] = table
    return settings


def settings_text(stack_dir: Path = ROOT) -> str:
    return json.dumps(declared_settings(stack_dir), indent=2) + "\n"


def read_settings_lock(path: Path) -> dict[str, dict]:
    label = str(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaFileError(f"{label}: no such file; run `npq-events schema lock`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaFileError(f"{label}: cannot be read ({exc}); {SETTINGS_ACCEPTED}") from None
    except json.JSONDecodeError as exc:
        raise SchemaFileError(
            f"{label}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            f"{SETTINGS_ACCEPTED}"
        ) from None
    except RecursionError:
        raise SchemaFileError(f"{label}: nested too deeply; {SETTINGS_ACCEPTED}") from None
    if not isinstance(document, dict) or not all(
        isinstance(table, dict) for table in document.values()
    ):
        raise SchemaFileError(f"{label}: not a settings lock; {SETTINGS_ACCEPTED}")
    return document


def read_schema_lock(path: Path) -> list[dict]:
    if not path.exists():
        raise SchemaFileError(f"{path}: no such file; run `npq-events schema lock`")
    return read_schema_file(path).fields


def check(lock_dir: Path = LOCK_DIR, stack_dir: Path = ROOT) -> LockCheck:
    """The code (old = lock, new = code) against both lock files; SchemaFileError if unreadable."""
    locked_schema = read_schema_lock(lock_dir / SCHEMA_LOCK)
    locked_settings = read_settings_lock(lock_dir / SETTINGS_LOCK)
    code_schema = schema.to_api(schema.EVENTS)
    findings = [ScopedChange(SCHEMA_SCOPE, c) for c in classify_schema(locked_schema, code_schema)]
    code_settings = declared_settings(stack_dir)
    for stack in sorted(set(locked_settings) | set(code_settings)):
        scope = f"table {stack}"
        if stack not in locked_settings:
            findings.append(ScopedChange(scope, _stack_added(stack)))
        elif stack not in code_settings:
            findings.append(ScopedChange(scope, _stack_removed(stack)))
        else:
            findings += [
                ScopedChange(scope, c)
                for c in classify_settings(locked_settings[stack], code_settings[stack])
            ]
    return LockCheck(tuple(findings), schema_notes(locked_schema, code_schema))


def write(lock_dir: Path = LOCK_DIR, stack_dir: Path = ROOT) -> list[Path]:
    """Write both lock files from the code; the paths whose content changed. SchemaFileError
    when the directory cannot be made or a file cannot be written."""
    contents = ((SCHEMA_LOCK, schema_text()), (SETTINGS_LOCK, settings_text(stack_dir)))
    written = []
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        for name, text in contents:
            path = lock_dir / name
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                written.append(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        where = getattr(exc, "filename", None) or lock_dir
        raise SchemaFileError(f"cannot write the lock in {lock_dir}: {where}: {reason}") from None
    return written


def _stack_added(stack: str) -> Change:
    return Change(
        stack,
        "stack_added",
        Effect.IN_PLACE,
        f"stack {stack} is not in the lock: its first pulumi up creates or adopts its table; "
        "no existing table changes.",
    )


def _stack_removed(stack: str) -> Change:
    return Change(
        stack,
        "stack_removed",
        Effect.IN_PLACE,
        f"stack {stack} is in the lock but no longer committed: nothing changes until the "
        "stack is destroyed, which a long-lived stack's protection refuses.",
    )

"""Reading `pulumi preview --json` and judging whether applying it would destroy stored events.

The document is the Pulumi CLI's preview digest: `config`, `steps` (each with `op`, `urn`,
`provider`, `oldState`, `newState`, `diffReasons`, `replaceReasons`, `detailedDiff`),
`diagnostics` (`urn`, `message`, `severity`), `duration`, `changeSummary` (a count per
operation) and `maybeCorrupt`. `read_preview` turns the text into a frozen `Preview` or raises
`PreviewError`; `judge` says which steps would replace, delete, expire or unprotect a BigQuery
table or dataset or the KMS key grant, or drop a column of the table. Both are pure: the CLI
only reads the file and prints the verdict.

The gate fails closed: a preview of an existing stack that was not refreshed (no `refresh`
steps: `pulumi preview --refresh`, or Pulumi.yaml `options: refresh: always`), a preview
without its change summary, and a table whose schema, or a guard whose value, cannot be read
are not vouched for (status `incomplete`, exit 2), each named.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.errors import BadInput
from infra.program import resource_types
from infra.rules.effects import Effect, worst
from infra.rules.schema_changes import (
    Change,
    classify_schema,
    days,
    millis,
    partition_expiration_change,
    timestamp,
)

TABLE_TYPE = resource_types.TABLE
DATASET_TYPE = resource_types.DATASET
KMS_GRANT_TYPE = resource_types.KMS_GRANT
# What the gate guards, and the word its messages use for each.
GUARDED = {TABLE_TYPE: "table", DATASET_TYPE: "dataset", KMS_GRANT_TYPE: "KMS grant"}
PROVIDER_TYPE_PREFIX = "pulumi:providers:"
STACK_TYPE = "pulumi:pulumi:Stack"

# Every step operation the Pulumi engine reports, by what it does to the cloud resource.
REPLACING_OPS = frozenset(
    {"replace", "create-replacement", "delete-replaced", "import-replacement"}
)
DELETING_OPS = frozenset({"delete"})
# These leave the cloud resource in place: `discard` and `discard-replaced` only stop tracking a
# resource that was read, `remove-pending-replace` drops a record whose resource is already gone.
KEEPING_OPS = frozenset(
    {
        "same",
        "create",
        "update",
        "import",
        "read",
        "read-replacement",
        "refresh",
        "discard",
        "discard-replaced",
        "remove-pending-replace",
    }
)
KNOWN_OPS = REPLACING_OPS | DELETING_OPS | KEEPING_OPS
# The operations the engine counts in changeSummary (its "logical" steps), bar `same`, which a
# preview lists only with --show-sames.
COUNTED_OPS = frozenset({"create", "update", "delete", "replace", "import", "read"})
# Under --adoption, the only operations allowed on a custom resource.
ADOPTION_OPS = frozenset({"same", "import", "read", "refresh"})

# Inputs whose change from true to false (or false to true) removes a guard against deletion;
# the guarded value is also the provider's default, which an absent input takes.
_GUARD_INPUTS = {
    TABLE_TYPE: (("deletionProtection", True),),
    DATASET_TYPE: (("deleteContentsOnDestroy", False),),
}

_KEEPING_MESSAGES = {
    "create": "created",
    "update": "updated in place, its data kept",
    "import": "imported as it is, its data kept",
}

_URN_RE = re.compile(
    r"^urn:pulumi:(?P<stack>[^:]*)::(?P<project>[^:]*)::(?P<type>.+?)::(?P<name>.*)$"
)
_TOO_DEEP = "nested too deeply to be a preview (expected the output of `pulumi preview --json`)"
_SEVERITIES = frozenset({"debug", "info", "infoerr", "warning", "error"})


class PreviewError(BadInput):
    """Input that is not the output of `pulumi preview --json`; the message is one line."""


@dataclass(frozen=True)
class Step:
    """One step of the preview, as the engine reported it."""

    op: str
    urn: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    diff_reasons: tuple[str, ...] = ()
    replace_reasons: tuple[str, ...] = ()
    detailed_diff: tuple[tuple[str, str], ...] = ()  # (property path, kind)

    @property
    def type(self) -> str:
        """The resource type: the last of the URN's `$`-joined parent types."""
        return _urn_part(self.urn, "type").rsplit("$", 1)[-1]

    @property
    def name(self) -> str:
        return _urn_part(self.urn, "name")

    @property
    def stack(self) -> str:
        return _urn_part(self.urn, "stack")

    @property
    def custom(self) -> bool:
        state = self.new or self.old or {}
        return bool(state.get("custom", True))

    def inputs(self, which: str) -> Mapping[str, Any]:
        state = self.old if which == "old" else self.new
        return (state or {}).get("inputs") or {}

    def protected(self, which: str) -> bool:
        state = self.old if which == "old" else self.new
        return bool((state or {}).get("protect", False))


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    message: str
    urn: str | None = None

    @property
    def text(self) -> str:
        """The message on one line, as a CI log or a comment shows it."""
        return " ".join(self.message.split())


@dataclass(frozen=True)
class Preview:
    steps: tuple[Step, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    change_summary: tuple[tuple[str, int], ...] = ()
    has_summary: bool = True
    maybe_corrupt: bool = False

    @property
    def stack(self) -> str | None:
        return self.steps[0].stack if self.steps else None

    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")


@dataclass(frozen=True)
class Judgment:
    """What the preview does to one guarded resource, or (under --adoption) to any resource."""

    urn: str
    name: str
    type: str
    kind: str  # table, dataset, KMS grant, or the type for other resources
    resource: str  # table or dataset ref, KMS grant binding; "" when the preview does not say
    action: str  # replace, delete, unprotect, create, update, import, same, unknown, ...
    effect: Effect  # what applying it does to stored events, on the one scale
    ops: tuple[str, ...]
    reasons: tuple[str, ...]
    blocked: bool
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "resource": self.resource,
            "action": self.action,
            "effect": str(self.effect),
            "ops": list(self.ops),
            "reasons": list(self.reasons),
            "blocked": self.blocked,
            "message": self.message,
        }


@dataclass(frozen=True)
class Verdict:
    stack: str | None
    changes: tuple[Judgment, ...]
    diagnostics: tuple[Diagnostic, ...]
    change_summary: tuple[tuple[str, int], ...]
    incomplete: tuple[str, ...] = field(default=())  # why the preview cannot be vouched for

    @property
    def blocked(self) -> tuple[Judgment, ...]:
        return tuple(c for c in self.changes if c.blocked)

    @property
    def status(self) -> str:
        if self.blocked:
            return "blocked"
        return "incomplete" if self.incomplete else "pass"

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "status": self.status,
            "blocked": [c.as_json() for c in self.blocked],
            "changes": [c.as_json() for c in self.changes],
            "incomplete": list(self.incomplete),
            "diagnostics": [
                {"severity": d.severity, "urn": d.urn, "message": d.text}
                for d in self.diagnostics
                if d.severity in ("warning", "error")
            ],
            "changeSummary": dict(self.change_summary),
        }


# --- reading ---------------------------------------------------------------------------------


def read_preview(text: str) -> Preview:
    """The preview in `text` (stdout of `pulumi preview --json`), or PreviewError.

    The CLI can print lines that are not JSON around the document (policy pack installation
    before it, "Update plan written to ..." after it with --save-plan): the document is the
    top-level JSON object that starts a line. Two such documents are refused, not half read.
    """
    return parse_preview(_decode(text))


def parse_preview(document: Any) -> Preview:
    """A Preview from the decoded JSON document, or PreviewError naming what is wrong."""
    if not isinstance(document, dict):
        raise PreviewError(f"expected a JSON object, found {_json_kind(document)}")
    if "steps" not in document and "changeSummary" not in document:
        raise PreviewError(
            "no 'steps' and no 'changeSummary': not a preview digest "
            "(expected the output of `pulumi preview --json`)"
        )
    steps = tuple(
        _parse_step(raw, f"steps[{i}]") for i, raw in enumerate(_list(document, "steps", "steps"))
    )
    diagnostics = tuple(
        _parse_diagnostic(raw, f"diagnostics[{i}]")
        for i, raw in enumerate(_list(document, "diagnostics", "diagnostics"))
    )
    summary = document.get("changeSummary") or {}
    if not isinstance(summary, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in summary.items()
    ):
        raise PreviewError("changeSummary: expected an object of operation counts")
    corrupt = document.get("maybeCorrupt", False)
    if not isinstance(corrupt, bool):
        raise PreviewError("maybeCorrupt: expected true or false")
    return Preview(
        steps=steps,
        diagnostics=diagnostics,
        change_summary=tuple(sorted(summary.items())),
        has_summary=bool(summary),
        maybe_corrupt=corrupt,
    )


def _decode(text: str) -> Any:
    if not text.strip():
        raise PreviewError("empty input (expected the output of `pulumi preview --json`)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        first_error = exc
    except RecursionError:
        raise PreviewError(_TOO_DEEP) from None
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    end = 0
    for match in re.finditer(r"^\{", text, flags=re.MULTILINE):
        if match.start() < end:
            continue  # inside the document already read
        try:
            document, end = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        except RecursionError:
            raise PreviewError(_TOO_DEEP) from None
        documents.append(document)
    if len(documents) > 1:
        raise PreviewError(
            f"{len(documents)} JSON documents, expected the output of one `pulumi preview "
            "--json`: the gate would judge only one of them"
        )
    if documents:
        return documents[0]
    raise PreviewError(
        f"not JSON ({first_error.msg} at line {first_error.lineno} column {first_error.colno}); "
        "expected the output of `pulumi preview --json`"
    )


def _list(container: Mapping[str, Any], key: str, path: str) -> list:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PreviewError(f"{path}: expected a list, found {_json_kind(value)}")
    return value


def _string(container: Mapping[str, Any], key: str, path: str, required: bool = True) -> str | None:
    value = container.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise PreviewError(f"{path}.{key}: expected a string, found {_json_kind(value)}")
    return value


def _strings(container: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    values = _list(container, key, f"{path}.{key}")
    if not all(isinstance(v, str) for v in values):
        raise PreviewError(f"{path}.{key}: expected a list of property names")
    return tuple(values)


def _parse_step(raw: Any, path: str) -> Step:
    if not isinstance(raw, dict):
        raise PreviewError(f"{path}: expected an object, found {_json_kind(raw)}")
    op = _string(raw, "op", path)
    urn = _string(raw, "urn", path)
    if not _URN_RE.fullmatch(urn):
        raise PreviewError(f"{path}.urn: {urn!r} is not a Pulumi URN (urn:pulumi:...)")
    states = {}
    for key in ("oldState", "newState"):
        state = raw.get(key)
        if state is not None and not (
            isinstance(state, dict) and isinstance(state.get("inputs", {}) or {}, dict)
        ):
            raise PreviewError(f"{path}.{key}: expected a resource state object")
        states[key] = state
    detailed = raw.get("detailedDiff") or {}
    if not isinstance(detailed, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("kind"), str) for v in detailed.values()
    ):
        raise PreviewError(f"{path}.detailedDiff: expected an object of {{kind, inputDiff}}")
    return Step(
        op=op,
        urn=urn,
        old=states["oldState"],
        new=states["newState"],
        diff_reasons=_strings(raw, "diffReasons", path),
        replace_reasons=_strings(raw, "replaceReasons", path),
        detailed_diff=tuple(sorted((k, v["kind"]) for k, v in detailed.items())),
    )


def _parse_diagnostic(raw: Any, path: str) -> Diagnostic:
    if not isinstance(raw, dict):
        raise PreviewError(f"{path}: expected an object, found {_json_kind(raw)}")
    severity = _string(raw, "severity", path)
    if severity not in _SEVERITIES:
        raise PreviewError(
            f"{path}.severity: {severity!r} is not one of {', '.join(sorted(_SEVERITIES))}"
        )
    return Diagnostic(
        severity=severity,
        message=_string(raw, "message", path, required=False) or "",
        urn=_string(raw, "urn", path, required=False),
    )


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def _urn_part(urn: str, part: str) -> str:
    match = _URN_RE.fullmatch(urn)
    if match is None:  # _parse_step refuses such a step; only code can build one
        raise ValueError(f"{urn!r} is not a Pulumi URN")
    return match[part]


# --- judging ---------------------------------------------------------------------------------


def judge(preview: Preview, adoption: bool = False) -> Verdict:
    """Which steps would destroy stored events, and whether the preview can be vouched for.

    Blocked: a replace or delete of a BigQuery table or dataset or of the KMS grant, by any
    of the steps that carry it (replace, create-replacement, delete-replaced,
    import-replacement, delete); an update of the table whose schema change drops a column
    (or that the classifier says replaces it); a table or dataset that expires, or would
    (expirationTime, a shorter partition expiration, a dataset's default expirations);
    removing `protect` or the provider's own deletion guard from one of them (an absent guard
    input is the provider's default); an operation the gate does not know. With `adoption`,
    also any step on a custom resource other than same or import (a create of the KMS grant
    excepted, see `_adoption_change`), and an import Pulumi has warned about. Whatever it
    cannot judge makes the verdict incomplete, naming it.
    """
    by_urn: dict[str, list[Step]] = {}
    for step in preview.steps:
        by_urn.setdefault(step.urn, []).append(step)

    changes = []
    unjudged: list[str] = []
    for steps in by_urn.values():
        change = None
        if steps[0].type in GUARDED:
            change = _guarded_change(steps)
            unjudged += _unjudged(steps)
        if adoption and (change is None or not change.blocked):
            change = _adoption_change(steps, preview.diagnostics) or change
        if change is not None:
            changes.append(change)
    return Verdict(
        stack=preview.stack,
        changes=tuple(changes),
        diagnostics=preview.diagnostics,
        change_summary=preview.change_summary,
        incomplete=_incomplete(preview) + tuple(unjudged),
    )


def _guarded_change(steps: Sequence[Step]) -> Judgment | None:
    ops = tuple(s.op for s in steps)
    step = _main_step(steps)
    kind = GUARDED[step.type]
    reasons = _reasons(steps)
    unknown = [op for op in ops if op not in KNOWN_OPS]
    if unknown:
        return _change(
            step,
            ops,
            "unknown",
            Effect.REPLACE,
            reasons,
            True,
            f"operation {', '.join(unknown)} on the {kind} is not one the gate knows: "
            "it cannot tell whether the data survives, so it refuses",
        )
    if any(op in REPLACING_OPS for op in ops):
        return _change(
            step, ops, "replace", Effect.REPLACE, reasons, True, _destroy_message(step, "replace")
        )
    if any(op in DELETING_OPS for op in ops):
        return _change(
            step, ops, "delete", Effect.DELETE, reasons, True, _destroy_message(step, "delete")
        )
    losses = _schema_losses(steps) + _expiry_losses(steps)
    if losses:
        effect = worst(c.effect for c in losses)
        return _change(
            step,
            ops,
            str(effect),
            effect,
            tuple(c.path for c in losses),
            True,
            f"the {kind} would lose stored events: " + " ".join(c.message for c in losses),
        )
    dropped = _dropped_guards(step)
    if dropped:
        return _change(
            step,
            ops,
            "unprotect",
            Effect.NONE,
            tuple(dropped),
            True,
            f"removes the {kind}'s protection against deletion ({', '.join(dropped)}); "
            "the next change could then destroy it. Decommissioning is done by hand, "
            "not through the pipeline (README, Pipelines)",
        )
    if all(op in ("same", "refresh") for op in ops):
        return None
    action = step.op
    effect = {"create": Effect.CREATE, "update": Effect.IN_PLACE}.get(action, Effect.NONE)
    detail = f" ({', '.join(reasons)})" if reasons else ""
    return _change(
        step, ops, action, effect, reasons, False, _KEEPING_MESSAGES.get(action, action) + detail
    )


def _adoption_change(steps: Sequence[Step], diagnostics: Sequence[Diagnostic]) -> Judgment | None:
    step = _main_step(steps)
    if not step.custom or step.type.startswith(PROVIDER_TYPE_PREFIX):
        return None
    ops = tuple(s.op for s in steps)
    kind = GUARDED.get(step.type, step.type)
    noisy = [d for d in diagnostics if d.urn == step.urn and d.severity in ("warning", "error")]
    if "import" in ops and noisy:
        return _change(
            step,
            ops,
            "import",
            Effect.NONE,
            (),
            True,
            f"the import of the {kind} will fail or is suspect: {noisy[0].text} "
            "(run `npq-events verify --adopt` and make code and live agree)",
        )
    extra = [op for op in ops if op not in ADOPTION_OPS]
    if not extra:
        return None
    if step.type == KMS_GRANT_TYPE and set(extra) == {"create"}:
        # A CryptoKeyIAMMember is non-authoritative: creating one whose binding already exists
        # (it must, or the adopted datasets could not use the key) adds nothing.
        return _change(
            step,
            ops,
            "create",
            Effect.CREATE,
            (),
            False,
            "creates the KMS grant: a non-authoritative IAM member, so a binding that already "
            "exists is left as it is; from now on this stack owns it",
        )
    return _change(
        step,
        ops,
        step.op,
        {"create": Effect.CREATE, "update": Effect.IN_PLACE}.get(step.op, Effect.NONE),
        _reasons(steps),
        True,
        f"{', '.join(extra)} of the {kind} during adoption: the adoption preview must show "
        "only imports (fix the code or the live resource first)",
    )


def _main_step(steps: Sequence[Step]) -> Step:
    """The step that best describes the change: the logical one when the preview lists several."""
    for preferred in ("replace", "import-replacement", "delete", "update", "import", "create"):
        for step in steps:
            if step.op == preferred:
                return step
    # e.g. a read or discard after the refresh, which only reads the resource
    return next((s for s in steps if s.op not in ("refresh", "same")), steps[0])


def _reasons(steps: Sequence[Step]) -> tuple[str, ...]:
    """The properties behind the change: replaceReasons first, then replacing detailed diffs."""
    reasons: list[str] = []
    for step in steps:
        reasons.extend(step.replace_reasons)
    for step in steps:
        reasons.extend(path for path, kind in step.detailed_diff if kind.endswith("-replace"))
    if not reasons:
        for step in steps:
            reasons.extend(step.diff_reasons)
    return tuple(dict.fromkeys(reasons))


def _schema_losses(steps: Sequence[Step]) -> tuple[Change, ...]:
    """The destructive schema changes of a table update, by the classifier's rules.

    pulumi-gcp's table update reads the live table and drops (ALTER TABLE DROP COLUMN) every
    top-level column the code lacks, whatever the update is for: the step is an `update`, yet
    a column's data is gone. The old side is the state the provider diffs against (its
    outputs, which the preview's refresh brought up to the live table), else the inputs last
    applied. A schema that cannot be read is reported by `_unjudged`.
    """
    step = next((s for s in steps if s.op == "update"), None)
    if step is None or step.type != TABLE_TYPE or step.old is None or step.new is None:
        return ()
    old, new = _update_schemas(step)
    if old is None or new is None:
        return ()
    return tuple(c for c in classify_schema(old, new) if c.destructive)


def _update_schemas(step: Step) -> tuple[list | None, list | None]:
    old_outputs = (step.old or {}).get("outputs") or {}
    old = _schema_fields(old_outputs.get("schema") or step.inputs("old").get("schema"))
    return old, _schema_fields(step.inputs("new").get("schema"))


def _expiry_losses(steps: Sequence[Step]) -> tuple[Change, ...]:
    """What BigQuery deletes when the table or dataset expires, as far as the preview shows.

    Live values come from the freshest state in the steps (a refresh step's new state, else
    an update's old state); the code's from the inputs the program registers. The table's
    expirationTime is optional and computed in pulumi-gcp: inputs that leave it out keep the
    live value, and so the table expires all the same.
    """
    live = _live_outputs(steps)
    goal = next((s.inputs("new") for s in steps if s.op != "refresh" and s.new), {})
    if steps[0].type == TABLE_TYPE:
        return _table_expiries(live, goal)
    if steps[0].type == DATASET_TYPE:
        return _dataset_expiries(live, goal)
    return ()


def _live_outputs(steps: Sequence[Step]) -> Mapping[str, Any]:
    for step in steps:
        if step.op == "refresh" and step.new is not None:
            return step.new.get("outputs") or {}
    for step in steps:
        if step.old is not None:
            return step.old.get("outputs") or {}
    return {}


def _table_expiries(live: Mapping[str, Any], goal: Mapping[str, Any]) -> tuple[Change, ...]:
    losses = []
    wanted, kept = millis(goal.get("expirationTime")), millis(live.get("expirationTime"))
    if wanted is not None or kept is not None:
        when = wanted if wanted is not None else kept
        source = "the program sets it" if wanted is not None else "the live table has it"
        losses.append(
            Change(
                "expirationTime",
                "table_expiration",
                Effect.EXPIRES,
                f"the table expires at {timestamp(when)} ({source}): BigQuery then deletes it "
                "with every stored event; clear it (`bq update --expiration 0`) before any up.",
                kept,
                wanted,
            )
        )
    old_retention = millis(_object(live.get("timePartitioning")).get("expirationMs"))
    new_retention = millis(_object(goal.get("timePartitioning")).get("expirationMs"))
    if new_retention is not None and old_retention != new_retention:
        change = partition_expiration_change(old_retention, new_retention)
        if change.destructive:
            losses.append(change)
    return tuple(losses)


def _dataset_expiries(live: Mapping[str, Any], goal: Mapping[str, Any]) -> tuple[Change, ...]:
    losses = []
    for key, what in (
        ("defaultTableExpirationMs", "every table created in the dataset is deleted"),
        ("defaultPartitionExpirationMs", "every partition of a table created in it is deleted"),
    ):
        value = millis(goal.get(key)) or millis(live.get(key))
        if value is not None:
            losses.append(
                Change(
                    key,
                    "dataset_expiration",
                    Effect.EXPIRES,
                    f"the dataset's {key} is {days(value)}: {what} {days(value)} after it is "
                    "made, with its events; clear it before any up.",
                    millis(live.get(key)),
                    millis(goal.get(key)),
                )
            )
    return tuple(losses)


def _object(value: Any) -> Mapping[str, Any]:
    """A nested object as the state holds it: pulumi-gcp flattens one-item blocks to objects."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, Mapping) else {}


def _unjudged(steps: Sequence[Step]) -> list[str]:
    """What the gate needs to judge a guarded resource's steps and cannot read, each named."""
    problems = []
    for step in steps:
        where = f"{step.op} of {GUARDED[step.type]} {describe(step) or step.name}"
        if step.op in ("update", "replace") and (step.old is None or step.new is None):
            problems.append(f"the {where} carries no old or new state: it cannot be judged")
            continue
        if step.op == "update" and step.type == TABLE_TYPE:
            old, new = _update_schemas(step)
            for side, fields in (("state's", old), ("code's", new)):
                if fields is None:
                    problems.append(
                        f"the {where}: the {side} schema cannot be read (a secret, a value "
                        "unknown until apply, or not a list of fields), so the gate cannot tell "
                        "which columns the provider would drop"
                    )
        for key, _guarded in _GUARD_INPUTS.get(step.type, ()):
            for which in ("old", "new"):
                value = step.inputs(which).get(key)
                if value is not None and not isinstance(value, bool):
                    problems.append(
                        f"the {where}: {key} in the {which} inputs is {_js(value)}, not true or "
                        "false (a secret?), so the gate cannot tell whether it still guards it"
                    )
    return problems


def _schema_fields(text: Any) -> list | None:
    """A table's schema JSON as the provider holds it, or None when it is not known."""
    if not isinstance(text, str):
        return None
    try:
        fields = json.loads(text)
        return fields if _well_formed(fields) else None
    except (json.JSONDecodeError, RecursionError):
        return None  # e.g. a value unknown until apply


def _well_formed(fields: Any) -> bool:
    return isinstance(fields, list) and all(
        isinstance(f, dict)
        and isinstance(f.get("name"), str)
        and (f.get("fields") is None or _well_formed(f["fields"]))
        for f in fields
    )


def _dropped_guards(step: Step) -> list[str]:
    """Guards the step removes; an absent input is the provider's default, which guards."""
    if step.old is None or step.new is None:
        return []
    dropped = []
    if step.protected("old") and not step.protected("new"):
        dropped.append("protect true -> false")
    old_inputs, new_inputs = step.inputs("old"), step.inputs("new")
    for key, guarded_value in _GUARD_INPUTS.get(step.type, ()):
        was = old_inputs.get(key, guarded_value)
        now = new_inputs.get(key, guarded_value)
        if was == guarded_value and now != guarded_value:
            dropped.append(f"{key} {_js(was)} -> {_js(now)}")
    return dropped


def _destroy_message(step: Step, action: str) -> str:
    if step.type == TABLE_TYPE:
        if action == "replace":
            return (
                "pulumi-gcp deletes the table before it creates the new one: every stored "
                "event is lost"
            )
        return "the table is deleted with every stored event"
    if step.type == DATASET_TYPE:
        return "the dataset is deleted with every table and event in it"
    lost = (
        "every dataset and table encrypted with the key, in every environment and not only "
        "this stack's, can no longer be read or written (queries fail, the app's events are "
        "rejected)"
    )
    if action == "replace":
        return (
            "a replace deletes the old member, and with it the binding through which BigQuery's "
            f"encryption service account uses the key: {lost}"
        )
    return f"BigQuery's encryption service account loses the key: {lost}"


def describe(step: Step) -> str:
    """The live resource a step acts on: `project.dataset[.table]`, or the KMS binding."""
    refs = []
    for which in ("old", "new"):
        inputs = step.inputs(which)
        outputs = ((step.old if which == "old" else step.new) or {}).get("outputs") or {}
        merged = {**outputs, **inputs}
        ref = _ref(step.type, merged)
        if ref and ref not in refs:
            refs.append(ref)
    return " -> ".join(refs)


def _ref(type_: str, props: Mapping[str, Any]) -> str:
    project, dataset = props.get("project"), props.get("datasetId")
    if type_ == TABLE_TYPE and isinstance(dataset, str) and isinstance(props.get("tableId"), str):
        prefix = f"{project}." if isinstance(project, str) else ""
        return f"{prefix}{dataset}.{props['tableId']}"
    if type_ == DATASET_TYPE and isinstance(dataset, str):
        return f"{project}.{dataset}" if isinstance(project, str) else dataset
    if type_ == KMS_GRANT_TYPE and isinstance(props.get("cryptoKeyId"), str):
        return f"{props.get('role')} on {props['cryptoKeyId']} for {props.get('member')}"
    return ""


def _change(
    step: Step,
    ops: tuple[str, ...],
    action: str,
    effect: Effect,
    reasons: tuple[str, ...],
    blocked: bool,
    message: str,
) -> Judgment:
    return Judgment(
        urn=step.urn,
        name=step.name,
        type=step.type,
        kind=GUARDED.get(step.type, step.type),
        resource=describe(step),
        action=action,
        effect=effect,
        ops=ops,
        reasons=reasons,
        blocked=blocked,
        message=message,
    )


def _incomplete(preview: Preview) -> tuple[str, ...]:
    """Why the preview cannot vouch for what `pulumi up` would do, if it cannot."""
    problems = [f"Pulumi reported an error: {d.text}" for d in preview.errors()]
    if not preview.has_summary:
        problems.append(
            "the preview has no changeSummary, which a finished `pulumi preview --json` always "
            "prints: it did not finish, or is not whole"
        )
    if preview.maybe_corrupt:
        problems.append("Pulumi reports that the stack's state may be corrupt (maybeCorrupt)")
    # The stack existed before this preview when its own resource has an old state.
    existing = any(
        s.type == STACK_TYPE and s.old is not None and s.op != "refresh" for s in preview.steps
    )
    if existing and not any(s.op == "refresh" for s in preview.steps):
        problems.append(
            "the preview was not refreshed: it compares the code with Pulumi's state, not with "
            "the live tables (a column added by hand, a stale setting); run `pulumi preview "
            "--refresh`, or keep `options: refresh: always` in Pulumi.yaml"
        )
    listed: dict[str, int] = {}
    for step in preview.steps:
        listed[step.op] = listed.get(step.op, 0) + 1
    for op, count in preview.change_summary:
        if op in COUNTED_OPS and count > listed.get(op, 0):
            problems.append(
                f"changeSummary counts {count} {op} but the preview lists "
                f"{listed.get(op, 0)}: it cannot tell which resources change"
            )
    return tuple(problems)


def _js(value: Any) -> str:
    return json.dumps(value)

"""Compare a stack's live dataset and table with its declaration.

Pure functions over BigQuery REST payloads (what `datasets.get` and `tables.get` answer). The
expected state is read only from `infra.model.declared`; the effect of every schema and table
difference comes from `infra.rules.schema_changes`, the same classifier as the schema gate, so the
verifier says what `pulumi up` would do exactly as the gate judges it.

Adoption mode: the first `pulumi up` of a hand-made environment imports the dataset and table.
Pulumi before 3.174 refuses an import whose declared inputs differ from the live resource;
from 3.174 it imports and then applies the difference in the same run. Either way every
difference must be settled first, so adoption mode reports all of them as drift (descriptions,
live-only labels and policy tags included) and says whether to change the code or the live
resource.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from infra.model.declared import IGNORED_TABLE_PROPERTIES, Declaration
from infra.model.stackfiles import REVIEW_BASE_STACK, review_pr_number, stack_file
from infra.rules import schema_changes
from infra.rules.effects import Effect, worst
from infra.rules.freshness import Freshness

DRIFT = "drift"
NOTE = "note"
MATCH, ERROR = "match", "error"
# What BigQuery applies to a dataset whose answer carries no maxTimeTravelHours.
BIGQUERY_DEFAULT_TIME_TRAVEL_HOURS = 168
PULUMI_LABEL = "goog-pulumi-provisioned"  # pulumi-gcp adds it to everything it manages
SCHEMA_MODULE = "infra/model/schema.py"


@dataclass(frozen=True)
class Finding:
    """One difference between live and declared state."""

    level: str
    path: str
    expected: object
    actual: object
    effect: Effect
    message: str

    def as_json(self) -> dict:
        return {
            "level": self.level,
            "path": self.path,
            "expected": _plain(self.expected),
            "actual": _plain(self.actual),
            "effect": str(self.effect),
            "message": self.message,
        }


@dataclass(frozen=True)
class StackResult:
    """One stack's verdict: its findings, or the reason it could not be checked."""

    stack: str
    table: str | None
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    effect: Effect = Effect.NONE
    freshness: Freshness | None = None  # None: not read (or the stack could not be read)

    @property
    def status(self) -> str:
        if self.error is not None:
            return ERROR
        return DRIFT if self.drift else MATCH

    @property
    def drift(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == DRIFT)

    @property
    def notes(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == NOTE)

    def as_json(self) -> dict:
        return {
            "stack": self.stack,
            "table": self.table,
            "status": self.status,
            "effect": str(self.effect),
            "findings": [f.as_json() for f in self.findings],
            "error": self.error,
            "freshness": None if self.freshness is None else self.freshness.as_json(),
        }


def error_result(stack: str, table: str | None, message: str) -> StackResult:
    return StackResult(stack=stack, table=table, error=message)


@dataclass(frozen=True)
class _Mode:
    stack: str
    strict: bool
    adopt: bool
    encryption_optional: bool

    @property
    def stack_file(self) -> str:
        base = REVIEW_BASE_STACK if review_pr_number(self.stack) is not None else self.stack
        return stack_file(base).name


def compare(
    declaration: Declaration,
    live_dataset: Mapping | None,
    live_table: Mapping | None,
    strict: bool = False,
    adopt: bool = False,
    encryption_optional: bool = False,
) -> StackResult:
    """Every difference between the live payloads and the declaration, and their effect.

    `live_dataset` / `live_table` are REST payloads, None when BigQuery answered 404.
    `encryption_optional`: the answers come from an emulator, which does not implement CMEK
    (`--local`, `--emulator`), so a key absent from them is a note; a different key is still
    drift, and so is a table without a key in a dataset that reports one (an endpoint that
    reports a key implements CMEK).
    """
    dataset_key = (live_dataset or {}).get("defaultEncryptionConfiguration") or {}
    no_cmek = encryption_optional and not dataset_key.get("kmsKeyName")
    mode = _Mode(declaration.settings.stack, strict, adopt, no_cmek)
    findings: list[Finding] = []
    if live_dataset is None:
        findings.append(_missing("dataset", declaration.dataset.ref, mode))
    else:
        findings += _dataset_findings(declaration, live_dataset, mode)
    if live_dataset is not None and live_table is None:
        findings.append(_missing("table", declaration.table.ref, mode))
    elif live_table is not None:
        findings += _table_findings(declaration, live_table, mode)
    return StackResult(
        stack=declaration.settings.stack,
        table=declaration.table.ref,
        findings=tuple(findings),
        effect=worst(f.effect for f in findings if f.level == DRIFT),
    )


# -- missing resources ---------------------------------------------------------------------


def _missing(kind: str, ref: str, mode: _Mode) -> Finding:
    if kind == "dataset":
        what, creates = f"dataset {ref} does not exist", "it and its events table"
    else:
        what, creates = f"table {ref} does not exist", "it"
    if mode.adopt:
        message = (
            f"{what}: there is nothing to import and the import would fail; check datasetId "
            f"in {mode.stack_file}, or turn adopt off so that `pulumi up` creates {creates}"
        )
    else:
        message = f"{what}: `pulumi up` would create {creates}"
    return Finding(DRIFT, kind, ref, None, Effect.CREATE, message)


# -- dataset -------------------------------------------------------------------------------


def _dataset_findings(declaration: Declaration, live: Mapping, mode: _Mode) -> list[Finding]:
    expected = declaration.dataset.api_repr()
    findings: list[Finding] = []

    want_location, have_location = expected["location"], live.get("location")
    if str(have_location or "").lower() != want_location.lower():
        findings.append(
            Finding(
                DRIFT,
                "dataset.location",
                want_location,
                have_location,
                Effect.REPLACE,
                "a dataset cannot move: `pulumi up` would replace it, deleting its events "
                "table and every stored event"
                + _fix(mode, f"correct location in {mode.stack_file} to the live one"),
            )
        )

    want_key = schema_changes.strip_key_version(
        expected["defaultEncryptionConfiguration"]["kmsKeyName"]
    )
    have_key = schema_changes.strip_key_version(
        (live.get("defaultEncryptionConfiguration") or {}).get("kmsKeyName")
    )
    if want_key != have_key and have_key is None and mode.encryption_optional:
        findings.append(
            _encryption_not_reported("dataset.defaultEncryptionConfiguration.kmsKeyName", want_key)
        )
    elif want_key != have_key:
        findings.append(
            Finding(
                DRIFT,
                "dataset.defaultEncryptionConfiguration.kmsKeyName",
                want_key,
                have_key,
                Effect.IN_PLACE,
                "`pulumi up` would set the dataset's default key in place (tables keep "
                "their own key)" + _fix(mode, f"set kmsKey in {mode.stack_file} to the live key"),
            )
        )

    want_hours = int(expected["maxTimeTravelHours"])
    have_hours = _hours(live.get("maxTimeTravelHours"))
    if want_hours != have_hours:
        findings.append(
            Finding(
                DRIFT,
                "dataset.maxTimeTravelHours",
                want_hours,
                have_hours,
                Effect.IN_PLACE,
                "`pulumi up` would change the time-travel window in place"
                + _fix(
                    mode,
                    f"set timeTravelHours in {mode.stack_file} to {have_hours}, or update "
                    f"live with `bq update --max_time_travel_hours={want_hours}`",
                ),
            )
        )

    findings += _dataset_expiry_findings(declaration.dataset.ref, live)
    if mode.adopt:
        findings += _import_differences("dataset", live)
    findings += _label_findings(
        "dataset", expected.get("labels") or {}, live.get("labels") or {}, mode
    )
    findings += _description_finding(
        "dataset.description", expected["description"], live.get("description"), mode
    )
    return findings


# A dataset's default expirations, which BigQuery applies to every table created in it.
_DATASET_EXPIRIES = {
    "defaultTableExpirationMs": (
        "every table created in the dataset from now on is deleted {span} after its creation, "
        "with its events: a re-created events table, or a review app's, would be lost",
        "--default_table_expiration 0",
    ),
    "defaultPartitionExpirationMs": (
        "every partitioned table created in the dataset from now on deletes each partition "
        "{span} after its day, with its events",
        "--default_partition_expiration 0",
    ),
}


def _dataset_expiry_findings(ref: str, live: Mapping) -> list[Finding]:
    findings = []
    for key, (what, flag) in _DATASET_EXPIRIES.items():
        value = schema_changes.millis(live.get(key))
        if value is None:
            continue
        findings.append(
            Finding(
                DRIFT,
                f"dataset.{key}",
                None,
                value,
                Effect.EXPIRES,
                f"{what.format(span=schema_changes.days(value))}; the code declares none and "
                f"`pulumi up` does not clear it: clear it with `bq update {flag} "
                f"{ref.replace('.', ':', 1)}`",
            )
        )
    return findings


def _hours(value: object) -> int | str | None:
    """Time travel as a number; BigQuery's default when the answer leaves it out."""
    if value is None or value == "":
        return BIGQUERY_DEFAULT_TIME_TRAVEL_HOURS
    try:
        return int(str(value))
    except ValueError:
        return str(value)


def _label_findings(
    resource: str, expected: Mapping[str, str], live: Mapping[str, str], mode: _Mode
) -> list[Finding]:
    """Declared labels missing or different live are drift; labels only live are left alone
    (pulumi-gcp manages only the labels the code names, keeping others in effectiveLabels).

    Adopting, labels are no import difference: pulumi-gcp imports a dataset's labels as none
    and the program declares none while `adopt` is set (docs/adoption.md), so each is a note.
    """
    findings = []
    for key, value in sorted(expected.items()):
        have = live.get(key)
        if have == value:
            continue
        if mode.adopt:
            findings.append(
                Finding(
                    NOTE,
                    f"{resource}.labels.{key}",
                    value,
                    have,
                    Effect.NONE,
                    f"label {key}={value} is declared after the import: the up that follows "
                    "the adoption sets it in place (docs/adoption.md)",
                )
            )
            continue
        findings.append(
            Finding(
                DRIFT,
                f"{resource}.labels.{key}",
                value,
                have,
                Effect.IN_PLACE,
                f"`pulumi up` would {'set' if have is not None else 'add'} label "
                f"{key}={value} in place",
            )
        )
    if mode.adopt:
        for key, have in sorted(live.items()):
            if key in expected or key == PULUMI_LABEL:
                continue
            findings.append(_live_only_label(resource, key, have))
    return findings


def _live_only_label(resource: str, key: str, value: object) -> Finding:
    return Finding(
        NOTE,
        f"{resource}.labels.{key}",
        None,
        value,
        Effect.NONE,
        f"label {key}={value} is live only: the import keeps it (in effectiveLabels) and "
        "pulumi-gcp never removes a label the code does not name",
    )


# Live properties that pulumi-gcp reads on import, that it neither computes nor fills in when
# the code leaves them out, and that the program does not declare (terraform-provider-google-
# beta, resource_bigquery_dataset.go and resource_bigquery_table.go): each one present live is
# an import difference, so the first up would import and then update the resource, which the
# adoption gate refuses. (A table's expirationTime is computed: no difference, but drift of its
# own, see _table_expiry_findings; the dataset's default expirations likewise.)
_UNDECLARED_ON_IMPORT = {
    "dataset": ("friendlyName", "resourceTags", "externalCatalogDatasetOptions"),
    "table": ("friendlyName", "resourceTags", "tableConstraints"),
}


def _import_differences(resource: str, live: Mapping) -> list[Finding]:
    findings = []
    for key in _UNDECLARED_ON_IMPORT[resource]:
        value = live.get(key)
        if value in (None, "", {}, []):
            continue
        findings.append(
            Finding(
                DRIFT,
                f"{resource}.{key}",
                None,
                _plain(value),
                Effect.IN_PLACE,
                f"the import reads {key} and the code does not declare it: the first `pulumi "
                f"up` would import the {resource} and then update it to remove {key}, and the "
                "adoption preview must show imports only; to adopt, clear it live first (the "
                "console, or the API's patch with the field null)",
            )
        )
    return findings


def _description_finding(
    path: str, expected: str, live: object, mode: _Mode, effect: Effect = Effect.IN_PLACE
) -> list[Finding]:
    have = str(live or "")
    if have == expected:
        return []
    if mode.adopt:
        return [
            Finding(
                DRIFT,
                path,
                expected,
                have,
                effect,
                "the description differs: `pulumi up` would overwrite it after the import; "
                "change the code to match, or update it live with `bq update`",
            )
        ]
    level = DRIFT if mode.strict else NOTE
    return [
        Finding(
            level,
            path,
            expected,
            have,
            effect if mode.strict else Effect.NONE,
            "the description differs: `pulumi up` would overwrite it in place"
            + ("" if mode.strict else " (a note; --strict makes it drift)"),
        )
    ]


def _fix(mode: _Mode, how: str) -> str:
    return f"; to adopt, {how}" if mode.adopt else ""


# -- table ---------------------------------------------------------------------------------


def _table_findings(declaration: Declaration, live: Mapping, mode: _Mode) -> list[Finding]:
    expected = declaration.table.api_repr()
    findings: list[Finding] = []

    live_type = live.get("type") or "TABLE"
    if live_type != "TABLE":
        findings.append(
            Finding(
                DRIFT,
                "table.type",
                "TABLE",
                live_type,
                Effect.REPLACE,
                f"{declaration.table.ref} is a {live_type}, not a table: `pulumi up` would "
                "replace it with an empty table"
                + _fix(mode, "move the live object aside and let `pulumi up` create the table"),
            )
        )

    findings += _table_expiry_findings(declaration, live)
    if mode.adopt:
        findings += _import_differences("table", live)
    comparable = _without_ignored(live)
    comparable.pop("expirationTime", None)  # judged above: pulumi up never clears it
    for change in schema_changes.classify_settings(comparable, _without_ignored(expected)):
        # The table declares no labels (TableSpec has none), so every label difference is one
        # only live: pulumi-gcp manages only the labels the code sets and leaves others alone.
        if change.change == "labels":
            if mode.adopt and change.path != f"labels.{PULUMI_LABEL}":
                findings.append(_live_only_label("table", change.path.split(".", 1)[1], change.old))
            continue
        if change.change == "kms_key" and change.old is None and mode.encryption_optional:
            findings.append(_encryption_not_reported(f"table.{change.path}", change.new))
            continue
        findings.append(_from_change(f"table.{change.path}", change, mode))
    findings += _schema_findings(declaration, live, mode)
    return findings


def _table_expiry_findings(declaration: Declaration, live: Mapping) -> list[Finding]:
    """The table's own expiration (drift) and Dataform's partition expiration (a note)."""
    findings = []
    ref = declaration.table.ref
    expires = schema_changes.millis(live.get("expirationTime"))
    if expires is not None:
        findings.append(
            Finding(
                DRIFT,
                "table.expirationTime",
                None,
                expires,
                Effect.EXPIRES,
                f"BigQuery deletes {ref} with every stored event at "
                f"{schema_changes.timestamp(expires)}; `pulumi up` keeps that (the program does "
                f"not set expirationTime): clear it now with `bq update --expiration 0 "
                f"{ref.replace('.', ':', 1)}`",
            )
        )
    retention = schema_changes.millis((live.get("timePartitioning") or {}).get("expirationMs"))
    if retention is not None:
        findings.append(
            Finding(
                NOTE,
                "table.timePartitioning.expirationMs",
                None,
                retention,
                Effect.NONE,
                f"partitions expire after {schema_changes.days(retention)} (set by Dataform, "
                f"not by this project): BigQuery keeps only the events of the last "
                f"{schema_changes.days(retention)}",
            )
        )
    return findings


def _encryption_not_reported(path: str, key: object) -> Finding:
    return Finding(
        NOTE,
        path,
        key,
        None,
        Effect.NONE,
        "this endpoint reports no encryption (a local emulator does not implement CMEK): "
        "the key is not checked here",
    )


def _without_ignored(payload: Mapping) -> dict:
    """A copy of a table payload without the properties the program ignores."""
    copy = json.loads(json.dumps(payload))
    for dotted in IGNORED_TABLE_PROPERTIES:
        *parents, leaf = dotted.split(".")
        node = copy
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return copy


def _schema_findings(declaration: Declaration, live: Mapping, mode: _Mode) -> list[Finding]:
    want = declaration.table.api_schema()
    have = list((live.get("schema") or {}).get("fields") or [])
    findings: list[Finding] = []
    if declaration.table.policy_tag is None and not mode.adopt:
        # Not declared: not checked, but worth a note (adoption mode compares it).
        have, tags = _strip_policy_tags(have)
        findings += [
            Finding(
                NOTE,
                f"schema.{path}.policyTags",
                None,
                names,
                Effect.NONE,
                f"the live column has a policy tag and the code declares none; set "
                f"hiddenPolicyTag in {mode.stack_file} to manage it",
            )
            for path, names in tags
        ]
    findings += [
        # The classifier calls the two sides OLD (what exists) and NEW (the code).
        Finding(NOTE, "schema", None, None, Effect.NONE, _sides(note))
        for note in schema_changes.schema_notes(have, want)
    ]
    for change in schema_changes.classify_schema(have, want):
        suffix = _ATTRIBUTE_PATHS.get(change.change, "")
        findings.append(_from_change(f"schema.{change.path}{suffix}", change, mode))
    return findings


def _sides(note: str) -> str:
    return note.replace(" in OLD", " live").replace(" in NEW", " in the code")


# A schema change about one attribute of a column gets the attribute in its finding's path.
_ATTRIBUTE_PATHS = {
    "type": ".type",
    "mode": ".mode",
    "description": ".description",
    "policy_tags": ".policyTags",
}


def _strip_policy_tags(
    fields: Sequence[Mapping], prefix: str = ""
) -> tuple[list[dict], list[tuple[str, list]]]:
    stripped, tags = [], []
    for field in fields:
        copy = dict(field)
        path = f"{prefix}{copy.get('name')}"
        names = (copy.pop("policyTags", None) or {}).get("names") or []
        if names:
            tags.append((path, list(names)))
        if copy.get("fields"):
            copy["fields"], nested = _strip_policy_tags(copy["fields"], f"{path}.")
            tags += nested
        stripped.append(copy)
    return stripped, tags


def _from_change(path: str, change: schema_changes.Change, mode: _Mode) -> Finding:
    """A classified change as a finding: descriptions are notes unless strict or adopting."""
    if change.change == "description" and not (mode.strict or mode.adopt):
        return Finding(
            NOTE,
            path,
            _plain(change.new),
            _plain(change.old),
            Effect.NONE,
            f"{change.message.rstrip('.')} (a note; --strict makes it drift)",
        )
    # Every change the classifier reports is one `pulumi up` makes (its effect is never none):
    # drift. Order and type spellings come as schema_notes instead.
    message = change.message
    if mode.adopt:
        message = f"{message.rstrip('.')}; to adopt, {_adopt_fix(change, mode)}"
    return Finding(DRIFT, path, _plain(change.new), _plain(change.old), change.effect, message)


def _adopt_fix(change: schema_changes.Change, mode: _Mode) -> str:
    """Whether the code or the live resource should change for the import to match."""
    kind = change.change
    if kind == "removed":
        return f"add the column to {SCHEMA_MODULE}, or its data is dropped"
    if kind == "added":
        return (
            f"remove the column from {SCHEMA_MODULE}, or add it to the live table first "
            "(`bq update` with the schema from `npq-events schema export`)"
        )
    if kind in ("type", "mode", "case_rename"):
        return f"change {SCHEMA_MODULE} to match the live table"
    if kind == "description":
        return "change the description in the code to match, or update it live with `bq update`"
    if kind == "policy_tags":
        return f"set hiddenPolicyTag in {mode.stack_file} to the live tag, or change it live"
    if kind == "kms_key":
        return f"set kmsKey in {mode.stack_file} to the live key"
    if kind == "clustering":
        return (
            "change the code to the live clustering, or update the live table "
            "(`bq update --clustering_fields=...`)"
        )
    return "change the code to match the live table"


def _plain(value: object) -> object:
    """A JSON-safe copy of a finding's value."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)

"""What `pulumi up` would do to the events table when its schema or its settings change.

pulumi-gcp's table resource decides, change by change, whether it can update a table in place
or must replace it, and it replaces delete-before-create: a replaced table has lost every
stored event. These functions apply the provider's own rules (its schema diff suppression and
its "is the schema changeable" check) to two sides, old (the live table, or the lock: what
exists) and new (the code), and say for every difference what would happen, what would be lost
and what to do instead. Pure functions over BigQuery REST JSON; no I/O.

The provider's rules, stricter than BigQuery's: fields are matched by name case-sensitively
(`DATA` and `data` are a drop plus an add); type and mode compare case-insensitively; an absent
mode is NULLABLE; only INTEGER=INT64, FLOAT=FLOAT64 and BOOLEAN=BOOL are aliases; order is not
a change. In place: new NULLABLE or REPEATED columns, REQUIRED relaxed to NULLABLE,
descriptions, policy tags. A top-level column missing from the new side is dropped in place
(ALTER TABLE DROP COLUMN) unless the same change adds a top-level column, which the provider
cannot tell from a rename: then, as for any other change, it replaces the table.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from infra.rules.effects import Effect

# The only type aliases pulumi-gcp knows: each pair compares equal.
_ALIASES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN"}
# One type to BigQuery, two to pulumi-gcp: a perpetual diff that forces replacement.
_BIGQUERY_SYNONYMS = {"STRUCT": "RECORD", "DECIMAL": "NUMERIC", "BIGDECIMAL": "BIGNUMERIC"}
# Field keys compared by their own rules; any other key that differs is an in-place update.
_KNOWN_KEYS = frozenset({"name", "type", "mode", "description", "fields", "policyTags"})

_REPLACED = (
    "pulumi up would replace the table (delete it, then create it empty), losing every stored event"
)


@dataclass(frozen=True)
class Change:
    """One difference between the old side (what exists) and the new side (the code)."""

    path: str  # dotted column path, e.g. "DATA.value", or a table setting, e.g. "clustering"
    change: str  # short kind: "added", "removed", "type", "mode", "case_rename", ...
    effect: Effect
    message: str  # one sentence: what pulumi up would do, what is lost, what to do instead
    old: object = None  # the value on the old side
    new: object = None  # the value on the new side

    @property
    def destructive(self) -> bool:
        return self.effect.destructive

    def as_json(self) -> dict[str, str]:
        return {
            "path": self.path,
            "change": self.change,
            "effect": str(self.effect),
            "message": self.message,
        }


# --- schema --------------------------------------------------------------------------------


def classify_schema(old: Sequence[Mapping], new: Sequence[Mapping]) -> tuple[Change, ...]:
    """Every difference between two schemas (REST JSON fields), with its pulumi-gcp effect.

    Names must be unique within each record (BigQuery's own rule). The combined rule is
    applied: a top-level drop is `drop_column` only when the change adds no top-level column.
    """
    return tuple(_compare_level(old, new, prefix="", top=True))


def _compare_level(
    old: Sequence[Mapping], new: Sequence[Mapping], prefix: str, top: bool
) -> list[Change]:
    old_by_name = {str(f["name"]): f for f in old}
    new_by_name = {str(f["name"]): f for f in new}
    removed = [name for name in old_by_name if name not in new_by_name]
    added = [name for name in new_by_name if name not in old_by_name]
    # A removed name whose twin, ignoring case, is added is a case-only rename. Names are unique
    # ignoring case on each side (BigQuery's rule), so each has at most one twin.
    added_by_folded = {name.lower(): name for name in added}
    renamed: list[tuple[str, str]] = []
    for name in removed:
        twin = added_by_folded.pop(name.lower(), None)
        if twin is not None:
            renamed.append((name, twin))
    twins = {was for was, _ in renamed} | {now for _, now in renamed}
    removed = [name for name in removed if name not in twins]
    added = [name for name in added if name not in twins]

    changes: list[Change] = []
    for name, field in old_by_name.items():
        if name in new_by_name:
            changes += _compare_field(field, new_by_name[name], prefix + name)
    changes += [_case_rename(prefix, was, now) for was, now in renamed]
    # At the top level, any added name (a case-only rename included) makes drops replace.
    top_additions = [now for _, now in renamed] + added if top else []
    additions_text = _names(top_additions)
    for name in removed:
        changes.append(_removed(prefix + name, old_by_name[name], top, additions_text))
    changes += [_added(prefix + name, new_by_name[name]) for name in added]
    return changes


def _names(names: Sequence[str], shown: int = 5) -> str:
    """`a`, `b` and `c`, or the first few and how many more: a message stays one short line."""
    quoted = [f"`{name}`" for name in names[:shown]]
    if len(names) > shown:
        return f"{', '.join(quoted)} and {len(names) - shown} more"
    return ", ".join(quoted)


def _compare_field(old: Mapping, new: Mapping, path: str) -> list[Change]:
    changes: list[Change] = []
    old_type, new_type = _type(old), _type(new)
    if old_type != new_type:
        changes.append(_type_change(path, old_type, new_type))
    old_mode, new_mode = _mode(old), _mode(new)
    if old_mode != new_mode:
        changes.append(_mode_change(path, old_mode, new_mode))
    if _description(old) != _description(new):
        changes.append(
            Change(
                path,
                "description",
                Effect.IN_PLACE,
                f"`{path}`'s description changes: pulumi up updates it in place; nothing is lost.",
                _description(old),
                _description(new),
            )
        )
    old_tags, new_tags = _policy_tags(old), _policy_tags(new)
    if old_tags != new_tags:
        changes.append(_policy_tag_change(path, old_tags, new_tags))
    for key in sorted((set(old) | set(new)) - _KNOWN_KEYS):
        was, now = _option(old, key), _option(new, key)
        if was != now:
            changes.append(
                Change(
                    path,
                    key,
                    Effect.IN_PLACE,
                    f"`{path}`'s {key} changes ({was!r} -> {now!r}): pulumi up updates it in "
                    "place (if BigQuery refuses the new value the up fails, and nothing is "
                    "lost).",
                    was,
                    now,
                )
            )
    old_children, new_children = _children(old), _children(new)
    # Compare nested fields whenever both sides have them, even when the record's type is
    # spelled differently (STRUCT against RECORD), so every problem shows at once.
    if (old_children and new_children) or old_type == new_type:
        changes += _compare_level(old_children, new_children, prefix=f"{path}.", top=False)
    return changes


def _type_change(path: str, old: str, new: str) -> Change:
    if _BIGQUERY_SYNONYMS.get(old, old) == _BIGQUERY_SYNONYMS.get(new, new):
        message = (
            f"`{path}` is {old} in the existing table and {new} in the new schema: BigQuery treats "
            f"them as one type but pulumi-gcp does not, so {_REPLACED}; spell it {old}, the legacy "
            "name the existing table reports."
        )
    else:
        message = (
            f"`{path}` changes type {old} -> {new}: a column cannot be retyped in place, so "
            f"{_REPLACED}; keep `{path}` as {old} and add a new column of type {new} instead "
            "(backfill it from the old one if needed)."
        )
    return Change(path, "type", Effect.REPLACE, message, old, new)


def _mode_change(path: str, old: str, new: str) -> Change:
    if old == "REQUIRED" and new == "NULLABLE":
        return Change(
            path,
            "mode",
            Effect.IN_PLACE,
            f"`{path}` is relaxed REQUIRED -> NULLABLE: pulumi up changes it in place; "
            "nothing is lost.",
            old,
            new,
        )
    if old == "NULLABLE" and new == "REQUIRED":
        fix = f"keep `{path}` NULLABLE and make the app always send it"
    else:
        fix = f"keep `{path}` {old} and add a new {new} column instead (backfill it if needed)"
    return Change(
        path,
        "mode",
        Effect.REPLACE,
        f"`{path}` changes mode {old} -> {new}: only REQUIRED -> NULLABLE can change in "
        f"place, so {_REPLACED}; {fix}.",
        old,
        new,
    )


def _policy_tag_change(path: str, old: tuple[str, ...], new: tuple[str, ...]) -> Change:
    shown_old, shown_new = ", ".join(old) or "none", ", ".join(new) or "none"
    warning = (
        "; without a tag its values are no longer masked for readers of the table"
        if not new
        else ""
    )
    return Change(
        path,
        "policy_tags",
        Effect.IN_PLACE,
        f"`{path}`'s policy tags change ({shown_old} -> {shown_new}): pulumi up updates them "
        f"in place, nothing is lost{warning}.",
        old,
        new,
    )


def _case_rename(prefix: str, was: str, now: str) -> Change:
    path = prefix + was
    return Change(
        path,
        "case_rename",
        Effect.REPLACE,
        f"`{path}` is spelled `{now}` in the new schema: BigQuery treats them as one column, but "
        f"pulumi-gcp compares names case-sensitively and sees a drop plus an add, so "
        f"{_REPLACED}; spell it `{was}`, as the existing table does.",
        was,
        now,
    )


def _removed(path: str, field: Mapping, top: bool, top_additions: str) -> Change:
    """`top_additions`: the top-level columns the same change adds, as `_names` lists them."""
    keep = (
        f"keep `{path}` in the schema, relaxed to NULLABLE, and stop sending it"
        if _mode(field) == "REQUIRED"
        else f"keep `{path}` in the schema and stop sending it"
    )
    if not top:
        return Change(
            path,
            "removed",
            Effect.REPLACE,
            f"`{path}` is missing from the new schema: pulumi-gcp cannot drop a nested column, so "
            f"{_REPLACED}; {keep}.",
            _summary(field),
            None,
        )
    if top_additions:
        added = top_additions
        return Change(
            path,
            "removed",
            Effect.REPLACE,
            f"`{path}` is missing from the new schema, which adds {added}: pulumi-gcp cannot tell "
            f"a drop plus an add from a rename, so {_REPLACED}; {keep} (to rename, add the new "
            "column and backfill it, keeping the old one).",
            _summary(field),
            None,
        )
    return Change(
        path,
        "removed",
        Effect.DROP_COLUMN,
        f"`{path}` is missing from the new schema: pulumi up would drop it in place (ALTER "
        f"TABLE DROP COLUMN), losing that column's data in every stored event; {keep}.",
        _summary(field),
        None,
    )


def _added(path: str, field: Mapping) -> Change:
    mode = _mode(field)
    if mode == "REQUIRED":
        return Change(
            path,
            "added",
            Effect.REPLACE,
            f"`{path}` is a new REQUIRED column, which existing rows cannot satisfy, so "
            f"{_REPLACED}; add it as NULLABLE instead.",
            None,
            _summary(field),
        )
    return Change(
        path,
        "added",
        Effect.IN_PLACE,
        f"`{path}` is a new {mode} column: pulumi up adds it in place; existing events read "
        f"{'an empty array' if mode == 'REPEATED' else 'NULL'} for it.",
        None,
        _summary(field),
    )


def _type(field: Mapping) -> str:
    raw = str(field.get("type") or "").upper()
    return _ALIASES.get(raw, raw)


def _mode(field: Mapping) -> str:
    return str(field.get("mode") or "NULLABLE").upper()


def _description(field: Mapping) -> str:
    return str(field.get("description") or "")


def _policy_tags(field: Mapping) -> tuple[str, ...]:
    tags = field.get("policyTags")
    names = tags.get("names") if isinstance(tags, Mapping) else None
    return tuple(sorted(str(name) for name in names or ()))


def _option(field: Mapping, key: str) -> object:
    """Any other field option (maxLength, precision, ...); empty values count as unset."""
    value = field.get(key)
    return None if value in (None, "", [], {}) else value


def _children(field: Mapping) -> Sequence[Mapping]:
    return field.get("fields") or ()


def _summary(field: Mapping) -> str:
    return f"{_type(field)} {_mode(field)}"


# --- notes: what differs but is no change ---------------------------------------------------


def schema_notes(old: Sequence[Mapping], new: Sequence[Mapping]) -> tuple[str, ...]:
    """Differences that are not changes to pulumi-gcp: column order, type spellings."""
    return tuple(_notes_level(old, new, where="the top level", prefix=""))


def _notes_level(
    old: Sequence[Mapping], new: Sequence[Mapping], where: str, prefix: str
) -> list[str]:
    notes: list[str] = []
    old_names = [str(f["name"]) for f in old]
    new_names = [str(f["name"]) for f in new]
    moved = _moved(old_names, new_names)
    if moved:
        old_at = {name: i for i, name in enumerate(old_names, start=1)}
        new_at = {name: i for i, name in enumerate(new_names, start=1)}
        where_moved = "; ".join(
            f"`{name}` is column {old_at[name]} in OLD, {new_at[name]} in NEW" for name in moved[:5]
        )
        if len(moved) > 5:
            where_moved += f"; and {len(moved) - 5} more"
        notes.append(
            f"column order differs at {where}: {where_moved} (order alone changes nothing)"
        )
    new_by_name = {str(f["name"]): f for f in new}
    for field in old:
        name = str(field["name"])
        twin = new_by_name.get(name)
        if twin is None:
            continue
        raw_old, raw_new = str(field.get("type") or ""), str(twin.get("type") or "")
        if raw_old != raw_new and _type(field) == _type(twin):
            notes.append(
                f"`{prefix}{name}`: type {raw_old} and {raw_new} are the same to pulumi-gcp "
                "and BigQuery (no change)"
            )
        if _children(field) and _children(twin):
            notes += _notes_level(
                _children(field), _children(twin), f"`{prefix}{name}`", f"{prefix}{name}."
            )
    return notes


def _moved(old_names: Sequence[str], new_names: Sequence[str]) -> list[str]:
    """The fewest shared names whose moves explain the new order: those outside a longest run
    kept in order (a longest increasing subsequence, O(n log n))."""
    old_set = set(old_names)
    shared_new = [name for name in new_names if name in old_set]
    position = {name: i for i, name in enumerate(shared_new)}
    shared_old = [name for name in old_names if name in position]
    sequence = [position[name] for name in shared_old]
    tails: list[int] = []  # tails[k]: where the best run of length k + 1 found so far ends
    tail_values: list[int] = []  # sequence[tails[k]], ascending
    previous = [-1] * len(sequence)
    for i, value in enumerate(sequence):
        k = bisect_left(tail_values, value)
        if k > 0:
            previous[i] = tails[k - 1]
        if k == len(tails):
            tails.append(i)
            tail_values.append(value)
        else:
            tails[k] = i
            tail_values[k] = value
    keep: set[int] = set()
    i = tails[-1] if tails else -1
    while i >= 0:
        keep.add(i)
        i = previous[i]
    return [name for i, name in enumerate(shared_old) if i not in keep]


# --- table settings -----------------------------------------------------------------------


def classify_settings(old: Mapping, new: Mapping) -> tuple[Change, ...]:
    """Every difference between two tables' settings (BigQuery table REST shape).

    Read: tableReference, timePartitioning {type, field, expirationMs}, clustering {fields},
    requirePartitionFilter, encryptionConfiguration {kmsKeyName}, expirationTime, labels,
    description. A key absent on a side is not set there. An expiration that is new or shorter
    on the new side is `expires`: BigQuery deletes the table, or the older partitions.
    """
    changes: list[Change] = []
    changes += _table_reference(old, new)
    changes += _partitioning(old, new)
    old_clustering, new_clustering = _clustering(old), _clustering(new)
    if old_clustering != new_clustering:
        changes.append(
            Change(
                "clustering.fields",
                "clustering",
                Effect.IN_PLACE,
                f"clustering changes ({_listed(old_clustering)} -> {_listed(new_clustering)}): "
                "pulumi up updates it in place and new data is clustered the new way; "
                "nothing is lost.",
                old_clustering,
                new_clustering,
            )
        )
    old_filter, new_filter = _require_filter(old), _require_filter(new)
    if old_filter != new_filter:
        effect_on_queries = (
            "queries without a filter on the partition column will then fail"
            if new_filter
            else "queries no longer need a partition filter"
        )
        changes.append(
            Change(
                "requirePartitionFilter",
                "require_partition_filter",
                Effect.IN_PLACE,
                f"requirePartitionFilter changes {old_filter} -> {new_filter}: pulumi up "
                f"updates it in place, nothing is lost; {effect_on_queries}.",
                old_filter,
                new_filter,
            )
        )
    old_key, new_key = _kms_key(old), _kms_key(new)
    if old_key != new_key:
        changes.append(
            Change(
                "encryptionConfiguration.kmsKeyName",
                "kms_key",
                Effect.REPLACE,
                f"the table's KMS key changes ({old_key or 'Google-managed'} -> "
                f"{new_key or 'Google-managed'}): pulumi-gcp replaces the table on any "
                f"encryption change, so {_REPLACED}; re-encrypt instead with a copy job into "
                "a new table (bq cp --destination_kms_key) and adopt that table.",
                old_key,
                new_key,
            )
        )
    changes += _table_expiration(old, new)
    changes += _labels(old, new)
    old_description, new_description = _text(old, "description"), _text(new, "description")
    if old_description != new_description:
        changes.append(
            Change(
                "description",
                "description",
                Effect.IN_PLACE,
                "the table's description changes: pulumi up updates it in place; nothing is lost.",
                old_description,
                new_description,
            )
        )
    return tuple(changes)


def _table_reference(old: Mapping, new: Mapping) -> list[Change]:
    old_ref, new_ref = _mapping(old, "tableReference"), _mapping(new, "tableReference")
    if not old_ref or not new_ref:
        return []
    changes = []
    for key in ("projectId", "datasetId", "tableId"):
        if old_ref.get(key) != new_ref.get(key):
            changes.append(
                Change(
                    f"tableReference.{key}",
                    "table_id",
                    Effect.REPLACE,
                    f"the table's {key} changes ({old_ref.get(key)} -> {new_ref.get(key)}): "
                    f"pulumi up would create the new table and delete the old one, losing "
                    "every stored event; to move the table, copy it with a copy job (bq cp) "
                    "and adopt the copy.",
                    old_ref.get(key),
                    new_ref.get(key),
                )
            )
    return changes


def _partitioning(old: Mapping, new: Mapping) -> list[Change]:
    old_tp, new_tp = _mapping(old, "timePartitioning"), _mapping(new, "timePartitioning")
    migrate = (
        "create a new table partitioned as wanted, migrate the events into it with a copy "
        "job (CREATE TABLE ... PARTITION BY ... AS SELECT * FROM the old table), and adopt it"
    )
    if (old_tp is None) != (new_tp is None):
        what = "gains" if old_tp is None else "loses"
        return [
            Change(
                "timePartitioning",
                "partitioning",
                Effect.REPLACE,
                f"the table {what} its time partitioning: BigQuery cannot repartition an "
                f"existing table, so {_REPLACED}; {migrate}.",
                _partition_summary(old_tp),
                _partition_summary(new_tp),
            )
        ]
    if old_tp is None or new_tp is None:
        return []
    changes = []
    old_type = str(old_tp.get("type") or "").upper() or None
    new_type = str(new_tp.get("type") or "").upper() or None
    if old_type != new_type:
        changes.append(
            Change(
                "timePartitioning.type",
                "partition_type",
                Effect.REPLACE,
                f"the partition type changes ({old_type or 'unset'} -> {new_type or 'unset'}): "
                "BigQuery cannot repartition an existing table, so this needs a new table "
                "(pulumi up either fails or, replacing the table, deletes every stored event); "
                f"{migrate}.",
                old_type,
                new_type,
            )
        )
    old_field, new_field = old_tp.get("field") or None, new_tp.get("field") or None
    if old_field != new_field:
        changes.append(
            Change(
                "timePartitioning.field",
                "partition_field",
                Effect.REPLACE,
                f"the partition column changes ({old_field or 'ingestion time'} -> "
                f"{new_field or 'ingestion time'}): pulumi-gcp replaces the table for it, so "
                f"{_REPLACED}; {migrate}.",
                old_field,
                new_field,
            )
        )
    old_expiry, new_expiry = millis(old_tp.get("expirationMs")), millis(new_tp.get("expirationMs"))
    if old_expiry != new_expiry:
        changes.append(partition_expiration_change(old_expiry, new_expiry))
    return changes


def partition_expiration_change(old: int | None, new: int | None) -> Change:
    """A change of the table's partition expiration: a shorter one deletes stored events."""
    shorter = new is not None and (old is None or new < old)
    if shorter:
        return Change(
            "timePartitioning.expirationMs",
            "partition_expiration",
            Effect.EXPIRES,
            f"partition expiration changes ({days(old)} -> {days(new)}): BigQuery then deletes "
            f"every partition older than {days(new)}, with the events in it; leave the "
            "expiration as it is (Dataform sets it on the table).",
            old,
            new,
        )
    return Change(
        "timePartitioning.expirationMs",
        "partition_expiration",
        Effect.IN_PLACE,
        f"partition expiration changes ({days(old)} -> {days(new)}): pulumi up updates it in "
        "place; partitions are kept longer, nothing is lost.",
        old,
        new,
    )


def _table_expiration(old: Mapping, new: Mapping) -> list[Change]:
    was, now = millis(old.get("expirationTime")), millis(new.get("expirationTime"))
    if was == now:
        return []
    if now is None:
        return [
            Change(
                "expirationTime",
                "table_expiration",
                Effect.IN_PLACE,
                f"the table no longer expires (it was to be deleted at {timestamp(was)}): "
                "nothing is lost.",
                was,
                now,
            )
        ]
    return [
        Change(
            "expirationTime",
            "table_expiration",
            Effect.EXPIRES,
            f"the table is set to expire at {timestamp(now)}: BigQuery then deletes it with "
            "every stored event; the events table must never expire, leave expirationTime unset.",
            was,
            now,
        )
    ]


def _labels(old: Mapping, new: Mapping) -> list[Change]:
    old_labels = _mapping(old, "labels") or {}
    new_labels = _mapping(new, "labels") or {}
    changes = []
    for key in sorted(set(old_labels) | set(new_labels)):
        was, now = old_labels.get(key), new_labels.get(key)
        if was != now:
            changes.append(
                Change(
                    f"labels.{key}",
                    "labels",
                    Effect.IN_PLACE,
                    f"label {key} changes ({was if was is not None else 'unset'} -> "
                    f"{now if now is not None else 'unset'}): pulumi up updates it in place; "
                    "nothing is lost.",
                    was,
                    now,
                )
            )
    return changes


def _mapping(table: Mapping, key: str) -> Mapping | None:
    value = table.get(key)
    return value if isinstance(value, Mapping) else None


def _clustering(table: Mapping) -> tuple[str, ...]:
    clustering = _mapping(table, "clustering") or {}
    return tuple(str(name) for name in clustering.get("fields") or ())


def _require_filter(table: Mapping) -> bool:
    if "requirePartitionFilter" in table:
        return bool(table["requirePartitionFilter"])
    # The deprecated copy inside timePartitioning, when only that one is set.
    return bool((_mapping(table, "timePartitioning") or {}).get("requirePartitionFilter"))


def strip_key_version(name: str | None) -> str | None:
    """A KMS key name without a trailing /cryptoKeyVersions/N, as pulumi-gcp compares it."""
    if not name:
        return None
    head, sep, _ = str(name).partition("/cryptoKeyVersions/")
    return head if sep else str(name)


def _kms_key(table: Mapping) -> str | None:
    return strip_key_version((_mapping(table, "encryptionConfiguration") or {}).get("kmsKeyName"))


def millis(value: object) -> int | None:
    """A millisecond count or time as BigQuery's REST API gives it (a string); None when unset."""
    if value in (None, "", 0, "0"):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def days(milliseconds: int | None) -> str:
    if milliseconds is None:
        return "none"
    count = milliseconds / 86_400_000
    return f"{count:g} days" if count >= 1 else f"{milliseconds} ms"


def timestamp(epoch_millis: int) -> str:
    """An epoch time in milliseconds as UTC, e.g. 2026-11-28 07:49Z."""
    moment = datetime.fromtimestamp(epoch_millis / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%MZ")


def _text(table: Mapping, key: str) -> str:
    return str(table.get(key) or "")


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names) or "none"


def _partition_summary(partitioning: Mapping | None) -> str | None:
    if partitioning is None:
        return None
    field = partitioning.get("field") or "ingestion time"
    return f"{str(partitioning.get('type') or '').upper()} on {field}"

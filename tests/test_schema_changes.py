"""The classifier: what pulumi up would do to the events table for each schema or setting change.

Expected effects follow pulumi-gcp's table resource (its schema diff suppression and its
"schema is changeable" check), as DESIGN.md section 5 records them.
"""

from __future__ import annotations

import copy
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.model import schema
from infra.model.declared import declare
from infra.model.stackfiles import settings_for
from infra.rules.effects import Effect, worst
from infra.rules.schema_changes import (
    Change,
    classify_schema,
    classify_settings,
    schema_notes,
    strip_key_version,
)

REPLACED = "losing every stored event"


def base() -> list[dict]:
    """The module's schema plus a record in a record, and a NULLABLE field inside DATA."""
    fields = schema.to_api()
    data = _find(fields, ("DATA",))
    data["fields"].append({"name": "note", "type": "STRING", "mode": "NULLABLE"})
    fields.append(
        {
            "name": "outer",
            "type": "RECORD",
            "mode": "NULLABLE",
            "fields": [
                {
                    "name": "inner",
                    "type": "RECORD",
                    "mode": "REPEATED",
                    "fields": [
                        {"name": "leaf", "type": "STRING", "mode": "REQUIRED"},
                        {"name": "note", "type": "STRING", "mode": "NULLABLE"},
                        {"name": "tags", "type": "STRING", "mode": "REPEATED"},
                    ],
                }
            ],
        }
    )
    return fields


# Where to edit: the record holding the columns (none: top level), and a REQUIRED, a NULLABLE
# and a REPEATED column in it.
LOCATIONS = {
    "top level": ((), "occurred_at", "user_id", "event_tags"),
    "inside DATA": (("DATA",), "key", "note", "value"),
    "record in a record": (("outer", "inner"), "leaf", "note", "tags"),
}


def _find(fields: list[dict], path: tuple[str, ...]) -> dict:
    field = next(f for f in fields if f["name"] == path[0])
    return _find(field["fields"], path[1:]) if len(path) > 1 else field


def _container(fields: list[dict], record: tuple[str, ...]) -> list[dict]:
    return _find(fields, record)["fields"] if record else fields


def _path(record: tuple[str, ...], name: str) -> str:
    return ".".join((*record, name))


def edited(location: str, edit) -> tuple[list[dict], list[dict], tuple, dict]:
    """old, new (old edited by `edit(container, names)`), the record path and column names."""
    record, required, nullable, repeated = LOCATIONS[location]
    old = base()
    new = copy.deepcopy(old)
    names = {"required": required, "nullable": nullable, "repeated": repeated}
    edit(_container(new, record), names)
    return old, new, record, names


def column(container: list[dict], name: str) -> dict:
    return next(f for f in container if f["name"] == name)


def only(changes: tuple[Change, ...]) -> Change:
    assert len(changes) == 1, changes
    return changes[0]


# --- destructive kinds, at every depth -----------------------------------------------------


@pytest.mark.parametrize("location", LOCATIONS)
def test_removing_a_column_loses_data(location):
    old, new, record, names = edited(location, lambda c, n: c.remove(column(c, n["nullable"])))
    change = only(classify_schema(old, new))
    assert change.path == _path(record, names["nullable"])
    assert change.change == "removed"
    if record:  # a nested drop replaces the table
        assert change.effect == "replace"
        assert "cannot drop a nested column" in change.message
        assert REPLACED in change.message
    else:  # a top-level drop alone is ALTER TABLE DROP COLUMN
        assert change.effect == "drop_column"
        assert "ALTER TABLE DROP COLUMN" in change.message
        assert "losing that column's data in every stored event" in change.message
    assert "keep `" in change.message
    assert change.destructive


@pytest.mark.parametrize("location", LOCATIONS)
def test_removing_a_required_column_says_relax_it_instead(location):
    old, new, _, _ = edited(location, lambda c, n: c.remove(column(c, n["required"])))
    change = only(classify_schema(old, new))
    assert change.destructive
    assert "relaxed to NULLABLE" in change.message


@pytest.mark.parametrize("location", LOCATIONS)
def test_renaming_a_column_replaces_the_table(location):
    def rename(container, names):
        column(container, names["nullable"])["name"] = "renamed"

    old, new, record, names = edited(location, rename)
    changes = classify_schema(old, new)
    assert worst(c.effect for c in changes) == "replace"
    removed = next(c for c in changes if c.change == "removed")
    assert removed.path == _path(record, names["nullable"])
    assert removed.effect == "replace"
    assert REPLACED in removed.message
    added = next(c for c in changes if c.change == "added")
    assert added.path == _path(record, "renamed")
    if not record:
        assert "cannot tell a drop plus an add from a rename" in removed.message
        assert "`renamed`" in removed.message


@pytest.mark.parametrize("location", LOCATIONS)
def test_a_case_only_rename_replaces_the_table_and_says_how_to_spell_it(location):
    def respell(container, names):
        column(container, names["required"])["name"] = names["required"].upper()

    old, new, record, names = edited(location, respell)
    change = only(classify_schema(old, new))
    assert change.change == "case_rename"
    assert change.effect == "replace"
    assert change.path == _path(record, names["required"])
    assert (change.old, change.new) == (names["required"], names["required"].upper())
    assert "BigQuery treats them as one column" in change.message
    assert f"spell it `{names['required']}`" in change.message
    assert REPLACED in change.message


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize(("was", "now"), [("STRING", "INTEGER"), ("STRING", "BYTES")])
def test_retyping_a_column_replaces_the_table(location, was, now):
    def retype(container, names):
        column(container, names["nullable"])["type"] = now

    old, new, _, _ = edited(location, retype)
    change = only(classify_schema(old, new))
    assert (change.change, change.effect) == ("type", "replace")
    assert (change.old, change.new) == (was, now)
    assert REPLACED in change.message
    assert "add a new column" in change.message


@pytest.mark.parametrize("record", [("request_query",), ("DATA",), ("outer", "inner")])
def test_struct_for_record_replaces_the_table_and_names_the_legacy_spelling(record):
    old = base()
    new = copy.deepcopy(old)
    _find(new, record)["type"] = "STRUCT"
    change = only(classify_schema(old, new))
    assert change.path == ".".join(record)
    assert (change.change, change.effect) == ("type", "replace")
    assert "BigQuery treats them as one type but pulumi-gcp does not" in change.message
    assert "spell it RECORD" in change.message


@pytest.mark.parametrize(("was", "now"), [("NUMERIC", "DECIMAL"), ("BIGNUMERIC", "BIGDECIMAL")])
def test_decimal_for_numeric_replaces_the_table(was, now):
    old = [{"name": "amount", "type": was}]
    change = only(classify_schema(old, [{"name": "amount", "type": now}]))
    assert change.effect == "replace"
    assert f"spell it {was}" in change.message


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize(
    ("which", "now"),
    [
        ("nullable", "REQUIRED"),
        ("nullable", "REPEATED"),
        ("repeated", "NULLABLE"),
        ("repeated", "REQUIRED"),
        ("required", "REPEATED"),
    ],
)
def test_a_mode_change_other_than_relaxing_replaces_the_table(location, which, now):
    def remode(container, names):
        column(container, names[which])["mode"] = now

    old, new, _, _ = edited(location, remode)
    change = only(classify_schema(old, new))
    assert (change.change, change.effect, change.new) == ("mode", "replace", now)
    assert "only REQUIRED -> NULLABLE can change in place" in change.message
    assert REPLACED in change.message


@pytest.mark.parametrize("location", LOCATIONS)
def test_a_new_required_column_replaces_the_table(location):
    def add(container, _names):
        container.append({"name": "extra", "type": "STRING", "mode": "REQUIRED"})

    old, new, record, _ = edited(location, add)
    change = only(classify_schema(old, new))
    assert (change.path, change.change, change.effect) == (
        _path(record, "extra"),
        "added",
        "replace",
    )
    assert "add it as NULLABLE instead" in change.message


def test_a_top_level_drop_with_a_top_level_add_replaces():
    old = base()
    new = [f for f in copy.deepcopy(old) if f["name"] != "user_id"]
    new.append({"name": "account_id", "type": "STRING", "mode": "NULLABLE"})
    changes = classify_schema(old, new)
    drop = next(c for c in changes if c.change == "removed")
    assert drop.effect == "replace"
    assert "which adds `account_id`" in drop.message
    assert next(c for c in changes if c.change == "added").effect == "in_place"
    assert worst(c.effect for c in changes) == "replace"


def test_a_top_level_drop_with_only_a_nested_add_stays_in_place():
    old = base()
    new = [f for f in copy.deepcopy(old) if f["name"] != "user_id"]
    _find(new, ("DATA",))["fields"].append({"name": "extra", "type": "STRING"})
    changes = classify_schema(old, new)
    assert {(c.path, c.effect) for c in changes} == {
        ("user_id", "drop_column"),
        ("DATA.extra", "in_place"),
    }
    assert worst(c.effect for c in changes) == "drop_column"


def test_a_case_rename_at_the_top_makes_other_drops_replace():
    old = base()
    new = [f for f in copy.deepcopy(old) if f["name"] != "user_id"]
    _find(new, ("DATA",))["name"] = "data"
    changes = classify_schema(old, new)
    assert {(c.path, c.change, c.effect) for c in changes} == {
        ("DATA", "case_rename", "replace"),
        ("user_id", "removed", "replace"),
    }


def test_record_to_scalar_reports_the_type_only():
    old = base()
    new = copy.deepcopy(old)
    data = _find(new, ("DATA",))
    data.update(type="STRING", mode="REPEATED")
    del data["fields"]
    change = only(classify_schema(old, new))
    assert (change.path, change.change, change.effect) == ("DATA", "type", "replace")


# --- safe kinds, at every depth ----------------------------------------------------------


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize("mode", ["NULLABLE", "REPEATED", None])
def test_a_new_nullable_or_repeated_column_is_added_in_place(location, mode):
    def add(container, _names):
        field = {"name": "extra", "type": "STRING"}
        if mode:
            field["mode"] = mode
        container.append(field)

    old, new, record, _ = edited(location, add)
    change = only(classify_schema(old, new))
    assert (change.path, change.change, change.effect) == (
        _path(record, "extra"),
        "added",
        "in_place",
    )
    assert "adds it in place" in change.message
    assert not change.destructive


def test_a_new_record_may_hold_required_fields():
    old = base()
    new = [*copy.deepcopy(old), *[{"name": "device", "type": "RECORD", "fields": [
        {"name": "id", "type": "STRING", "mode": "REQUIRED"}]}]]  # fmt: skip
    change = only(classify_schema(old, new))
    assert (change.path, change.effect) == ("device", "in_place")


@pytest.mark.parametrize("location", LOCATIONS)
def test_relaxing_required_to_nullable_is_in_place(location):
    def relax(container, names):
        column(container, names["required"])["mode"] = "NULLABLE"

    old, new, record, names = edited(location, relax)
    change = only(classify_schema(old, new))
    assert (change.path, change.change, change.effect) == (
        _path(record, names["required"]),
        "mode",
        "in_place",
    )


@pytest.mark.parametrize("location", LOCATIONS)
def test_descriptions_and_policy_tags_change_in_place(location):
    tag = "projects/p/locations/europe-west2/taxonomies/1/policyTags/2"

    def annotate(container, names):
        column(container, names["nullable"])["description"] = "Something else."
        column(container, names["repeated"])["policyTags"] = {"names": [tag]}

    old, new, _, _ = edited(location, annotate)
    changes = classify_schema(old, new)
    assert sorted(c.change for c in changes) == ["description", "policy_tags"]
    assert worst(c.effect for c in changes) == "in_place"
    removed = classify_schema(new, old)
    untagged = next(c for c in removed if c.change == "policy_tags")
    assert "no longer masked" in untagged.message
    assert untagged.effect == "in_place"


def test_other_field_options_change_in_place():
    old = [{"name": "code", "type": "STRING", "maxLength": "10"}]
    change = only(classify_schema(old, [{"name": "code", "type": "STRING", "maxLength": "20"}]))
    assert (change.change, change.effect) == ("maxLength", "in_place")
    unset = [{"name": "code", "type": "STRING", "collation": "", "maxLength": None}]
    assert classify_schema([{"name": "code", "type": "STRING"}], unset) == ()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"type": "INTEGER"}, {"type": "INT64"}),
        ({"type": "FLOAT"}, {"type": "FLOAT64"}),
        ({"type": "BOOLEAN"}, {"type": "BOOL"}),
        ({"type": "STRING"}, {"type": "string"}),
        ({"type": "STRING", "mode": "REQUIRED"}, {"type": "STRING", "mode": "required"}),
        ({"type": "STRING"}, {"type": "STRING", "mode": "NULLABLE"}),
        ({"type": "STRING", "mode": None}, {"type": "STRING", "mode": "NULLABLE"}),
        ({"type": "STRING", "description": ""}, {"type": "STRING"}),
        ({"type": "STRING", "policyTags": {"names": []}}, {"type": "STRING"}),
        ({"type": "STRING", "policyTags": {}}, {"type": "STRING", "policyTags": {"names": []}}),
    ],
)
def test_spellings_pulumi_gcp_treats_as_equal_are_no_change(old, new):
    assert classify_schema([{"name": "c", **old}], [{"name": "c", **new}]) == ()


def test_alias_spellings_are_noted():
    notes = schema_notes([{"name": "n", "type": "INTEGER"}], [{"name": "n", "type": "INT64"}])
    assert notes == (
        "`n`: type INTEGER and INT64 are the same to pulumi-gcp and BigQuery (no change)",
    )


@pytest.mark.parametrize("location", LOCATIONS)
def test_order_alone_is_no_change_but_is_noted(location):
    old, new, record, _ = edited(location, lambda c, _n: c.reverse())
    assert classify_schema(old, new) == ()
    notes = schema_notes(old, new)
    assert len(notes) == 1
    assert "column order differs" in notes[0]
    assert "order alone changes nothing" in notes[0]
    if record:
        assert f"`{'.'.join(record)}`" in notes[0]


def test_equal_schemas_have_no_changes_and_no_notes():
    assert classify_schema(base(), base()) == ()
    assert schema_notes(base(), base()) == ()
    assert worst(()) == "none"


# --- the DfE template variant ---------------------------------------------------------------


def dfe_template() -> list[dict]:
    """Another DfE template: hidden_DATA last, its key spelled KEY, NULLABLE modes left out."""
    fields = schema.to_api()
    hidden = _find(fields, ("hidden_DATA",))
    fields.remove(hidden)
    fields.append(hidden)
    _find(fields, ("hidden_DATA", "key"))["name"] = "KEY"
    for _, field in _walk(fields):
        if field.get("mode") == "NULLABLE":
            del field["mode"]
    return fields


def _walk(fields, prefix=""):
    for field in fields:
        yield prefix + field["name"], field
        yield from _walk(field.get("fields", ()), f"{prefix}{field['name']}.")


def test_a_live_table_made_from_the_dfe_template_needs_key_spelled_as_it_is():
    live, code = dfe_template(), schema.to_api()
    change = only(classify_schema(live, code))
    assert (change.path, change.change, change.effect) == (
        "hidden_DATA.KEY",
        "case_rename",
        "replace",
    )
    assert "spell it `KEY`, as the existing table does" in change.message
    assert "BigQuery treats them as one column" in change.message
    (note,) = schema_notes(live, code)
    assert "`hidden_DATA` is column 18 in OLD, 13 in NEW" in note


def test_the_dfe_template_without_descriptions_differs_only_in_place_besides_the_key():
    live = dfe_template()
    for _, field in _walk(live):
        field.pop("description", None)
    changes = classify_schema(live, schema.to_api())
    destructive = [c for c in changes if c.destructive]
    assert [c.path for c in destructive] == ["hidden_DATA.KEY"]
    assert {c.change for c in changes if not c.destructive} == {"description"}


# --- effects ----------------------------------------------------------------------------------


def test_one_scale_ranks_every_effect():
    def change(effect):
        return Change("p", "k", Effect(effect), "m")

    assert [str(e) for e in Effect] == [
        "none", "in_place", "create", "drop_column", "expires", "delete", "replace"
    ]  # fmt: skip
    assert worst(
        c.effect for c in [change("in_place"), change("replace"), change("drop_column")]
    ) == ("replace")
    assert worst(c.effect for c in [change("in_place"), change("drop_column")]) == "drop_column"
    assert worst(["expires", "drop_column", "create"]) == Effect.EXPIRES
    assert all(Effect(e).destructive for e in ("drop_column", "expires", "delete", "replace"))
    assert not any(Effect(e).destructive for e in ("none", "in_place", "create"))
    assert worst(()) == Effect.NONE


# --- table settings ---------------------------------------------------------------------------

KEY = "projects/ecf-bq/locations/europe-west2/keyRings/ecf-key-ring/cryptoKeys/ecf-key"


def table(**overrides) -> dict:
    settings = declare(settings_for("production")).table.api_repr()
    settings.pop("schema")
    for key, value in overrides.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    return settings


def test_the_declared_table_equals_itself():
    assert classify_settings(table(), table()) == ()


OTHER_KEY = {"kmsKeyName": KEY + "-2"}
OTHER_TABLE = {"projectId": "ecf-bq", "datasetId": "npq_events_production", "tableId": "events2"}


@pytest.mark.parametrize(
    ("new", "path", "kind"),
    [
        (
            {"timePartitioning": {"type": "DAY", "field": "received_at"}},
            "timePartitioning.field",
            "partition_field",
        ),
        ({"timePartitioning": {"type": "DAY"}}, "timePartitioning.field", "partition_field"),
        (
            {"timePartitioning": {"type": "HOUR", "field": "occurred_at"}},
            "timePartitioning.type",
            "partition_type",
        ),
        ({"timePartitioning": None}, "timePartitioning", "partitioning"),
        ({"encryptionConfiguration": OTHER_KEY}, "encryptionConfiguration.kmsKeyName", "kms_key"),
        ({"encryptionConfiguration": None}, "encryptionConfiguration.kmsKeyName", "kms_key"),
        ({"tableReference": OTHER_TABLE}, "tableReference.tableId", "table_id"),
    ],
)
def test_partition_key_and_identity_changes_replace_the_table(new, path, kind):
    change = only(classify_settings(table(), table(**new)))
    assert (change.path, change.change, change.effect) == (path, kind, "replace")
    assert "every stored event" in change.message
    assert "copy job" in change.message


def test_partitioning_added_to_an_unpartitioned_table_replaces_it():
    change = only(classify_settings(table(timePartitioning=None), table()))
    assert (change.change, change.effect) == ("partitioning", "replace")
    assert "gains its time partitioning" in change.message


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ({}, {"clustering": {"fields": ["event_type", "user_id"]}}, "clustering"),
        ({}, {"clustering": None}, "clustering"),
        ({}, {"requirePartitionFilter": True}, "require_partition_filter"),
        ({}, {"description": "Other."}, "description"),
        ({}, {"labels": {"team": "npq"}}, "labels"),
        ({"labels": {"team": "npq"}}, {"labels": {"team": "cpd"}}, "labels"),
        (
            {
                "timePartitioning": {
                    "type": "DAY",
                    "field": "occurred_at",
                    "expirationMs": "86400000",
                }
            },
            {},
            "partition_expiration",
        ),
        ({"expirationTime": "1893456000000"}, {}, "table_expiration"),
    ],
)
def test_clustering_filter_labels_description_and_expiration_change_in_place(old, new, kind):
    change = only(classify_settings(table(**old), table(**new)))
    assert (change.change, change.effect) == (kind, "in_place")


def test_a_shorter_partition_expiration_warns_that_partitions_go():
    longer = {"type": "DAY", "field": "occurred_at", "expirationMs": "7776000000"}
    shorter = {"type": "DAY", "field": "occurred_at", "expirationMs": 86_400_000}
    change = only(
        classify_settings(table(timePartitioning=longer), table(timePartitioning=shorter))
    )
    assert "deletes every partition older than 1 days" in change.message
    assert change.effect == "expires" and change.destructive
    back = only(classify_settings(table(timePartitioning=shorter), table(timePartitioning=longer)))
    assert "nothing is lost" in back.message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"encryptionConfiguration": {"kmsKeyName": KEY + "/cryptoKeyVersions/3"}}, {}),
        ({"requirePartitionFilter": None}, {"requirePartitionFilter": False}),
        ({"clustering": {"fields": []}}, {"clustering": None, "labels": {}}),
        ({"description": None}, {"description": ""}),
        (
            {
                "timePartitioning": {
                    "type": "day",
                    "field": "occurred_at",
                    "expirationMs": "86400000",
                }
            },
            {"timePartitioning": {"type": "DAY", "field": "occurred_at", "expirationMs": 86400000}},
        ),
    ],
)
def test_equivalent_settings_are_no_change(old, new):
    assert classify_settings(table(**old), table(**new)) == ()


def test_key_versions_are_stripped():
    assert strip_key_version(KEY + "/cryptoKeyVersions/12") == KEY
    assert strip_key_version(KEY) == KEY
    assert strip_key_version(None) is None


# --- properties -------------------------------------------------------------------------------

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)  # at most 7 characters
SCALARS = ("STRING", "INTEGER", "FLOAT", "BOOLEAN", "TIMESTAMP", "DATE", "NUMERIC", "BYTES")
SPELLINGS = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
SAME_TYPE = {**SPELLINGS, **{v: k for k, v in SPELLINGS.items()}}


@st.composite
def field_lists(draw, depth: int = 0) -> list[dict]:
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique_by=str.lower))
    fields = []
    for name in names:
        record = depth < 2 and draw(st.integers(0, 3)) == 0
        field = {"name": name, "type": "RECORD" if record else draw(st.sampled_from(SCALARS))}
        mode = draw(st.sampled_from(("NULLABLE", "REQUIRED", "REPEATED", None)))
        if mode:
            field["mode"] = mode
        if draw(st.booleans()):
            field["description"] = draw(st.text(max_size=6))
        if record:
            field["fields"] = draw(field_lists(depth + 1))
        fields.append(field)
    return fields


SCHEMAS = st.one_of(st.just(schema.to_api()), field_lists())


def containers(fields: list[dict]) -> list[list[dict]]:
    found = [fields]
    for field in fields:
        if field.get("fields"):
            found += containers(field["fields"])
    return found


def every_field(fields: list[dict]) -> list[dict]:
    return [field for container in containers(fields) for field in container]


SAFE_EDITS = ("add", "relax", "describe", "tag", "untag", "reorder", "respell")


def apply_safe_edit(fields: list[dict], data, counter: list[int]) -> None:
    """One edit pulumi-gcp applies in place (or sees as no change)."""
    everything = every_field(fields)
    kind = data.draw(st.sampled_from(SAFE_EDITS)) if everything else "add"
    target = data.draw(st.sampled_from(everything)) if everything else {}
    if kind == "add":
        counter[0] += 1
        new = {"name": f"new_col_{counter[0]}"}  # longer than any drawn name: no clash
        if data.draw(st.booleans()):
            new.update(type="RECORD", fields=data.draw(field_lists(depth=1)))
        else:
            new["type"] = data.draw(st.sampled_from(SCALARS))
        mode = data.draw(st.sampled_from(("NULLABLE", "REPEATED", None)))
        if mode:
            new["mode"] = mode
        data.draw(st.sampled_from(containers(fields))).append(new)
    elif kind == "relax" and str(target.get("mode")).upper() == "REQUIRED":
        target["mode"] = "NULLABLE"
    elif kind == "describe":
        target["description"] = data.draw(st.text(max_size=6))
    elif kind == "tag":
        target["policyTags"] = {
            "names": [f"projects/p/locations/l/taxonomies/1/policyTags/{counter[0]}"]
        }
    elif kind == "untag":
        target.pop("policyTags", None)
    elif kind == "reorder":
        container = data.draw(st.sampled_from(containers(fields)))
        container[:] = data.draw(st.permutations(container))
    elif kind == "respell":
        target["type"] = SAME_TYPE.get(target["type"], target["type"]).lower()
        mode = target.get("mode")
        if mode and mode.upper() == "NULLABLE":
            del target["mode"]
        elif mode:
            target["mode"] = mode.lower()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(old=SCHEMAS, data=st.data())
def test_any_sequence_of_safe_edits_is_safe(old, data):
    new = copy.deepcopy(old)
    counter = [0]
    for _ in range(data.draw(st.integers(1, 8))):
        apply_safe_edit(new, data, counter)
    changes = classify_schema(old, new)
    assert not any(c.destructive for c in changes), changes
    assert all(change.effect == "in_place" for change in changes)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(old=SCHEMAS, data=st.data())
def test_any_removal_rename_or_retype_of_an_existing_column_is_destructive(old, data):
    new = copy.deepcopy(old)
    container = data.draw(st.sampled_from([c for c in containers(new) if len(c) > 1] or [new]))
    target = data.draw(st.sampled_from(container))
    kind = data.draw(st.sampled_from(("remove", "rename", "case_rename", "retype")))
    if kind == "remove":
        container.remove(target)
    elif kind == "rename":
        target["name"] = "renamed_" + target["name"]
    elif kind == "case_rename":
        target["name"] = target["name"].swapcase()
    elif target.get("fields"):  # retype a record to a scalar
        del target["fields"]
        target["type"] = data.draw(st.sampled_from(SCALARS))
    else:
        was = SAME_TYPE.get(target["type"].upper(), target["type"].upper())
        choices = [t for t in (*SCALARS, "STRUCT", "JSON") if t not in (was, SAME_TYPE.get(was))]
        target["type"] = data.draw(st.sampled_from(choices))
        if target["type"] == "STRUCT":
            target["fields"] = [{"name": "x", "type": "STRING"}]
    counter = [0]
    for _ in range(data.draw(st.integers(0, 4))):
        apply_safe_edit(new, data, counter)
    changes = classify_schema(old, new)
    assert any(c.destructive for c in changes), (kind, changes)


@given(old=SCHEMAS, data=st.data())
def test_a_schema_equals_any_reordering_of_itself(old, data):
    new = copy.deepcopy(old)
    for container in containers(new):
        container[:] = data.draw(st.permutations(container))
    assert classify_schema(old, new) == ()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({}, {"expirationTime": "1893456000000"}),
        ({"expirationTime": "1893456000000"}, {"expirationTime": "1800000000000"}),
        ({}, {"timePartitioning": {"type": "DAY", "field": "occurred_at", "expirationMs": "1"}}),
    ],
)
def test_an_expiration_set_or_brought_forward_expires_stored_events(old, new):
    """Path 3: BigQuery deletes an expired table, or expired partitions, with their events."""
    change = only(classify_settings(table(**old), table(**new)))
    assert change.effect == "expires"
    assert change.destructive
    assert "deletes" in change.message


# --- every message whole, with the values verify reports as expected and live --------------

R = "pulumi up would replace the table (delete it, then create it empty), losing every stored event"
MIGRATE = (
    "create a new table partitioned as wanted, migrate the events into it with a copy job "
    "(CREATE TABLE ... PARTITION BY ... AS SELECT * FROM the old table), and adopt it"
)
TAG_A = "projects/p/locations/europe-west2/taxonomies/1/policyTags/a"
TAG_B = "projects/p/locations/europe-west2/taxonomies/1/policyTags/b"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            [],
            [{"name": "extra", "type": "STRING", "mode": "REQUIRED"}],
            Change("extra", "added", Effect.REPLACE, "`extra` is a new REQUIRED column, which "
                   f"existing rows cannot satisfy, so {R}; add it as NULLABLE instead.",
                   None, "STRING REQUIRED"),
            id="added REQUIRED",
        ),
        pytest.param(
            [],
            [{"name": "extra", "type": "INT64"}],
            Change("extra", "added", Effect.IN_PLACE, "`extra` is a new NULLABLE column: pulumi "
                   "up adds it in place; existing events read NULL for it.",
                   None, "INTEGER NULLABLE"),
            id="added NULLABLE",
        ),
        pytest.param(
            [],
            [{"name": "extra", "type": "STRING", "mode": "repeated"}],
            Change("extra", "added", Effect.IN_PLACE, "`extra` is a new REPEATED column: pulumi "
                   "up adds it in place; existing events read an empty array for it.",
                   None, "STRING REPEATED"),
            id="added REPEATED",
        ),
        pytest.param(
            [{"name": "r", "type": "RECORD", "fields": [{"name": "a", "type": "STRING"},
                                                        {"name": "b", "type": "STRING"}]}],
            [{"name": "r", "type": "RECORD", "fields": [{"name": "a", "type": "STRING"}]}],
            Change("r.b", "removed", Effect.REPLACE, "`r.b` is missing from the new schema: "
                   f"pulumi-gcp cannot drop a nested column, so {R}; keep `r.b` in the schema "
                   "and stop sending it.", "STRING NULLABLE", None),
            id="removed nested",
        ),
        pytest.param(
            [{"name": "r", "type": "RECORD", "fields": [{"name": "a", "type": "STRING"}]}],
            [{"name": "r", "type": "RECORD"}],
            Change("r.a", "removed", Effect.REPLACE, "`r.a` is missing from the new schema: "
                   f"pulumi-gcp cannot drop a nested column, so {R}; keep `r.a` in the schema "
                   "and stop sending it.", "STRING NULLABLE", None),
            id="a record's fields all removed",
        ),
        pytest.param(
            [{"name": "gone", "type": "STRING", "mode": "REQUIRED"}],
            [{"name": "new", "type": "STRING"}],
            Change("gone", "removed", Effect.REPLACE, "`gone` is missing from the new schema, "
                   "which adds `new`: pulumi-gcp cannot tell a drop plus an add from a rename, "
                   f"so {R}; keep `gone` in the schema, relaxed to NULLABLE, and stop sending it "
                   "(to rename, add the new column and backfill it, keeping the old one).",
                   "STRING REQUIRED", None),
            id="removed with an addition",
        ),
        pytest.param(
            [{"name": "gone", "type": "BOOL", "mode": "REPEATED"},
             {"name": "kept", "type": "DATE"}],
            [{"name": "kept", "type": "DATE"}],
            Change("gone", "removed", Effect.DROP_COLUMN, "`gone` is missing from the new "
                   "schema: pulumi up would drop it in place (ALTER TABLE DROP COLUMN), losing "
                   "that column's data in every stored event; keep `gone` in the schema and "
                   "stop sending it.", "BOOLEAN REPEATED", None),
            id="dropped",
        ),
        pytest.param(
            [{"name": "n", "type": "STRING"}],
            [{"name": "n", "type": "INT64"}],
            Change("n", "type", Effect.REPLACE, "`n` changes type STRING -> INTEGER: a column "
                   f"cannot be retyped in place, so {R}; keep `n` as STRING and add a new column "
                   "of type INTEGER instead (backfill it from the old one if needed).",
                   "STRING", "INTEGER"),
            id="retyped",
        ),
        pytest.param(
            [{"name": "n", "type": "DECIMAL"}],
            [{"name": "n", "type": "NUMERIC"}],
            Change("n", "type", Effect.REPLACE, "`n` is DECIMAL in the existing table and "
                   "NUMERIC in the new schema: BigQuery treats them as one type but pulumi-gcp "
                   f"does not, so {R}; spell it DECIMAL, the legacy name the existing table "
                   "reports.", "DECIMAL", "NUMERIC"),
            id="a synonym for the old type",
        ),
        pytest.param(
            [{"name": "n", "type": "STRING", "mode": "REQUIRED"}],
            [{"name": "n", "type": "STRING"}],
            Change("n", "mode", Effect.IN_PLACE, "`n` is relaxed REQUIRED -> NULLABLE: pulumi "
                   "up changes it in place; nothing is lost.", "REQUIRED", "NULLABLE"),
            id="relaxed",
        ),
        pytest.param(
            [{"name": "n", "type": "STRING"}],
            [{"name": "n", "type": "STRING", "mode": "REQUIRED"}],
            Change("n", "mode", Effect.REPLACE, "`n` changes mode NULLABLE -> REQUIRED: only "
                   f"REQUIRED -> NULLABLE can change in place, so {R}; keep `n` NULLABLE and "
                   "make the app always send it.", "NULLABLE", "REQUIRED"),
            id="made REQUIRED",
        ),
        pytest.param(
            [{"name": "n", "type": "STRING", "mode": "REPEATED"}],
            [{"name": "n", "type": "STRING", "mode": "REQUIRED"}],
            Change("n", "mode", Effect.REPLACE, "`n` changes mode REPEATED -> REQUIRED: only "
                   f"REQUIRED -> NULLABLE can change in place, so {R}; keep `n` REPEATED and "
                   "add a new REQUIRED column instead (backfill it if needed).",
                   "REPEATED", "REQUIRED"),
            id="REPEATED made REQUIRED",
        ),
        pytest.param(
            [{"name": "n", "type": "STRING", "policyTags": {"names": [TAG_B, TAG_A]}}],
            [{"name": "n", "type": "STRING"}],
            Change("n", "policy_tags", Effect.IN_PLACE, f"`n`'s policy tags change ({TAG_A}, "
                   f"{TAG_B} -> none): pulumi up updates them in place, nothing is lost; without "
                   "a tag its values are no longer masked for readers of the table.",
                   (TAG_A, TAG_B), ()),
            id="untagged",
        ),
        pytest.param(
            [{"name": "n", "type": "STRING"}],
            [{"name": "n", "type": "STRING", "policyTags": {"names": [TAG_A, TAG_B]}}],
            Change("n", "policy_tags", Effect.IN_PLACE, f"`n`'s policy tags change (none -> "
                   f"{TAG_A}, {TAG_B}): pulumi up updates them in place, nothing is lost.",
                   (), (TAG_A, TAG_B)),
            id="tagged",
        ),
        pytest.param(
            [{"name": "n", "type": "STRING", "maxLength": "10"}],
            [{"name": "n", "type": "STRING", "maxLength": "20"}],
            Change("n", "maxLength", Effect.IN_PLACE, "`n`'s maxLength changes ('10' -> '20'): "
                   "pulumi up updates it in place (if BigQuery refuses the new value the up "
                   "fails, and nothing is lost).", "10", "20"),
            id="an option changed",
        ),
        pytest.param(
            [{"name": "n", "type": "NUMERIC"}],
            [{"name": "n", "type": "NUMERIC", "precision": "10"}],
            Change("n", "precision", Effect.IN_PLACE, "`n`'s precision changes (None -> '10'): "
                   "pulumi up updates it in place (if BigQuery refuses the new value the up "
                   "fails, and nothing is lost).", None, "10"),
            id="an option set",
        ),
    ],
)  # fmt: skip
def test_each_schema_change_says_exactly_what_happens(old, new, expected):
    """The first change, whole (a drop with an addition also reports the addition)."""
    assert classify_schema(old, new)[0] == expected


def _columns(count: int, prefix: str) -> list[dict]:
    return [{"name": f"{prefix}{i}", "type": "STRING"} for i in range(1, count + 1)]


@pytest.mark.parametrize(
    ("added", "listed"),
    [
        (1, "`a1`"),
        (5, "`a1`, `a2`, `a3`, `a4`, `a5`"),
        (6, "`a1`, `a2`, `a3`, `a4`, `a5` and 1 more"),
        (8, "`a1`, `a2`, `a3`, `a4`, `a5` and 3 more"),
    ],
)
def test_a_drop_names_the_first_five_top_level_additions(added, listed):
    old = [{"name": "gone", "type": "STRING"}]
    drop = classify_schema(old, _columns(added, "a"))[0]
    assert drop.message == (
        f"`gone` is missing from the new schema, which adds {listed}: pulumi-gcp cannot tell a "
        f"drop plus an add from a rename, so {R}; keep `gone` in the schema and stop sending it "
        "(to rename, add the new column and backfill it, keeping the old one)."
    )


def _moved_note(moved: int) -> str:
    """A note for 14 columns whose first `moved` are moved, in order, after the others."""
    old = _columns(14, "c")
    new = old[moved:] + old[:moved]
    (note,) = schema_notes(old, new)
    return note


def test_a_column_order_note_names_five_moves_and_counts_the_rest():
    five = (
        "`c1` is column 1 in OLD, 10 in NEW; `c2` is column 2 in OLD, 11 in NEW; "
        "`c3` is column 3 in OLD, 12 in NEW; `c4` is column 4 in OLD, 13 in NEW; "
        "`c5` is column 5 in OLD, 14 in NEW"
    )
    assert _moved_note(5) == (
        f"column order differs at the top level: {five} (order alone changes nothing)"
    )
    six = five.replace("10 in NEW", "9 in NEW").replace("11 in", "10 in").replace("12 in", "11 in")
    six = six.replace("13 in NEW", "12 in NEW").replace("14 in NEW", "13 in NEW")
    assert _moved_note(6) == (
        f"column order differs at the top level: {six}; and 1 more (order alone changes nothing)"
    )
    assert _moved_note(7).endswith("; and 2 more (order alone changes nothing)")


def test_type_spellings_are_noted_past_a_removed_column():
    old = [{"name": "gone", "type": "STRING"}, {"name": "n", "type": "INTEGER"}]
    assert schema_notes(old, [{"name": "n", "type": "INT64"}]) == (
        "`n`: type INTEGER and INT64 are the same to pulumi-gcp and BigQuery (no change)",
    )


DAY_ON = {"type": "DAY", "field": "occurred_at"}
COPY = "to move the table, copy it with a copy job (bq cp) and adopt the copy."


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            {"tableReference": {"projectId": "ecf-bq", "datasetId": "d", "tableId": "events"}},
            {"tableReference": {"projectId": "other", "datasetId": "d", "tableId": "events"}},
            Change("tableReference.projectId", "table_id", Effect.REPLACE, "the table's "
                   "projectId changes (ecf-bq -> other): pulumi up would create the new table "
                   f"and delete the old one, losing every stored event; {COPY}",
                   "ecf-bq", "other"),
            id="another project",
        ),
        pytest.param(
            {"timePartitioning": DAY_ON},
            {},
            Change("timePartitioning", "partitioning", Effect.REPLACE, "the table loses its "
                   "time partitioning: BigQuery cannot repartition an existing table, so "
                   f"{R}; {MIGRATE}.", "DAY on occurred_at", None),
            id="partitioning lost",
        ),
        pytest.param(
            {"timePartitioning": "none"},
            {"timePartitioning": {"type": "hour"}},
            Change("timePartitioning", "partitioning", Effect.REPLACE, "the table gains its "
                   "time partitioning: BigQuery cannot repartition an existing table, so "
                   f"{R}; {MIGRATE}.", None, "HOUR on ingestion time"),
            id="partitioning gained",
        ),
        pytest.param(
            {"timePartitioning": DAY_ON},
            {"timePartitioning": {"type": "MONTH", "field": "occurred_at"}},
            Change("timePartitioning.type", "partition_type", Effect.REPLACE, "the partition "
                   "type changes (DAY -> MONTH): BigQuery cannot repartition an existing table, "
                   "so this needs a new table (pulumi up either fails or, replacing the table, "
                   f"deletes every stored event); {MIGRATE}.", "DAY", "MONTH"),
            id="partition type",
        ),
        pytest.param(
            {"timePartitioning": {"field": "occurred_at"}},
            {"timePartitioning": DAY_ON},
            Change("timePartitioning.type", "partition_type", Effect.REPLACE, "the partition "
                   "type changes (unset -> DAY): BigQuery cannot repartition an existing table, "
                   "so this needs a new table (pulumi up either fails or, replacing the table, "
                   f"deletes every stored event); {MIGRATE}.", None, "DAY"),
            id="partition type unset",
        ),
        pytest.param(
            {"timePartitioning": DAY_ON},
            {"timePartitioning": {"field": "occurred_at"}},
            Change("timePartitioning.type", "partition_type", Effect.REPLACE, "the partition "
                   "type changes (DAY -> unset): BigQuery cannot repartition an existing table, "
                   "so this needs a new table (pulumi up either fails or, replacing the table, "
                   f"deletes every stored event); {MIGRATE}.", "DAY", None),
            id="partition type dropped",
        ),
        pytest.param(
            {"timePartitioning": DAY_ON},
            {"timePartitioning": {"type": "DAY"}},
            Change("timePartitioning.field", "partition_field", Effect.REPLACE, "the partition "
                   "column changes (occurred_at -> ingestion time): pulumi-gcp replaces the "
                   f"table for it, so {R}; {MIGRATE}.", "occurred_at", None),
            id="partitioned by ingestion time",
        ),
        pytest.param(
            {"timePartitioning": {"type": "DAY", "field": ""}},
            {"timePartitioning": DAY_ON},
            Change("timePartitioning.field", "partition_field", Effect.REPLACE, "the partition "
                   "column changes (ingestion time -> occurred_at): pulumi-gcp replaces the "
                   f"table for it, so {R}; {MIGRATE}.", None, "occurred_at"),
            id="partitioned by a column",
        ),
        pytest.param(
            {"timePartitioning": {**DAY_ON, "expirationMs": "7776000000"}},
            {"timePartitioning": {**DAY_ON, "expirationMs": "86400000"}},
            Change("timePartitioning.expirationMs", "partition_expiration", Effect.EXPIRES,
                   "partition expiration changes (90 days -> 1 days): BigQuery then deletes "
                   "every partition older than 1 days, with the events in it; leave the "
                   "expiration as it is (Dataform sets it on the table).",
                   7776000000, 86400000),
            id="partition expiration shortened",
        ),
        pytest.param(
            {"timePartitioning": DAY_ON},
            {"timePartitioning": {**DAY_ON, "expirationMs": "3600000"}},
            Change("timePartitioning.expirationMs", "partition_expiration", Effect.EXPIRES,
                   "partition expiration changes (none -> 3600000 ms): BigQuery then deletes "
                   "every partition older than 3600000 ms, with the events in it; leave the "
                   "expiration as it is (Dataform sets it on the table).", None, 3600000),
            id="partition expiration set",
        ),
        pytest.param(
            {"timePartitioning": {**DAY_ON, "expirationMs": "86400000"}},
            {"timePartitioning": {**DAY_ON, "expirationMs": "129600000"}},
            Change("timePartitioning.expirationMs", "partition_expiration", Effect.IN_PLACE,
                   "partition expiration changes (1 days -> 1.5 days): pulumi up updates it in "
                   "place; partitions are kept longer, nothing is lost.", 86400000, 129600000),
            id="partition expiration lengthened",
        ),
        pytest.param(
            {"timePartitioning": {**DAY_ON, "expirationMs": "86400000"}},
            {"timePartitioning": {**DAY_ON, "expirationMs": "0"}},
            Change("timePartitioning.expirationMs", "partition_expiration", Effect.IN_PLACE,
                   "partition expiration changes (1 days -> none): pulumi up updates it in "
                   "place; partitions are kept longer, nothing is lost.", 86400000, None),
            id="partition expiration cleared",
        ),
        pytest.param(
            {"clustering": {"fields": ["event_type", "user_id"]}},
            {},
            Change("clustering.fields", "clustering", Effect.IN_PLACE, "clustering changes "
                   "(event_type, user_id -> none): pulumi up updates it in place and new data is "
                   "clustered the new way; nothing is lost.", ("event_type", "user_id"), ()),
            id="clustering",
        ),
        pytest.param(
            {},
            {"requirePartitionFilter": True},
            Change("requirePartitionFilter", "require_partition_filter", Effect.IN_PLACE,
                   "requirePartitionFilter changes False -> True: pulumi up updates it in place, "
                   "nothing is lost; queries without a filter on the partition column will then "
                   "fail.", False, True),
            id="partition filter required",
        ),
        pytest.param(
            {"timePartitioning": {**DAY_ON, "requirePartitionFilter": True}},
            {"timePartitioning": DAY_ON},
            Change("requirePartitionFilter", "require_partition_filter", Effect.IN_PLACE,
                   "requirePartitionFilter changes True -> False: pulumi up updates it in place, "
                   "nothing is lost; queries no longer need a partition filter.", True, False),
            id="the deprecated partition filter dropped",
        ),
        pytest.param(
            {"encryptionConfiguration": {"kmsKeyName": KEY}},
            {},
            Change("encryptionConfiguration.kmsKeyName", "kms_key", Effect.REPLACE, "the "
                   f"table's KMS key changes ({KEY} -> Google-managed): pulumi-gcp replaces the "
                   f"table on any encryption change, so {R}; re-encrypt instead with a copy job "
                   "into a new table (bq cp --destination_kms_key) and adopt that table.",
                   KEY, None),
            id="KMS key dropped",
        ),
        pytest.param(
            {"expirationTime": "1893456000000"},
            {},
            Change("expirationTime", "table_expiration", Effect.IN_PLACE, "the table no longer "
                   "expires (it was to be deleted at 2030-01-01 00:00Z): nothing is lost.",
                   1893456000000, None),
            id="table expiration cleared",
        ),
        pytest.param(
            {"expirationTime": "0"},
            {"expirationTime": "1800000000000"},
            Change("expirationTime", "table_expiration", Effect.EXPIRES, "the table is set to "
                   "expire at 2027-01-15 08:00Z: BigQuery then deletes it with every stored "
                   "event; the events table must never expire, leave expirationTime unset.",
                   None, 1800000000000),
            id="table expiration set",
        ),
        pytest.param(
            {"expirationTime": "1893456000000"},
            {"expirationTime": "1800000000000"},
            Change("expirationTime", "table_expiration", Effect.EXPIRES, "the table is set to "
                   "expire at 2027-01-15 08:00Z: BigQuery then deletes it with every stored "
                   "event; the events table must never expire, leave expirationTime unset.",
                   1893456000000, 1800000000000),
            id="table expiration brought forward",
        ),
        pytest.param(
            {"labels": {"team": "npq"}},
            {"labels": {"team": "cpd"}},
            Change("labels.team", "labels", Effect.IN_PLACE, "label team changes (npq -> cpd): "
                   "pulumi up updates it in place; nothing is lost.", "npq", "cpd"),
            id="label changed",
        ),
        pytest.param(
            {"labels": {"team": "npq"}},
            {},
            Change("labels.team", "labels", Effect.IN_PLACE, "label team changes (npq -> unset): "
                   "pulumi up updates it in place; nothing is lost.", "npq", None),
            id="label removed",
        ),
    ],
)  # fmt: skip
def test_each_settings_change_says_exactly_what_happens(old, new, expected):
    assert classify_settings(old, new) == (expected,)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"tableReference": {"projectId": "p", "datasetId": "d", "tableId": "t"}}, {}),
        ({}, {"tableReference": {"projectId": "p", "datasetId": "d", "tableId": "t"}}),
        ({"tableReference": "p:d.t"}, {"tableReference": {"projectId": "p"}}),
        ({"expirationTime": "0"}, {}),
        ({"timePartitioning": {**DAY_ON, "expirationMs": 0}}, {"timePartitioning": DAY_ON}),
    ],
)
def test_a_side_without_the_setting_is_no_change(old, new):
    """A table reference on one side only, or not an object, says nothing; 0 is no expiry."""
    assert classify_settings(old, new) == ()


def test_times_are_shown_in_utc_whatever_the_local_zone(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        (change,) = classify_settings({}, {"expirationTime": "1893456000000"})
        assert change.message.startswith("the table is set to expire at 2030-01-01 00:00Z:")
    finally:
        monkeypatch.undo()
        time.tzset()

"""The verifier's comparison, on dataset and table payloads shaped as BigQuery's API answers."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from infra.model.declared import declare
from infra.model.stackfiles import settings_for
from infra.rules.verify import DRIFT, NOTE, compare
from tests.bq_stub import live_dataset, live_table

KEY = "projects/ecf-bq/locations/europe-west2/keyRings/ecf-key-ring/cryptoKeys/ecf-key"
OTHER_KEY = "projects/ecf-bq/locations/europe-west2/keyRings/ecf-key-ring/cryptoKeys/other"
TAG = "projects/ecf-bq/locations/europe-west2/taxonomies/123/policyTags/456"


@pytest.fixture(scope="module")
def staging():
    return declare(settings_for("staging"))


@pytest.fixture(scope="module")
def tagged():
    """A stack that declares the 'hidden' policy tag on hidden_DATA.value."""
    return declare(replace(settings_for("staging"), hidden_policy_tag=TAG))


def fields_of(table: dict) -> list[dict]:
    return table["schema"]["fields"]


def field(table: dict, name: str) -> dict:
    return next(f for f in fields_of(table) if f["name"] == name)


def drift(result) -> dict[str, object]:
    return {f.path: f for f in result.findings if f.level == DRIFT}


def notes(result) -> dict[str, object]:
    return {f.path: f for f in result.findings if f.level == NOTE}


def test_live_state_created_from_the_declaration_matches(staging):
    result = compare(staging, live_dataset(staging), live_table(staging))
    assert result.status == "match"
    assert result.effect == "none"
    assert result.findings == ()
    assert result.table == "ecf-bq.npq_events_staging.events"


# -- another DfE template ------------------------------------------------------------------


def _kv(key_name: str) -> list[dict]:
    return [
        {"name": key_name, "type": "STRING", "mode": "REQUIRED"},
        {"name": "value", "type": "STRING", "mode": "REPEATED"},
    ]


def other_template_table() -> dict:
    """The events table as another DfE service's template made it, as BigQuery reports it:
    hidden_DATA last with its key spelled KEY, no mode on NULLABLE columns, no descriptions,
    and the KMS key name carrying a key version."""
    nullable = [
        "user_id",
        "request_uuid",
        "request_method",
        "request_path",
        "request_user_agent",
        "request_referer",
    ]
    fields = [
        {"name": "occurred_at", "type": "TIMESTAMP", "mode": "REQUIRED"},
        {"name": "event_type", "type": "STRING", "mode": "REQUIRED"},
        *({"name": name, "type": "STRING"} for name in nullable),
        {"name": "request_query", "type": "RECORD", "mode": "REPEATED", "fields": _kv("key")},
        {"name": "response_content_type", "type": "STRING"},
        {"name": "response_status", "type": "STRING"},
        {"name": "DATA", "type": "RECORD", "mode": "REPEATED", "fields": _kv("key")},
        {"name": "entity_table_name", "type": "STRING"},
        {"name": "event_tags", "type": "STRING", "mode": "REPEATED"},
        {"name": "anonymised_user_agent_and_ip", "type": "STRING"},
        {"name": "environment", "type": "STRING"},
        {"name": "namespace", "type": "STRING"},
        {"name": "hidden_DATA", "type": "RECORD", "mode": "REPEATED", "fields": _kv("KEY")},
    ]
    return {
        "kind": "bigquery#table",
        "id": "ecf-bq:npq_events_staging.events",
        "tableReference": {
            "projectId": "ecf-bq",
            "datasetId": "npq_events_staging",
            "tableId": "events",
        },
        "type": "TABLE",
        "schema": {"fields": fields},
        "timePartitioning": {"type": "DAY", "field": "occurred_at"},
        "clustering": {"fields": ["event_type"]},
        "encryptionConfiguration": {"kmsKeyName": KEY + "/cryptoKeyVersions/3"},
        "location": "europe-west2",
    }


def test_other_template_only_the_key_spelling_is_drift_and_it_replaces(staging):
    result = compare(staging, live_dataset(staging), other_template_table())

    assert list(drift(result)) == ["schema.hidden_DATA.KEY"]
    finding = drift(result)["schema.hidden_DATA.KEY"]
    assert finding.effect == "replace"
    assert (finding.expected, finding.actual) == ("key", "KEY")
    # The fix: BigQuery sees one column, the code must take the live spelling.
    assert "spell it `KEY`" in finding.message
    assert "BigQuery treats them as one column" in finding.message
    assert result.status == "drift" and result.effect == "replace"

    # Order, absent modes (NULLABLE) and the key version do not count as drift.
    assert not any("mode" in path or "encryption" in path for path in drift(result))
    assert any("order" in f.message for f in notes(result).values())
    # The template has no descriptions: notes, not drift, unless --strict.
    assert "schema.user_id.description" in notes(result)


def test_other_template_under_strict_makes_descriptions_in_place_drift(staging):
    result = compare(staging, live_dataset(staging), other_template_table(), strict=True)
    description = drift(result)["schema.user_id.description"]
    assert description.effect == "in_place"
    assert description.expected == "Id of the signed-in user, if any."
    assert result.effect == "replace"  # the KEY spelling still dominates


# -- schema --------------------------------------------------------------------------------


def test_live_only_column_would_be_dropped_with_its_data(staging):
    table = live_table(staging)
    fields_of(table).append({"name": "legacy_id", "type": "STRING", "mode": "NULLABLE"})
    result = compare(staging, live_dataset(staging), table)
    finding = drift(result)["schema.legacy_id"]
    assert finding.effect == "drop_column"
    assert finding.expected is None and finding.actual == "STRING NULLABLE"
    assert "drop" in finding.message and "data" in finding.message
    assert result.effect == "drop_column"


def test_code_only_column_is_added_in_place(staging):
    table = live_table(staging)
    fields_of(table)[:] = [f for f in fields_of(table) if f["name"] != "namespace"]
    result = compare(staging, live_dataset(staging), table)
    finding = drift(result)["schema.namespace"]
    assert (finding.effect, finding.expected, finding.actual) == (
        "in_place",
        "STRING NULLABLE",
        None,
    )
    assert result.effect == "in_place"


def test_a_live_only_and_a_code_only_column_together_replace(staging):
    table = live_table(staging)
    fields_of(table)[:] = [f for f in fields_of(table) if f["name"] != "namespace"]
    fields_of(table).append({"name": "name_space", "type": "STRING", "mode": "NULLABLE"})
    result = compare(staging, live_dataset(staging), table)
    # The provider cannot tell a drop plus an add from a rename: the table is replaced.
    assert drift(result)["schema.name_space"].effect == "replace"
    assert result.effect == "replace"


@pytest.mark.parametrize(
    ("column", "key", "value", "path", "effect"),
    [
        ("user_id", "type", "INTEGER", "schema.user_id.type", "replace"),
        # Live REQUIRED, code NULLABLE: the provider relaxes it in place.
        ("user_id", "mode", "REQUIRED", "schema.user_id.mode", "in_place"),
        # Live NULLABLE, code REQUIRED: existing rows may hold NULLs, so a new table.
        ("occurred_at", "mode", "NULLABLE", "schema.occurred_at.mode", "replace"),
        ("event_tags", "mode", "NULLABLE", "schema.event_tags.mode", "replace"),
    ],
)
def test_type_and_mode_differences(staging, column, key, value, path, effect):
    table = live_table(staging)
    field(table, column)[key] = value
    result = compare(staging, live_dataset(staging), table)
    assert list(drift(result)) == [path]
    assert drift(result)[path].effect == effect


def test_column_order_is_a_note_in_the_verifiers_words(staging):
    table = live_table(staging)
    fields_of(table)[0:2] = fields_of(table)[1::-1]  # event_type first, occurred_at second
    result = compare(staging, live_dataset(staging), table)
    assert result.status == "match"
    assert [f.as_json() for f in result.findings] == [
        {
            "level": "note",
            "path": "schema",
            "expected": None,
            "actual": None,
            "effect": "none",
            "message": "column order differs at the top level: `event_type` is column 1 live, "
            "2 in the code (order alone changes nothing)",
        }
    ]


def test_type_aliases_and_case_are_not_drift(staging):
    table = live_table(staging)
    field(table, "user_id")["type"] = "string"
    field(table, "user_id")["mode"] = "nullable"
    result = compare(staging, live_dataset(staging), table)
    assert drift(result) == {}


def test_nested_difference_replaces(staging):
    table = live_table(staging)
    data = field(table, "DATA")
    data["fields"].append({"name": "source", "type": "STRING", "mode": "NULLABLE"})
    result = compare(staging, live_dataset(staging), table)
    assert drift(result)["schema.DATA.source"].effect == "replace"


def test_declared_policy_tag_missing_live_is_in_place_drift(tagged):
    result = compare(tagged, live_dataset(tagged), _without_tags(live_table(tagged)))
    finding = drift(result)["schema.hidden_DATA.value.policyTags"]
    assert finding.effect == "in_place"
    assert finding.expected == [TAG]
    assert result.status == "drift"


def test_declared_policy_tag_present_live_matches(tagged):
    table = live_table(tagged)
    value = next(f for f in field(table, "hidden_DATA")["fields"] if f["name"] == "value")
    assert value["policyTags"] == {"names": [TAG]}
    assert compare(tagged, live_dataset(tagged), table).status == "match"


def test_undeclared_policy_tag_live_is_a_note(staging, tagged):
    result = compare(staging, live_dataset(staging), live_table(tagged))
    assert result.status == "match"
    assert notes(result)["schema.hidden_DATA.value.policyTags"].actual == [TAG]


def test_undeclared_policy_tags_are_noted_on_every_tagged_column(staging, tagged):
    table = live_table(tagged)
    field(table, "user_id")["policyTags"] = {"names": [TAG]}  # a top-level column, then records
    result = compare(staging, live_dataset(staging), table)
    assert result.status == "match"
    assert [(f.path, f.actual, f.message) for f in result.findings] == [
        (
            f"schema.{column}.policyTags",
            [TAG],
            "the live column has a policy tag and the code declares none; set hiddenPolicyTag "
            "in Pulumi.staging.yaml to manage it",
        )
        for column in ("user_id", "hidden_DATA.value")
    ]


def _without_tags(table: dict) -> dict:
    table = copy.deepcopy(table)
    for f in field(table, "hidden_DATA")["fields"]:
        f.pop("policyTags", None)
    return table


# -- table settings ------------------------------------------------------------------------


def test_missing_table_would_be_created(staging):
    result = compare(staging, live_dataset(staging), None)
    assert list(drift(result)) == ["table"]
    assert drift(result)["table"].effect == "create"
    assert result.effect == "create"


def test_an_answer_without_a_type_is_a_table(staging):
    table = live_table(staging)
    table.pop("type")
    assert compare(staging, live_dataset(staging), table).findings == ()


def test_a_view_is_not_the_table(staging):
    table = live_table(staging)
    table["type"] = "VIEW"
    assert drift(compare(staging, live_dataset(staging), table))["table.type"].effect == "replace"


@pytest.mark.parametrize(
    ("mutate", "path", "effect"),
    [
        (lambda t: t["timePartitioning"].update(type="MONTH"), "timePartitioning.type", "replace"),
        (
            lambda t: t["timePartitioning"].update(field="_PARTITIONTIME"),
            "timePartitioning.field",
            "replace",
        ),
        (lambda t: t.update(requirePartitionFilter=True), "requirePartitionFilter", "in_place"),
        (
            lambda t: t["clustering"].update(fields=["event_type", "user_id"]),
            "clustering.fields",
            "in_place",
        ),
        (
            lambda t: t["encryptionConfiguration"].update(kmsKeyName=OTHER_KEY),
            "encryptionConfiguration.kmsKeyName",
            "replace",
        ),
        (
            lambda t: t.pop("encryptionConfiguration"),
            "encryptionConfiguration.kmsKeyName",
            "replace",
        ),
    ],
)
def test_table_setting_differences(staging, mutate, path, effect):
    table = live_table(staging)
    mutate(table)
    result = compare(staging, live_dataset(staging), table)
    assert list(drift(result)) == [f"table.{path}"]
    assert drift(result)[f"table.{path}"].effect == effect
    assert result.effect == effect


def test_clustering_is_compared_in_order(staging):
    two = declare(settings_for("staging"))
    two = replace(two, table=replace(two.table, clustering=("event_type", "user_id")))
    table = live_table(two)
    table["clustering"]["fields"] = ["user_id", "event_type"]
    result = compare(two, live_dataset(two), table)
    assert drift(result)["table.clustering.fields"].actual == ["user_id", "event_type"]


def test_key_version_partition_expiry_and_live_table_labels_are_not_drift(staging):
    table = live_table(staging)
    table["encryptionConfiguration"]["kmsKeyName"] = KEY + "/cryptoKeyVersions/12"
    table["timePartitioning"]["expirationMs"] = "7776000000"  # set by downstream Dataform
    table["labels"] = {"owner": "analytics"}
    result = compare(staging, live_dataset(staging), table)
    assert result.status == "match"
    # Dataform's partition expiration stays Dataform's: a note, with the retention it implies.
    (note,) = result.findings
    assert (note.level, note.path, note.actual, note.effect) == (
        "note",
        "table.timePartitioning.expirationMs",
        7776000000,
        "none",
    )
    assert note.message == (
        "partitions expire after 90 days (set by Dataform, not by this project): BigQuery "
        "keeps only the events of the last 90 days"
    )


# -- expiry: BigQuery deletes what expires -------------------------------------------------


def test_a_live_table_that_expires_is_drift_that_expires(staging):
    table = live_table(staging)
    table["expirationTime"] = "1893456000000"
    result = compare(staging, live_dataset(staging), table)
    assert result.status == "drift" and result.effect == "expires"
    finding = drift(result)["table.expirationTime"]
    assert (finding.expected, finding.actual) == (None, 1893456000000)
    assert finding.message == (
        "BigQuery deletes ecf-bq.npq_events_staging.events with every stored event at "
        "2030-01-01 00:00Z; `pulumi up` keeps that (the program does not set expirationTime): "
        "clear it now with `bq update --expiration 0 ecf-bq:npq_events_staging.events`"
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "defaultTableExpirationMs",
            "every table created in the dataset from now on is deleted 7 days after its "
            "creation, with its events: a re-created events table, or a review app's, would be "
            "lost; the code declares none and `pulumi up` does not clear it: clear it with "
            "`bq update --default_table_expiration 0 ecf-bq:npq_events_staging`",
        ),
        (
            "defaultPartitionExpirationMs",
            "every partitioned table created in the dataset from now on deletes each partition "
            "7 days after its day, with its events; the code declares none and `pulumi up` does "
            "not clear it: clear it with "
            "`bq update --default_partition_expiration 0 ecf-bq:npq_events_staging`",
        ),
    ],
)
def test_a_dataset_default_expiration_is_drift_that_expires(staging, key, message):
    dataset = live_dataset(staging)
    dataset[key] = "604800000"  # 7 days
    result = compare(staging, dataset, live_table(staging))
    assert result.effect == "expires"
    finding = drift(result)[f"dataset.{key}"]
    assert (finding.expected, finding.actual, finding.effect) == (None, 604800000, "expires")
    assert finding.message == message


def test_table_description_is_a_note_or_under_strict_drift(staging):
    table = live_table(staging)
    table["description"] = "events"
    assert notes(compare(staging, live_dataset(staging), table))["table.description"]
    strict = compare(staging, live_dataset(staging), table, strict=True)
    assert drift(strict)["table.description"].effect == "in_place"


# -- dataset -------------------------------------------------------------------------------


def test_missing_dataset_would_be_created_with_its_table(staging):
    result = compare(staging, None, None)
    assert [(f.path, f.effect) for f in result.findings] == [("dataset", "create")]
    assert "create" in result.findings[0].message
    assert result.effect == "create"


def test_location_compares_case_insensitively(staging):
    dataset = live_dataset(staging)
    dataset["location"] = "EUROPE-WEST2"
    assert compare(staging, dataset, live_table(staging)).findings == ()


def test_another_location_replaces_the_dataset(staging):
    dataset = live_dataset(staging)
    dataset["location"] = "EU"
    finding = drift(compare(staging, dataset, live_table(staging)))["dataset.location"]
    assert (finding.expected, finding.actual, finding.effect) == ("europe-west2", "EU", "replace")


def test_dataset_default_key(staging):
    dataset = live_dataset(staging)
    dataset["defaultEncryptionConfiguration"]["kmsKeyName"] = KEY + "/cryptoKeyVersions/1"
    assert compare(staging, dataset, live_table(staging)).findings == ()

    dataset["defaultEncryptionConfiguration"]["kmsKeyName"] = OTHER_KEY
    finding = drift(compare(staging, dataset, live_table(staging)))[
        "dataset.defaultEncryptionConfiguration.kmsKeyName"
    ]
    assert (finding.expected, finding.actual, finding.effect) == (KEY, OTHER_KEY, "in_place")


@pytest.mark.parametrize("answer", [None, ""])
def test_time_travel_left_out_of_the_answer_is_bigquerys_default(staging, answer):
    dataset = live_dataset(staging)
    dataset.pop("maxTimeTravelHours")
    if answer is not None:
        dataset["maxTimeTravelHours"] = answer
    assert staging.dataset.max_time_travel_hours == 168
    assert compare(staging, dataset, live_table(staging)).findings == ()


def test_time_travel_that_is_not_a_number_is_shown_as_answered(staging):
    dataset = live_dataset(staging)
    dataset["maxTimeTravelHours"] = "a week"
    finding = drift(compare(staging, dataset, live_table(staging)))["dataset.maxTimeTravelHours"]
    assert (finding.expected, finding.actual) == (168, "a week")


def test_time_travel_compares_as_numbers(staging):
    dataset = live_dataset(staging)
    dataset["maxTimeTravelHours"] = "168"
    assert compare(staging, dataset, live_table(staging)).findings == ()
    dataset["maxTimeTravelHours"] = "48"
    finding = drift(compare(staging, dataset, live_table(staging)))["dataset.maxTimeTravelHours"]
    assert (finding.expected, finding.actual, finding.effect) == (168, 48, "in_place")


def test_declared_labels_must_be_present_with_their_values(staging):
    dataset = live_dataset(staging)
    dataset["labels"].pop("service")
    dataset["labels"]["environment"] = "stage"
    dataset["labels"]["goog-pulumi-provisioned"] = "true"
    dataset["labels"]["cost-centre"] = "dfe"  # extra labels are fine
    found = drift(compare(staging, dataset, live_table(staging)))
    assert sorted(found) == ["dataset.labels.environment", "dataset.labels.service"]
    assert (found["dataset.labels.service"].expected, found["dataset.labels.service"].actual) == (
        "npq-registration",
        None,
    )
    assert [found[path].message for path in sorted(found)] == [
        "`pulumi up` would set label environment=staging in place",
        "`pulumi up` would add label service=npq-registration in place",
    ]


def test_adopting_a_stack_that_declares_labels_notes_each_one_the_up_after_sets(staging):
    # `verify --adopt` on a stack file without `adopt: true`: its labels are declared.
    dataset = live_dataset(staging)
    dataset["labels"] = {"managed-by": "pulumi"}  # environment and service missing live
    result = compare(staging, dataset, live_table(staging), adopt=True)
    assert result.status == "match"
    assert [(f.path, f.expected, f.actual, f.effect, f.message) for f in result.findings] == [
        (
            f"dataset.labels.{key}",
            value,
            None,
            "none",
            f"label {key}={value} is declared after the import: the up that follows the "
            "adoption sets it in place (docs/adoption.md)",
        )
        for key, value in [("environment", "staging"), ("service", "npq-registration")]
    ]


def test_dataset_description_is_a_note_or_under_strict_drift(staging):
    dataset = live_dataset(staging)
    dataset["description"] = ""
    assert notes(compare(staging, dataset, live_table(staging)))["dataset.description"]
    strict = compare(staging, dataset, live_table(staging), strict=True)
    assert drift(strict)["dataset.description"].effect == "in_place"


def test_effects_combine_to_the_most_harmful(staging):
    dataset = live_dataset(staging)
    dataset["maxTimeTravelHours"] = "96"
    table = live_table(staging)
    table["clustering"]["fields"] = ["user_id"]
    fields_of(table).append({"name": "legacy_id", "type": "STRING"})
    result = compare(staging, dataset, table)
    assert {f.effect for f in result.drift} == {"in_place", "drop_column"}
    assert result.effect == "drop_column"


# -- an endpoint without CMEK (a local emulator) -----------------------------------------------


def test_absent_keys_from_an_endpoint_without_cmek_are_notes(staging):
    dataset, table = live_dataset(staging), live_table(staging)
    dataset.pop("defaultEncryptionConfiguration")
    table.pop("encryptionConfiguration")
    assert compare(staging, dataset, table).effect == "replace"  # real BigQuery: drift
    result = compare(staging, dataset, table, encryption_optional=True)
    assert result.status == "match"
    assert sorted(notes(result)) == [
        "dataset.defaultEncryptionConfiguration.kmsKeyName",
        "table.encryptionConfiguration.kmsKeyName",
    ]


def test_a_different_key_is_drift_even_from_an_endpoint_without_cmek(staging):
    table = live_table(staging)
    table["encryptionConfiguration"]["kmsKeyName"] = OTHER_KEY
    result = compare(staging, live_dataset(staging), table, encryption_optional=True)
    assert result.effect == "replace"


# -- adoption mode -------------------------------------------------------------------------


def test_adoption_makes_every_difference_drift_and_says_what_to_change(staging, tagged):
    dataset = live_dataset(staging)
    dataset["labels"]["cost-centre"] = "dfe"
    dataset["labels"]["goog-pulumi-provisioned"] = "true"
    dataset["description"] = "NPQ events"
    table = live_table(tagged)  # carries a policy tag the staging stack does not declare
    table["labels"] = {"owner": "analytics"}
    field(table, "user_id")["description"] = "user"
    fields_of(table).append({"name": "legacy_id", "type": "STRING", "mode": "NULLABLE"})

    normal = compare(staging, dataset, table)
    assert sorted(drift(normal)) == ["schema.legacy_id"]

    result = compare(staging, dataset, table, adopt=True)
    found = drift(result)
    assert sorted(found) == [
        "dataset.description",
        "schema.hidden_DATA.value.policyTags",
        "schema.legacy_id",
        "schema.user_id.description",
    ]
    # Live-only labels are no import difference: pulumi-gcp imports labels as none and leaves
    # the labels the code does not name alone.
    noted = notes(result)
    assert "the import keeps it" in noted["dataset.labels.cost-centre"].message
    assert "the import keeps it" in noted["table.labels.owner"].message
    assert "change the code" in found["dataset.description"].message
    assert "bq update" in found["dataset.description"].message
    assert "change the description in the code" in found["schema.user_id.description"].message
    assert "add the column to infra/model/schema.py" in found["schema.legacy_id"].message
    assert "hiddenPolicyTag" in found["schema.hidden_DATA.value.policyTags"].message
    assert result.effect == "drop_column"


def test_adoption_of_a_live_table_setting_says_to_change_the_code(staging):
    table = live_table(staging)
    table["requirePartitionFilter"] = True
    result = compare(staging, live_dataset(staging), table, adopt=True)
    assert drift(result)["table.requirePartitionFilter"].message == (
        "requirePartitionFilter changes True -> False: pulumi up updates it in place, nothing "
        "is lost; queries no longer need a partition filter; to adopt, change the code to "
        "match the live table"
    )


@pytest.mark.parametrize(
    ("resource", "key", "value"),
    [
        ("dataset", "friendlyName", "NPQ events"),
        ("dataset", "resourceTags", {"ecf-bq/env": "prod"}),
        ("table", "friendlyName", "events"),
        ("table", "tableConstraints", {"primaryKey": {"columns": ["request_uuid"]}}),
    ],
)
def test_adoption_predicts_the_import_differences_of_undeclared_live_properties(
    staging, resource, key, value
):
    """Path 6: pulumi-gcp reads these on import and the program declares none of them, so the
    first up would import and then update: adoption mode names each; normal mode does not."""
    dataset, table = live_dataset(staging), live_table(staging)
    (dataset if resource == "dataset" else table)[key] = value
    assert compare(staging, dataset, table).status == "match"
    result = compare(staging, dataset, table, adopt=True)
    finding = drift(result)[f"{resource}.{key}"]
    assert (finding.expected, finding.actual, finding.effect) == (None, value, "in_place")
    assert finding.message == (
        f"the import reads {key} and the code does not declare it: the first `pulumi up` would "
        f"import the {resource} and then update it to remove {key}, and the adoption preview "
        "must show imports only; to adopt, clear it live first (the console, or the API's "
        "patch with the field null)"
    )


@pytest.mark.parametrize("value", ["", {}, []])
def test_an_empty_undeclared_live_property_is_no_import_difference(staging, value):
    dataset, table = live_dataset(staging), live_table(staging)
    dataset["friendlyName"] = table["friendlyName"] = value
    dataset["resourceTags"] = table["tableConstraints"] = value
    assert compare(staging, dataset, table, adopt=True).findings == ()


def test_adoption_of_a_dataset_that_does_not_exist(staging):
    result = compare(staging, None, None, adopt=True)
    assert result.effect == "create"
    assert "nothing to import" in result.findings[0].message


def test_adoption_of_a_matching_environment_matches(staging):
    assert compare(staging, live_dataset(staging), live_table(staging), adopt=True).findings == ()


def test_review_app_stack_names_the_shared_stack_file():
    review = declare(settings_for("review"))
    review = replace(review, settings=replace(review.settings, stack="review-pr-7"))
    dataset = live_dataset(review)
    dataset["maxTimeTravelHours"] = "48"
    result = compare(review, dataset, live_table(review), adopt=True)
    assert "Pulumi.review.yaml" in drift(result)["dataset.maxTimeTravelHours"].message


# -- JSON ----------------------------------------------------------------------------------


def test_json_shape(staging):
    table = live_table(staging)
    fields_of(table).append({"name": "legacy_id", "type": "STRING"})
    document = compare(staging, None, None).as_json()
    assert list(document) == [
        "stack",
        "table",
        "status",
        "effect",
        "findings",
        "error",
        "freshness",
    ]
    document = compare(staging, live_dataset(staging), table).as_json()
    assert document["status"] == "drift" and document["error"] is None
    finding = document["findings"][0]
    assert list(finding) == ["level", "path", "expected", "actual", "effect", "message"]
    json.dumps(document)  # JSON-safe throughout


def test_a_stack_name_with_brackets_prints_as_itself_on_a_terminal():
    # `verify --stack '[/x]'` is refused as that stack's error; on a terminal its name must
    # print as text, not be read as rich markup (which raised MarkupError).
    import io

    from rich.console import Console
    from rich.text import Text

    from infra.cli.verify_report import write_rich
    from infra.rules.verify import error_result

    out = io.StringIO()
    results = [error_result("[/x]", None, "stack name '[/x]' is not accepted")]
    write_rich(results, Console(file=out, force_terminal=True, no_color=True, width=200))
    printed = Text.from_ansi(out.getvalue()).plain
    assert printed.splitlines()[0].startswith("[/x] (table unknown)  error")

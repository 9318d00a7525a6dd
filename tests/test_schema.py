"""The schema module: the 18 columns, its renderings and its own rules."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from google.cloud import bigquery

from infra.model import schema
from infra.model.schema import Column, SchemaError

# DESIGN.md §3: the dfe-analytics DDL, spelled as the live NPQ table spells it.
EXPECTED = [
    ("occurred_at", "TIMESTAMP", "REQUIRED"),
    ("event_type", "STRING", "REQUIRED"),
    ("user_id", "STRING", "NULLABLE"),
    ("request_uuid", "STRING", "NULLABLE"),
    ("request_method", "STRING", "NULLABLE"),
    ("request_path", "STRING", "NULLABLE"),
    ("request_user_agent", "STRING", "NULLABLE"),
    ("request_referer", "STRING", "NULLABLE"),
    ("request_query", "RECORD", "REPEATED"),
    ("response_content_type", "STRING", "NULLABLE"),
    ("response_status", "STRING", "NULLABLE"),
    ("DATA", "RECORD", "REPEATED"),
    ("hidden_DATA", "RECORD", "REPEATED"),
    ("entity_table_name", "STRING", "NULLABLE"),
    ("event_tags", "STRING", "REPEATED"),
    ("anonymised_user_agent_and_ip", "STRING", "NULLABLE"),
    ("environment", "STRING", "NULLABLE"),
    ("namespace", "STRING", "NULLABLE"),
]
KEY_VALUE = [("key", "STRING", "REQUIRED"), ("value", "STRING", "REPEATED")]
TAG = "projects/ecf-bq/locations/europe-west2/taxonomies/123/policyTags/456"


def test_the_eighteen_columns_in_order_with_exact_spelling():
    assert [(c.name, c.type, c.mode) for c in schema.EVENTS] == EXPECTED


@pytest.mark.parametrize("record", ["request_query", "DATA", "hidden_DATA"])
def test_key_value_records(record):
    column = schema.find(schema.EVENTS, record)
    assert [(c.name, c.type, c.mode) for c in column.fields] == KEY_VALUE


def test_every_column_has_a_description():
    assert all(column.description for _path, column in schema.walk(schema.EVENTS))


def test_api_rendering_has_explicit_modes_and_legacy_types_everywhere():
    def fields(items):
        for item in items:
            yield item
            yield from fields(item.get("fields", []))

    rendered = list(fields(schema.to_api()))
    assert len(rendered) == 18 + 3 * 2
    assert all(f["mode"] in schema.MODES for f in rendered)
    assert all(f["type"] in schema.LEGACY_TYPES for f in rendered)
    assert not any(f["type"] in {"STRUCT", "INT64", "FLOAT64", "BOOL"} for f in rendered)


def test_policy_tag_goes_on_hidden_value_only():
    rendered = schema.to_api(policy_tag=TAG)
    tagged = []

    def collect(items, prefix=""):
        for item in items:
            path = prefix + item["name"]
            if "policyTags" in item:
                tagged.append((path, item["policyTags"]))
            collect(item.get("fields", []), path + ".")

    collect(rendered)
    assert tagged == [("hidden_DATA.value", {"names": [TAG]})]
    assert "policyTags" not in json.dumps(schema.to_api())


def test_json_parses_with_google_cloud_bigquery():
    fields = [bigquery.SchemaField.from_api_repr(f) for f in json.loads(schema.to_json())]
    assert [f.name for f in fields] == [name for name, _t, _m in EXPECTED]
    assert fields[11].fields[1].mode == "REPEATED"


def test_ddl_declares_partitioning_clustering_and_key():
    ddl = schema.to_ddl(
        "ecf-bq.npq_events_staging.events", "projects/p/locations/l/keyRings/r/cryptoKeys/k"
    )
    assert ddl.startswith("CREATE TABLE `ecf-bq.npq_events_staging.events`")
    assert "PARTITION BY DATE(`occurred_at`)" in ddl
    assert "CLUSTER BY `event_type`" in ddl
    assert "`occurred_at` TIMESTAMP NOT NULL" in ddl
    assert "`DATA` ARRAY<STRUCT<`key` STRING NOT NULL" in ddl
    assert "`event_tags` ARRAY<STRING>" in ddl
    assert 'kms_key_name="projects/p/locations/l/keyRings/r/cryptoKeys/k"' in ddl


def _with(columns, target, **changes):
    return tuple(replace(c, **changes) if c.name == target else c for c in columns)


@pytest.mark.parametrize(
    ("columns", "partition", "clustering", "message"),
    [
        (
            (*schema.EVENTS, Column("data", "STRING", "NULLABLE", "")),
            "occurred_at",
            ("event_type",),
            "case-insensitive",
        ),
        (
            _with(
                schema.EVENTS,
                "DATA",
                fields=(
                    Column("key", "STRING", "REQUIRED", ""),
                    Column("KEY", "STRING", "NULLABLE", ""),
                ),
            ),
            "occurred_at",
            ("event_type",),
            "DATA.KEY",
        ),
        (schema.EVENTS, "user_id", ("event_type",), "partition column"),
        (
            _with(schema.EVENTS, "occurred_at", mode="NULLABLE"),
            "occurred_at",
            ("event_type",),
            "REQUIRED TIMESTAMP or DATE",
        ),
        (schema.EVENTS, "DATA", ("event_type",), "partition column"),
        (schema.EVENTS, "missing", ("event_type",), "partition column"),
        (schema.EVENTS, "occurred_at", ("nope",), "not a top-level column"),
        (schema.EVENTS, "occurred_at", ("event_tags",), "repeated"),
        (schema.EVENTS, "occurred_at", ("DATA",), "repeated"),
        (schema.EVENTS, "occurred_at", ("key",), "not a top-level column"),
        (
            schema.EVENTS,
            "occurred_at",
            ("event_type", "user_id", "request_uuid", "request_method", "request_path"),
            "at most 4",
        ),
        (schema.EVENTS, "occurred_at", ("event_type", "event_type"), "repeat"),
        (
            _with(schema.EVENTS, "user_id", type="STRUCT"),
            "occurred_at",
            ("event_type",),
            "legacy type",
        ),
        (_with(schema.EVENTS, "user_id", mode="OPTIONAL"), "occurred_at", ("event_type",), "mode"),
        (
            _with(schema.EVENTS, "user_id", name="1user"),
            "occurred_at",
            ("event_type",),
            "letters, digits",
        ),
        (_with(schema.EVENTS, "DATA", fields=()), "occurred_at", ("event_type",), "RECORD"),
    ],
)
def test_validate_refuses_invalid_schemas(columns, partition, clustering, message):
    with pytest.raises(SchemaError, match=message.replace("(", r"\(")):
        schema.validate(columns, partition, clustering)


def test_validate_accepts_the_events_schema_and_a_date_partition():
    assert schema.validate(schema.EVENTS) is None
    dated = (*schema.EVENTS, Column("day", "DATE", "REQUIRED", ""))
    four = ("event_type", "user_id", "namespace", "environment")
    assert schema.validate(dated, "day", four) is None
    # Accepted means renderable: a DATE column partitions as it is, and all four cluster.
    ddl = schema.to_ddl("p.d.t", "k", dated, partition_field="day", cluster_fields=four)
    assert "PARTITION BY `day`\n" in ddl
    assert "CLUSTER BY `event_type`, `user_id`, `namespace`, `environment`\n" in ddl

"""The declaration round-trips through a real BigQuery REST implementation."""

from __future__ import annotations

from google.cloud import bigquery

from infra.bigquery.provision import create_declared
from infra.model import schema
from infra.model.declared import declare
from infra.model.stackfiles import settings_for
from tests.helpers import isolated


def test_declared_table_is_created_as_declared(bq_client):
    declaration = isolated(declare(settings_for("staging")))
    create_declared(bq_client, declaration)

    table = bq_client.get_table(declaration.table.ref, timeout=10)
    assert [f.to_api_repr() for f in table.schema] == [
        bigquery.SchemaField.from_api_repr(f).to_api_repr() for f in schema.to_api()
    ]
    assert table.time_partitioning.type_ == "DAY"
    assert table.time_partitioning.field == schema.PARTITION_FIELD
    assert table.clustering_fields == list(schema.CLUSTER_FIELDS)
    dataset = bq_client.get_dataset(declaration.dataset.ref, timeout=10)
    assert dataset.location == declaration.dataset.location
    assert dict(dataset.labels) == dict(declaration.dataset.labels)


def test_declared_table_takes_events_the_gem_streams(bq_client):
    declaration = isolated(declare(settings_for("staging")))
    create_declared(bq_client, declaration)
    row = {
        "occurred_at": "2026-11-27T10:00:00Z",
        "event_type": "create_entity",
        "entity_table_name": "applications",
        "DATA": [{"key": "id", "value": ["7"]}],
        "hidden_DATA": [{"key": "email", "value": ["a@example.com"]}],
        "request_query": [{"key": "page", "value": ["2"]}],
        "event_tags": ["import-1"],
    }
    assert bq_client.insert_rows_json(declaration.table.ref, [row], timeout=10) == []
    rows = list(
        bq_client.query(
            f"SELECT event_type, DATA FROM `{declaration.table.ref}`",
            job_config=bigquery.QueryJobConfig(),
            timeout=10,
        ).result(timeout=10)
    )
    assert [(r.event_type, r.DATA) for r in rows] == [
        ("create_entity", [{"key": "id", "value": ["7"]}])
    ]

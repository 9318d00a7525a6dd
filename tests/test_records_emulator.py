"""records against a real BigQuery REST implementation holding the local sample events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from infra.bigquery import records
from infra.bigquery.provision import create_declared
from infra.bigquery.records import MASK, Filters, build_query
from infra.bigquery.sample_events import sample_events
from infra.bigquery.window import Window
from infra.model import schema
from infra.model.declared import declare
from infra.model.stackfiles import settings_for
from tests.counting_proxy import CountingProxy
from tests.helpers import NO_CREDENTIALS, ROOT, isolated, run_cli, when

NOW = datetime.now(UTC).replace(microsecond=0)
HOSTILE = "x' OR '1'='1"


@pytest.fixture(scope="module")
def loaded(emulator):
    """An isolated staging table holding the sample, and the sample itself."""
    from infra.bigquery.client import make_client

    client = make_client("ecf-bq", emulator.endpoint, env={})
    declaration = isolated(declare(settings_for("staging")))
    create_declared(client, declaration)
    rows = sample_events(NOW, "staging")
    assert client.insert_rows_json(declaration.table.ref, rows, timeout=10) == []
    return client, declaration, rows


def _read(loaded, **filters) -> list[dict]:
    client, declaration, _rows = loaded
    filters.setdefault("window", Window(NOW - timedelta(days=2), NOW))
    filters.setdefault("limit", records.MAX_LIMIT)
    query = build_query(declaration.table, Filters(**filters))
    return records.run(client, query, max_bytes=10**9)


def _expected(rows, window: Window, keep=lambda row: True) -> list[dict]:
    inside = [
        row
        for row in rows
        if window.since <= when(row[schema.OCCURRED_AT]) < window.until and keep(row)
    ]
    return sorted(inside, key=lambda row: when(row[schema.OCCURRED_AT]), reverse=True)


def _times(events) -> list[datetime]:
    return [when(event[schema.OCCURRED_AT]) for event in events]


def test_returns_the_events_inside_the_window_and_none_outside(loaded):
    _client, _declaration, rows = loaded
    window = Window(NOW - timedelta(days=3), NOW - timedelta(days=1))
    got = _read(loaded, window=window)
    expected = _expected(rows, window)
    assert 0 < len(expected) < len(rows)
    assert _times(got) == _times(expected)
    assert [e[schema.EVENT_TYPE] for e in got] == [r[schema.EVENT_TYPE] for r in expected]


def test_filters_combine(loaded):
    _client, _declaration, rows = loaded
    window = Window(NOW - timedelta(days=7), NOW)
    got = _read(
        loaded,
        window=window,
        event_types=("create_entity", "delete_entity", "update_entity"),
        entity_table="applications",
        namespace="npq-registration",
    )
    expected = _expected(
        rows,
        window,
        lambda row: (
            row[schema.EVENT_TYPE] in ("create_entity", "delete_entity", "update_entity")
            and row.get(schema.ENTITY_TABLE_NAME) == "applications"
        ),
    )
    assert {e[schema.EVENT_TYPE] for e in expected} == {"create_entity", "update_entity"}
    assert _times(got) == _times(expected)
    assert _read(loaded, window=window, entity_table="applications", namespace="other") == []
    assert _read(loaded, window=window, event_types=("web_request",), entity_table="users") == []


def test_the_limit_holds_and_keeps_the_newest(loaded):
    _client, _declaration, rows = loaded
    window = Window(NOW - timedelta(days=7), NOW)
    got = _read(loaded, window=window, limit=7)
    assert _times(got) == _times(_expected(rows, window))[:7]


def test_hidden_values_are_masked_unless_asked(loaded):
    window = Window(NOW - timedelta(days=7), NOW)
    masked = _read(loaded, window=window, event_types=("delete_entity",))
    shown = _read(loaded, window=window, event_types=("delete_entity",), show_hidden=True)
    assert masked and len(masked) == len(shown)
    assert all(event[schema.HIDDEN_DATA] == {"email": [MASK]} for event in masked)
    emails = [event[schema.HIDDEN_DATA]["email"][0] for event in shown]
    assert all(email.endswith("@example.com") for email in emails)
    # Everything else is the same either way.
    strip = lambda events: [{k: v for k, v in e.items() if k != schema.HIDDEN_DATA} for e in events]  # noqa: E731
    assert strip(masked) == strip(shown)


def test_masked_query_never_reads_hidden_values(loaded):
    _client, declaration, _rows = loaded
    window = Window(NOW - timedelta(days=1), NOW)
    masked = build_query(declaration.table, Filters(window=window)).sql
    shown = build_query(declaration.table, Filters(window=window, show_hidden=True)).sql
    assert f"`{schema.HIDDEN_DATA}`" in shown and "UNNEST" not in shown
    assert f"UNNEST(`{schema.HIDDEN_DATA}`)" in masked
    assert f".`{schema.VALUE}`" not in masked


def test_key_value_records_print_as_key_value_lists(loaded):
    window = Window(NOW - timedelta(days=7), NOW)
    event = _read(loaded, window=window, event_types=("web_request",), limit=500)
    with_query = [e for e in event if e[schema.REQUEST_QUERY]]
    assert with_query
    text = records.render_key_values(with_query[0][schema.REQUEST_QUERY])
    assert all(f"{k}=" in text for k in with_query[0][schema.REQUEST_QUERY])
    assert (
        records.render_key_values({"a": ["1"], "b": ["2", "3"], "c": []}) == "a=1, b=[2, 3], c=[]"
    )


def test_a_hostile_event_type_is_data_not_sql(loaded):
    _client, declaration, _rows = loaded
    window = Window(NOW - timedelta(days=7), NOW)
    assert _read(loaded, window=window, event_types=(HOSTILE,)) == []
    assert _read(loaded, window=window, entity_table=HOSTILE, namespace=HOSTILE) == []
    query = build_query(
        declaration.table,
        Filters(window=window, event_types=(HOSTILE,), entity_table=HOSTILE, namespace=HOSTILE),
    )
    assert HOSTILE not in query.sql
    assert "'" not in query.sql


def test_the_query_reads_only_the_window_and_the_columns_shown(loaded):
    _client, declaration, _rows = loaded
    window = Window(NOW - timedelta(days=1), NOW)
    sql = build_query(declaration.table, Filters(window=window)).sql
    partition = f"`{declaration.table.partition_field}`"
    assert f"{partition} >= @since" in sql and f"{partition} < @until" in sql
    assert f"ORDER BY {partition} DESC" in sql and sql.rstrip().endswith("LIMIT @limit")
    assert "*" not in sql
    unread = {c.name for c in schema.EVENTS} - set(records.SHOWN)
    assert unread and not any(f"`{name}`" in sql for name in unread)


def test_records_asks_bigquery_twice_the_dry_run_then_one_query(loaded, emulator, tmp_path):
    """Through the CLI: one jobs.insert (the dry run), then one jobs.query that answers with the
    rows; no job to poll, no result page to fetch."""
    _client, declaration, rows = loaded
    document = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    document["config"]["npq-analytics:datasetId"] = declaration.dataset.dataset_id
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(document))
    with CountingProxy(emulator.endpoint) as proxy:
        done = run_cli(
            *("--project-dir", str(tmp_path), "records", "--stack", "staging"),
            *("--since", "2d", "--limit", "10000", "--format", "json"),
            *("--api-endpoint", proxy.endpoint),
            env=NO_CREDENTIALS,
        )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    window = Window(when(document["since"]), when(document["until"]))
    assert _times(document["events"]) == _times(_expected(rows, window))
    assert [(f.method, f.path, f.status) for f in proxy.log] == [
        ("POST", "/bigquery/v2/projects/ecf-bq/jobs", 200),
        ("POST", "/bigquery/v2/projects/ecf-bq/queries", 200),
    ]

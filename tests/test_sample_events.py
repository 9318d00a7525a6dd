"""The local sample looks like what DfE::Analytics streams, and is the same for the same seed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from infra.bigquery.sample_events import sample_events
from infra.model import schema
from tests.helpers import when

NOW = datetime(2026, 11, 27, 16, 45, 0, tzinfo=UTC)


def test_same_seed_same_rows_other_seed_other_rows():
    assert sample_events(NOW, "staging") == sample_events(NOW, "staging")
    assert sample_events(NOW, "staging", seed=1) != sample_events(NOW, "staging", seed=2)


def test_spread_over_the_days_up_to_now():
    rows = sample_events(NOW, "staging", days=7)
    times = [when(row[schema.OCCURRED_AT]) for row in rows]
    assert all(NOW - timedelta(days=7) <= t < NOW for t in times)
    days_with_events = {t.date() for t in times}
    assert len(days_with_events) >= 7
    assert times == sorted(times)
    assert any(t > NOW - timedelta(days=1) for t in times)


def test_every_row_fits_the_declared_schema():
    columns = {column.name: column for column in schema.EVENTS}
    for row in sample_events(NOW, "review"):
        assert set(row) <= set(columns), set(row) - set(columns)
        for name, column in columns.items():
            if column.mode == "REQUIRED":
                assert row.get(name), (name, row)
        for name in schema.KEY_VALUE_COLUMNS:
            for entry in row.get(name, []):
                assert set(entry) == {schema.KEY, schema.VALUE}
                assert isinstance(entry[schema.VALUE], list)
                assert all(isinstance(v, str) for v in entry[schema.VALUE])
        assert row[schema.ENVIRONMENT] == "review"
        assert row[schema.NAMESPACE]


def test_the_event_types_and_shapes_dfe_analytics_sends():
    rows = sample_events(NOW, "staging")
    kinds = Counter(row[schema.EVENT_TYPE] for row in rows)
    for kind in (
        "web_request",
        "create_entity",
        "update_entity",
        "delete_entity",
        "import_entity",
        "entity_table_check",
        "import_entity_table_check",
        "initialise_analytics",
        "persist_api_request",
        "version",
    ):
        assert kinds[kind] > 0, kind
    for row in rows:
        kind = row[schema.EVENT_TYPE]
        if kind == "web_request":
            assert row[schema.REQUEST_METHOD] in ("GET", "POST")
            assert row[schema.REQUEST_PATH].startswith("/")
            assert row[schema.RESPONSE_STATUS].isdigit()
        if kind.endswith("_entity") or kind.endswith("table_check"):
            assert row[schema.ENTITY_TABLE_NAME]
        if kind.endswith("table_check") or kind == "import_entity":
            assert len(row[schema.EVENT_TAGS][0]) == 36  # the check or import id
    assert any(row.get(schema.REQUEST_QUERY) for row in rows)
    hidden = [row for row in rows if row.get(schema.HIDDEN_DATA)]
    assert hidden and all(row.get(schema.DATA) for row in hidden)
    import_ids = {
        row[schema.EVENT_TAGS][0]
        for row in rows
        if row[schema.EVENT_TYPE] in ("import_entity", "import_entity_table_check")
    }
    assert len(import_ids) == 1

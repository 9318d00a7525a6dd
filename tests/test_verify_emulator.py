"""`npq-events verify` through the real CLI against a real BigQuery REST implementation
(bqemulator on loopback), with the declared dataset and table created from the declaration.

Each test verifies a copy of the staging stack file whose datasetId is its own
(`--project-dir`), so tests never share emulator state. bqemulator keeps no encryption
settings; the verifier notes a key that a non-Google endpoint leaves out (test_verify_live
covers keys through a server that does report them).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from google.cloud import bigquery

from infra.bigquery.provision import create_declared
from infra.model import schema
from infra.model.declared import Declaration, declare
from infra.model.stackfiles import settings_for
from tests.helpers import NO_CREDENTIALS, ROOT, run_cli


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    """The staging stack file with a datasetId of this test's own, and without its freshness
    limit: these tables hold no events (freshness: tests/test_freshness.py)."""
    document = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    document["config"]["npq-analytics:datasetId"] = f"npq_events_staging_{uuid.uuid4().hex[:8]}"
    document["config"].pop("npq-analytics:maxStaleness")
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


@pytest.fixture
def declaration(stack_dir: Path) -> Declaration:
    return declare(settings_for("staging", stack_dir))


def verify(emulator, stack_dir: Path, *extra: str):
    done = run_cli(
        "--project-dir",
        str(stack_dir),
        "verify",
        "--stack",
        "staging",
        "--api-endpoint",
        emulator.endpoint,
        "--emulator",
        "--format",
        "json",
        *extra,
        env=NO_CREDENTIALS,
    )
    assert "Traceback" not in done.stderr
    (stack,) = json.loads(done.stdout)["stacks"]
    return done.returncode, stack


def drift(stack: dict) -> dict[str, dict]:
    return {f["path"]: f for f in stack["findings"] if f["level"] == "drift"}


def test_declared_state_matches(emulator, bq_client, stack_dir, declaration):
    create_declared(bq_client, declaration)
    status, stack = verify(emulator, stack_dir)
    assert status == 0
    assert (stack["status"], stack["effect"], stack["error"]) == ("match", "none", None)
    assert stack["table"] == declaration.table.ref
    # The emulator keeps no CMEK: noted, not drift, because --emulator says so.
    assert {f["level"] for f in stack["findings"]} <= {"note"}


def test_extra_live_column_would_be_dropped(emulator, bq_client, stack_dir, declaration):
    table = create_declared(bq_client, declaration)
    table.schema = [*table.schema, bigquery.SchemaField("legacy_id", "STRING")]
    bq_client.update_table(table, ["schema"], timeout=10)
    status, stack = verify(emulator, stack_dir)
    assert status == 1
    assert (stack["status"], stack["effect"]) == ("drift", "drop_column")
    assert list(drift(stack)) == ["schema.legacy_id"]
    finding = drift(stack)["schema.legacy_id"]
    assert (finding["expected"], finding["actual"]) == (None, "STRING NULLABLE")
    assert "drop" in finding["message"] and "data" in finding["message"]


def test_missing_live_column_would_be_added(emulator, bq_client, stack_dir, declaration):
    fewer = tuple(c for c in declaration.table.columns if c.name != "namespace")
    create_declared(
        bq_client, replace(declaration, table=replace(declaration.table, columns=fewer))
    )
    status, stack = verify(emulator, stack_dir)
    assert status == 1
    assert list(drift(stack)) == ["schema.namespace"]
    assert drift(stack)["schema.namespace"]["effect"] == "in_place"
    assert stack["effect"] == "in_place"


def test_different_clustering(emulator, bq_client, stack_dir, declaration):
    other = replace(declaration.table, clustering=("event_type", "user_id"))
    create_declared(bq_client, replace(declaration, table=other))
    status, stack = verify(emulator, stack_dir)
    assert status == 1
    finding = drift(stack)["table.clustering.fields"]
    assert (finding["expected"], finding["actual"], finding["effect"]) == (
        ["event_type"],
        ["event_type", "user_id"],
        "in_place",
    )


def test_missing_table(emulator, bq_client, stack_dir, declaration):
    bq_client.create_dataset(
        bigquery.Dataset.from_api_repr(declaration.dataset.api_repr()), timeout=10
    )
    status, stack = verify(emulator, stack_dir)
    assert status == 1
    assert [(f["path"], f["effect"]) for f in stack["findings"] if f["level"] == "drift"] == [
        ("table", "create")
    ]
    assert stack["effect"] == "create"


def test_missing_dataset(emulator, stack_dir, declaration):
    status, stack = verify(emulator, stack_dir)
    assert status == 1
    assert [(f["path"], f["effect"]) for f in stack["findings"]] == [("dataset", "create")]
    assert stack["findings"][0]["expected"] == declaration.dataset.ref


def test_adoption_mode_reports_descriptions_as_drift(emulator, bq_client, stack_dir, declaration):
    table = create_declared(bq_client, declaration)
    table.description = "made by hand"
    bq_client.update_table(table, ["description"], timeout=10)
    status, stack = verify(emulator, stack_dir)
    assert status == 0  # a description is a note...
    status, stack = verify(emulator, stack_dir, "--adopt")
    assert status == 1  # ...but an import would not match
    finding = drift(stack)["table.description"]
    assert finding["actual"] == "made by hand"
    assert "bq update" in finding["message"]


def test_done_when_staging_matches_then_an_added_column_would_be_dropped(emulator, bq_client):
    """The issue's acceptance: the committed staging stack. No other test creates its dataset
    (npq_events_staging) in the session's emulator; the others use datasets of their own."""
    staging = declare(settings_for("staging"))
    create_declared(bq_client, staging)
    args = ("verify", "--stack", "staging", "--api-endpoint", emulator.endpoint, "--emulator")

    # An event has just arrived, as the app streams them (staging sets maxStaleness).
    event = {schema.OCCURRED_AT: datetime.now(UTC).isoformat(), schema.EVENT_TYPE: "web_request"}
    assert bq_client.insert_rows_json(staging.table.ref, [event], timeout=10) == []

    done = run_cli(*args, env=NO_CREDENTIALS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("staging: ecf-bq.npq_events_staging.events: match")

    table = bq_client.get_table(staging.table.ref, timeout=10)
    table.schema = [*table.schema, bigquery.SchemaField("added_by_hand", "STRING")]
    bq_client.update_table(table, ["schema"], timeout=10)

    done = run_cli(*args, env=NO_CREDENTIALS)
    assert done.returncode == 1
    line = next(x for x in done.stdout.splitlines() if "schema.added_by_hand" in x)
    assert "pulumi up would drop it" in line
    assert "losing that column's data" in line

"""The byte ceiling: records refuses, before running anything, a query the dry run prices high.

bqemulator always reports 0 bytes for a dry run, so the loopback stub (tests/bq_stub.py)
stands in for BigQuery here: it answers dry runs in BigQuery's REST shapes with the bytes the
query would process, refuses any other query unless told otherwise, and records every request
so the test can see what reached it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.bigquery.client import RETRY, Deadlines
from infra.errors import EXIT_FINDINGS, EXIT_USAGE
from infra.model.declared import declare
from infra.model.stackfiles import settings_for
from tests.bq_stub import Fault, StubBigQuery
from tests.helpers import NO_CREDENTIALS, one_line_error, run_cli

FIVE_TB = 5 * 10**12
HOSTILE = "x' OR '1'='1"
QUERIES = "/bigquery/v2/projects/ecf-bq/queries"


@pytest.fixture
def fake_bigquery() -> Iterator[StubBigQuery]:
    with StubBigQuery(bytes_processed=FIVE_TB) as stub:
        yield stub


def test_a_query_priced_above_max_bytes_is_refused_before_it_runs(fake_bigquery):
    result = run_cli(
        "records",
        "--stack",
        "production",
        "--since",
        "30d",
        "--max-bytes",
        "1GB",
        "--api-endpoint",
        fake_bigquery.endpoint,
        env=NO_CREDENTIALS,
    )
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("npq-events: error")]
    assert len(errors) == 1
    assert "5 TB" in errors[0] and "--max-bytes 1 GB" in errors[0]
    assert "--since/--until" in errors[0] and "raise --max-bytes" in errors[0]
    # Exactly one request reached BigQuery: the dry run. Nothing was read or billed.
    (job,) = fake_bigquery.bodies("jobs")
    assert len(fake_bigquery.calls) == 1
    assert job["configuration"]["dryRun"] is True
    assert job["jobReference"]["location"] == declare(settings_for("production")).dataset.location


def test_the_bytes_are_printed_and_a_raised_ceiling_lets_the_dry_run_pass(fake_bigquery):
    fake_bigquery.bytes_processed = 2_500_000
    result = run_cli(
        "records",
        "--stack",
        "staging",
        "--format",
        "json",
        "--max-bytes",
        "1MB",
        "--api-endpoint",
        fake_bigquery.endpoint,
        env=NO_CREDENTIALS,
    )
    assert result.returncode == 1
    assert result.stdout == ""  # machine formats keep stdout for the data
    assert "2.5 MB to process" in result.stderr

    result = run_cli(
        "records",
        "--stack",
        "staging",
        "--format",
        "json",
        "--max-bytes",
        "3MB",
        "--api-endpoint",
        fake_bigquery.endpoint,
        env=NO_CREDENTIALS,
    )
    # Past the ceiling, the real query runs (one jobs.query call): this stand-in answers only
    # dry runs, so it fails with one line (exit 2) after the one real query reached it.
    assert result.returncode == EXIT_USAGE, result.stderr
    dry, real = fake_bigquery.bodies("jobs")[-1], fake_bigquery.bodies("queries")[-1]
    assert dry["configuration"]["dryRun"] is True
    assert not real.get("dryRun")
    assert int(real["maximumBytesBilled"]) >= 3 * 10**6
    assert result.stderr.strip().splitlines()[-1].startswith("npq-events: error: reading ")


def test_user_values_travel_as_query_parameters_never_as_sql(fake_bigquery):
    result = run_cli(
        "records",
        "--stack",
        "staging",
        "--event-type",
        HOSTILE,
        "web_request",
        "--namespace",
        HOSTILE,
        "--entity-table",
        HOSTILE,
        "--api-endpoint",
        fake_bigquery.endpoint,
        env=NO_CREDENTIALS,
    )
    assert result.returncode == 1, result.stderr
    (job,) = fake_bigquery.bodies("jobs")
    query = job["configuration"]["query"]
    assert HOSTILE not in query["query"]
    assert query["useLegacySql"] is False
    parameters = {p["name"]: p for p in query["queryParameters"]}
    assert parameters["namespace"]["parameterValue"]["value"] == HOSTILE
    assert parameters["entity_table"]["parameterValue"]["value"] == HOSTILE
    assert [v["value"] for v in parameters["event_types"]["parameterValue"]["arrayValues"]] == [
        HOSTILE,
        "web_request",
    ]
    assert {"since", "until", "limit"} <= set(parameters)


def test_a_query_bigquery_refuses_to_bill_is_exit_1_in_one_line(fake_bigquery):
    # The dry run priced it under the ceiling, yet BigQuery bills more (its 10 MB minimum per
    # table, or data that arrived in between) and refuses it against maximumBytesBilled.
    fake_bigquery.bytes_processed = 1_000
    fake_bigquery.fault(QUERIES, Fault(status=400, reason="bytesBilledLimitExceeded"))
    result = run_cli(
        "records", "--stack", "staging", "--api-endpoint", fake_bigquery.endpoint,
        env=NO_CREDENTIALS,
    )  # fmt: skip
    assert result.returncode == EXIT_FINDINGS
    line = one_line_error(result.stderr)
    assert line.startswith("npq-events: error: refused by BigQuery: the query would bill more")
    assert "--max-bytes 1 GB" in line
    assert [call.path.rsplit("/", 1)[1] for call in fake_bigquery.calls] == ["jobs", "queries"]


def test_a_query_that_does_not_answer_in_time_is_one_line(fake_bigquery, monkeypatch):
    # The CLI's own deadlines, shortened so the test takes about a second.
    fast = Deadlines(timeout=0.3, retry=RETRY.with_deadline(0.8).with_delay(initial=0.05))
    monkeypatch.setattr("infra.cli.records.DEFAULT_DEADLINES", fast)
    fake_bigquery.bytes_processed = 1_000
    fake_bigquery.fault(QUERIES, Fault(status=None, delay=2.0, times=None))
    result = run_cli(
        "records", "--stack", "staging", "--api-endpoint", fake_bigquery.endpoint,
        env=NO_CREDENTIALS,
    )  # fmt: skip
    assert result.returncode == EXIT_USAGE
    line = one_line_error(result.stderr)
    assert line.startswith("npq-events: error: reading ecf-bq.npq_events_staging.events at ")
    assert "no complete answer" in line and "within the 0.3s deadline" in line

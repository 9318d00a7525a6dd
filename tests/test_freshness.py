"""Are events arriving? `npq-events verify`'s freshness figures through the real CLI: against
bqemulator (the query runs for real) and against the loopback stub (what the emulator cannot
show: a streaming buffer, a dry run's byte count, faults, an endpoint that runs no queries)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from infra.bigquery.freshness import MAX_BYTES
from infra.bigquery.provision import create_declared
from infra.model import schema
from infra.model.declared import declare
from infra.model.events import ENTITY_TABLE_CHECK
from infra.model.stackfiles import settings_for
from infra.model.times import rfc3339
from infra.rules.billing import HOURS_A_MONTH, MB, billed
from infra.rules.freshness import (
    DEFAULT_REACH,
    FRESH,
    STALE,
    UNKNOWN,
    Limits,
    empty,
    from_query,
    unknown,
)
from tests.bq_stub import Fault, StubBigQuery
from tests.helpers import NO_CREDENTIALS, ROOT, run_cli

LIMIT_KEYS = ("npq-analytics:maxStaleness", "npq-analytics:maxCheckStaleness")
JOBS = "/bigquery/v2/projects/ecf-bq/jobs"
QUERIES = "/bigquery/v2/projects/ecf-bq/queries"


def stack_dir(tmp_path: Path, **limits: str) -> Path:
    """The staging stack file with a dataset of its own and these limits (none by default)."""
    document = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    config = document["config"]
    config["npq-analytics:datasetId"] = f"npq_events_staging_{uuid.uuid4().hex[:8]}"
    for key in LIMIT_KEYS:
        config.pop(key, None)
    config.update({f"npq-analytics:{key}": value for key, value in limits.items()})
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def verify(endpoint: str, directory: Path, *extra: str, emulator: bool = True):
    """`npq-events verify --stack staging ... --format json`: exit status, the stack, stderr."""
    done = run_cli(
        "--project-dir",
        str(directory),
        "verify",
        "--stack",
        "staging",
        "--api-endpoint",
        endpoint,
        *(("--emulator",) if emulator else ()),
        "--format",
        "json",
        *extra,
        env=NO_CREDENTIALS,
    )
    assert "Traceback" not in done.stderr, done.stderr
    document = json.loads(done.stdout) if done.stdout.startswith("{") else {}
    (stack,) = document.get("stacks") or [None]
    return done.returncode, stack, done.stderr, document


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


# -- against the emulator: the query runs -------------------------------------------------------


@pytest.fixture
def table(emulator, bq_client, tmp_path):
    """A staging table of its own in the emulator, and a function that streams events into it
    at the given ages; returns (stack directory maker, stream)."""
    made: dict = {}

    def make(**limits: str) -> Path:
        directory = stack_dir(tmp_path, **limits)
        made["declaration"] = declare(settings_for("staging", directory))
        create_declared(bq_client, made["declaration"])
        return directory

    def stream(*events: tuple[timedelta, str]) -> list[datetime]:
        now = datetime.now(UTC)
        times = [now - age for age, _kind in events]
        rows = [
            {schema.OCCURRED_AT: rfc3339(at), schema.EVENT_TYPE: kind}
            for at, (_age, kind) in zip(times, events, strict=True)
        ]
        ref = made["declaration"].table.ref
        assert bq_client.insert_rows_json(ref, rows, timeout=10) == []
        return times

    return make, stream


def test_fresh_events_and_checks_report_their_times_and_ages(emulator, table):
    make, stream = table
    directory = make()
    event, check = stream(
        (timedelta(minutes=10), "web_request"), (timedelta(hours=3), ENTITY_TABLE_CHECK)
    )
    status, stack, _err, document = verify(
        emulator.endpoint, directory, "--max-staleness", "1h", "--max-check-staleness", "26h"
    )
    assert status == 0
    fresh = stack["freshness"]
    assert (fresh["status"], fresh["checks"]["status"], fresh["read"]) == (
        "fresh",
        "fresh",
        "query",
    )
    assert when(fresh["newest_event"]) == event
    assert when(fresh["checks"]["newest_event"]) == check
    assert 590 <= fresh["age_seconds"] <= 660
    assert 3 * 3600 - 10 <= fresh["checks"]["age_seconds"] <= 3 * 3600 + 60
    assert fresh["max_staleness_seconds"] == 3600
    assert fresh["checks"]["max_staleness_seconds"] == 26 * 3600
    # Only the day partitions the largest limit reaches are read.
    assert when(fresh["since"]) == day_start(datetime.now(UTC) - timedelta(hours=26))
    assert document["freshness_cost"]["queries"] == 1


def test_stale_events_exit_1_with_a_line_naming_the_newest_events_time(emulator, table):
    make, stream = table
    directory = make()
    # A check is an event too: the newest of all is the web request.
    event, _check = stream(
        (timedelta(hours=3), "web_request"), (timedelta(hours=20), ENTITY_TABLE_CHECK)
    )
    limits = ("--max-staleness", "1h", "--max-check-staleness", "26h")
    status, stack, err, _doc = verify(emulator.endpoint, directory, *limits)
    assert status == 1
    assert stack["status"] == "match"  # the table is right; events stopped
    assert stack["freshness"]["status"] == "stale"
    assert when(stack["freshness"]["newest_event"]) == event
    (line,) = err.splitlines()
    assert line.startswith("npq-events: stale: stack staging: newest event 3 h")
    assert rfc3339(event) in line and line.endswith("(limit 1h)")


def test_quiet_for_longer_than_the_partitions_read_names_where_they_start(emulator, table):
    make, stream = table
    directory = make()
    stream((timedelta(days=3), "web_request"))
    status, stack, err, _doc = verify(emulator.endpoint, directory, "--max-staleness", "1h")
    assert status == 1
    fresh = stack["freshness"]
    assert (fresh["status"], fresh["newest_event"]) == ("stale", None)
    since = day_start(datetime.now(UTC) - timedelta(hours=1))
    assert when(fresh["since"]) == since
    assert err.splitlines()[0] == (
        f"npq-events: stale: stack staging: no event since {rfc3339(since)} (limit 1h)"
    )


def test_the_checks_figure_is_judged_against_its_own_limit(emulator, table):
    make, stream = table
    directory = make()
    _event, check = stream(
        (timedelta(minutes=5), "web_request"), (timedelta(hours=20), ENTITY_TABLE_CHECK)
    )
    status, stack, err, _doc = verify(
        emulator.endpoint, directory, "--max-staleness", "2d", "--max-check-staleness", "12h"
    )
    assert status == 1
    fresh = stack["freshness"]
    assert fresh["status"] == "fresh"
    assert fresh["checks"]["status"] == "stale"
    assert when(fresh["checks"]["newest_event"]) == check
    (line,) = err.splitlines()
    assert line.startswith("npq-events: stale: stack staging: newest entity_table_check 20 h")
    # Without a limit on it, the same figure is reported and never fails the run.
    status, stack, err, _doc = verify(emulator.endpoint, directory, "--max-staleness", "2d")
    assert (status, err) == (0, "")
    assert stack["freshness"]["checks"]["max_staleness_seconds"] is None


def test_an_empty_table_is_told_by_its_metadata_apart_from_a_stale_one(emulator, table):
    make, _stream = table
    directory = make()
    status, stack, err, _doc = verify(emulator.endpoint, directory, "--max-staleness", "1h")
    assert status == 1
    fresh = stack["freshness"]
    assert (fresh["status"], fresh["read"], fresh["newest_event"]) == ("empty", "metadata", None)
    assert fresh["bytes_billed"] == 0
    assert err == (
        "npq-events: empty: stack staging: no event at all (limit 1h) "
        "(numRows 0 and no streaming buffer)\n"
    )
    status, stack, err, _doc = verify(emulator.endpoint, directory)
    assert (status, err, stack["freshness"]["status"]) == (0, "", "empty")


def test_the_stacks_own_limit_and_the_flags_that_override_it(emulator, table):
    make, stream = table
    directory = make(maxStaleness="1h")
    stream((timedelta(hours=3), "web_request"))
    cases = {
        (): (1, 3600),
        ("--max-staleness", "4h"): (0, 4 * 3600),
        ("--max-staleness", "none"): (0, None),
        ("--before-up",): (0, None),  # the stack's limit is not in force before an up
        ("--before-up", "--max-staleness", "2h"): (1, 2 * 3600),  # a flag's is
    }
    for flags, (expected, limit) in cases.items():
        status, stack, _err, _doc = verify(emulator.endpoint, directory, *flags)
        assert (status, stack["freshness"]["max_staleness_seconds"]) == (expected, limit), flags


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["6 hours", "1.5h", "-1h", "0m", "6H", "6"])
def test_a_bad_duration_is_one_line_and_exit_2(value):
    done = run_cli("verify", "--stack", "staging", f"--max-staleness={value}")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"npq-events: error: --max-staleness {value!r} is not accepted: give a duration of "
        "whole minutes (m), hours (h), days (d) or weeks (w), such as 90m, 6h, 2d or 1w, "
        "longer than zero, or none\n"
    )


def test_a_bad_duration_in_a_stack_file_names_the_key(tmp_path):
    directory = stack_dir(tmp_path, maxCheckStaleness="a day")
    done = run_cli("--project-dir", str(directory), "verify", "--stack", "staging")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("npq-events: error: stack staging: config npq-analytics:")
    assert "maxCheckStaleness = 'a day': a duration of whole minutes" in line


def test_review_app_stacks_inherit_no_limit(tmp_path):
    review = yaml.safe_load((ROOT / "Pulumi.review.yaml").read_text())
    review["config"]["npq-analytics:maxStaleness"] = "6h"
    review["config"]["npq-analytics:maxCheckStaleness"] = "26h"
    (tmp_path / "Pulumi.review.yaml").write_text(yaml.safe_dump(review))
    assert settings_for("review", tmp_path).max_staleness == timedelta(hours=6)
    app = settings_for("review-pr-42", tmp_path)
    assert (app.max_staleness, app.max_check_staleness) == (None, None)
    for stack in ("review", "sandbox"):
        assert settings_for(stack).max_staleness is None, stack


# -- against the stub: metadata, the query's shape and cost, failures --------------------------


@pytest.fixture
def stub():
    with StubBigQuery() as server:
        yield server


def stub_stack(stub: StubBigQuery, tmp_path: Path, **limits: str):
    directory = stack_dir(tmp_path, **limits)
    declaration = declare(settings_for("staging", directory))
    stub.put(declaration)
    key = (declaration.dataset.project, declaration.dataset.dataset_id, "events")
    return directory, declaration, stub.tables[key]


def stub_verify(stub: StubBigQuery, directory: Path, *extra: str):
    return verify(stub.endpoint, directory, *extra, emulator=False)


def test_metadata_that_answers_spares_the_query(stub, tmp_path):
    directory, _declaration, _table = stub_stack(stub, tmp_path, maxStaleness="6h")
    status, stack, _err, document = stub_verify(stub, directory)
    assert (status, stack["freshness"]["status"]) == (1, "empty")
    assert stub.bodies("queries") == []  # nothing billed: only the free dry run went out
    assert document["freshness_cost"] == {
        "queries": 0,
        "bytes_processed": 0,
        "bytes_billed": 0,
        "runs_a_month_hourly": HOURS_A_MONTH,
        "bytes_billed_a_month_hourly": 0,
    }


def test_a_missing_table_is_drift_and_holds_no_event(stub, tmp_path):
    directory, _declaration, _table = stub_stack(stub, tmp_path, maxStaleness="6h")
    stub.tables.clear()
    status, stack, _err, _doc = stub_verify(stub, directory)
    assert status == 1
    assert [f["effect"] for f in stack["findings"] if f["level"] == "drift"] == ["create"]
    assert stack["freshness"]["status"] == "empty"
    assert stack["freshness"]["reason"] == "the table does not exist"


def test_rows_in_the_streaming_buffer_are_not_an_empty_table(stub, tmp_path):
    """numRows leaves out the streaming buffer: 0 rows with a buffer is a table being written."""
    directory, declaration, table = stub_stack(stub, tmp_path, maxStaleness="6h")
    now = datetime.now(UTC)
    stub.events(declaration, [(now - timedelta(minutes=2), "web_request")])
    table["numRows"] = "0"
    table["streamingBuffer"] = {
        "estimatedRows": "1",
        "estimatedBytes": "300",
        "oldestEntryTime": str(int(now.timestamp() * 1000)),
    }
    status, stack, _err, _doc = stub_verify(stub, directory)
    assert (status, stack["freshness"]["status"], stack["freshness"]["read"]) == (
        0,
        "fresh",
        "query",
    )


def test_the_query_is_dry_run_first_parameterised_pruned_and_capped(stub, tmp_path):
    directory, declaration, _table = stub_stack(
        stub, tmp_path, maxStaleness="6h", maxCheckStaleness="26h"
    )
    stub.events(declaration, [(datetime.now(UTC) - timedelta(hours=1), "web_request")])
    status, _stack, _err, _doc = stub_verify(stub, directory)
    assert status == 1  # no entity table check in the last 26 hours
    posts = [call for call in stub.calls if call.method == "POST"]
    assert [call.path for call in posts] == [JOBS, QUERIES]
    (dry_run,) = stub.bodies("jobs")
    assert dry_run["configuration"]["dryRun"] is True
    (query,) = stub.bodies("queries")
    assert query["query"] == dry_run["configuration"]["query"]["query"]
    assert query["maximumBytesBilled"] == str(MAX_BYTES)
    assert query["useLegacySql"] is False
    parameters = {p["name"]: p["parameterValue"]["value"] for p in query["queryParameters"]}
    assert parameters["check_type"] == ENTITY_TABLE_CHECK
    since = datetime.fromisoformat(parameters["since"].replace(" ", "T"))
    assert since == day_start(datetime.now(UTC) - timedelta(hours=26))
    # No value is written into the SQL; it filters the partition column, so BigQuery reads
    # only the partitions from `since` on, and only two columns.
    assert (
        ENTITY_TABLE_CHECK not in query["query"]
        and "WHERE `occurred_at` >= @since" in (query["query"])
    )
    assert f"FROM `{declaration.table.ref}`" in query["query"]


def test_the_bytes_billed_per_run_and_per_month(stub, tmp_path):
    stub.bytes_processed = 25 * MB + 1
    directory, declaration, _table = stub_stack(stub, tmp_path, maxStaleness="6h")
    stub.events(declaration, [(datetime.now(UTC), "web_request")])
    status, stack, _err, document = stub_verify(stub, directory)
    assert status == 0
    assert stack["freshness"]["bytes_processed"] == 25 * MB + 1
    assert stack["freshness"]["bytes_billed"] == 26 * MB  # rounded up to the next MB
    assert document["freshness_cost"]["bytes_billed_a_month_hourly"] == 26 * MB * 730
    done = run_cli(
        "--project-dir",
        str(directory),
        "verify",
        "--stack",
        "staging",
        "--api-endpoint",
        stub.endpoint,
        env=NO_CREDENTIALS,
    )
    assert done.stdout.splitlines()[-1] == (
        "freshness: 1 query processing 26.2 MB (dry run); BigQuery on-demand bills 26 MiB a "
        "run (at least 10 MiB a query), 18.5 GiB a month at one run an hour"
    )


def test_a_query_over_its_ceiling_is_not_run(stub, tmp_path):
    stub.bytes_processed = MAX_BYTES + 1
    directory, declaration, _table = stub_stack(stub, tmp_path)
    stub.events(declaration, [(datetime.now(UTC), "web_request")])
    status, stack, err, _doc = stub_verify(stub, directory)
    assert status == 2
    assert stack["status"] == "error"
    assert stub.bodies("queries") == []
    assert err == (
        "npq-events: error: stack staging: reading the newest events failed: the freshness "
        f"query of {declaration.table.ref} would process 1 GB, over its 1 GB ceiling: not run\n"
    )


@pytest.mark.parametrize("path", [JOBS, QUERIES])
def test_a_freshness_read_that_fails_is_the_stacks_error(stub, tmp_path, path):
    directory, declaration, _table = stub_stack(stub, tmp_path, maxStaleness="6h")
    stub.events(declaration, [(datetime.now(UTC), "web_request")])
    stub.fault(path, Fault(status=403, times=None))
    status, stack, err, _doc = stub_verify(stub, directory)
    assert status == 2
    assert (stack["status"], stack["freshness"]) == ("error", None)
    assert stack["findings"] == []  # the schema was still compared: it matches
    (line,) = err.splitlines()
    assert line.startswith(
        "npq-events: error: stack staging: reading the newest events failed: access refused: "
        "BigQuery answered 403"
    )


def test_an_endpoint_that_runs_no_queries_is_unknown_and_says_so(stub, tmp_path):
    directory, declaration, _table = stub_stack(stub, tmp_path, maxStaleness="6h")
    stub.events(declaration, [(datetime.now(UTC), "web_request")])
    stub.fault(JOBS, Fault(status=501, times=None))
    status, stack, err, _doc = stub_verify(stub, directory)
    assert (status, err) == (0, "")
    fresh = stack["freshness"]
    assert (fresh["status"], fresh["checks"]["status"], fresh["read"]) == (
        "unknown",
        "unknown",
        "none",
    )
    assert fresh["reason"].startswith(f"{stub.endpoint} runs no queries: BigQuery answered 501")


# -- the rules ------------------------------------------------------------------------------


def test_the_query_reaches_as_far_as_the_largest_limit_in_force():
    assert Limits().reach == DEFAULT_REACH
    assert Limits(events=timedelta(hours=6)).reach == timedelta(hours=6)
    assert Limits(timedelta(hours=6), timedelta(hours=26)).reach == timedelta(hours=26)


def test_on_demand_billing_rounds_up_to_the_mb_with_a_10_mb_minimum():
    assert billed(0) == 10 * MB
    assert billed(10 * MB) == 10 * MB
    assert billed(10 * MB + 1) == 11 * MB
    assert billed(3 * MB, tables=2) == 20 * MB


NOW = datetime(2026, 11, 28, 7, 49, 13, 250_000, tzinfo=UTC)
SIX_HOURS, DAY_AND_TWO = timedelta(hours=6), timedelta(hours=26)


def test_the_query_starts_at_the_start_of_the_partition_its_reach_falls_in():
    limits = Limits(events=SIX_HOURS)  # reaches back to 01:49:13.25
    assert limits.since(NOW, "DAY") == datetime(2026, 11, 28, tzinfo=UTC)
    assert limits.since(NOW, "HOUR") == datetime(2026, 11, 28, 1, tzinfo=UTC)
    # A partitioning it does not know to prune by: exactly the reach, no further.
    assert limits.since(NOW, "MONTH") == datetime(2026, 11, 28, 1, 49, 13, 250_000, tzinfo=UTC)


def test_an_event_exactly_as_old_as_its_limit_is_fresh_and_a_microsecond_older_stale():
    since = NOW - DAY_AND_TWO
    at_limit = from_query(Limits(SIX_HOURS, SIX_HOURS), NOW, since, NOW - SIX_HOURS, None, 0)
    assert (at_limit.events.status, at_limit.checks.status) == (FRESH, STALE)
    older = NOW - SIX_HOURS - timedelta(microseconds=1)
    assert from_query(Limits(SIX_HOURS), NOW, since, older, older, 0).events.status == STALE


def test_the_phrases_a_reader_sees_for_each_status():
    since = NOW - DAY_AND_TWO
    limits = Limits(SIX_HOURS, DAY_AND_TWO)
    just_now = from_query(limits, NOW, since, NOW, NOW - timedelta(hours=2, minutes=5), 0)
    assert [f.describe(since, at=False) for f in just_now.figures] == [
        "newest event 0 s ago (limit 6h)",
        f"newest {ENTITY_TABLE_CHECK} 2 h 5 min ago (limit 26h)",
    ]
    assert just_now.events.describe(since, at=True) == (
        "newest event 0 s ago, 2026-11-28T07:49:13.250000Z (limit 6h)"
    )
    none = empty(limits, NOW, since, "numRows 0 and no streaming buffer")
    assert [f.describe(since, at=False) for f in none.figures] == [
        "no event at all (limit 6h)",
        f"no {ENTITY_TABLE_CHECK} at all (limit 26h)",
    ]
    assert len(none.failing) == 2


def test_an_endpoint_that_cannot_answer_is_never_judged_and_keeps_its_limits():
    since = NOW - DAY_AND_TWO
    fresh = unknown(Limits(SIX_HOURS, DAY_AND_TWO), NOW, since, "runs no queries")
    assert [f.describe(since, at=False) for f in fresh.figures] == [
        "newest event unknown",
        f"newest {ENTITY_TABLE_CHECK} unknown",
    ]
    document = fresh.as_json()
    assert (document["max_staleness_seconds"], document["checks"]["max_staleness_seconds"]) == (
        6 * 3600,
        26 * 3600,
    )
    assert (document["status"], document["age_seconds"], fresh.failing) == (UNKNOWN, None, ())

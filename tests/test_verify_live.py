"""The verifier through the real google-cloud-bigquery client, against a loopback server
answering in BigQuery's REST shapes: what bqemulator cannot hold (CMEK keys, time travel) and
faults (404, 403, 500, slow answers)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.bigquery.client import RETRY, Deadlines, credentials
from infra.bigquery.live import READS, Target, check_all, check_stack
from infra.cli.main import build_parser
from infra.cli.verify import exit_status
from infra.errors import UserError
from infra.model.declared import declare
from infra.model.events import ENTITY_TABLE_CHECK
from infra.model.stackfiles import committed_stacks, settings_for
from infra.rules.freshness import Limits
from tests.bq_stub import Fault, StubBigQuery
from tests.helpers import NO_CREDENTIALS, run_cli

KEY = "projects/ecf-bq/locations/europe-west2/keyRings/ecf-key-ring/cryptoKeys/ecf-key"
# Short deadlines so that a fault costs a test under a second, not the CLI's defaults.
FAST = Deadlines(timeout=0.5, retry=RETRY.with_deadline(0.6).with_delay(initial=0.05))


@pytest.fixture
def stub():
    with StubBigQuery() as server:
        yield server


def target(stack: str = "staging") -> Target:
    return Target(stack, declaration=declare(settings_for(stack)))


def streaming(stub: StubBigQuery, stack: str = "staging") -> None:
    """Hold the stack's dataset and table as declared, with an event and an entity table check
    that have just arrived: within every committed stack's freshness limits."""
    declaration = target(stack).declaration
    stub.put(declaration)
    now = datetime.now(UTC)
    stub.events(declaration, [(now, "web_request"), (now, ENTITY_TABLE_CHECK)])


def check(stub: StubBigQuery, stack: str = "staging"):
    return check_stack(target(stack), stub.endpoint, FAST, env={})


def dataset_path(stack: str = "staging") -> str:
    settings = settings_for(stack)
    return f"/bigquery/v2/projects/{settings.project}/datasets/{settings.dataset_id}"


def check_endpoint(endpoint: str) -> str:
    """--api-endpoint as the CLI's parser reads it: UserError when refused."""
    return (
        build_parser("verify")
        .parse_args(["verify", "--all", f"--api-endpoint={endpoint}"])
        .api_endpoint
    )


def drift_paths(result) -> dict[str, object]:
    return {f.path: f for f in result.drift}


def verify_cli(stub: StubBigQuery, *args: str, env: dict[str, str] | None = None):
    return run_cli(
        "verify", *args, "--api-endpoint", stub.endpoint, env={**NO_CREDENTIALS, **(env or {})}
    )


# -- what the emulator cannot hold ---------------------------------------------------------


def test_keys_with_a_version_suffix_match(stub):
    declaration = target().declaration
    stub.put(declaration)
    stub.datasets[("ecf-bq", "npq_events_staging")]["defaultEncryptionConfiguration"] = {
        "kmsKeyName": KEY + "/cryptoKeyVersions/2"
    }
    stub.tables[("ecf-bq", "npq_events_staging", "events")]["encryptionConfiguration"] = {
        "kmsKeyName": KEY + "/cryptoKeyVersions/7"
    }
    result = check(stub)
    assert result.status == "match", result.findings
    assert result.findings == ()


def test_a_table_with_another_key_would_be_replaced(stub):
    stub.put(target().declaration)
    other = KEY.replace("ecf-key", "other-key")
    stub.tables[("ecf-bq", "npq_events_staging", "events")]["encryptionConfiguration"] = {
        "kmsKeyName": other
    }
    stub.datasets[("ecf-bq", "npq_events_staging")]["defaultEncryptionConfiguration"] = {
        "kmsKeyName": other
    }
    result = check(stub)
    found = drift_paths(result)
    assert found["table.encryptionConfiguration.kmsKeyName"].effect == "replace"
    assert found["table.encryptionConfiguration.kmsKeyName"].actual == other
    assert found["dataset.defaultEncryptionConfiguration.kmsKeyName"].effect == "in_place"
    assert result.effect == "replace"


def test_time_travel_mismatch_through_the_cli(stub):
    stub.put(target().declaration)
    stub.datasets[("ecf-bq", "npq_events_staging")]["maxTimeTravelHours"] = "48"
    done = verify_cli(stub, "--stack", "staging", "--format", "json")
    assert done.returncode == 1, done.stderr
    (stack,) = json.loads(done.stdout)["stacks"]
    assert stack["status"] == "drift" and stack["effect"] == "in_place"
    (finding,) = stack["findings"]
    assert finding == {
        "level": "drift",
        "path": "dataset.maxTimeTravelHours",
        "expected": 168,
        "actual": 48,
        "effect": "in_place",
        "message": finding["message"],
    }
    assert "time-travel" in finding["message"]


# -- faults --------------------------------------------------------------------------------


def test_404_means_the_dataset_would_be_created(stub):
    result = check(stub)
    assert [(f.path, f.effect) for f in result.findings] == [("dataset", "create")]


def test_a_missing_dataset_has_no_table_whatever_the_table_read_answers(stub):
    # Both GETs are in flight at once; without its dataset, the table's answer does not count.
    stub.fault(dataset_path() + "/tables/events", Fault(status=500, times=None))
    result = check(stub)
    assert [(f.path, f.effect) for f in result.findings] == [("dataset", "create")]
    assert stub.requests[dataset_path()] == 1


def test_404_on_the_table_means_it_would_be_created(stub):
    stub.put(target().declaration)
    stub.tables.clear()
    result = check(stub)
    assert [(f.path, f.effect) for f in result.findings] == [("table", "create")]


def test_403_is_an_error_in_one_line_naming_the_stack(stub):
    stub.put(target().declaration)
    stub.fault(dataset_path(), Fault(status=403, times=None))
    result = check(stub)
    assert (result.status, result.table) == ("error", "ecf-bq.npq_events_staging.events")
    assert result.error.startswith("access refused: BigQuery answered 403")
    assert stub.requests[dataset_path()] == 1  # not retried

    done = verify_cli(stub, "--stack", "staging")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("npq-events: error: stack staging: access refused")


def test_500_then_success_is_retried(stub):
    stub.put(target().declaration)
    stub.fault(dataset_path(), Fault(status=500, times=1))
    result = check(stub)
    assert result.status == "match"
    assert stub.requests[dataset_path()] == 2


def test_500_for_ever_gives_up_within_the_bounded_retry(stub):
    stub.put(target().declaration)
    stub.fault(dataset_path(), Fault(status=500, times=None))
    started = time.monotonic()
    result = check(stub)
    assert time.monotonic() - started < 0.6 + 1.0  # the retry deadline plus two calls
    assert result.status == "error"
    assert result.error.startswith("gave up after retrying for 0.6s: BigQuery answered 500")
    assert stub.requests[dataset_path()] > 1
    assert exit_status([result]) == 2


def test_an_answer_slower_than_the_deadline_is_an_error(stub):
    stub.put(target().declaration)
    stub.fault(dataset_path(), Fault(status=None, delay=5.0, times=None))
    started = time.monotonic()
    result = check(stub)
    assert time.monotonic() - started < 0.6 + 1.0
    assert result.status == "error"
    assert "0.5s deadline" in result.error
    assert exit_status([result]) == 2


def test_unreachable_endpoint_is_an_error():
    with StubBigQuery() as server:
        endpoint = server.endpoint
    result = check_stack(target(), endpoint, FAST, env={})
    assert result.status == "error"
    assert "cannot reach BigQuery" in result.error
    assert "\n" not in result.error


# -- several stacks ------------------------------------------------------------------------


def test_one_stacks_error_never_hides_anothers_result(stub):
    for stack in ("staging", "production"):
        streaming(stub, stack)
    stub.fault(dataset_path("staging"), Fault(status=403, times=None))
    results = check_all([target("staging"), target("production")], stub.endpoint, FAST, env={})
    assert [(r.stack, r.status) for r in results] == [("staging", "error"), ("production", "match")]

    done = verify_cli(stub, "--stack", "staging", "--stack", "production")
    assert done.returncode == 2
    assert "production: ecf-bq.npq_events_production.events: match" in done.stdout
    assert done.stderr.count("\n") == 1 and "stack staging: access refused" in done.stderr


def test_stacks_are_checked_concurrently(stub):
    stub.delay = 0.3
    targets = []
    for index in range(6):
        declaration = target().declaration
        settings = declaration.settings
        renamed = replace(settings, stack=f"s{index}", dataset_id=f"npq_events_s{index}")
        targets.append(Target(renamed.stack, declaration=declare(renamed)))
        stub.put(targets[-1].declaration)
    results = check_all(targets, stub.endpoint, FAST.__class__(timeout=5, retry=FAST.retry), env={})
    assert [r.status for r in results] == ["match"] * 6
    # Every stack's requests were in flight at once: its dataset GET and its table GET.
    assert stub.max_in_flight == 6 * len(READS) == 12


def test_the_freshness_dry_run_is_in_flight_with_every_stacks_gets(stub):
    """Freshness read: each stack's dry run joins its dataset and table GETs, all at once; the
    tables are empty (numRows 0), so their metadata answers and no query follows."""
    stub.delay = 0.3
    targets = []
    for index in range(3):
        settings = target().declaration.settings
        renamed = replace(settings, stack=f"f{index}", dataset_id=f"npq_events_f{index}")
        limits = Limits(events=timedelta(hours=6), checks=None)
        targets.append(Target(renamed.stack, declaration=declare(renamed), limits=limits))
        stub.put(targets[-1].declaration)
    results = check_all(targets, stub.endpoint, Deadlines(timeout=5, retry=FAST.retry), env={})
    assert [r.freshness.events.status for r in results] == ["empty"] * 3
    assert stub.max_in_flight == 3 * (len(READS) + 1) == 9
    assert len(stub.bodies("jobs")) == 3 and stub.bodies("queries") == []


def test_all_checks_every_committed_stack(stub):
    for stack in committed_stacks():
        streaming(stub, stack)
    done = verify_cli(stub, "--all", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    stacks = json.loads(done.stdout)["stacks"]
    assert [s["stack"] for s in stacks] == committed_stacks()
    assert {s["status"] for s in stacks} == {"match"}
    assert all(s["error"] is None and s["findings"] == [] for s in stacks)


def test_a_bad_stack_file_is_that_stacks_error_only(stub, tmp_path):
    for stack in ("staging", "production"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(
            (Path(__file__).parent.parent / f"Pulumi.{stack}.yaml").read_text()
        )
    (tmp_path / "Pulumi.sandbox.yaml").write_text(
        "config:\n  gcp:project: ecf-bq\n  npq-analytics:environment: sandbox\n"
        "  npq-analytics:timeTravelHours: 100\n"
    )
    for stack in ("staging", "production"):
        streaming(stub, stack)
    done = run_cli(
        "--project-dir",
        str(tmp_path),
        "verify",
        "--all",
        "--api-endpoint",
        stub.endpoint,
        env=NO_CREDENTIALS,
    )
    assert done.returncode == 2
    assert "production: ecf-bq.npq_events_production.events: match" in done.stdout
    assert "staging: ecf-bq.npq_events_staging.events: match" in done.stdout
    (line,) = done.stderr.splitlines()
    assert line.startswith("npq-events: error: stack sandbox: config npq-analytics:kmsKey")


# -- output --------------------------------------------------------------------------------


def test_markdown_goes_to_stdout_and_the_step_summary(stub, tmp_path):
    stub.put(target().declaration)
    stub.tables[("ecf-bq", "npq_events_staging", "events")]["schema"]["fields"].append(
        {"name": "legacy|id", "type": "STRING"}
    )
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    done = verify_cli(
        stub,
        "--stack",
        "staging",
        "--format",
        "markdown",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert done.returncode == 1
    assert done.stdout.startswith("## npq-events verify")
    assert "| staging | ecf-bq.npq_events_staging.events | ❌ drift | drop_column |" in done.stdout
    assert "`schema.legacy\\|id`" in done.stdout  # a pipe cannot break the table
    assert summary.read_text() == "earlier step\n" + done.stdout


def test_plain_text_on_a_pipe(stub):
    stub.put(target().declaration)
    done = verify_cli(stub, "--stack", "staging", "--max-staleness", "none")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "staging: ecf-bq.npq_events_staging.events: match; no event at all: empty; "
        "no entity_table_check at all: empty (numRows 0 and no streaming buffer)",
        "1 stacks: 1 match, 0 drift, 0 could not be checked",
        "freshness: no query ran (metadata answered, or the endpoint runs none): nothing billed",
    ]
    assert "\x1b[" not in done.stdout


# -- credentials and endpoints -------------------------------------------------------------


def test_a_bad_endpoint_is_a_usage_error():
    done = run_cli("verify", "--stack", "staging", "--api-endpoint", "ftp://example")
    assert done.returncode == 2
    assert done.stderr.startswith("npq-events: error: --api-endpoint 'ftp://example'")
    assert done.stdout == ""


def test_without_credentials_each_stack_says_so_without_a_traceback(tmp_path):
    done = run_cli(
        "verify",
        "--stack",
        "staging",
        env={"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json")},
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("npq-events: error: stack staging: no Google credentials")


def _service_account_key(token_uri: str) -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "ecf-bq",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "npq-verify@ecf-bq.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    return json.dumps(info), pem


def test_the_key_in_the_teams_variable_is_used_and_never_printed(stub):
    streaming(stub)
    key_json, pem = _service_account_key(stub.token_uri)
    env = {"BIGQUERY_DFE_ANALYTICS_API_JSON_KEY": key_json}
    # A plain-http loopback endpoint gets the credentials only when asked.
    done = verify_cli(stub, "--stack", "staging", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    # The dataset and table GETs, the freshness dry run and the query: none with a credential.
    assert stub.authorizations == ["", "", "", ""]
    done = verify_cli(stub, "--stack", "staging", "--send-credentials", env=env)
    assert done.returncode == 0, done.stderr
    assert f"Bearer {stub.access_token}" in stub.authorizations

    stub.token_status = 400  # the token endpoint refuses the key
    done = verify_cli(stub, "--stack", "staging", "--send-credentials", env=env)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("npq-events: error: stack staging: credentials refused")
    for secret in (pem.splitlines()[1], stub.access_token, "0123456789abcdef"):
        assert secret not in done.stdout + done.stderr


def test_a_malformed_key_variable_is_named_not_shown():
    done = run_cli(
        "verify",
        "--stack",
        "staging",
        env={"BIGQUERY_DFE_ANALYTICS_API_JSON_KEY": "s3cret-not-json"},
    )
    assert done.returncode == 2
    assert "BIGQUERY_DFE_ANALYTICS_API_JSON_KEY is set but" in done.stderr
    assert "s3cret" not in done.stderr + done.stdout


def test_a_table_without_a_key_is_drift_at_any_endpoint_unless_told_it_is_an_emulator(stub):
    """Only the emulator lacks CMEK: a loopback endpoint is not a reason to waive the key."""
    streaming(stub)
    stub.datasets[("ecf-bq", "npq_events_staging")].pop("defaultEncryptionConfiguration")
    stub.tables[("ecf-bq", "npq_events_staging", "events")].pop("encryptionConfiguration")
    done = verify_cli(stub, "--stack", "staging", "--format", "json")
    assert done.returncode == 1, done.stderr
    (stack,) = json.loads(done.stdout)["stacks"]
    assert stack["effect"] == "replace"
    emulated = verify_cli(stub, "--stack", "staging", "--format", "json", "--emulator")
    assert emulated.returncode == 0, emulated.stderr
    (stack,) = json.loads(emulated.stdout)["stacks"]
    assert stack["status"] == "match"
    assert {f["level"] for f in stack["findings"]} == {"note"}


def test_a_dataset_that_reports_a_key_holds_its_table_to_one_even_as_an_emulator(stub):
    stub.put(target().declaration)
    stub.tables[("ecf-bq", "npq_events_staging", "events")].pop("encryptionConfiguration")
    for extra in ((), ("--emulator",)):
        done = verify_cli(stub, "--stack", "staging", "--format", "json", *extra)
        assert done.returncode == 1, (extra, done.stderr)
        (stack,) = json.loads(done.stdout)["stacks"]
        (finding,) = [f for f in stack["findings"] if f["level"] == "drift"]
        assert finding["path"] == "table.encryptionConfiguration.kmsKeyName"
        assert finding["effect"] == "replace"


def test_emulator_without_an_endpoint_is_refused():
    done = run_cli("verify", "--stack", "staging", "--emulator")
    assert done.returncode == 2
    assert done.stderr == (
        "npq-events: error: --emulator describes the --api-endpoint: give --api-endpoint URL too\n"
    )


@pytest.mark.parametrize("content", ["[]", "null", '"a string"', "42"])
def test_key_variable_json_that_is_not_an_object_is_named(content):
    with pytest.raises(UserError, match="is set but is not a service account key"):
        credentials(None, env={"BIGQUERY_DFE_ANALYTICS_API_JSON_KEY": content})


def test_key_variable_json_that_is_not_an_object_through_the_cli():
    for command in ("verify", "records"):
        done = run_cli(
            command,
            "--stack",
            "staging",
            "--api-endpoint",
            "http://127.0.0.1:1",
            "--send-credentials",
            env={"BIGQUERY_DFE_ANALYTICS_API_JSON_KEY": "[]"},
        )
        assert done.returncode == 2, command
        (line,) = done.stderr.splitlines()
        assert "BIGQUERY_DFE_ANALYTICS_API_JSON_KEY is set but" in line


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:99999", "http://127.0.0.1:0", "http://[::1", "http://host:80:80", "http://"],
)
def test_an_endpoint_with_no_usable_host_or_port_is_refused(endpoint):
    with pytest.raises(UserError, match=r"^--api-endpoint .* is not accepted: give http"):
        check_endpoint(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:9050",
        "http://[::1]:9050",
        "http://localhost:9050",
        "https://bigquery.googleapis.com/",
        "https://x",
    ],
)
def test_endpoints_accepted(endpoint):
    assert check_endpoint(endpoint) == endpoint.rstrip("/")


def test_a_malformed_answer_is_that_stacks_error_only(stub):
    # A BigQuery-compatible endpoint answering a column without a name: one stack's error,
    # the other stack's result still stands.
    for stack in ("staging", "production"):
        stub.put(target(stack).declaration)
    stub.tables[("ecf-bq", "npq_events_staging", "events")]["schema"]["fields"].append(
        {"type": "STRING"}
    )
    stub.datasets[("ecf-bq", "npq_events_production")]["labels"] = ["not", "a", "map"]
    stub.put(target("sandbox").declaration)
    results = check_all(
        [target("staging"), target("production"), target("sandbox")], stub.endpoint, FAST, env={}
    )
    assert [r.status for r in results] == ["error", "error", "match"]
    assert all("\n" not in r.error and "not in BigQuery's shape" in r.error for r in results[:2])

    done = verify_cli(stub, "--stack", "staging", "--stack", "sandbox")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "sandbox: ecf-bq.npq_events_sandbox.events: match" in done.stdout
    (line,) = done.stderr.splitlines()
    assert line.startswith("npq-events: error: stack staging: the answer for")


@pytest.mark.parametrize("kind", ["directory", "list"])
def test_an_unusable_adc_file_is_one_line_for_verify_and_records(tmp_path, kind):
    path = tmp_path
    if kind == "list":
        path = tmp_path / "adc.json"
        path.write_text("[]")
    env = {"BIGQUERY_DFE_ANALYTICS_API_JSON_KEY": "", "GOOGLE_APPLICATION_CREDENTIALS": str(path)}
    for command in ("verify", "records"):
        done = run_cli(command, "--stack", "staging", env=env)
        assert done.returncode == 2, (command, done.stderr)
        (line,) = done.stderr.splitlines()
        assert "no Google credentials" in line and str(path) in line, line


def test_records_says_in_one_line_that_the_credentials_were_refused(stub):
    key_json, pem = _service_account_key(stub.token_uri)
    stub.token_status = 400  # the token endpoint refuses the key
    done = run_cli(
        "records",
        "--stack",
        "staging",
        "--api-endpoint",
        stub.endpoint,
        "--send-credentials",
        env={"BIGQUERY_DFE_ANALYTICS_API_JSON_KEY": key_json},
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        "npq-events: error: reading ecf-bq.npq_events_staging.events at "
        f"{stub.endpoint}: credentials refused"
    )
    assert pem.splitlines()[1] not in done.stdout + done.stderr


def test_all_with_no_stack_file_is_refused_not_a_match(tmp_path):
    # A scheduled drift check run in the wrong directory must not pass having checked nothing.
    done = run_cli("--project-dir", str(tmp_path), "verify", "--all", env=NO_CREDENTIALS)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"npq-events: error: --all: no Pulumi.<stack>.yaml in {tmp_path}: nothing to verify\n"
    )


def test_a_table_that_expires_in_an_hour_is_drift_through_the_cli(stub):
    """Path 3: BigQuery deletes the table at its expirationTime; verify says so (exit 1)."""
    stub.put(target().declaration)
    in_an_hour = int((time.time() + 3600) * 1000)
    stub.tables[("ecf-bq", "npq_events_staging", "events")]["expirationTime"] = str(in_an_hour)
    done = verify_cli(stub, "--stack", "staging", "--format", "json")
    assert done.returncode == 1, done.stderr
    (stack,) = json.loads(done.stdout)["stacks"]
    assert (stack["status"], stack["effect"]) == ("drift", "expires")
    (finding,) = [f for f in stack["findings"] if f["level"] == "drift"]
    assert finding["path"] == "table.expirationTime"
    assert "deletes ecf-bq.npq_events_staging.events with every stored event" in finding["message"]


# -- verify --before-up: the deploy's check before `pulumi up` --------------------------------


def test_before_up_passes_a_pending_in_place_change(stub):
    stub.put(target().declaration)
    stub.datasets[("ecf-bq", "npq_events_staging")]["maxTimeTravelHours"] = "48"
    assert verify_cli(stub, "--stack", "staging").returncode == 1
    done = verify_cli(stub, "--stack", "staging", "--before-up")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pulumi up effect: in_place" in done.stdout


def test_before_up_fails_on_a_live_only_column_the_up_would_drop(stub):
    """Path 1, checked before acting: a column added by hand is dropped by any table update."""
    stub.put(target().declaration)
    table = stub.tables[("ecf-bq", "npq_events_staging", "events")]
    table["schema"]["fields"].append({"name": "app_version", "type": "STRING", "mode": "NULLABLE"})
    done = verify_cli(stub, "--stack", "staging", "--before-up")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pulumi up effect: drop_column" in done.stdout
    assert "schema.app_version" in done.stdout


def test_before_up_fails_on_an_expiring_table_and_says_2_when_it_cannot_check(stub, monkeypatch):
    monkeypatch.setattr("infra.cli.verify.DEFAULT_DEADLINES", FAST)  # not the CLI's 8 s
    stub.put(target().declaration)
    table = stub.tables[("ecf-bq", "npq_events_staging", "events")]
    table["expirationTime"] = str(int((time.time() + 3600) * 1000))
    assert verify_cli(stub, "--stack", "staging", "--before-up").returncode == 1
    unreachable = run_cli(
        "verify", "--stack", "staging", "--before-up", "--api-endpoint", "http://127.0.0.1:9",
        env=NO_CREDENTIALS,
    )  # fmt: skip
    assert unreachable.returncode == 2

"""Hostile and odd input, through the real CLI: one line, a documented status, in bounded time.

Each test is one class of failure found by trying the CLI as a hostile new user would: the
instance found, and others of the same class. `in_process` runs `npq-events` in this process
(tests/helpers.py's run_cli, through main(argv)); `_start` in a fresh process, where the
process matters (a closed stdout, a signal, a slow server).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.bigquery.client import DEFAULT_DEADLINES, RETRY, Deadlines
from infra.bigquery.local import STATE_DIR_ENV
from infra.model.declared import declare
from infra.model.events import ENTITY_TABLE_CHECK
from infra.model.stackfiles import settings_for
from infra.rules.schema_lock import SCHEMA_LOCK, SETTINGS_LOCK
from tests.bq_stub import StubBigQuery
from tests.helpers import NO_CREDENTIALS, ROOT, one_line_error, run_cli

STACKS = ("production", "staging", "sandbox", "review")
PREVIEWS = ROOT / "tests" / "data" / "previews"


@pytest.fixture
def in_process(tmp_path):
    """`npq-events ARGS` in this process (tests/helpers.py): (status, stdout, stderr). A local
    emulator it might start (it should not) would keep its state under tmp_path."""
    isolated = {**NO_CREDENTIALS, STATE_DIR_ENV: str(tmp_path / "local-state")}

    def run(*args: str, **env: str) -> tuple[int, str, str]:
        done = run_cli(*args, env={**isolated, **env})
        return done.returncode, done.stdout, done.stderr

    return run


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "infra.cli", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **NO_CREDENTIALS},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the committed stack files, to add broken ones beside them."""
    for stack in STACKS:
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    return tmp_path


@pytest.fixture
def stub():
    """Every committed stack as declared, each with an event and an entity table check that
    have just arrived: within every stack's freshness limits."""
    now = datetime.now(UTC)
    with StubBigQuery() as server:
        for stack in STACKS:
            declaration = declare(settings_for(stack))
            server.put(declaration)
            server.events(declaration, [(now, "web_request"), (now, ENTITY_TABLE_CHECK)])
        yield server


STAGING = (ROOT / "Pulumi.staging.yaml").read_text()


# -- stack files -----------------------------------------------------------------------------

BROKEN_STACK_FILES = {
    # an impossible date: PyYAML made it a date, and failed (a ValueError traceback)
    "impossible-date": (STAGING + "  npq-analytics:createdOn: 2026-02-30\n", "createdOn"),
    "date": (STAGING + "  npq-analytics:createdOn: 2026-02-28\n", "is read by the Pulumi CLI"),
    "not-utf8": (STAGING.encode() + b"  npq-analytics:description: caf\xe9\n", "not UTF-8"),
    "self-alias": (STAGING + "  npq-analytics:description: &a {x: *a}\n", "an alias refers to"),
    "duplicate-key": (STAGING + "  npq-analytics:kmsKey: other\n", "already set on line"),
    "hex-hours": (
        STAGING.replace("timeTravelHours: 168", "timeTravelHours: 0x48"),
        "0x48 is read by the Pulumi CLI as the number 72",
    ),
    "binary": (STAGING + "  npq-analytics:description: !!binary aGk=\n", "tag !!binary"),
    "no-value": (STAGING + "  npq-analytics:description:\n", "has no value"),
    "deep": (STAGING + "  npq-analytics:description: " + "[" * 3000 + "]" * 3000 + "\n", "deep"),
    "bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
            for i in range(7)
        )
        + STAGING
        + "  npq-analytics:description: {x: *h}\n",
        "aliases expand it too far",
    ),
}


@pytest.mark.parametrize("name", BROKEN_STACK_FILES)
def test_a_broken_stack_file_is_one_line_naming_it(in_process, project, name):
    content, expected = BROKEN_STACK_FILES[name]
    path = project / "Pulumi.broken.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = in_process("--project-dir", str(project), "plan", "--stack", "broken")
    assert (code, out) == (2, "")
    line = one_line_error(err)
    assert expected in line and ("Pulumi.broken.yaml" in line or "config " in line), line


def test_verify_all_reports_every_readable_stack_beside_unreadable_ones(in_process, project, stub):
    for name in ("impossible-date", "not-utf8", "self-alias", "duplicate-key"):
        content, _ = BROKEN_STACK_FILES[name]
        data = content if isinstance(content, bytes) else content.encode()
        (project / f"Pulumi.{name}.yaml").write_bytes(data)
    code, out, err = in_process(
        "--project-dir", str(project), "verify", "--all", "--api-endpoint", stub.endpoint
    )
    assert code == 2 and "Traceback" not in err
    for stack in STACKS:
        assert f"{stack}: ecf-bq.npq_events_{stack}.events: match" in out
    errors = err.splitlines()
    assert len(errors) == 4 and all(line.startswith("npq-events: error: stack ") for line in errors)
    assert "8 stacks: 4 match, 0 drift, 4 could not be checked" in out


def test_yaml_1_2_as_the_pulumi_cli_reads_it(in_process, project):
    # yes/on stay text; a key without a namespace is the project's; numbers are passed as
    # written when written as the CLI passes them.
    (project / "Pulumi.spelled.yaml").write_text(
        STAGING.replace("npq-analytics:timeTravelHours: 168", "timeTravelHours: 144")
        + "  npq-analytics:description: yes\n"
    )
    code, out, err = in_process(
        "--project-dir", str(project), "plan", "--stack", "spelled", "--format", "json"
    )
    assert code == 0, err
    resources = json.loads(out)["resources"]
    (dataset,) = [r["inputs"] for r in resources if r["type"] == "gcp:bigquery/dataset:Dataset"]
    assert dataset["description"] == "yes" and dataset["maxTimeTravelHours"] == "144"


CONFIG_REFUSED = {
    "location": ("npq-analytics:location: foo-bar9", "config npq-analytics:location = 'foo-bar9'"),
    "kms-dotdot": (
        "npq-analytics:kmsKey: projects/ecf-bq/locations/europe-west2/keyRings/../cryptoKeys/k",
        "config npq-analytics:kmsKey",
    ),
    "newline": ('npq-analytics:environment: "staging\\n"', "config npq-analytics:environment"),
    "newline-project": ('gcp:project: "ecf-bq\\n"', "config gcp:project"),
}


@pytest.mark.parametrize("name", CONFIG_REFUSED)
def test_config_values_bigquery_would_refuse_are_refused(in_process, project, name):
    line, expected = CONFIG_REFUSED[name]
    key = line.split(":", 2)[0] + ":" + line.split(":", 2)[1]
    kept = [row for row in STAGING.splitlines() if not row.strip().startswith(key + ":")]
    (project / "Pulumi.odd.yaml").write_text("\n".join(kept) + f"\n  {line}\n")
    code, _out, err = in_process("--project-dir", str(project), "plan", "--stack", "odd")
    assert code == 2
    assert expected in one_line_error(err)


# -- flag values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["records", "--stack", "staging", "--limit", "²"], "--limit '²' is not accepted"),
        (["records", "--stack", "staging", "--limit", "٣"], "--limit '٣' is not accepted"),
        (["records", "--stack", "staging", "--limit", "1_0"], "--limit '1_0' is not accepted"),
        (["local", "up", "--port", "٩٠٥٠"], "--port '٩٠٥٠' is not accepted"),
        (
            ["records", "--stack", "staging", "--max-bytes", "\uff11GB"],
            "--max-bytes '\uff11GB' is not",
        ),
        (["review", "up", "--pr", "٤٢"], "--pr '٤٢' is not accepted"),
        (["verify", "--stack", "staging", "--api-endpoint", ""], "--api-endpoint '' is not"),
        (["records", "--stack", "staging", "--api-endpoint", ""], "--api-endpoint '' is not"),
        (
            ["verify", "--stack", "staging", "--api-endpoint", "http://bigquery.example.org"],
            "plain http:// is for loopback only",
        ),
        (["verify", "--all", "--send-credentials"], "--send-credentials goes with a plain"),
        (["verify"], "one of the arguments --stack --all is required"),
        (["--project-dir", "/nonexistent/x", "plan", "--stack", "staging"], "not a directory"),
    ],
)
def test_flag_values_are_parsed_into_one_line(in_process, args, expected):
    code, out, err = in_process(*args)
    assert (code, out) == (2, "")
    assert expected in one_line_error(err)


# -- the guard -------------------------------------------------------------------------------


def _crash(_args):
    raise KeyError("an unexpected bug")


def test_an_unexpected_exception_is_an_internal_error_exit_2(in_process, monkeypatch):
    import infra.cli.plan

    monkeypatch.setattr(infra.cli.plan, "run", _crash)
    monkeypatch.delenv("NPQ_EVENTS_DEBUG", raising=False)
    code, out, err = in_process("plan", "--stack", "staging")
    assert (code, out) == (2, "")
    assert err.startswith("npq-events: internal error: KeyError: 'an unexpected bug'")
    assert err.count("\n") == 1 and "Traceback" not in err
    code, out, err = in_process("plan", "--stack", "staging", NPQ_EVENTS_DEBUG="1")
    assert code == 2 and "Traceback" in err
    assert err.splitlines()[-1].startswith("npq-events: internal error: KeyError")


def test_a_closed_stdout_ends_quietly_with_the_commands_status(stub):
    """`... | head -n 1`: the reader goes away; no BrokenPipeError, the status is kept."""
    commands = {
        ("plan", "--stack", "production", "--format", "json"): 0,
        ("schema", "export"): 0,
        ("verify", "--all", "--format", "json", "--api-endpoint", stub.endpoint): 0,
    }
    processes = {}
    for args in commands:  # side by side: each pays an interpreter's start-up
        process = _start(*args)
        process.stdout.close()  # the reader is gone before the first line
        processes[args] = process
    for args, process in processes.items():
        err = process.stderr.read()
        assert process.wait(timeout=120) == commands[args], (args, err)
        assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err


# -- what the CLI prints that it did not write -----------------------------------------------


def test_markup_and_escapes_in_foreign_text_print_as_they_are(in_process, project, tmp_path):
    preview = json.loads((PREVIEWS / "noop.json").read_text())
    text = json.dumps(preview).replace("urn:pulumi:production::", "urn:pulumi:[/x][bold]::")
    preview = json.loads(text)
    preview["diagnostics"] = [
        {"severity": "warning", "message": "\x1b[1m\x1b[31mred [bold]words[/bold]\x1b[0m"}
    ]
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(preview))
    code, out, err = in_process("preview-gate", str(path))
    assert code == 0, err
    assert "stack [/x][bold]: pass" in out
    assert "red [bold]words[/bold]" in out and "\x1b" not in out

    member = "iamMember:principal://iam.googleapis.com/[/x][bold]:smile:"
    review = (project / "Pulumi.review.yaml").read_text()
    (project / "Pulumi.review.yaml").write_text(
        review
        + "  npq-analytics:reviewIamRole: roles/bigquery.dataViewer\n"
        + f"  npq-analytics:reviewIamMembers: ['{member}']\n"
    )
    code, out, err = in_process("--project-dir", str(project), "plan", "--stack", "review-pr-7")
    assert code == 0, err
    assert member in out
    (project / "Pulumi.described.yaml").write_text(
        STAGING + '  npq-analytics:description: "\\e]0;title\\a\\e[31m[bold]described\\e[0m"\n'
    )
    code, out, err = in_process("--project-dir", str(project), "plan", "--stack", "described")
    assert code == 0, err
    assert "description: [bold]described\n" in out and "\x1b" not in out


# -- files the CLI writes or reads -----------------------------------------------------------


def test_a_lock_dir_that_cannot_be_written_is_one_line(in_process, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    for name in (SCHEMA_LOCK, SETTINGS_LOCK):
        (unreadable / name).write_bytes(b"\xff\xfe not UTF-8")
    holds_a_directory = tmp_path / "holds-a-directory"
    (holds_a_directory / SCHEMA_LOCK).mkdir(parents=True)
    expected = {
        a_file: f"{a_file}: File exists",
        # The directory is there; the file in it is what cannot be written.
        holds_a_directory: f"{holds_a_directory / SCHEMA_LOCK}: Is a directory",
        a_file / "below": f"{a_file / 'below'}: Not a directory",
        Path("/proc/npq-events-lock"): "/proc/npq-events-lock: No such file or directory",
        # An exception with neither a file name nor an OS reason: the directory and its type.
        unreadable: f"{unreadable}: UnicodeDecodeError",
    }
    for lock_dir, reason in expected.items():
        # --accept-destructive: past the check against the unreadable lock, to its rewrite.
        code, _out, err = in_process(
            "schema", "lock", "--accept-destructive", "--lock-dir", str(lock_dir)
        )
        assert code == 2
        assert (
            one_line_error(err)
            == f"npq-events: error: cannot write the lock in {lock_dir}: {reason}"
        )


def test_a_step_summary_that_cannot_be_written_does_not_change_the_status(in_process, stub):
    code, out, err = in_process(
        "verify",
        "--stack",
        "staging",
        "--format",
        "markdown",
        "--api-endpoint",
        stub.endpoint,
        GITHUB_STEP_SUMMARY=str(ROOT),  # a directory
    )
    assert code == 0
    assert "| staging |" in out
    assert err.startswith("npq-events: warning: cannot append to $GITHUB_STEP_SUMMARY")


def test_schema_diff_refuses_types_bigquery_has_not_and_reads_stdin(
    in_process, tmp_path, monkeypatch
):
    old = tmp_path / "old.json"
    old.write_text(json.dumps([{"name": "a", "type": "STRING"}]))
    for fields, expected in (
        ([{"name": "a", "type": "BANANA"}], "type 'BANANA', not a BigQuery type"),
        (
            [{"name": "a", "type": "STRING", "fields": [{"name": "b", "type": "STRING"}]}],
            "is a STRING with nested fields",
        ),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(fields))
        code, _out, err = in_process("schema", "diff", str(old), str(bad))
        assert code == 2 and expected in one_line_error(err)

    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps([{"name": "a", "type": "INT64"}])))
    code, out, err = in_process("schema", "diff", str(old), "-")
    assert code == 1, err
    assert "`a` changes type STRING -> INTEGER" in out
    code, _out, err = in_process("schema", "diff", "-", "-")
    assert code == 2 and "only one of OLD and NEW" in one_line_error(err)


# -- answers from the network ----------------------------------------------------------------


def _json(status: int, document: dict) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(document).encode()


def _error(status: int, reason: str, message: str) -> tuple[int, str, bytes]:
    error = {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}
    return _json(status, {"error": error})


DRY_RUN_WITHOUT_BYTES = {
    "kind": "bigquery#job",
    "jobReference": {"projectId": "ecf-bq", "location": "europe-west2"},
    "status": {"state": "DONE"},
    "statistics": {"query": {"statementType": "SELECT"}},
}


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (_error(401, "authError", "Invalid Credentials"), "access refused: BigQuery answered 401"),
        (_error(403, "accessDenied", "Access Denied"), "access refused: BigQuery answered 403"),
        ((200, "text/html", b"<html>a proxy's login page</html>"), "the answer is not JSON"),
        (_json(200, {"hello": "world"}), "is not a BigQuery job"),
        (_json(200, DRY_RUN_WITHOUT_BYTES), "gives no byte count"),
    ],
)
def test_records_names_what_answered_not_the_network(in_process, reply, expected):
    with StubBigQuery(answer=lambda call: reply) as server:
        code, out, err = in_process(
            "records", "--stack", "staging", "--api-endpoint", server.endpoint,
            "--max-bytes", "1B",
        )  # fmt: skip
    assert (code, out) == (2, "")
    line = one_line_error(err)
    assert expected in line and "cannot reach" not in line, line


def test_a_loopback_endpoint_gets_no_credentials_unless_asked(in_process):
    key = {"GOOGLE_APPLICATION_CREDENTIALS": str(ROOT / "no-such-adc.json")}
    with StubBigQuery(answer=lambda call: _error(404, "notFound", "Not found")) as server:
        code, _out, err = in_process(
            "records", "--stack", "staging", "--api-endpoint", server.endpoint, **key
        )
        assert code == 2 and "was not found at" in one_line_error(err)
        assert server.authorizations and set(server.authorizations) == {""}
        code, _out, err = in_process(
            "records", "--stack", "staging", "--api-endpoint", server.endpoint,
            "--send-credentials", **key,
        )  # fmt: skip
        assert code == 2 and "no Google credentials" in one_line_error(err)


def test_the_clis_deadlines_are_the_documented_ones():
    """docs/errors.md promises 10 s per request and no new attempt 8 s after the first; the
    test below shortens both, so the defaults themselves are pinned here."""
    assert (DEFAULT_DEADLINES.timeout, DEFAULT_DEADLINES.retry_seconds) == (10, 8)
    errors = (ROOT / "docs" / "errors.md").read_text()
    assert "10 s**" in errors and "**8 s**" in errors


def test_slow_servers_and_huge_schemas_end_in_bounded_time(in_process, tmp_path, monkeypatch):
    """A server that sends its headers, then one byte every 0.1 s (per-read timeouts never fire;
    the total deadline per request does); a server failing with 500 (retried until the retry
    deadline, then named); and, in a process of its own meanwhile, a schema diff of 40,000
    columns (the old quadratic diff took 6 s over 10,000, so about 100 s here; the limit is
    60 s). The CLI's deadlines are shortened to a second (their defaults are pinned above)."""
    short = Deadlines(timeout=1.0, retry=RETRY.with_deadline(1.0).with_delay(initial=0.05))
    monkeypatch.setattr("infra.cli.verify.DEFAULT_DEADLINES", short)
    monkeypatch.setattr("infra.cli.records.DEFAULT_DEADLINES", short)
    count = 40_000
    old = [{"name": f"c{i}", "type": "STRING", "mode": "NULLABLE"} for i in range(count)]
    new = [
        {"name": f"C{i}" if i % 2 else f"c{i}", "type": "STRING"} for i in reversed(range(count))
    ]
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    diff = _start("schema", "diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"))
    try:
        with (
            StubBigQuery(answer=lambda call: None, drip_every=0.1) as drip,
            StubBigQuery(
                answer=lambda call: _error(500, "backendError", "Backend Error")
            ) as failing,
        ):
            for command, endpoint in (
                ("verify", drip.endpoint),
                ("records", drip.endpoint),
                ("records", failing.endpoint),
            ):
                began = time.monotonic()
                code, _out, err = in_process(
                    command, "--stack", "staging", "--api-endpoint", endpoint
                )
                # Generous bounds, which only a hang trips: the retry deadline plus two calls.
                assert time.monotonic() - began < 1.0 + 2 * 1.0 + 1.0, (command, err)
                assert code == 2, err
                if endpoint == drip.endpoint:
                    assert "within the 1s deadline" in err.splitlines()[-1], err
                else:
                    assert "gave up after retrying for 1s: BigQuery answered 500" in one_line_error(
                        err
                    )
        out, err = diff.communicate(timeout=60)
    finally:
        diff.kill()
    assert diff.returncode == 1, err
    assert out.endswith("schema diff: 20000 of 20000 changes would destroy stored events\n")


def test_records_ndjson_into_a_pipe_closed_after_one_line(emulator, project):
    """`records --format ndjson | head -n 1`, on a real BigQuery REST implementation."""
    from datetime import UTC, datetime

    from infra.bigquery.client import make_client
    from infra.bigquery.provision import create_declared
    from infra.bigquery.sample_events import sample_events

    dataset = f"npq_events_pipe_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    (project / "Pulumi.pipe.yaml").write_text(STAGING + f"  npq-analytics:datasetId: {dataset}\n")
    declaration = declare(settings_for("pipe", project))
    client = make_client("ecf-bq", emulator.endpoint, env={})
    create_declared(client, declaration)
    rows = sample_events(datetime.now(UTC), "staging")
    assert client.insert_rows_json(declaration.table.ref, rows, timeout=10) == []

    process = _start(
        "--project-dir", str(project), "records", "--stack", "pipe", "--since", "7d",
        "--limit", "10000", "--format", "ndjson", "--api-endpoint", emulator.endpoint,
    )  # fmt: skip
    first = process.stdout.readline()
    process.stdout.close()  # head -n 1 has what it wants and goes
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0, err
    assert json.loads(first)["event_type"]
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err

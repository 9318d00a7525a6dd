"""`npq-events local up|status|down` and `records --local`, through the CLI as a user runs them."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from infra.bigquery import emulator, local
from infra.bigquery.client import make_client
from infra.errors import EXIT_FINDINGS, EXIT_USAGE, UserError
from infra.model import schema
from infra.model.declared import declare
from infra.model.stackfiles import settings_for
from tests.helpers import one_line_error, run_cli, run_cli_process, when

# --local never reads credentials: a malformed key would stop any command that did.
MALFORMED_KEY = {"BIGQUERY_DFE_ANALYTICS_API_JSON_KEY": '{"not": "a key"}'}


@pytest.fixture
def state_env(tmp_path):
    env = {local.STATE_DIR_ENV: str(tmp_path / "state"), **MALFORMED_KEY}
    yield env
    local.down(env)  # whatever a failed test left running


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result


def test_local_up_then_records_then_down(state_env):
    port = emulator.free_port()
    # In a process of its own: the emulator outlives the command that started it.
    up = _ok(run_cli_process("local", "up", "--port", str(port), env=state_env))
    assert "started" in up.stdout and f"127.0.0.1:{port}" in up.stdout
    state_file = Path(state_env[local.STATE_DIR_ENV]) / "local" / "state.json"
    state = json.loads(state_file.read_text())
    assert (state["port"], state["stacks"]) == (port, ["staging"])

    verified = _ok(run_cli("verify", "--stack", "staging", "--local", env=state_env))
    assert "staging: ecf-bq.npq_events_staging.events: match" in verified.stdout
    unloaded = run_cli(
        "verify", "--stack", "staging", "--stack", "review", "--local", env=state_env
    )
    assert unloaded.returncode == EXIT_USAGE
    assert "holds staging, not review" in one_line_error(unloaded.stderr)

    # The done-when: only events of the last two days, and all of them.
    result = _ok(
        run_cli(
            "records",
            "--stack",
            "staging",
            "--local",
            "--since",
            "2d",
            "--format",
            "json",
            "--limit",
            "10000",
            env=state_env,
        )
    )
    document = json.loads(result.stdout)
    since, until = when(document["since"]), when(document["until"])
    times = [when(event[schema.OCCURRED_AT]) for event in document["events"]]
    assert times and all(since <= t < until for t in times)
    assert times == sorted(times, reverse=True)
    table = declare(settings_for("staging")).table
    client = make_client(table.project, state["endpoint"], env={})
    everything = [
        row[0]
        for row in client.query(f"SELECT `{table.partition_field}` FROM `{table.ref}`", timeout=10)
    ]
    assert len(times) == sum(since <= t < until for t in everything) < len(everything)
    assert "to process" in result.stderr

    # A pipe gets plain lines, one per event; hidden values are masked.
    masked = _ok(
        run_cli(
            "records",
            "--stack",
            "staging",
            "--local",
            "--since",
            "7d",
            "--event-type",
            "delete_entity",
            env=state_env,
        )
    )
    lines = [line for line in masked.stdout.splitlines() if "delete_entity" in line]
    assert lines and all("hidden_DATA: email=***" in line for line in lines)
    assert "\x1b[" not in masked.stdout

    down = _ok(run_cli("local", "down", env=state_env))
    assert "Stopped" in down.stdout
    assert not emulator.is_running(state["pid"])
    assert not state_file.exists()
    assert not (Path(state_env[local.STATE_DIR_ENV]) / "local" / "data").exists()
    gone = run_cli("records", "--stack", "staging", "--local", env=state_env)
    assert gone.returncode == EXIT_USAGE
    assert "no local emulator runs" in one_line_error(gone.stderr)


def test_up_is_idempotent_loads_more_stacks_and_restarts_on_kept_data(state_env):
    """The library behind `local up`, in-process (each CLI start costs seconds)."""
    port = emulator.free_port()
    first = local.up("staging", port, env=state_env)
    assert first.started and first.loaded and not first.loaded.kept
    assert local.local_endpoint("staging", env=state_env) == f"http://127.0.0.1:{port}"
    with pytest.raises(UserError, match="holds staging, not review; load it with: npq-events"):
        local.local_endpoint("review", env=state_env)

    again = local.up("staging", emulator.free_port(), env=state_env)
    assert (again.started, again.loaded, again.state.pid) == (False, None, first.state.pid)
    review = local.up("review", port, env=state_env)
    assert not review.started and review.loaded.events > 0
    assert review.state.stacks == ("staging", "review")

    # The emulator died (a reboot, a kill): up starts it again on the data it kept.
    emulator.stop(first.state.pid)
    assert local.status(env=state_env)[1] is False
    with pytest.raises(UserError, match="no local emulator runs"):
        local.local_endpoint("staging", env=state_env)
    restarted = local.up("staging", port, env=state_env)
    # Both stacks loaded before it stopped are still held, with their events.
    assert restarted.started and restarted.loaded is None
    assert restarted.state.stacks == ("staging", "review")
    assert local.local_endpoint("staging", "review", env=state_env) == restarted.state.endpoint
    table = declare(settings_for("staging")).table
    client = make_client(table.project, restarted.state.endpoint, env={})
    (count,) = next(iter(client.query(f"SELECT COUNT(*) FROM `{table.ref}`", timeout=10)))
    assert count == first.loaded.events

    stopped = local.down(env=state_env)
    assert stopped.was_running and not emulator.is_running(restarted.state.pid)
    assert local.down(env=state_env) == local.DownResult(None, False)


def test_local_up_on_a_taken_port_fails_with_one_line(state_env):
    with socket.socket() as taken:
        taken.bind((emulator.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("local", "up", "--port", str(port), env=state_env)
    assert result.returncode == EXIT_USAGE
    assert f"port {port} on 127.0.0.1 is in use" in one_line_error(result.stderr)
    assert run_cli("local", "status", env=state_env).returncode == EXIT_FINDINGS


def test_status_says_when_nothing_runs(state_env):
    result = run_cli("local", "status", "--format", "json", env=state_env)
    assert result.returncode == EXIT_FINDINGS
    assert json.loads(result.stdout) == {"running": False, "state": None}

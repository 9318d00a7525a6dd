"""`npq-events local` touches nothing it did not start, whatever its state file says.

A state file is read from disk and may be corrupt, stale or forged. `local down` must never
signal pid 0, 1 or a negative one (whole process groups, or init), never a process group that
is not the emulator's own, never a process whose command line is not the emulator started
from this state directory. Each such command runs in a session of its own
(start_new_session=True): a stray killpg(0) would then hit only the CLI itself (and show as
its death by SIGTERM), never the test runner's group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from infra.bigquery import emulator, local
from infra.errors import UserError
from tests.bq_stub import StubBigQuery
from tests.helpers import NO_CREDENTIALS, ROOT, one_line_error, run_cli


@pytest.fixture
def state_dir(tmp_path):
    root = tmp_path / "state"
    yield root
    with contextlib.suppress(UserError):
        local.down({local.STATE_DIR_ENV: str(root)})  # whatever a failed test left running


@pytest.fixture
def answering():
    """Something answering on the recorded endpoint, as an emulator would."""
    listing = json.dumps({"datasets": []}).encode()
    with StubBigQuery(answer=lambda call: (200, "application/json", listing)) as server:
        yield server


def write_state(state_dir: Path, pid: object, endpoint: str) -> Path:
    path = state_dir / "local" / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "pid": pid,
                "port": int(endpoint.rsplit(":", 1)[1]),
                "endpoint": endpoint,
                "project": "ecf-bq",
                "stacks": ["staging"],
                "data_dir": str(state_dir / "local" / "data"),
                "log": str(state_dir / "local" / "emulator.log"),
                "started_at": "2026-11-27T10:00:00Z",
            }
        )
    )
    return path


def down_in_its_own_session(state_dir: Path) -> subprocess.Popen:
    """`npq-events local down` for `state_dir`, started in a session of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "local", "down"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), local.STATE_DIR_ENV: str(state_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finished(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def _sleeper(*argv: str) -> subprocess.Popen:
    """A process that is not the emulator of this state directory, leading its own group."""
    code = "import time; time.sleep(120)"
    return subprocess.Popen([sys.executable, "-c", code, *argv], start_new_session=True)


def test_down_never_signals_what_it_did_not_start(tmp_path, answering):
    """State files naming pid 0, -1, 1 (also as text), one beyond any pid, another program, and
    the emulator of another state directory, while something answers on the recorded
    endpoint: each `local down` (side by side) signals none of them, itself included."""
    others = {
        "program": _sleeper(),
        "other-state": _sleeper(
            "-m", "infra.bigquery.emulator", "start", "--data-dir", "/elsewhere/local/data"
        ),
    }
    pids: dict[str, object] = {"0": 0, "-1": -1, "1": 1, "text": "1", "beyond-pid_t": 2**40}
    pids.update({name: process.pid for name, process in others.items()})
    try:
        runs = {}
        for name, pid in pids.items():
            write_state(tmp_path / name, pid, answering.endpoint)
            runs[name] = down_in_its_own_session(tmp_path / name)
        for name, run in runs.items():
            code, out, err = finished(run)
            assert code == 0, (name, code, err)  # -15: it signalled its own process group
            assert "Traceback" not in err, (name, err)
            assert not (tmp_path / name / "local" / "state.json").exists()
            if name in others:
                assert out == "Local BigQuery was not running; cleared its state and data.\n"
            else:
                assert out == (
                    "No local BigQuery runs; cleared its unreadable state file and its data.\n"
                )
        for name, process in others.items():
            assert process.poll() is None, f"local down signalled {name}, which it did not start"
    finally:
        for process in others.values():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_state_file_that_is_a_directory_is_one_line(state_dir):
    (state_dir / "local" / "state.json").mkdir(parents=True)
    code, _out, err = finished(down_in_its_own_session(state_dir))
    assert code == 2
    assert "state.json is not a state file" in one_line_error(err)


def test_a_state_directory_that_cannot_be_made_is_one_line(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for where in (a_file, Path("/proc/npq-events-state")):
        done = run_cli(
            "local", "up", "--port", str(emulator.free_port()),
            env={local.STATE_DIR_ENV: str(where)},
        )  # fmt: skip
        assert done.returncode == 2
        assert "for the local emulator's state" in one_line_error(done.stderr)


def test_restart_port_and_a_lost_state_file(state_dir):
    """Through the CLI's entry function, on a real emulator: up with --port; up again without
    it (no word of a --port never given); a second stack; the emulator dies and up starts it
    again holding both stacks; then its state file is corrupted and down still stops it."""
    env = {local.STATE_DIR_ENV: str(state_dir), **NO_CREDENTIALS}

    def cli(*args: str) -> str:
        done = run_cli(*args, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    port = emulator.free_port()
    cli("local", "up", "--port", str(port))
    state_file = state_dir / "local" / "state.json"
    first = json.loads(state_file.read_text())
    assert "--port" not in cli("local", "up")
    assert f"--port {port + 1} ignored" in cli("local", "up", "--port", str(port + 1))
    cli("local", "up", "--stack", "review")

    os.killpg(first["pid"], signal.SIGKILL)  # the emulator dies (a crash, a reboot)
    os.waitpid(first["pid"], 0)
    assert "started" in cli("local", "up", "--port", str(port))
    restarted = json.loads(state_file.read_text())
    assert restarted["stacks"] == ["staging", "review"]
    assert "review: ecf-bq.npq_events_review.events: match" in cli(
        "verify", "--stack", "review", "--local"
    )

    state_file.write_text("{not json")
    assert f"Stopped local BigQuery (pid {restarted['pid']})" in cli("local", "down")
    assert not emulator.is_running(restarted["pid"])
    assert emulator.port_is_free(port)

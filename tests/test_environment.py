"""The test environment itself: none of the caller's credentials, endpoints or state reach a
test, and property tests run the same examples on every CI run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import settings

from tests.conftest import CALLER_PREFIXES, CALLER_VARIABLES, CI_PROFILE
from tests.helpers import ROOT, run_cli, run_cli_process

# The CLI called in the test's process (its env laid over os.environ) and in a process of its own.
RUNNERS = pytest.mark.parametrize("runner", [run_cli, run_cli_process], ids=["in", "process"])

# What a developer's or a runner's shell may hold: a key, an ADC file, a backend and token.
POISON = {
    "BIGQUERY_DFE_ANALYTICS_API_JSON_KEY": '{"type": "service_account", "from": "the caller"}',
    "GOOGLE_APPLICATION_CREDENTIALS": "/caller/adc.json",
    "GOOGLE_CLOUD_CREDENTIALS": '{"from": "the caller"}',
    "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:1",
    "NPQ_EVENTS_STATE_DIR": "/caller/state",
    "GITHUB_STEP_SUMMARY": "/caller/summary.md",
    "PULUMI_ACCESS_TOKEN": "pul-caller",
}


def test_no_caller_variable_is_set_in_a_test():
    leaked = sorted(
        name
        for name in os.environ
        if (name in CALLER_VARIABLES or name.startswith(CALLER_PREFIXES))
        and name != "NPQ_EVENTS_STATE_DIR"  # set by the fixture, to an empty directory
    )
    assert leaked == []
    assert os.listdir(os.environ["NPQ_EVENTS_STATE_DIR"]) == []


@RUNNERS
def test_the_cli_finds_no_credentials(runner):
    # With a key or an ADC file in the caller's environment, this line would name them
    # (or the CLI would try them) instead.
    done = runner("records", "--stack", "staging")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("npq-events: error: no Google credentials ("), line
    assert "is unusable" not in line and "is set but" not in line


@RUNNERS
def test_the_cli_finds_no_local_emulator(runner):
    done = runner("verify", "--stack", "staging", "--local")
    assert done.returncode == 2
    state = os.path.join(os.environ["NPQ_EVENTS_STATE_DIR"], "local", "state.json")
    assert done.stderr.startswith(f"npq-events: error: no local emulator runs (state: {state})")


def test_a_poisoned_caller_environment_does_not_reach_the_tests():
    """The tests above, in a pytest run whose own environment holds the caller's values and
    hands it to its xdist worker, where the tests run."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "1",
            "tests/test_environment.py",
            "-k",
            "no_caller_variable or finds_no",
        ],
        cwd=ROOT,
        env={**os.environ, **POISON},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout, done.stdout


def test_the_ci_profile_fixes_the_examples_and_keeps_their_number():
    profile = settings.get_profile(CI_PROFILE)
    assert profile.derandomize and profile.database is None
    assert profile.max_examples >= settings.get_profile("default").max_examples
    if os.environ.get("CI"):
        assert settings.default.derandomize

"""Shared fixtures and settings: the caller's environment cleared before every test, the
Hypothesis profile CI runs with, the CLI, and a real BigQuery REST implementation on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from infra.bigquery.client import ADC_FILE_ENV, KEY_JSON_ENV
from infra.bigquery.local import STATE_DIR_ENV
from infra.cli.review import GITHUB_OUTPUT
from infra.cli.verify import STEP_SUMMARY_ENV
from tests.helpers import ROOT, run_cli

# When CI is set (GitHub Actions sets CI=true): the same examples on every run (derandomized,
# no example database), so a red build is red again on a re-run and on a laptop with CI=true,
# and the failing example's reproduction blob is printed. Time limits are dropped: on a
# shared runner a slow example is not a failed property. Every example count stays.
CI_PROFILE = "npq-ci"
settings.register_profile(
    CI_PROFILE,
    derandomize=True,
    database=None,
    print_blob=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
if os.environ.get("CI"):
    settings.load_profile(CI_PROFILE)


# Every variable through which the caller's environment could reach the CLI in a test: the
# credentials it reads (and the app's own, GOOGLE_CLOUD_CREDENTIALS), what google-auth and
# google-cloud-bigquery read beside them (project, quota project, metadata server, mTLS,
# universe, emulator host), the local emulator's state, the files GitHub Actions collects
# outputs in, and the Pulumi backend, token and passphrase the review commands hand to Pulumi.
CALLER_VARIABLES = (
    KEY_JSON_ENV,
    ADC_FILE_ENV,
    "GOOGLE_CLOUD_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "GOOGLE_CLOUD_QUOTA_PROJECT",
    "GCE_METADATA_HOST",
    "GCE_METADATA_ROOT",
    "GCE_METADATA_IP",
    "GOOGLE_API_USE_CLIENT_CERTIFICATE",
    "GOOGLE_API_USE_MTLS_ENDPOINT",
    "GOOGLE_API_CERTIFICATE_CONFIG",
    "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
    "BIGQUERY_EMULATOR_HOST",
    STATE_DIR_ENV,
    GITHUB_OUTPUT,
    STEP_SUMMARY_ENV,
    "GITHUB_ENV",
    "GITHUB_PATH",
)
CALLER_PREFIXES = ("PULUMI_", "NPQ_")  # Pulumi's settings, and the stand-in CLI's knobs


@pytest.fixture(autouse=True)
def caller_environment_cleared(monkeypatch, tmp_path_factory):
    """Every test starts with no credentials, endpoint or local state of the caller's.

    os.environ itself is cleared, in the process that runs the test (an xdist worker or pytest
    itself), so the CLI sees the same whether run_cli calls it in this process (its `env` laid
    over os.environ) or run_cli_process starts it in a process of its own (os.environ copied).
    gcloud's own login (its config directory) is pointed at an empty directory, and
    google-auth's probe of a GCE metadata server is off: on a cloud runner that server would
    hand the machine's credentials to any test that meant to have none.
    """
    for name in list(os.environ):
        if name in CALLER_VARIABLES or name.startswith(CALLER_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(_empty_dir(tmp_path_factory, "gcloud-config")))
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    # Not the checkout's .npq-events: a local emulator the developer started is not the tests'.
    monkeypatch.setenv(STATE_DIR_ENV, str(_empty_dir(tmp_path_factory, "npq-events-state")))


def _empty_dir(factory: pytest.TempPathFactory, name: str) -> Path:
    path = factory.getbasetemp() / name
    path.mkdir(exist_ok=True)
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--write-outputs",
        action="store_true",
        help="rewrite tests/data/outputs/ from what the CLI prints now (tests/test_cli_outputs.py)",
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """A real BigQuery REST implementation (bqemulator) on loopback, for the whole session."""
    from infra.bigquery import emulator as bqemu

    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    running = bqemu.start(bqemu.free_port(), project="ecf-bq", log_path=log)
    yield running
    bqemu.stop(running.pid)


@pytest.fixture
def bq_client(emulator):
    """The real google-cloud-bigquery client, anonymous, against the emulator."""
    from infra.bigquery.client import make_client

    return make_client("ecf-bq", emulator.endpoint, env={})


@pytest.fixture(autouse=True, scope="session")
def checkout_left_as_found():
    """A test that ran a command against the checkout instead of its own project copy (e.g.
    `review up` without --project-dir writes Pulumi.review-pr-<N>.yaml beside the stack files)
    fails the run here, instead of leaving files a later `git add -A` would commit."""
    before = _stack_files()
    yield
    added = sorted(set(_stack_files()) - set(before))
    assert added == [], f"tests wrote into the checkout: {added}"


def _stack_files() -> list[str]:
    return [path.name for path in ROOT.glob("Pulumi.*.yaml")]

"""Shared test helpers: the repository root, the real CLI as a subprocess, the Hypothesis
profile CI runs with."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent


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


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run `npq-events ARGS` exactly as a user would, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def isolated(declaration):
    """The same declaration in a dataset of its own, so tests never share emulator state."""
    dataset_id = f"{declaration.dataset.dataset_id}_{uuid.uuid4().hex[:8]}"
    return replace(
        declaration,
        dataset=replace(declaration.dataset, dataset_id=dataset_id),
        table=replace(declaration.table, dataset_id=dataset_id),
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

"""Shared fixtures: the CLI, and a real BigQuery REST implementation on loopback."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli


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

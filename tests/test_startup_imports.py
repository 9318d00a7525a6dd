"""What a `npq-events` process imports: nothing it does not use.

Each command runs in a process of its own, started as `python -m infra.cli` starts it, which
writes the modules it holds when it exits. Only the set is asserted, never a time
(bench/startup.py measures the times).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.bigquery.local import STATE_DIR_ENV
from tests.bq_stub import StubBigQuery
from tests.helpers import NO_CREDENTIALS, ROOT

# google-cloud-bigquery's optional accelerators: no command reads a DataFrame or Arrow.
NEVER = ("pyarrow", "numpy", "pandas", "google.cloud.bigquery_storage")
HEAVY = ("pulumi", "google.cloud.bigquery")
# `python -m infra.cli ARGS`, writing at exit every module it imported to the file argv[1].
_PROBE = """
import atexit, json, runpy, sys
out, sys.argv = sys.argv[1], ["npq-events", *sys.argv[2:]]
def dump():
    with open(out, "w") as handle:
        json.dump(sorted(name for name, module in sys.modules.items() if module), handle)
atexit.register(dump)
runpy.run_module("infra.cli", run_name="__main__", alter_sys=True)
"""


def imported(tmp: Path, *args: str, env: dict[str, str]) -> set[str]:
    out = tmp / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return set(json.loads(out.read_text()))


def loaded(modules: set[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in modules)


@pytest.fixture
def env(tmp_path):
    # A state directory of the test's own: `local down` must not stop a developer's emulator.
    return {**NO_CREDENTIALS, STATE_DIR_ENV: str(tmp_path / "state")}


@pytest.mark.parametrize("args", [("--help",), ("local", "status"), ("local", "down"), ("nope",)])
def test_help_and_local_status_and_down_import_neither_pulumi_nor_bigquery(args, env, tmp_path):
    modules = imported(tmp_path, *args, env=env)
    assert "infra.cli.main" in modules
    for package in (*HEAVY, *NEVER):
        assert not loaded(modules, package), (args, package)


def test_bigquery_commands_leave_out_arrow_numpy_pandas_and_the_storage_api(env, tmp_path):
    with StubBigQuery() as stub:
        for args in (
            ("verify", "--stack", "staging", "--api-endpoint", stub.endpoint),
            ("records", "--stack", "staging", "--api-endpoint", stub.endpoint),
        ):
            modules = imported(tmp_path, *args, env=env)
            assert loaded(modules, "google.cloud.bigquery"), args
            for package in NEVER:
                assert not loaded(modules, package), (args, package)


def test_plan_imports_pulumi_but_not_bigquery(env, tmp_path):
    modules = imported(tmp_path, "plan", "--stack", "staging", env=env)
    assert loaded(modules, "pulumi")
    for package in ("google.cloud.bigquery", *NEVER):
        assert not loaded(modules, package), package


def test_what_the_cli_leaves_out_is_installed_beside_it():
    """The emulator's extra installs them here, so the assertions above are not vacuous."""
    pytest.importorskip("bqemulator")
    for package in ("pyarrow", "numpy", "google.cloud.bigquery_storage"):
        assert importlib.util.find_spec(package) is not None, package

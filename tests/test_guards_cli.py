"""The guards a user relies on, through the CLI: a dropped column stops the schema lock,
sandbox keeps its history, and a stack that could not be checked outranks drift elsewhere.

Most tests call the CLI's entry point (`infra.cli.main.main`, what the `npq-events` script
runs) in this process, so a mutation tester sees them; one per guard also runs `npq-events`
in a fresh process, exactly as a developer would.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.cli.main import main as cli_main
from infra.model.declared import declare
from infra.model.events import ENTITY_TABLE_CHECK
from infra.model.stackfiles import settings_for
from infra.rules import schema_lock
from tests.bq_stub import StubBigQuery
from tests.helpers import ROOT, run_cli_process

LEGACY_COLUMN = {
    "name": "legacy_id",
    "type": "STRING",
    "mode": "NULLABLE",
    "description": "A column the code no longer declares.",
}


def npq_events(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli_main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


# -- the schema lock: a column the code drops is destructive -----------------------------------


@pytest.fixture
def lock_with_a_dropped_column(tmp_path: Path) -> Path:
    """A lock whose schema holds a top-level column that the code does not: as if the code
    had just removed it."""
    locked = [*json.loads(schema_lock.schema_text()), LEGACY_COLUMN]
    (tmp_path / schema_lock.SCHEMA_LOCK).write_text(json.dumps(locked, indent=2) + "\n")
    (tmp_path / schema_lock.SETTINGS_LOCK).write_text(schema_lock.settings_text())
    return tmp_path


def test_check_fails_on_a_dropped_column_naming_the_drop(capsys, lock_with_a_dropped_column):
    code, out, _err = npq_events(
        capsys, "schema", "check", "--lock-dir", str(lock_with_a_dropped_column)
    )
    assert code == 1, out
    first, summary = out.splitlines()
    assert first.startswith("drop_column schema: legacy_id (removed): ")
    assert "ALTER TABLE DROP COLUMN" in first and "losing that column's data" in first
    assert summary.startswith("schema check: 1 of 1 changes would destroy stored events")


def test_lock_refuses_a_dropped_column_and_leaves_the_lock(capsys, lock_with_a_dropped_column):
    lock_file = lock_with_a_dropped_column / schema_lock.SCHEMA_LOCK
    before = lock_file.read_text()
    code, out, _err = npq_events(
        capsys, "schema", "lock", "--lock-dir", str(lock_with_a_dropped_column)
    )
    assert code == 1, out
    assert out.startswith("drop_column schema: legacy_id (removed): ")
    assert out.splitlines()[-1].startswith("schema lock: refused: 1 change(s) above")
    assert lock_file.read_text() == before

    code, out, _err = npq_events(
        capsys,
        "schema",
        "lock",
        "--lock-dir",
        str(lock_with_a_dropped_column),
        "--accept-destructive",
    )
    assert code == 0, out
    assert "  accepted: schema: legacy_id" in out.splitlines()
    assert lock_file.read_text() == schema_lock.schema_text()


def test_removing_a_column_from_the_schema_module_fails_check_and_lock(tmp_path):
    """As a developer meets it: a top-level column deleted from infra/model/schema.py."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "infra", repo / "infra", ignore=shutil.ignore_patterns("__py*"))
    shutil.copytree(ROOT / "schema", repo / "schema")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        shutil.copy(stack_file, repo / stack_file.name)
    edit(
        repo / "infra" / "model" / "schema.py",
        '    Column(NAMESPACE, "STRING", "NULLABLE", "App namespace that sent the event."),\n',
        "",
    )
    lock_before = (repo / "schema" / schema_lock.SCHEMA_LOCK).read_text()

    check = run_cli_process("schema", "check", cwd=repo, env={"PYTHONPATH": str(repo)})
    assert check.returncode == 1, check.stdout + check.stderr
    assert check.stdout.startswith("drop_column schema: namespace (removed): ")

    lock = run_cli_process("schema", "lock", cwd=repo, env={"PYTHONPATH": str(repo)})
    assert lock.returncode == 1, lock.stdout + lock.stderr
    assert "schema lock: refused" in lock.stdout
    assert (repo / "schema" / schema_lock.SCHEMA_LOCK).read_text() == lock_before


# -- the environments whose data is history are never ephemeral --------------------------------


def stack_dir_with(tmp_path: Path, stack: str, old: str, new: str) -> Path:
    shutil.copy(ROOT / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    edit(tmp_path / f"Pulumi.{stack}.yaml", old, new)
    return tmp_path


@pytest.mark.parametrize("stack", ["production", "staging", "sandbox"])
def test_an_ephemeral_lifecycle_is_refused_for_a_stack_holding_history(capsys, tmp_path, stack):
    project = stack_dir_with(tmp_path, stack, "lifecycle: long-lived", "lifecycle: ephemeral")
    code, out, err = npq_events(capsys, "--project-dir", str(project), "plan", "--stack", stack)
    assert (code, out) == (2, "")
    assert err == (
        "npq-events: error: config npq-analytics:lifecycle = 'ephemeral': "
        f"{stack} holds history and must be long-lived\n"
    )


def test_sandbox_with_an_ephemeral_lifecycle_is_refused_by_the_cli(tmp_path):
    project = stack_dir_with(tmp_path, "sandbox", "lifecycle: long-lived", "lifecycle: ephemeral")
    done = run_cli_process("--project-dir", str(project), "plan", "--stack", "sandbox")
    assert done.returncode == 2
    assert "sandbox holds history and must be long-lived" in done.stderr


@pytest.mark.parametrize("stack", ["production", "staging", "sandbox"])
def test_a_stack_holding_history_grants_no_dataset_access(capsys, tmp_path, stack):
    grant = (
        "config:\n  npq-analytics:reviewIamRole: roles/bigquery.dataEditor\n"
        '  npq-analytics:reviewIamMembers: ["serviceAccount:app@ecf-bq.iam.gserviceaccount.com"]\n'
    )
    project = stack_dir_with(tmp_path, stack, "config:\n", grant)
    code, out, err = npq_events(capsys, "--project-dir", str(project), "plan", "--stack", stack)
    assert (code, out) == (2, "")
    assert err.startswith("npq-events: error: config npq-analytics:reviewIamRole = ")
    assert f"{stack}'s grants are managed outside this project" in err


def test_sandbox_without_a_lifecycle_is_protected(capsys, tmp_path):
    project = stack_dir_with(tmp_path, "sandbox", "  npq-analytics:lifecycle: long-lived\n", "")
    code, out, err = npq_events(
        capsys, "--project-dir", str(project), "plan", "--stack", "sandbox", "--format", "json"
    )
    assert code == 0, err
    by_type = {r["type"]: r for r in json.loads(out)["resources"]}
    dataset = by_type["gcp:bigquery/dataset:Dataset"]
    table = by_type["gcp:bigquery/table:Table"]
    assert dataset["options"]["protect"] is True and table["options"]["protect"] is True
    assert dataset["inputs"]["deleteContentsOnDestroy"] is False
    assert table["inputs"]["deletionProtection"] is True


# -- verify: a stack that could not be checked outranks drift in another ---------------------


@pytest.fixture
def stub():
    with StubBigQuery() as server:
        yield server


def streaming(stub: StubBigQuery, stack: str) -> None:
    """The stack's dataset and table as declared, with an event and an entity table check that
    have just arrived: within every committed stack's freshness limits."""
    declaration = declare(settings_for(stack))
    stub.put(declaration)
    now = datetime.now(UTC)
    stub.events(declaration, [(now, "web_request"), (now, ENTITY_TABLE_CHECK)])


@pytest.mark.parametrize("order", [("staging", "sandbox"), ("sandbox", "staging")])
def test_drift_in_one_stack_and_an_error_in_another_exits_2(capsys, tmp_path, stub, order):
    shutil.copy(ROOT / "Pulumi.staging.yaml", tmp_path / "Pulumi.staging.yaml")
    stack_dir_with(tmp_path, "sandbox", "timeTravelHours: 168", "timeTravelHours: 100")
    streaming(stub, "staging")
    stub.datasets[("ecf-bq", "npq_events_staging")]["maxTimeTravelHours"] = "48"

    argv = ["--project-dir", str(tmp_path), "verify", "--api-endpoint", stub.endpoint]
    for stack in order:
        argv += ["--stack", stack]
    code, out, err = npq_events(capsys, *argv, "--format", "json")
    assert code == 2, out + err
    status = {s["stack"]: s["status"] for s in json.loads(out)["stacks"]}
    assert status == {"staging": "drift", "sandbox": "error"}
    (line,) = err.splitlines()
    assert line.startswith("npq-events: error: stack sandbox: config npq-analytics:timeTravelHours")


def test_drift_alone_exits_1_and_a_match_0(capsys, tmp_path, stub):
    shutil.copy(ROOT / "Pulumi.staging.yaml", tmp_path / "Pulumi.staging.yaml")
    shutil.copy(ROOT / "Pulumi.sandbox.yaml", tmp_path / "Pulumi.sandbox.yaml")
    for stack in ("staging", "sandbox"):
        streaming(stub, stack)
    argv = ["--project-dir", str(tmp_path), "verify", "--api-endpoint", stub.endpoint, "--all"]
    assert npq_events(capsys, *argv)[0] == 0
    stub.datasets[("ecf-bq", "npq_events_sandbox")]["maxTimeTravelHours"] = "48"
    assert npq_events(capsys, *argv)[0] == 1

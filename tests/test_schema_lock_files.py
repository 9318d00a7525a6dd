"""The schema lock's files, through the CLI's entry point in this process: what `schema export`
prints and `schema lock` writes is, byte for byte, what the repository commits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from infra.cli.main import main as cli_main
from tests.helpers import ROOT

COMMITTED = ROOT / "schema"
TAG = "projects/ecf-bq/locations/europe-west2/taxonomies/123/policyTags/456"


def npq_events(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli_main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_prints_the_committed_lock(capsys):
    code, out, _err = npq_events(capsys, "schema", "export")
    assert code == 0
    assert out == (COMMITTED / "events.lock.json").read_text()


def test_export_for_a_stack_with_a_policy_tag_tags_only_the_hidden_values(capsys, tmp_path):
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        shutil.copy(stack_file, tmp_path / stack_file.name)
    staging = tmp_path / "Pulumi.staging.yaml"
    staging.write_text(staging.read_text() + f"  npq-analytics:hiddenPolicyTag: {TAG}\n")
    code, out, _err = npq_events(
        capsys, "--project-dir", str(tmp_path), "schema", "export", "--stack", "staging"
    )
    assert code == 0
    untagged = json.loads((COMMITTED / "events.lock.json").read_text())
    hidden = next(f for f in untagged if f["name"] == "hidden_DATA")
    hidden["fields"][1]["policyTags"] = {"names": [TAG]}
    assert json.loads(out) == untagged
    assert out.startswith("[\n  {\n")  # indented as the lock file is


def test_a_first_lock_in_a_new_directory_is_the_committed_one_then_up_to_date(capsys, tmp_path):
    lock_dir = tmp_path / "a" / "new" / "locks"
    code, out, _err = npq_events(capsys, "schema", "lock", "--lock-dir", str(lock_dir))
    assert code == 0
    written = [lock_dir / "events.lock.json", lock_dir / "events.settings.lock.json"]
    assert out == f"schema lock: wrote {written[0]}, {written[1]}; commit it\n"
    for path in written:
        assert path.read_bytes() == (COMMITTED / path.name).read_bytes()

    code, out, _err = npq_events(capsys, "schema", "lock", "--lock-dir", str(lock_dir))
    assert (code, out) == (0, f"schema lock: the lock in {lock_dir} is up to date\n")


def test_lock_rewrites_only_the_file_that_changed(capsys, tmp_path: Path):
    shutil.copytree(COMMITTED, tmp_path, dirs_exist_ok=True)
    settings = tmp_path / "events.settings.lock.json"
    settings.write_text(settings.read_text().replace('"event_type"', '"namespace"', 1))
    code, out, _err = npq_events(capsys, "schema", "lock", "--lock-dir", str(tmp_path))
    assert code == 0, out
    assert out.splitlines()[-1] == f"schema lock: wrote {settings}; commit it"
    assert settings.read_bytes() == (COMMITTED / settings.name).read_bytes()


def test_check_without_lock_files_names_the_missing_one(capsys, tmp_path):
    code, out, err = npq_events(capsys, "schema", "check", "--lock-dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (
        f"npq-events: error: {tmp_path / 'events.lock.json'}: no such file; run "
        "`npq-events schema lock`\n"
    )
    shutil.copy(COMMITTED / "events.lock.json", tmp_path / "events.lock.json")
    code, out, err = npq_events(capsys, "schema", "check", "--lock-dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (
        f"npq-events: error: {tmp_path / 'events.settings.lock.json'}: no such file; run "
        "`npq-events schema lock`\n"
    )


def test_an_unreadable_settings_lock_says_why(capsys, tmp_path):
    shutil.copy(COMMITTED / "events.lock.json", tmp_path / "events.lock.json")
    (tmp_path / "events.settings.lock.json").mkdir()
    code, _out, err = npq_events(capsys, "schema", "check", "--lock-dir", str(tmp_path))
    assert code == 2
    assert err.startswith(
        f"npq-events: error: {tmp_path / 'events.settings.lock.json'}: cannot be read ("
    )
    assert err.endswith(
        "); accepted: a JSON object of stack name to table settings in BigQuery's shape\n"
    )

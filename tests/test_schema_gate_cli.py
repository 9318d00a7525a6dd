"""The schema gate through the real CLI: `schema check`, `schema lock` and `schema diff`.

Changes to the schema module and the stack files are made in a copy of the repository (the
code, the stack files and the committed lock), so every command runs exactly as a developer
would run it in a clone, with no test-only switch in the product.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from infra.model import schema
from infra.model.schema_files import SchemaFileError, parse_schema_document
from infra.rules import schema_lock
from tests.helpers import ROOT, one_line_error, run_cli, run_cli_process

LOCK = ROOT / "schema" / "events.lock.json"
SETTINGS_LOCK = ROOT / "schema" / "events.settings.lock.json"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A copy of the repository's code, stack files, lock and project settings."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "infra", copy / "infra")
    shutil.copytree(ROOT / "schema", copy / "schema")
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    for stack_file in ROOT.glob("Pulumi*.yaml"):
        shutil.copy(stack_file, copy / stack_file.name)
    return copy


def cli_in(repo: Path, *args: str):
    return run_cli_process(*args, cwd=repo, env={"PYTHONPATH": str(repo)})


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


# --- the committed lock ---------------------------------------------------------------------


def test_the_committed_lock_is_the_exported_schema_and_matches_the_module():
    export = run_cli("schema", "export")
    assert export.returncode == 0
    assert LOCK.read_text() == export.stdout
    assert "policyTags" not in LOCK.read_text()
    check = run_cli("schema", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "the code matches the lock" in check.stdout


def test_the_settings_lock_records_every_committed_stack():
    locked = json.loads(SETTINGS_LOCK.read_text())
    stacks = {p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml")}
    assert set(locked) == stacks
    for stack, table in locked.items():
        assert table["tableReference"]["datasetId"] == f"npq_events_{stack}"
        assert table["timePartitioning"] == {"type": "DAY", "field": schema.PARTITION_FIELD}
        assert "schema" not in table


# --- done when: a rename fails the gate; a new NULLABLE column is stale until locked ----------


def test_renaming_event_type_fails_the_check_saying_every_event_would_be_lost(clone):
    module = clone / "infra" / "model" / "schema.py"
    # One spelling renames the column, its clustering and every reader.
    edit(module, 'EVENT_TYPE = "event_type"', 'EVENT_TYPE = "event_kind"')
    lock_before = (clone / "schema" / "events.lock.json").read_text()

    check = cli_in(clone, "schema", "check")
    assert check.returncode == 1, check.stdout + check.stderr
    removed = next(line for line in check.stdout.splitlines() if "event_type (removed)" in line)
    assert removed.startswith("replace")
    assert "pulumi up would replace the table" in removed
    assert "losing every stored event" in removed
    assert "add the new column and backfill it" in removed
    assert "would destroy stored events" in check.stdout.splitlines()[-1]

    refused = cli_in(clone, "schema", "lock")
    assert refused.returncode == 1
    assert refused.stdout.startswith("replace")
    summary = refused.stdout.splitlines()[-1]
    assert summary.startswith("schema lock: refused: ")
    assert "--accept-destructive" in summary
    assert (clone / "schema" / "events.lock.json").read_text() == lock_before

    accepted = cli_in(clone, "schema", "lock", "--accept-destructive")
    assert accepted.returncode == 0, accepted.stderr
    assert "accepted: schema: event_type" in accepted.stdout
    assert cli_in(clone, "schema", "check").returncode == 0


def test_a_schema_module_that_breaks_its_own_rules_is_one_line_not_a_traceback(clone):
    edit(
        clone / "infra" / "model" / "schema.py",
        '    Column(NAMESPACE, "STRING", "NULLABLE", "App namespace that sent the event."),\n',
        '    Column(NAMESPACE, "STRING", "NULLABLE", "App namespace that sent the event."),\n'
        '    Column("data", "STRING", "NULLABLE", "Same name as DATA to BigQuery."),\n',
    )
    check = cli_in(clone, "schema", "check")
    assert check.returncode == 2
    line = one_line_error(check.stderr)
    assert "the schema in infra/model/schema.py is not valid" in line
    assert "'data' repeats 'DATA'" in line


def test_a_new_nullable_column_is_stale_until_locked_then_passes(clone):
    edit(
        clone / "infra" / "model" / "schema.py",
        '    Column(NAMESPACE, "STRING", "NULLABLE", "App namespace that sent the event."),\n',
        '    Column(NAMESPACE, "STRING", "NULLABLE", "App namespace that sent the event."),\n'
        '    Column("app_version", "STRING", "NULLABLE", "Version of the app."),\n',
    )
    stale = cli_in(clone, "schema", "check")
    assert stale.returncode == 3, stale.stdout + stale.stderr
    assert stale.stdout.startswith("in_place    schema: app_version (added)")
    assert "run `npq-events schema lock`" in stale.stdout

    lock = cli_in(clone, "schema", "lock")
    assert lock.returncode == 0, lock.stderr
    assert "wrote" in lock.stdout and "events.lock.json" in lock.stdout
    locked = json.loads((clone / "schema" / "events.lock.json").read_text())
    assert locked[-1] == {
        "name": "app_version",
        "type": "STRING",
        "mode": "NULLABLE",
        "description": "Version of the app.",
    }
    again = cli_in(clone, "schema", "check")
    assert again.returncode == 0, again.stdout


def test_a_new_kms_key_in_a_stack_file_fails_the_check(clone):
    edit(clone / "Pulumi.staging.yaml", "cryptoKeys/ecf-key", "cryptoKeys/ecf-key-2")
    check = cli_in(clone, "schema", "check")
    assert check.returncode == 1, check.stdout + check.stderr
    (line,) = [line for line in check.stdout.splitlines() if line.startswith("replace")]
    assert "table staging: encryptionConfiguration.kmsKeyName (kms_key)" in line
    assert "copy job" in line


def test_a_new_stack_makes_the_lock_stale(tmp_path):
    for stack_file in ROOT.glob("Pulumi*.yaml"):
        shutil.copy(stack_file, tmp_path / stack_file.name)
    shutil.copy(tmp_path / "Pulumi.sandbox.yaml", tmp_path / "Pulumi.training.yaml")
    edit(tmp_path / "Pulumi.training.yaml", "environment: sandbox", "environment: training")
    result = schema_lock.check(ROOT / "schema", tmp_path)
    assert [(f.scope, f.change.change, f.change.effect) for f in result.findings] == [
        ("table training", "stack_added", "in_place")
    ]
    assert not result.destructive
    check = run_cli("--project-dir", str(tmp_path), "schema", "check")
    assert check.returncode == 3, check.stdout + check.stderr
    assert "table training: training (stack_added)" in check.stdout


# --- unreadable locks ---------------------------------------------------------------------------


def test_check_without_a_lock_says_how_to_make_one(tmp_path):
    result = run_cli("schema", "check", "--lock-dir", str(tmp_path))
    assert result.returncode == 2
    line = one_line_error(result.stderr)
    assert str(tmp_path / "events.lock.json") in line
    assert "npq-events schema lock" in line


def test_a_first_lock_is_written_where_asked(tmp_path):
    result = run_cli("schema", "lock", "--lock-dir", str(tmp_path / "locks"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "locks" / "events.lock.json").read_text() == LOCK.read_text()
    assert (tmp_path / "locks" / "events.settings.lock.json").read_text() == (
        SETTINGS_LOCK.read_text()
    )


UNREADABLE_LOCKS = [
    ("events.lock.json", "[{", "not JSON"),
    ("events.lock.json", '{"kind": "schema"}', "is not a schema"),
    ("events.lock.json", '[{"type": "STRING"}]', 'has no "name"'),
    ("events.settings.lock.json", "[]", "not a settings lock"),
    ("events.settings.lock.json", "{", "not JSON"),
    ("events.settings.lock.json", '{"a":' * 100_000, "nested too deeply"),
]


def broken_lock_dir(tmp_path: Path, name: str, content: str) -> Path:
    shutil.copy(LOCK, tmp_path / "events.lock.json")
    shutil.copy(SETTINGS_LOCK, tmp_path / "events.settings.lock.json")
    (tmp_path / name).write_text(content)
    return tmp_path


@pytest.mark.parametrize(("name", "content", "expected"), UNREADABLE_LOCKS)
def test_an_unreadable_lock_cannot_be_checked(tmp_path, name, content, expected):
    lock_dir = broken_lock_dir(tmp_path, name, content)
    with pytest.raises(SchemaFileError) as caught:
        schema_lock.check(lock_dir)
    assert str(caught.value).startswith(f"{lock_dir / name}: ")
    assert expected in str(caught.value)


def test_an_unreadable_lock_stops_check_and_lock_until_overwritten(tmp_path):
    lock_dir = broken_lock_dir(tmp_path, "events.lock.json", "[{")
    check = run_cli("schema", "check", "--lock-dir", str(lock_dir))
    assert check.returncode == 2
    line = one_line_error(check.stderr)
    assert f"{lock_dir / 'events.lock.json'}: not JSON" in line
    lock = run_cli("schema", "lock", "--lock-dir", str(lock_dir))
    assert lock.returncode == 2
    assert "restore it from git" in one_line_error(lock.stderr)
    assert (lock_dir / "events.lock.json").read_text() == "[{"
    forced = run_cli("schema", "lock", "--lock-dir", str(lock_dir), "--accept-destructive")
    assert forced.returncode == 0, forced.stderr
    assert (lock_dir / "events.lock.json").read_text() == LOCK.read_text()


def test_lock_will_not_rebuild_one_lock_file_alone(tmp_path):
    shutil.copy(LOCK, tmp_path / "events.lock.json")
    result = run_cli("schema", "lock", "--lock-dir", str(tmp_path))
    assert result.returncode == 2
    assert "events.settings.lock.json is missing" in one_line_error(result.stderr)


# --- schema diff ----------------------------------------------------------------------------


def dfe_template() -> list[dict]:
    """A table made from another DfE template: hidden_DATA last, KEY, no NULLABLE modes."""
    fields = schema.to_api()
    hidden = next(f for f in fields if f["name"] == "hidden_DATA")
    fields.remove(hidden)
    fields.append(hidden)
    hidden["fields"][0]["name"] = "KEY"

    def drop_nullable(fs):
        for field in fs:
            if field.get("mode") == "NULLABLE":
                del field["mode"]
            drop_nullable(field.get("fields", []))

    drop_nullable(fields)
    return fields


def as_table(fields: list[dict], kms_key: str = "projects/p/locations/l/keyRings/r/cryptoKeys/k"):
    return {
        "kind": "bigquery#table",
        "tableReference": {"projectId": "ecf-bq", "datasetId": "npq_events_x", "tableId": "events"},
        "schema": {"fields": fields},
        "timePartitioning": {"type": "DAY", "field": "occurred_at"},
        "clustering": {"fields": ["event_type"]},
        "encryptionConfiguration": {"kmsKeyName": kms_key + "/cryptoKeyVersions/1"},
    }


SHAPES = {
    "list": lambda fields: fields,
    "fields object": lambda fields: {"fields": fields},
    "table resource": as_table,
}


def write(path: Path, document) -> Path:
    path.write_text(json.dumps(document, indent=2))
    return path


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_reads_as_the_same_fields(shape):
    document = parse_schema_document(json.dumps(SHAPES[shape](dfe_template())), "x.json")
    assert document.fields == dfe_template()
    assert (document.table is not None) == (shape == "table resource")


@pytest.mark.parametrize(
    ("old_shape", "new_shape"),
    [("list", "fields object"), ("fields object", "table resource"), ("table resource", "list")],
)
def test_diff_reads_every_shape_and_flags_the_template_key(tmp_path, old_shape, new_shape):
    old = write(tmp_path / "live.json", SHAPES[old_shape](dfe_template()))
    new = write(tmp_path / "code.json", SHAPES[new_shape](schema.to_api()))
    result = run_cli("schema", "diff", str(old), str(new), "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"changes", "notes", "destructive"}
    assert report["destructive"] is True
    (change,) = report["changes"]
    assert change == {
        "path": "hidden_DATA.KEY",
        "change": "case_rename",
        "effect": "replace",
        "message": change["message"],
    }
    assert "spell it `KEY`" in change["message"]
    assert any("column order differs at the top level" in note for note in report["notes"])
    if (old_shape == "table resource") != (new_shape == "table resource"):
        assert any("only the schemas are compared" in note for note in report["notes"])


def test_diff_of_equal_schemas_in_different_shapes_is_clean(tmp_path):
    old = write(tmp_path / "old.json", {"fields": schema.to_api()})
    new = write(tmp_path / "new.json", schema.to_api())
    result = run_cli("schema", "diff", str(old), str(new), "--format", "json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"changes": [], "notes": [], "destructive": False}


def test_diff_of_safe_changes_exits_zero_and_lists_them(tmp_path):
    code = schema.to_api()
    old = write(tmp_path / "old.json", code)
    code.append({"name": "app_version", "type": "STRING"})
    next(f for f in code if f["name"] == "occurred_at")["mode"] = "NULLABLE"
    new = write(tmp_path / "new.json", code)
    result = run_cli("schema", "diff", str(old), str(new))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("in_place    occurred_at (mode)")
    assert lines[1].startswith("in_place    app_version (added)")
    assert lines[-1] == "schema diff: 2 changes, all in place"


def test_diff_of_two_tables_compares_their_settings(tmp_path):
    old = write(tmp_path / "old.json", as_table(schema.to_api()))
    new = write(tmp_path / "new.json", as_table(schema.to_api(), kms_key="projects/p/x"))
    report = json.loads(run_cli("schema", "diff", str(old), str(new), "--format", "json").stdout)
    assert [c["change"] for c in report["changes"]] == ["kms_key"]
    assert report["destructive"] is True


def test_diff_of_a_top_level_drop_says_drop_column(tmp_path):
    old = write(tmp_path / "old.json", schema.to_api())
    new = write(tmp_path / "new.json", [f for f in schema.to_api() if f["name"] != "namespace"])
    result = run_cli("schema", "diff", str(old), str(new))
    assert result.returncode == 1
    assert result.stdout.startswith("drop_column namespace (removed): ")
    assert "ALTER TABLE DROP COLUMN" in result.stdout


MALFORMED = [
    ("not json at all", "not JSON (Expecting value at line 1 column 1)"),
    ("", "not JSON"),
    ("42", "a number is not a schema"),
    ('"fields"', "a string is not a schema"),
    ('{"name": "x", "type": "STRING"}', "an object with keys name, type is not a schema"),
    ('{"schema": {}}', 'the table\'s "schema" has no "fields"'),
    ('{"fields": {"name": "x"}}', '"fields" at the top level must be a list of fields'),
    ('["x"]', "field #1 at the top level is a string, not an object"),
    ('[{"type": "STRING"}]', 'field #1 at the top level has no "name"'),
    ('[{"name": "x"}]', 'column `x` has no "type"'),
    ('[{"name": "x", "type": ""}]', 'column `x` has no "type"'),
    ('[{"name": "x", "type": "STRING", "mode": "OPTIONAL"}]', "has mode 'OPTIONAL'"),
    ('[{"name": "r", "type": "RECORD"}]', "is a RECORD without nested fields"),
    ('[{"name": "r", "type": "RECORD", "fields": [{"name": "k"}]}]', 'column `r.k` has no "type"'),
    ('[{"name": "a", "type": "STRING"}, {"name": "A", "type": "STRING"}]', "repeats `a`"),
    ('[{"name": "a", "type": "STRING", "policyTags": ["t"]}]', '"policyTags" that are not'),
    (
        '{"schema": {"fields": []}, "clustering": ["event_type"]}',
        'the table\'s "clustering" is a list, not an object',
    ),
]


@pytest.mark.parametrize(("content", "expected"), MALFORMED)
def test_malformed_schema_documents_are_one_line_errors(content, expected):
    with pytest.raises(SchemaFileError) as caught:
        parse_schema_document(content, "bad.json")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("bad.json: ")
    assert expected in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json at all", "not JSON"),
        ('{"kind": "bigquery#table"}', "is not a schema"),
        ('[{"type": "STRING"}]', 'has no "name"'),
        ('[{"name": "x", "mode": "NULLABLE"}]', 'has no "type"'),
        ("[" * 100_000, "nested too deeply"),
        (None, "no such file"),
    ],
)
def test_diff_rejects_malformed_files_in_one_line(tmp_path, content, expected):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    good = write(tmp_path / "good.json", schema.to_api())
    result = run_cli("schema", "diff", str(good), str(bad))
    assert result.returncode == 2, result.stdout
    line = one_line_error(result.stderr)
    assert line.startswith(f"npq-events: error: {bad}: ")
    assert expected in line
    assert "accepted: a JSON list of fields" in line
    assert result.stdout == ""


def test_schema_diff_of_two_tables_says_an_added_expiration_expires_them(tmp_path):
    """Path 3 through `schema diff` on `bq show --format=prettyjson` table resources."""
    from infra.model.declared import declare
    from infra.model.stackfiles import settings_for

    table = declare(settings_for("staging")).table.api_repr()
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(table))
    new.write_text(json.dumps({**table, "expirationTime": "1893456000000"}))
    result = run_cli("schema", "diff", str(old), str(new), "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["destructive"] is True
    assert [(c["path"], c["effect"]) for c in report["changes"]] == [("expirationTime", "expires")]

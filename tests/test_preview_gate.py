"""The preview gate on recorded `pulumi preview --json` documents (tests/data/previews/).

The Pulumi CLI cannot run here, so the previews stand in for it; tests/data/previews/README.md
says how they follow the CLI's output. The CLI tests run `npq-events preview-gate` as a user
or a workflow does; the library tests cover the variants the CLI prints around the document.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from infra.rules import preview_gate as gate
from tests.conftest import ROOT, run_cli

PREVIEWS = ROOT / "tests" / "data" / "previews"
TABLE_URN = (
    "urn:pulumi:production::npq-analytics::npq:analytics:EventsDataset"
    "$gcp:bigquery/table:Table::npq-events-table"
)


def load(name: str) -> dict:
    return json.loads((PREVIEWS / name).read_text())


def verdict_of(document: dict, adoption: bool = False) -> gate.Verdict:
    return gate.judge(gate.parse_preview(document), adoption=adoption)


# --- through the CLI, one recorded preview each ----------------------------------------------


def test_no_op_preview_passes():
    result = run_cli("preview-gate", str(PREVIEWS / "noop.json"))
    assert result.returncode == 0, result.stderr
    assert "stack production: pass" in result.stdout
    assert "6 same" in result.stdout


def test_in_place_update_of_the_table_passes_and_is_listed():
    result = run_cli("preview-gate", str(PREVIEWS / "update-clustering.json"))
    assert result.returncode == 0, result.stderr
    assert "update table ecf-bq.npq_events_staging.events (npq-events-table)" in result.stdout
    assert "clusterings" in result.stdout


def test_adoption_import_passes_in_both_modes():
    for extra in ((), ("--adoption",)):
        result = run_cli("preview-gate", *extra, str(PREVIEWS / "import-adoption.json"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "import table ecf-bq.npq_events_production.events" in result.stdout
        assert "import dataset ecf-bq.npq_events_production" in result.stdout


def test_replace_of_the_events_table_is_blocked_naming_it_and_why():
    result = run_cli("preview-gate", str(PREVIEWS / "replace-table.json"))
    assert result.returncode == 1
    assert "BLOCKED replace table ecf-bq.npq_events_production.events (npq-events-table)" in (
        result.stdout
    )
    assert "because of: schema" in result.stdout
    assert "every stored event is lost" in result.stdout
    # One finding for the table, however many steps carry its replacement.
    assert result.stdout.count("BLOCKED replace") == 1


def test_delete_of_the_dataset_is_blocked_as_json():
    result = run_cli("preview-gate", "--format", "json", str(PREVIEWS / "delete-dataset.json"))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["stack"] == "sandbox"
    assert report["status"] == "blocked"
    blocked = {(c["kind"], c["action"], c["resource"]) for c in report["blocked"]}
    assert blocked == {
        ("dataset", "delete", "ecf-bq.npq_events_sandbox"),
        ("table", "delete", "ecf-bq.npq_events_sandbox.events"),
    }
    dataset = next(c for c in report["blocked"] if c["kind"] == "dataset")
    assert dataset["name"] == "npq-events-dataset"
    assert dataset["ops"] == ["delete"]
    assert "every table and event" in dataset["message"]


def test_delete_of_the_kms_grant_is_blocked_with_its_reach():
    result = run_cli("preview-gate", str(PREVIEWS / "delete-kms-grant.json"))
    assert result.returncode == 1
    assert "BLOCKED delete KMS grant roles/cloudkms.cryptoKeyEncrypterDecrypter on" in (
        result.stdout
    )
    assert "(npq-events-kms-grant)" in result.stdout
    assert "in every environment" in result.stdout
    # Pulumi's own refusal is shown too.
    assert "marked for protection" in result.stdout


# --- through the CLI, input it cannot judge --------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Previewing update (production):\n  error: no stack\n", "not JSON"),
        ("[1, 2]", "expected a JSON object, found a list"),
        ('{"stack": "production", "resources": []}', "not a preview digest"),
        ('{"steps": [{"urn": "urn:pulumi:a::b::c::d"}]}', "steps[0].op: expected a string"),
        ("[" * 100_000, "nested too deeply"),
        ('{"steps": ' + "[" * 100_000, "nested too deeply"),
    ],
)
def test_unreadable_input_is_one_line_and_exit_2(tmp_path, content, expected):
    path = tmp_path / "preview.json"
    path.write_text(content)
    result = run_cli("preview-gate", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"npq-events: error: {path}: ")
    assert expected in lines[0]


def test_missing_file_is_exit_2(tmp_path):
    result = run_cli("preview-gate", str(tmp_path / "absent.json"))
    assert result.returncode == 2
    assert "cannot read it" in result.stderr
    assert "Traceback" not in result.stderr


def test_reads_stdin_and_tolerates_what_the_cli_prints_around_the_json():
    # `pulumi preview --json` prints policy pack installation before the document (pulumi
    # issue 19775) and "Update plan written to ..." after it with --save-plan (issue 11453).
    text = (
        "Installing policy pack npq-guards 0.1.0...\nFinished installing policy pack\n\n"
        + (PREVIEWS / "replace-table.json").read_text()
        + "Update plan written to plan.json\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "preview-gate", "-"],
        input=text,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "BLOCKED replace table" in result.stdout


def test_failed_preview_without_destruction_is_exit_2(tmp_path):
    document = load("update-clustering.json")
    document["diagnostics"] = [
        {
            "urn": document["steps"][1]["urn"],
            "message": "error: googleapi: Error 403: Access Denied\n",
            "severity": "error",
        }
    ]
    path = tmp_path / "failed.json"
    path.write_text(json.dumps(document))
    result = run_cli("preview-gate", str(path))
    assert result.returncode == 2
    assert "INCOMPLETE" in result.stdout
    assert "Access Denied" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- the library: shapes and rules -----------------------------------------------------------


def test_replace_without_replacement_steps_is_blocked():
    # Without --show-replacement-steps the preview lists only the logical `replace` step.
    document = load("replace-table.json")
    document["steps"] = [s for s in document["steps"] if s["op"] in ("same", "replace")]
    verdict = verdict_of(document)
    assert verdict.status == "blocked"
    (change,) = verdict.blocked
    assert (change.action, change.name, change.ops) == ("replace", "npq-events-table", ("replace",))
    assert change.reasons == ("schema",)


def test_replace_reasons_fall_back_to_the_detailed_diff():
    document = load("replace-table.json")
    for step in document["steps"]:
        step.pop("replaceReasons", None)
    (change,) = verdict_of(document).blocked
    assert change.reasons == ("schema",)


def test_every_destructive_op_on_a_table_is_blocked():
    for op in ("delete", "replace", "create-replacement", "delete-replaced", "import-replacement"):
        document = load("update-clustering.json")
        document["steps"][1]["op"] = op
        verdict = verdict_of(document)
        assert [c.kind for c in verdict.blocked] == ["table"], op


def test_an_unknown_op_on_a_guarded_resource_is_blocked():
    document = load("update-clustering.json")
    document["steps"][1]["op"] = "obliterate"
    (change,) = verdict_of(document).blocked
    assert change.action == "unknown"
    assert "obliterate" in change.message


def test_other_resources_are_not_guarded():
    document = load("delete-dataset.json")
    verdict = verdict_of(document)
    assert {c.kind for c in verdict.changes} == {"table", "dataset"}


def test_removing_protection_is_blocked():
    document = load("noop.json")
    table = next(s for s in document["steps"] if s["urn"] == TABLE_URN)
    table["newState"].pop("protect")
    (change,) = verdict_of(document).blocked
    assert change.action == "unprotect"
    assert change.reasons == ("protect true -> false",)


def test_removing_the_tables_deletion_protection_is_blocked():
    document = load("update-clustering.json")
    document["steps"][1]["newState"]["inputs"]["deletionProtection"] = False
    (change,) = verdict_of(document).blocked
    assert change.action == "unprotect"
    assert change.reasons == ("deletionProtection true -> false",)


def test_a_summary_that_counts_unlisted_changes_cannot_be_vouched_for():
    document = load("noop.json")
    document["changeSummary"] = {"delete": 1, "same": 5}
    verdict = verdict_of(document)
    assert verdict.status == "incomplete"
    assert "changeSummary counts 1 delete but the preview lists 0" in verdict.incomplete[0]


def test_hidden_same_steps_are_not_missing():
    document = load("update-clustering.json")
    assert document["changeSummary"]["same"] > 1
    assert verdict_of(document).status == "pass"


def test_adoption_mode_blocks_updates_and_creates_of_custom_resources():
    verdict = verdict_of(load("update-clustering.json"), adoption=True)
    (change,) = verdict.blocked
    assert change.action == "update"
    assert "only imports" in change.message

    document = load("import-adoption.json")
    table = next(s for s in document["steps"] if s["urn"] == TABLE_URN)
    table["op"] = "create"
    (change,) = verdict_of(document, adoption=True).blocked
    assert (change.kind, change.action) == ("table", "create")


def test_adoption_mode_blocks_an_import_pulumi_warns_about():
    document = load("import-adoption.json")
    document["diagnostics"] = [
        {
            "urn": TABLE_URN,
            "message": "warning: inputs to import do not match the existing resource; "
            "importing this resource will fail\n",
            "severity": "warning",
        }
    ]
    assert verdict_of(document).status == "pass"
    (change,) = verdict_of(document, adoption=True).blocked
    assert change.action == "import"
    assert "inputs to import do not match" in change.message


def test_parsing_keeps_the_preview_as_the_cli_wrote_it():
    document = load("replace-table.json")
    preview = gate.parse_preview(copy.deepcopy(document))
    assert preview.stack == "production"
    assert [s.op for s in preview.steps] == [s["op"] for s in document["steps"]]
    replace = preview.steps[2]
    assert replace.type == gate.TABLE_TYPE
    assert replace.detailed_diff == (("schema", "update-replace"),)
    assert dict(preview.change_summary) == {"replace": 1, "same": 5}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.__setitem__("steps", {}), "steps: expected a list"),
        (lambda d: d["steps"][0].__setitem__("urn", "stack"), "is not a Pulumi URN"),
        (lambda d: d["steps"][1].__setitem__("newState", []), "expected a resource state"),
        (lambda d: d["steps"][1].__setitem__("replaceReasons", [1]), "list of property names"),
        (lambda d: d.__setitem__("changeSummary", {"same": "6"}), "operation counts"),
        (
            lambda d: d.__setitem__("diagnostics", [{"message": "x", "severity": "fatal"}]),
            "'fatal' is not one of",
        ),
    ],
)
def test_wrong_shapes_are_named(mutate, expected):
    document = load("update-clustering.json")
    mutate(document)
    with pytest.raises(gate.PreviewError) as caught:
        gate.parse_preview(document)
    assert expected in str(caught.value)


# --- an in-place update that loses a column ----------------------------------------------------


def _update_dropping_a_live_column() -> dict:
    """update-clustering.json after `pulumi refresh` took in a column added to the live table by
    hand: the provider diffs the code's schema against that state and, as the code lacks the
    column, updates the table in place with ALTER TABLE DROP COLUMN."""
    document = load("update-clustering.json")
    step = document["steps"][1]
    outputs = step["oldState"]["outputs"]
    live = json.loads(outputs["schema"])
    live.append({"name": "app_version", "type": "STRING", "mode": "NULLABLE"})
    outputs["schema"] = json.dumps(live)
    step["diffReasons"] = ["clusterings", "schema"]
    step["detailedDiff"]["schema"] = {"kind": "update", "inputDiff": False}
    return document


def test_an_update_that_drops_a_live_column_is_blocked(tmp_path):
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(_update_dropping_a_live_column()))
    result = run_cli("preview-gate", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BLOCKED drop_column table ecf-bq.npq_events_staging.events" in result.stdout
    assert "`app_version` is missing from the new schema" in result.stdout
    assert "ALTER TABLE DROP COLUMN" in result.stdout


def test_an_update_that_only_adds_a_column_passes():
    document = load("update-clustering.json")
    step = document["steps"][1]
    code = json.loads(step["newState"]["inputs"]["schema"])
    code.append({"name": "app_version", "type": "STRING", "mode": "NULLABLE"})
    step["newState"]["inputs"]["schema"] = json.dumps(code)
    verdict = verdict_of(document)
    assert verdict.status == "pass"
    assert [c.action for c in verdict.changes] == ["update"]


def test_an_unknown_schema_is_not_read_as_a_loss():
    document = _update_dropping_a_live_column()
    # A value the engine cannot know before apply is shown as its unknown placeholder.
    document["steps"][1]["newState"]["inputs"]["schema"] = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert verdict_of(document).status == "pass"

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
from infra.rules.effects import Effect
from infra.rules.schema_changes import Change
from tests.helpers import ROOT, run_cli

PREVIEWS = ROOT / "tests" / "data" / "previews"
TABLE_URN = (
    "urn:pulumi:production::npq-analytics::npq:analytics:EventsDataset"
    "$gcp:bigquery/table:Table::npq-events-table"
)


def load(name: str) -> dict:
    return json.loads((PREVIEWS / name).read_text())


def verdict_of(document: dict, adoption: bool = False) -> gate.Verdict:
    return gate.judge(gate.parse_preview(document), adoption=adoption)


def step_of(document: dict, op: str, kind: str = "table:Table") -> dict:
    """The first step with this op on a resource whose type ends with `kind`."""
    return next(
        s for s in document["steps"] if s["op"] == op and s["urn"].split("::")[2].endswith(kind)
    )


def unrefreshed(document: dict) -> dict:
    """The same preview without its refresh steps: what `pulumi preview` prints without
    --refresh (and without Pulumi.yaml's refresh: always)."""
    return {**document, "steps": [s for s in document["steps"] if s["op"] != "refresh"]}


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
    assert dataset["ops"] == ["refresh", "delete"]
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
        step_of(document, "update")["op"] = op
        verdict = verdict_of(document)
        assert [c.kind for c in verdict.blocked] == ["table"], op


def test_an_unknown_op_on_a_guarded_resource_is_blocked():
    document = load("update-clustering.json")
    step_of(document, "update")["op"] = "obliterate"
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
    step_of(document, "update")["newState"]["inputs"]["deletionProtection"] = False
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
    replace = next(s for s in preview.steps if s.op == "replace")
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
    step = step_of(document, "update")
    outputs = step["oldState"]["outputs"]
    live = json.loads(outputs["schema"])
    live.append({"name": "app_version", "type": "STRING", "mode": "NULLABLE"})
    outputs["schema"] = json.dumps(live)
    step_of(document, "refresh")["newState"]["outputs"]["schema"] = outputs["schema"]
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
    step = step_of(document, "update")
    code = json.loads(step["newState"]["inputs"]["schema"])
    code.append({"name": "app_version", "type": "STRING", "mode": "NULLABLE"})
    step["newState"]["inputs"]["schema"] = json.dumps(code)
    verdict = verdict_of(document)
    assert verdict.status == "pass"
    assert [c.action for c in verdict.changes] == ["update"]


def test_a_schema_it_cannot_read_is_not_vouched_for():
    for unreadable in (
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # a value the engine cannot know before apply
        {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"},  # a secret
        [{"name": "occurred_at"}],  # a list, not the provider's JSON text
    ):
        document = _update_dropping_a_live_column()
        step_of(document, "update")["newState"]["inputs"]["schema"] = unreadable
        verdict = verdict_of(document)
        assert verdict.status == "incomplete", unreadable
        assert "the code's schema cannot be read" in verdict.incomplete[0]


# --- judged against what is live (tests/data/previews/README.md, "Refreshed previews") --------


def test_a_live_only_column_dropped_by_a_description_update_is_blocked():
    """Path 1: the refresh takes in a column added by hand; the provider's update would drop
    it (ALTER TABLE DROP COLUMN), though the code only changes the table's description."""
    result = run_cli("preview-gate", str(PREVIEWS / "update-description-live-column.json"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BLOCKED drop_column table ecf-bq.npq_events_staging.events" in result.stdout
    assert "`app_version` is missing from the new schema" in result.stdout


@pytest.mark.parametrize("name", ["update-description-live-column.json", "update-clustering.json"])
def test_an_unrefreshed_preview_of_an_existing_stack_is_not_vouched_for(tmp_path, name):
    """Paths 1 and 2: without a refresh the state hides a live-only column and holds stale
    values an update would write back; the gate refuses to judge it (exit 2)."""
    document = unrefreshed(load(name))
    update = step_of(document, "update")
    # The state as the last `up` left it: without the column added by hand since.
    update["oldState"]["outputs"]["schema"] = update["oldState"]["inputs"]["schema"]
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(document))
    result = run_cli("preview-gate", str(path))
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith(f"npq-events: error: {path}: the preview did not complete")
    assert "the preview was not refreshed" in result.stdout


def test_a_new_stack_needs_no_refresh():
    assert verdict_of(load("import-adoption.json")).status == "pass"


def _with_live(document: dict, kind: str, **outputs: object) -> dict:
    step_of(document, "refresh", kind)["newState"]["outputs"].update(outputs)
    return document


def test_a_table_that_expires_is_blocked_even_when_nothing_changes():
    """Path 3: BigQuery deletes a table at its expirationTime; the program leaves the
    (computed) value as it is, so an up keeps it."""
    document = _with_live(load("noop.json"), "table:Table", expirationTime=1893456000000)
    (change,) = verdict_of(document).blocked
    assert (change.kind, change.action, change.effect) == ("table", "expires", "expires")
    assert "expires at 2030-01-01 00:00Z" in change.message


def test_setting_an_expiration_or_a_shorter_partition_expiry_is_blocked():
    document = load("update-clustering.json")
    update = step_of(document, "update")
    update["newState"]["inputs"]["expirationTime"] = 1893456000000
    (change,) = verdict_of(document).blocked
    assert change.action == "expires" and change.reasons == ("expirationTime",)

    document = load("update-clustering.json")
    _with_live(document, "table:Table", timePartitioning={"expirationMs": "31536000000"})
    partitioning = step_of(document, "update")["newState"]["inputs"]["timePartitioning"]
    partitioning["expirationMs"] = "2592000000"
    (change,) = verdict_of(document).blocked
    assert change.reasons == ("timePartitioning.expirationMs",)
    assert "older than 30 days" in change.message


def test_a_dataset_whose_tables_expire_is_blocked():
    document = _with_live(load("noop.json"), "dataset:Dataset", defaultTableExpirationMs=604800000)
    (change,) = verdict_of(document).blocked
    assert (change.kind, change.effect) == ("dataset", "expires")
    assert "7 days" in change.message


TABLE_EXPIRES_2030 = (
    "the table expires at 2030-01-01 00:00Z ({source}): BigQuery then deletes it with every "
    "stored event; clear it (`bq update --expiration 0`) before any up."
)
SHORTER_PARTITIONS = (
    "partition expiration changes ({old} -> 30 days): BigQuery then deletes every partition "
    "older than 30 days, with the events in it; leave the expiration as it is (Dataform sets it "
    "on the table)."
)


def test_a_table_expiry_names_its_date_and_where_it_comes_from():
    """The program's expirationTime wins over the live one (an up would write it); the live
    one alone still expires the table; the message says which, to the letter."""
    document = _with_live(
        load("update-clustering.json"), "table:Table", expirationTime="1924992000000"
    )
    step_of(document, "update")["newState"]["inputs"]["expirationTime"] = "1893456000000"
    (change,) = verdict_of(document).blocked
    assert (change.kind, change.action, change.effect, change.reasons, change.blocked) == (
        "table",
        "expires",
        "expires",
        ("expirationTime",),
        True,
    )
    assert change.message == "the table would lose stored events: " + TABLE_EXPIRES_2030.format(
        source="the program sets it"
    )

    document = _with_live(load("noop.json"), "table:Table", expirationTime="1893456000000")
    (change,) = verdict_of(document).blocked
    assert change.message == "the table would lose stored events: " + TABLE_EXPIRES_2030.format(
        source="the live table has it"
    )


def test_every_loss_of_a_table_is_in_one_message():
    document = _with_live(
        load("update-clustering.json"),
        "table:Table",
        expirationTime="1893456000000",
        timePartitioning=[{"expirationMs": "31536000000", "field": "occurred_at", "type": "DAY"}],
    )
    update = step_of(document, "update")
    update["newState"]["inputs"]["timePartitioning"]["expirationMs"] = "2592000000"
    (change,) = verdict_of(document).blocked
    assert change.reasons == ("expirationTime", "timePartitioning.expirationMs")
    assert change.message == (
        "the table would lose stored events: "
        + TABLE_EXPIRES_2030.format(source="the live table has it")
        + " "
        + SHORTER_PARTITIONS.format(old="365 days")
    )


@pytest.mark.parametrize(
    ("live", "old"),
    [
        ({"expirationMs": "31536000000"}, "365 days"),
        # pulumi-gcp's state holds a one-item block as a list of one object
        ([{"expirationMs": "31536000000", "field": "occurred_at"}], "365 days"),
        ({"expirationMs": "0"}, "none"),
        (None, "none"),
    ],
)
def test_a_shorter_partition_expiry_names_the_live_one(live, old):
    document = _with_live(load("update-clustering.json"), "table:Table", timePartitioning=live)
    step_of(document, "update")["newState"]["inputs"]["timePartitioning"]["expirationMs"] = (
        "2592000000"
    )
    (change,) = verdict_of(document).blocked
    assert change.message == "the table would lose stored events: " + SHORTER_PARTITIONS.format(
        old=old
    )


@pytest.mark.parametrize("new", ["63072000000", "31536000000"])
def test_a_longer_or_unchanged_partition_expiry_passes(new):
    document = _with_live(
        load("update-clustering.json"),
        "table:Table",
        timePartitioning={"expirationMs": "31536000000"},
    )
    step_of(document, "update")["newState"]["inputs"]["timePartitioning"]["expirationMs"] = new
    verdict = verdict_of(document)
    assert verdict.status == "pass"
    assert [(c.action, c.blocked) for c in verdict.changes] == [("update", False)]


def test_expiry_changes_record_the_live_and_the_coded_value():
    """The expiry rules return the change with both sides, as every classifier's Change does."""
    (change,) = gate._table_expiries(
        {"expirationTime": "1924992000000"}, {"expirationTime": 1893456000000}
    )
    assert change == Change(
        "expirationTime",
        "table_expiration",
        Effect.EXPIRES,
        TABLE_EXPIRES_2030.format(source="the program sets it"),
        1924992000000,
        1893456000000,
    )
    (table, partitions) = gate._dataset_expiries(
        {"defaultTableExpirationMs": "604800000"}, {"defaultPartitionExpirationMs": "5184000000"}
    )
    assert table == Change(
        "defaultTableExpirationMs",
        "dataset_expiration",
        Effect.EXPIRES,
        "the dataset's defaultTableExpirationMs is 7 days: every table created in the dataset is "
        "deleted 7 days after it is made, with its events; clear it before any up.",
        604800000,
        None,
    )
    assert partitions == Change(
        "defaultPartitionExpirationMs",
        "dataset_expiration",
        Effect.EXPIRES,
        "the dataset's defaultPartitionExpirationMs is 60 days: every partition of a table "
        "created in it is deleted 60 days after it is made, with its events; clear it before any "
        "up.",
        None,
        5184000000,
    )


def test_a_dataset_expiry_the_program_sets_is_blocked_with_both_messages():
    document = load("noop.json")
    same = step_of(document, "same", "dataset:Dataset")
    same["op"] = "update"
    same["newState"]["inputs"]["defaultTableExpirationMs"] = "1209600000"
    same["newState"]["inputs"]["defaultPartitionExpirationMs"] = 86400000
    (change,) = verdict_of(document).blocked
    assert (change.kind, change.action, change.reasons) == (
        "dataset",
        "expires",
        ("defaultTableExpirationMs", "defaultPartitionExpirationMs"),
    )
    assert change.message == (
        "the dataset would lose stored events: the dataset's defaultTableExpirationMs is 14 days: "
        "every table created in the dataset is deleted 14 days after it is made, with its events; "
        "clear it before any up. the dataset's defaultPartitionExpirationMs is 1 days: every "
        "partition of a table created in it is deleted 1 days after it is made, with its events; "
        "clear it before any up."
    )


def test_without_a_refresh_the_states_outputs_are_the_live_values():
    """An unrefreshed preview is not vouched for, yet what it shows is still judged: the
    update's old outputs (the state) hold the table's expiration."""
    document = unrefreshed(load("update-clustering.json"))
    step_of(document, "update")["oldState"]["outputs"]["expirationTime"] = "1893456000000"
    verdict = verdict_of(document)
    (change,) = verdict.blocked
    assert change.message == "the table would lose stored events: " + TABLE_EXPIRES_2030.format(
        source="the live table has it"
    )
    assert verdict.incomplete[0].startswith("the preview was not refreshed")


def test_a_state_without_a_schema_output_is_diffed_from_its_old_inputs():
    """The old side is the provider's outputs, else the inputs last applied."""
    document = unrefreshed(load("update-clustering.json"))
    update = step_of(document, "update")
    del update["oldState"]["outputs"]["schema"]
    old = json.loads(update["oldState"]["inputs"]["schema"])
    old.append({"name": "app_version", "type": "STRING", "mode": "NULLABLE"})
    update["oldState"]["inputs"]["schema"] = json.dumps(old)
    (change,) = verdict_of(document).blocked
    assert (change.action, change.reasons) == ("drop_column", ("app_version",))


@pytest.mark.parametrize(
    ("kind", "key", "new"),
    [
        ("table:Table", "deletionProtection", False),
        ("dataset:Dataset", "deleteContentsOnDestroy", True),
    ],
)
def test_lowering_a_guard_whose_old_input_was_the_providers_default_is_blocked(kind, key, new):
    """Path 4: an absent input is the provider's default (deletionProtection true,
    deleteContentsOnDestroy false); setting the other value removes the guard."""
    document = load("noop.json")
    same = step_of(document, "same", kind)
    same["oldState"]["inputs"].pop(key, None)
    same["op"] = "update"
    same["newState"]["inputs"][key] = new
    (change,) = verdict_of(document).blocked
    assert change.action == "unprotect"
    assert change.reasons == (f"{key} {json.dumps(not new)} -> {json.dumps(new)}",)


def test_a_guard_it_cannot_read_is_not_vouched_for():
    document = load("update-clustering.json")
    step_of(document, "update")["newState"]["inputs"]["deletionProtection"] = "[secret]"
    verdict = verdict_of(document)
    # Not provably still true: blocked as a removed guard, and named as unreadable.
    assert verdict.status == "blocked"
    assert [c.action for c in verdict.blocked] == ["unprotect"]
    assert 'deletionProtection in the new inputs is "[secret]"' in verdict.incomplete[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            (PREVIEWS / "noop.json").read_text() + (PREVIEWS / "replace-table.json").read_text(),
            "2 JSON documents",
        ),
    ],
)
def test_more_than_one_document_is_refused(tmp_path, content, expected):
    path = tmp_path / "two.json"
    path.write_text(content)
    result = run_cli("preview-gate", str(path))
    assert result.returncode == 2
    assert expected in result.stderr


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"steps": []}, "no changeSummary"),
        ({**json.loads((PREVIEWS / "noop.json").read_text()), "maybeCorrupt": True}, "corrupt"),
    ],
)
def test_a_preview_that_did_not_finish_is_exit_2(tmp_path, document, expected):
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(document))
    result = run_cli("preview-gate", str(path))
    assert result.returncode == 2, result.stdout
    assert expected in result.stderr


def test_an_adoption_that_declares_labels_is_import_plus_update_and_blocked():
    """Path 6: pulumi-gcp imports a dataset's labels as none (they land in effectiveLabels), so
    declared labels make CLI 3.174+ import and then update the dataset: not imports only."""
    result = run_cli("preview-gate", str(PREVIEWS / "import-adoption-labels.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    adopted = run_cli("preview-gate", "--adoption", str(PREVIEWS / "import-adoption-labels.json"))
    assert adopted.returncode == 1
    assert "BLOCKED update dataset ecf-bq.npq_events_production" in adopted.stdout
    assert "because of: labels, pulumiLabels" in adopted.stdout


def test_every_preview_and_up_of_the_project_refreshes_first():
    """Paths 1 and 2: Pulumi.yaml's `options: refresh: always` makes `pulumi preview`, `up` and
    `destroy` refresh (pulumi/pulumi pkg/cmd/pulumi/operations/io.go, getRefreshOption, since
    CLI 3.14.0), so the gate sees refreshed previews and no up writes back stale state."""
    import yaml

    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["options"] == {"refresh": "always"}


# --- every judgment to the letter: what the text and JSON reports carry -----------------------

KMS_KEY = "projects/ecf-bq/locations/europe-west2/keyRings/ecf-key-ring/cryptoKeys/ecf-key"
KMS_MEMBER = "serviceAccount:bq-123456789012@bigquery-encryption.iam.gserviceaccount.com"
KMS_BINDING = f"roles/cloudkms.cryptoKeyEncrypterDecrypter on {KMS_KEY} for {KMS_MEMBER}"
KMS_REACH = (
    "every dataset and table encrypted with the key, in every environment and not only this "
    "stack's, can no longer be read or written (queries fail, the app's events are rejected)"
)
BUCKET_URN = "urn:pulumi:production::npq-analytics::gcp:storage/bucket:Bucket::exports"


def judged(change: gate.Judgment) -> tuple:
    """A judgment as the JSON report shows it, bar the URN and type the fixture fixes."""
    report = change.as_json()
    return tuple(report[k] for k in ("kind", "resource", "action", "effect", "ops", "reasons"))


def test_operations_the_gate_does_not_know_are_refused_by_name():
    document = load("update-clustering.json")
    update = step_of(document, "update")
    update["op"] = "obliterate"
    document["steps"].append({**copy.deepcopy(update), "op": "vaporise"})
    (change,) = verdict_of(document).blocked
    assert judged(change) == (
        "table",
        "ecf-bq.npq_events_staging.events",
        "unknown",
        "replace",
        ["refresh", "obliterate", "vaporise"],
        ["clusterings"],
    )
    assert change.message == (
        "operation obliterate, vaporise on the table is not one the gate knows: it cannot tell "
        "whether the data survives, so it refuses"
    )


def test_removing_every_guard_of_the_table_is_one_change_naming_each():
    document = load("update-clustering.json")
    new = step_of(document, "update")["newState"]
    new["protect"] = False
    new["inputs"]["deletionProtection"] = False
    (change,) = verdict_of(document).blocked
    assert judged(change) == (
        "table",
        "ecf-bq.npq_events_staging.events",
        "unprotect",
        "none",
        ["refresh", "update"],
        ["protect true -> false", "deletionProtection true -> false"],
    )
    assert change.message == (
        "removes the table's protection against deletion (protect true -> false, "
        "deletionProtection true -> false); the next change could then destroy it. "
        "Decommissioning is done by hand, not through the pipeline (README, Pipelines)"
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (True, None),  # an absent input is the provider's default, true
        (False, False),  # already unguarded: this update removes nothing
    ],
)
def test_a_guard_this_update_does_not_remove_passes(old, new):
    document = load("update-clustering.json")
    update = step_of(document, "update")
    update["oldState"]["inputs"]["deletionProtection"] = old
    if new is None:
        del update["newState"]["inputs"]["deletionProtection"]
    else:
        update["newState"]["inputs"]["deletionProtection"] = new
    verdict = verdict_of(document)
    assert verdict.status == "pass"
    assert [c.action for c in verdict.changes] == ["update"]


def test_creating_an_unguarded_table_is_a_create_not_an_unprotect():
    document = load("import-adoption.json")
    table = next(s for s in document["steps"] if s["urn"] == TABLE_URN)
    table["op"] = "create"
    table["newState"]["inputs"]["deletionProtection"] = False
    changes = {c.kind: c for c in verdict_of(document).changes}
    assert judged(changes["table"]) == (
        "table",
        "ecf-bq.npq_events_production.events",
        "create",
        "create",
        ["create"],
        [],
    )
    assert (changes["table"].blocked, changes["table"].message) == (False, "created")


def test_an_update_that_keeps_the_data_names_every_property():
    document = load("update-clustering.json")
    step_of(document, "update")["diffReasons"] = ["clusterings", "description"]
    (change,) = verdict_of(document).changes
    assert judged(change) == (
        "table",
        "ecf-bq.npq_events_staging.events",
        "update",
        "in_place",
        ["refresh", "update"],
        ["clusterings", "description"],
    )
    assert (change.blocked, change.message) == (
        False,
        "updated in place, its data kept (clusterings, description)",
    )


def test_a_read_of_a_guarded_resource_passes_under_its_own_name():
    document = load("update-clustering.json")
    step_of(document, "update")["op"] = "read"
    document["changeSummary"] = {"read": 1, "same": 4}
    verdict = verdict_of(document)
    assert verdict.status == "pass"
    (change,) = verdict.changes
    assert (change.action, change.effect, change.blocked, change.message) == (
        "read",
        "none",
        False,
        "read (clusterings)",
    )


def test_replacing_the_kms_grant_says_the_binding_goes_with_it():
    document = load("delete-kms-grant.json")
    step_of(document, "delete", "CryptoKeyIAMMember")["op"] = "replace"
    (change,) = verdict_of(document).blocked
    assert judged(change) == (
        "KMS grant",
        KMS_BINDING,
        "replace",
        "replace",
        ["refresh", "replace"],
        [],
    )
    assert change.message == (
        "a replace deletes the old member, and with it the binding through which BigQuery's "
        f"encryption service account uses the key: {KMS_REACH}"
    )


def test_moving_the_table_names_both_places():
    """A replace that moves the table to another dataset shows where it was and where it goes,
    from the logical step (the refresh before it only knows the old place)."""
    document = load("replace-table.json")
    for step in document["steps"]:
        if step["op"] in ("replace", "create-replacement"):
            step["newState"]["inputs"]["datasetId"] = "npq_events_archive"
    (change,) = verdict_of(document).blocked
    assert change.resource == (
        "ecf-bq.npq_events_production.events -> ecf-bq.npq_events_archive.events"
    )


def _step(op: str, old: dict | None = None, new: dict | None = None, urn: str = TABLE_URN):
    state = lambda props: None if props is None else {"custom": True, **props}  # noqa: E731
    return gate.Step(op, urn, state(old), state(new))


@pytest.mark.parametrize(
    ("ops", "main"),
    [
        (("refresh", "delete-replaced", "replace", "create-replacement"), 2),
        (("refresh", "delete-replaced", "import-replacement"), 2),
        (("refresh", "delete"), 1),
        (("refresh", "import"), 1),
        (("import", "update"), 1),
        (("refresh", "create"), 1),
        # the precedence, whatever the order listed
        (("create", "delete"), 1),
        (("create", "import"), 1),
        (("read", "create"), 1),
        (("refresh", "read"), 1),
        (("refresh", "discard"), 1),
        (("refresh", "same"), 0),
    ],
)
def test_the_logical_step_describes_the_change(ops, main):
    steps = [gate.Step(op, TABLE_URN, {}, {}) for op in ops]
    assert gate._main_step(steps) is steps[main]


def test_a_step_built_with_a_wrong_urn_says_so():
    with pytest.raises(ValueError, match=r"^'stack' is not a Pulumi URN$"):
        _ = gate.Step("same", "stack", None, None).type


@pytest.mark.parametrize(
    ("type_", "old", "new", "expected"),
    [
        # the state keeps ids in its outputs when the inputs leave them out
        (
            gate.TABLE_TYPE,
            {"inputs": {}, "outputs": {"project": "p", "datasetId": "d", "tableId": "t"}},
            None,
            "p.d.t",
        ),
        (
            gate.TABLE_TYPE,
            {"inputs": {}, "outputs": {"project": "p", "datasetId": "d", "tableId": "t"}},
            {"inputs": {}, "outputs": {"project": "p", "datasetId": "e", "tableId": "t"}},
            "p.d.t -> p.e.t",
        ),
        (gate.TABLE_TYPE, {"inputs": {"datasetId": "d", "tableId": "t"}}, None, "d.t"),
        (gate.TABLE_TYPE, {"inputs": {"project": "p", "tableId": "t"}}, None, ""),
        (gate.TABLE_TYPE, {"inputs": {"project": "p", "datasetId": "d"}}, None, ""),
        (gate.DATASET_TYPE, {"inputs": {"datasetId": "d"}}, None, "d"),
        (gate.DATASET_TYPE, {"inputs": {"project": "p", "tableId": "t"}}, None, ""),
        (
            gate.KMS_GRANT_TYPE,
            {"inputs": {"cryptoKeyId": "k", "role": "r", "member": "m"}},
            None,
            "r on k for m",
        ),
    ],
)
def test_the_resource_is_named_from_inputs_and_outputs(type_, old, new, expected):
    urn = f"urn:pulumi:production::npq-analytics::{type_}::x"
    assert gate.describe(_step("delete" if new is None else "replace", old, new, urn)) == expected


def test_replace_reasons_come_from_replacing_diffs_before_other_diffs():
    document = load("replace-table.json")
    for step in document["steps"]:
        step.pop("replaceReasons", None)
        if step.get("detailedDiff"):
            step["diffReasons"] = ["description", "schema"]
            step["detailedDiff"]["description"] = {"kind": "update", "inputDiff": False}
    (change,) = verdict_of(document).blocked
    assert change.reasons == ("schema",)


# --- adoption: anything but imports, to the letter ---------------------------------------------


def _with_bucket(document: dict, *ops: str) -> dict:
    """A custom resource the gate does not guard, with these steps."""
    state = {"custom": True, "type": "gcp:storage/bucket:Bucket", "inputs": {"name": "exports"}}
    for op in ops:
        document["steps"].append(
            {"op": op, "urn": BUCKET_URN, "oldState": state, "newState": state}
        )
    return document


@pytest.mark.parametrize(
    ("ops", "action", "effect", "extra"),
    [
        (("create",), "create", "create", "create"),
        (("refresh", "update"), "update", "in_place", "update"),
        (("refresh", "delete"), "delete", "none", "delete"),
        (
            ("refresh", "delete-replaced", "replace", "create-replacement"),
            "replace",
            "none",
            "delete-replaced, replace, create-replacement",
        ),
    ],
)
def test_adoption_names_every_other_operation_on_an_unguarded_resource(ops, action, effect, extra):
    document = _with_bucket(load("import-adoption.json"), *ops)
    (change,) = verdict_of(document, adoption=True).blocked
    assert judged(change) == (
        "gcp:storage/bucket:Bucket",
        "",
        action,
        effect,
        list(ops),
        [],
    )
    assert change.message == (
        f"{extra} of the gcp:storage/bucket:Bucket during adoption: the adoption preview must "
        "show only imports (fix the code or the live resource first)"
    )


@pytest.mark.parametrize("severity", ["warning", "error"])
def test_adoption_blocks_an_import_pulumi_warns_or_errs_about(severity):
    document = _with_bucket(load("import-adoption.json"), "import")
    document["diagnostics"] = [
        {"urn": BUCKET_URN, "message": "error: bucket\n  not found\n", "severity": severity},
        {"urn": BUCKET_URN, "message": "info only", "severity": "info"},
    ]
    (change,) = verdict_of(document, adoption=True).blocked
    assert judged(change) == ("gcp:storage/bucket:Bucket", "", "import", "none", ["import"], [])
    assert change.message == (
        "the import of the gcp:storage/bucket:Bucket will fail or is suspect: error: bucket not "
        "found (run `npq-events verify --adopt` and make code and live agree)"
    )


# --- input that is not a preview, named to the letter ------------------------------------------


def _set(path: tuple, value: object):
    """A change to the document: `value` at `path`, or the key removed when value is ..."""

    def mutate(document: dict) -> None:
        *parents, last = path
        target = document
        for key in parents:
            target = target[key]
        if value is ...:
            del target[last]
        else:
            target[last] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set(("steps",), {}), "steps: expected a list, found an object"),
        (_set(("steps", 0), 5), "steps[0]: expected an object, found a number"),
        (_set(("steps", 0, "op"), 5), "steps[0].op: expected a string, found a number"),
        (_set(("steps", 0, "op"), True), "steps[0].op: expected a string, found a boolean"),
        (_set(("steps", 0, "urn"), ...), "steps[0].urn: expected a string, found null"),
        (
            _set(("steps", 6, "detailedDiff"), ["schema"]),
            "steps[6].detailedDiff: expected an object of {kind, inputDiff}",
        ),
        (
            _set(("steps", 6, "detailedDiff"), {"schema": "update"}),
            "steps[6].detailedDiff: expected an object of {kind, inputDiff}",
        ),
        (
            _set(("steps", 6, "diffReasons"), [1]),
            "steps[6].diffReasons: expected a list of property names",
        ),
        (
            _set(("steps", 6, "replaceReasons"), [1]),
            "steps[6].replaceReasons: expected a list of property names",
        ),
        (
            _set(("steps", 6, "diffReasons"), "schema"),
            "steps[6].diffReasons: expected a list, found a string",
        ),
        (_set(("diagnostics",), {}), "diagnostics: expected a list, found an object"),
        (_set(("diagnostics",), ["x"]), "diagnostics[0]: expected an object, found a string"),
        (
            _set(("diagnostics",), [{"message": "x"}]),
            "diagnostics[0].severity: expected a string, found null",
        ),
        (
            _set(("diagnostics",), [{"message": "x", "severity": "fatal"}]),
            "diagnostics[0].severity: 'fatal' is not one of debug, error, info, infoerr, warning",
        ),
        (
            _set(("diagnostics",), [{"message": 5, "severity": "warning"}]),
            "diagnostics[0].message: expected a string, found a number",
        ),
        (
            _set(("diagnostics",), [{"urn": 5, "severity": "warning"}]),
            "diagnostics[0].urn: expected a string, found a number",
        ),
        (
            _set(("changeSummary",), {"same": "6"}),
            "changeSummary: expected an object of operation counts",
        ),
        (_set(("maybeCorrupt",), "yes"), "maybeCorrupt: expected true or false"),
    ],
)
def test_every_wrong_shape_is_named_to_the_letter(mutate, expected):
    document = load("update-clustering.json")
    mutate(document)
    with pytest.raises(gate.PreviewError) as caught:
        gate.parse_preview(document)
    assert str(caught.value) == expected


def test_a_diagnostic_needs_only_its_severity_and_json_shows_warnings_and_errors():
    document = load("update-clustering.json")
    document["diagnostics"] = [
        {"severity": "warning"},
        {"severity": "error", "message": "", "urn": TABLE_URN},
        {"severity": "info", "message": "Refreshing"},
    ]
    report = verdict_of(document).as_json()
    assert report["diagnostics"] == [
        {"severity": "warning", "urn": None, "message": ""},
        {"severity": "error", "urn": TABLE_URN, "message": ""},
    ]


def test_a_summary_alone_is_a_preview():
    preview = gate.parse_preview({"changeSummary": {"same": 6}})
    assert (preview.steps, preview.change_summary) == ((), (("same", 6),))


NOOP_TEXT = (PREVIEWS / "noop.json").read_text()


@pytest.mark.parametrize(
    "text",
    [
        # a line starting with "{" that is not JSON, before the document
        "{policy pack npq-guards: installing}\n" + NOOP_TEXT,
        "Installing policy pack npq-guards 0.1.0...\n" + NOOP_TEXT + "Update plan written\n",
    ],
)
def test_the_document_is_found_among_other_lines(text):
    assert verdict_of_text(text).status == "pass"


def verdict_of_text(text: str) -> gate.Verdict:
    return gate.judge(gate.read_preview(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            # the first document has an object that starts a line of its own
            '{"maybeCorrupt": false,\n"changeSummary":\n{"same": 6}}\n' + NOOP_TEXT,
            "2 JSON documents, expected the output of one `pulumi preview --json`: the gate would "
            "judge only one of them",
        ),
        (
            'Installing policy pack...\n{"steps": ' + "[" * 100_000,
            "nested too deeply to be a preview (expected the output of `pulumi preview --json`)",
        ),
    ],
)
def test_what_the_gate_cannot_read_among_other_lines_is_refused(text, expected):
    with pytest.raises(gate.PreviewError) as caught:
        gate.read_preview(text)
    assert str(caught.value) == expected


# --- what the gate cannot vouch for, to the letter ---------------------------------------------


def _summary_of_two_updates(document: dict) -> dict:
    document["changeSummary"] = {"same": 4, "update": 2}
    return document


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"steps": []},
            "the preview has no changeSummary, which a finished `pulumi preview --json` always "
            "prints: it did not finish, or is not whole",
        ),
        (
            {**load("noop.json"), "maybeCorrupt": True},
            "Pulumi reports that the stack's state may be corrupt (maybeCorrupt)",
        ),
        (
            unrefreshed(load("noop.json")),
            "the preview was not refreshed: it compares the code with Pulumi's state, not with the "
            "live tables (a column added by hand, a stale setting); run `pulumi preview "
            "--refresh`, or keep `options: refresh: always` in Pulumi.yaml",
        ),
        (
            _summary_of_two_updates(load("update-clustering.json")),
            "changeSummary counts 2 update but the preview lists 1: it cannot tell which "
            "resources change",
        ),
    ],
)
def test_why_a_preview_cannot_be_vouched_for_is_said_whole(document, expected):
    verdict = verdict_of(document)
    assert verdict.incomplete == (expected,)


def test_a_step_without_the_state_it_needs_is_named_and_the_rest_still_read():
    document = load("replace-table.json")
    step_of(document, "replace")["newState"] = None
    step_of(document, "create-replacement")["newState"]["inputs"]["deletionProtection"] = "[x]"
    assert verdict_of(document).incomplete == (
        "the replace of table ecf-bq.npq_events_production.events carries no old or new state: "
        "it cannot be judged",
        "the create-replacement of table ecf-bq.npq_events_production.events: "
        'deletionProtection in the new inputs is "[x]", not true or false (a secret?), so the '
        "gate cannot tell whether it still guards it",
    )

    document = load("update-clustering.json")
    step_of(document, "update")["oldState"] = None
    assert verdict_of(document).incomplete == (
        "the update of table ecf-bq.npq_events_staging.events carries no old or new state: it "
        "cannot be judged",
    )


def test_a_state_schema_it_cannot_read_is_named():
    document = load("update-clustering.json")
    step_of(document, "update")["oldState"]["outputs"]["schema"] = "04da6b54-80e4-46f7"
    assert verdict_of(document).incomplete == (
        "the update of table ecf-bq.npq_events_staging.events: the state's schema cannot be read "
        "(a secret, a value unknown until apply, or not a list of fields), so the gate cannot "
        "tell which columns the provider would drop",
    )


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '[{"type": "STRING"}]',
        '[{"name": "DATA", "fields": [{"type": "STRING"}]}]',
        '[{"name": "DATA", "fields": {"name": "key"}}]',
    ],
)
def test_a_code_schema_that_is_json_but_not_fields_cannot_be_read(text):
    document = _update_dropping_a_live_column()
    step_of(document, "update")["newState"]["inputs"]["schema"] = text
    assert verdict_of(document).incomplete == (
        "the update of table ecf-bq.npq_events_staging.events: the code's schema cannot be read "
        "(a secret, a value unknown until apply, or not a list of fields), so the gate cannot "
        "tell which columns the provider would drop",
    )


def test_guards_it_cannot_read_are_named_for_every_resource():
    document = load("noop.json")
    step_of(document, "same", "dataset:Dataset")["newState"]["inputs"][
        "deleteContentsOnDestroy"
    ] = "[secret]"
    step_of(document, "same", "table:Table")["newState"]["inputs"]["deletionProtection"] = (
        "[secret]"
    )
    assert verdict_of(document).incomplete == (
        "the same of dataset ecf-bq.npq_events_production: deleteContentsOnDestroy in the new "
        'inputs is "[secret]", not true or false (a secret?), so the gate cannot tell whether it '
        "still guards it",
        "the same of table ecf-bq.npq_events_production.events: deletionProtection in the new "
        'inputs is "[secret]", not true or false (a secret?), so the gate cannot tell whether it '
        "still guards it",
    )


def test_judging_is_the_plain_gate_unless_adoption_is_asked_for():
    preview = gate.parse_preview(load("update-clustering.json"))
    assert gate.judge(preview).status == "pass"
    assert gate.judge(preview, adoption=True).status == "blocked"

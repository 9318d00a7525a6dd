"""The adoption sequence of docs/adoption.md, step by step through the CLI.

Path 6 of the data-safety table: pulumi-gcp imports a dataset's labels as none, so a program
that declares them turns the import into import + update (CLI 3.174 and later), which the
adoption gate refuses. The program declares no dataset labels while `adopt` is set; the up
after the adoption sets them in place, judged by the usual gate.
"""

from __future__ import annotations

import json

import yaml

from tests.helpers import ROOT, run_cli

PREVIEWS = ROOT / "tests" / "data" / "previews"
DATASET = "gcp:bigquery/dataset:Dataset"
TABLE = "gcp:bigquery/table:Table"


def stack_dir(tmp_path, adopt: bool):
    document = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    if adopt:
        document["config"]["npq-analytics:adopt"] = True
    (tmp_path / "Pulumi.production.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def planned(tmp_path, adopt: bool) -> dict[str, dict]:
    result = run_cli(
        "--project-dir", str(stack_dir(tmp_path, adopt)), "plan", "--stack", "production",
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return {r["type"]: r for r in json.loads(result.stdout)["resources"]}


def imported_inputs(preview: str) -> dict[str, dict]:
    document = json.loads((PREVIEWS / preview).read_text())
    return {
        s["newState"]["type"]: {
            k: v for k, v in s["newState"]["inputs"].items() if k != "__defaults"
        }
        for s in document["steps"]
        if s["op"] == "import"
    }


def test_step_1_the_adopting_program_declares_no_dataset_labels_and_imports_both(tmp_path):
    resources = planned(tmp_path, adopt=True)
    dataset, table = resources[DATASET], resources[TABLE]
    assert "labels" not in dataset["inputs"]
    assert dataset["options"]["import"] == "projects/ecf-bq/datasets/npq_events_production"
    assert table["options"]["import"].endswith("/datasets/npq_events_production/tables/events")
    # The recorded adoption preview carries exactly these inputs.
    recorded = imported_inputs("import-adoption.json")
    assert recorded[DATASET] == dataset["inputs"]
    assert recorded[TABLE] == table["inputs"]


def test_step_2_the_first_adoption_preview_passes_with_imports_only():
    result = run_cli("preview-gate", "--adoption", str(PREVIEWS / "import-adoption.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "import dataset ecf-bq.npq_events_production" in result.stdout
    assert "import table ecf-bq.npq_events_production.events" in result.stdout
    # Declaring the labels at once would not pass: import, then update of the labels.
    declared = run_cli("preview-gate", "--adoption", str(PREVIEWS / "import-adoption-labels.json"))
    assert declared.returncode == 1


def test_step_3_without_adopt_the_labels_are_declared_for_the_next_up(tmp_path):
    resources = planned(tmp_path, adopt=False)
    assert resources[DATASET]["inputs"]["labels"] == {
        "environment": "production",
        "managed-by": "pulumi",
        "service": "npq-registration",
    }
    assert resources[DATASET]["options"]["import"] is None

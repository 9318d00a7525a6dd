"""The declaration against the live staging dataset and table, written by hand from the
domain's facts (tests/data/live, see its README), not from this project's code.

The plan, a table provisioned in the emulator and `npq-events verify` are each compared with
that reference, so a value the code declares wrongly shows up here as a difference.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from google.cloud import bigquery

from infra.bigquery.provision import create_declared
from infra.cli.main import main as cli_main
from infra.model import schema
from infra.model.declared import declare
from infra.model.events import ENTITY_TABLE_CHECK
from infra.model.stackfiles import settings_for
from infra.program.offline_plan import plan_stack
from tests.bq_stub import StubBigQuery
from tests.helpers import ROOT, isolated
from tests.plans import one

LIVE = ROOT / "tests" / "data" / "live"
DATASET_TYPE = "gcp:bigquery/dataset:Dataset"
TABLE_TYPE = "gcp:bigquery/table:Table"


@pytest.fixture(scope="module")
def live_dataset() -> dict:
    return json.loads((LIVE / "npq_events_staging.json").read_text())


@pytest.fixture(scope="module")
def live_table() -> dict:
    return json.loads((LIVE / "npq_events_staging.events.json").read_text())


def shape(fields: list[dict]) -> list[tuple]:
    """Name, type, mode and nested fields of each column, in order; descriptions left out."""
    return [
        (f["name"], f["type"], f.get("mode", "NULLABLE"), tuple(shape(f.get("fields", []))))
        for f in fields
    ]


def key_without_version(name: str) -> str:
    return name.split("/cryptoKeyVersions/")[0]


# -- the offline plan --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan():
    return plan_stack("staging")


def test_the_planned_table_is_the_live_table(plan, live_table):
    inputs = one(plan, TABLE_TYPE).inputs
    reference = live_table["tableReference"]
    assert (inputs["project"], inputs["datasetId"], inputs["tableId"]) == (
        reference["projectId"],
        reference["datasetId"],
        reference["tableId"],
    )
    assert shape(json.loads(inputs["schema"])) == shape(live_table["schema"]["fields"])
    assert inputs["timePartitioning"] == live_table["timePartitioning"]
    assert inputs["clusterings"] == live_table["clustering"]["fields"]
    assert inputs["requirePartitionFilter"] is live_table.get("requirePartitionFilter", False)
    assert inputs["encryptionConfiguration"] == {
        "kmsKeyName": key_without_version(live_table["encryptionConfiguration"]["kmsKeyName"])
    }


def test_the_planned_dataset_is_the_live_dataset(plan, live_dataset):
    inputs = one(plan, DATASET_TYPE).inputs
    reference = live_dataset["datasetReference"]
    assert (inputs["project"], inputs["datasetId"]) == (
        reference["projectId"],
        reference["datasetId"],
    )
    assert inputs["location"] == live_dataset["location"]
    assert inputs["maxTimeTravelHours"] == live_dataset["maxTimeTravelHours"]
    assert (
        inputs["defaultEncryptionConfiguration"] == live_dataset["defaultEncryptionConfiguration"]
    )
    # Every label the code sets is live with that value; pulumi-gcp's own label is extra.
    assert inputs["labels"].items() <= live_dataset["labels"].items()
    assert set(live_dataset["labels"]) - set(inputs["labels"]) == {"goog-pulumi-provisioned"}


# -- the table provisioned in the emulator ---------------------------------------------------


def test_a_provisioned_table_reads_back_as_the_live_table(bq_client, live_table, live_dataset):
    declaration = isolated(declare(settings_for("staging")))
    create_declared(bq_client, declaration)

    table = bq_client.get_table(declaration.table.ref, timeout=10).to_api_repr()
    assert shape(table["schema"]["fields"]) == shape(live_table["schema"]["fields"])
    assert table["timePartitioning"] == live_table["timePartitioning"]
    assert table["clustering"] == live_table["clustering"]
    assert bool(table.get("requirePartitionFilter")) is bool(
        live_table.get("requirePartitionFilter")
    )
    dataset = bq_client.get_dataset(declaration.dataset.ref, timeout=10)
    assert dataset.location == live_dataset["location"]
    assert dict(dataset.labels).items() <= live_dataset["labels"].items()


# -- verify against the reference --------------------------------------------------------------


def verify_against(
    capsys, endpoint: str, *argv: str, emulator_flag: bool = False
) -> tuple[int, dict]:
    """`npq-events [ARGV] verify --stack staging --api-endpoint ENDPOINT [--emulator]
    --format json`."""
    extra = ["--emulator", "--format", "json"] if emulator_flag else ["--format", "json"]
    code = cli_main([*argv, "verify", "--stack", "staging", "--api-endpoint", endpoint, *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    (stack,) = json.loads(captured.out)["stacks"]
    return code, stack


def is_description(path: str) -> bool:
    return path.endswith(".description") or path in ("dataset.description", "table.description")


def test_verify_on_the_live_reference_is_a_match(capsys, live_dataset, live_table):
    declaration = declare(settings_for("staging"))
    with StubBigQuery() as stub:
        stub.put(declaration, dataset=live_dataset, table=copy.deepcopy(live_table))
        # Events that have just arrived, as the app streams them (staging sets maxStaleness).
        now = datetime.now(UTC)
        stub.events(declaration, [(now, "web_request"), (now, ENTITY_TABLE_CHECK)])
        code, stack = verify_against(capsys, stub.endpoint)
    assert code == 0, stack
    assert (stack["status"], stack["effect"], stack["error"]) == ("match", "none", None)
    assert stack["freshness"]["status"] == "fresh"
    # Only the wording the reference leaves out: the dataset's, the table's and every column's.
    paths = [f["path"] for f in stack["findings"]]
    assert {f["level"] for f in stack["findings"]} == {"note"}
    assert all(is_description(path) for path in paths), paths
    assert len(paths) == 2 + 18 + 3 * 2


CREATABLE_DATASET = ("datasetReference", "location", "labels", "defaultEncryptionConfiguration")
CREATABLE_TABLE = (
    "tableReference",
    "schema",
    "timePartitioning",
    "clustering",
    "encryptionConfiguration",
)


def test_verify_on_the_live_reference_loaded_into_the_emulator_is_a_match(
    capsys, tmp_path: Path, emulator, bq_client, live_dataset, live_table
):
    dataset_id = f"npq_events_staging_{uuid.uuid4().hex[:8]}"
    stack_file = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    stack_file["config"]["npq-analytics:datasetId"] = dataset_id
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(stack_file))

    dataset = {key: copy.deepcopy(live_dataset[key]) for key in CREATABLE_DATASET}
    dataset["datasetReference"]["datasetId"] = dataset_id
    table = {key: copy.deepcopy(live_table[key]) for key in CREATABLE_TABLE}
    table["tableReference"]["datasetId"] = dataset_id
    bq_client.create_dataset(bigquery.Dataset.from_api_repr(dataset), timeout=10)
    created = bq_client.create_table(bigquery.Table.from_api_repr(table), timeout=10)
    # An event that has just arrived, as the app streams them (staging sets maxStaleness).
    event = {schema.OCCURRED_AT: datetime.now(UTC).isoformat(), schema.EVENT_TYPE: "web_request"}
    assert bq_client.insert_rows_json(created, [event], timeout=10) == []

    code, stack = verify_against(
        capsys, emulator.endpoint, "--project-dir", str(tmp_path), emulator_flag=True
    )
    assert code == 0, [f for f in stack["findings"] if f["level"] == "drift"]
    assert (stack["status"], stack["effect"]) == ("match", "none")
    assert stack["freshness"]["status"] == "fresh"
    notes = [f["path"] for f in stack["findings"] if not is_description(f["path"])]
    # The emulator keeps no CMEK: the two keys are notes there, nothing else.
    assert notes == [
        "dataset.defaultEncryptionConfiguration.kmsKeyName",
        "table.encryptionConfiguration.kmsKeyName",
    ]
    assert {f["level"] for f in stack["findings"]} == {"note"}

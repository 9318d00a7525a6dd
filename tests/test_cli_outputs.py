"""What `npq-events` prints, to the letter, for the verdicts users and pipelines read.

Each case runs the CLI's entry point (`infra.cli.main.main`, what the `npq-events` script
runs) in this process and compares its exit status, stdout and stderr with a file in
tests/data/outputs/, each read line by line when it was written. A changed verdict, effect,
path or message shows as a diff. After an intended change, rewrite the files and read the diff:

    .venv/bin/python -m pytest tests/test_cli_outputs.py --write-outputs
    git diff tests/data/outputs/
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.cli import verify as verify_command
from infra.cli.main import main as cli_main
from infra.model.declared import declare
from infra.model.events import ENTITY_TABLE_CHECK
from infra.model.settings import ConfigError, load_settings
from infra.model.stackfiles import settings_for
from infra.rules import schema_lock
from tests.bq_stub import StubBigQuery
from tests.helpers import ROOT

OUTPUTS = ROOT / "tests" / "data" / "outputs"
PREVIEWS = ROOT / "tests" / "data" / "previews"
LIVE = ROOT / "tests" / "data" / "live"
LIVE_TABLE = LIVE / "npq_events_staging.events.json"
LIVE_DATASET = LIVE / "npq_events_staging.json"
LOCK = ROOT / "schema" / schema_lock.SCHEMA_LOCK
# The time verify reads freshness at, so ages and partition starts print the same every day.
NOW = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


def live(path: Path) -> dict:
    return json.loads(path.read_text())


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


# -- the cases: each returns the argv, given a scratch directory and a stub BigQuery ---------

Case = Callable[[Path, StubBigQuery], list[str]]


def preview(name: str, *extra: str) -> Case:
    return lambda _tmp, _stub: ["preview-gate", *extra, str(PREVIEWS / name)]


def preview_text(text: str, *extra: str) -> Case:
    """`preview-gate` on a file holding `text`."""

    def case(tmp: Path, _stub: StubBigQuery) -> list[str]:
        path = tmp / "preview.json"
        path.write_text(text)
        return ["preview-gate", *extra, str(path)]

    return case


def import_warned(tmp: Path, _stub: StubBigQuery) -> list[str]:
    """The adoption preview with Pulumi's warning that the table's import would fail."""
    document = json.loads((PREVIEWS / "import-adoption.json").read_text())
    table = next(s for s in document["steps"] if s["urn"].endswith("::npq-events-table"))
    document["diagnostics"] = [
        {
            "urn": table["urn"],
            "message": "inputs to import do not match the existing resource; importing this\n"
            "resource will fail",
            "severity": "warning",
        }
    ]
    path = write_json(tmp / "preview.json", document)
    return ["preview-gate", "--adoption", str(path)]


NOOP = (PREVIEWS / "noop.json").read_text()


def changed_schema(tmp: Path, _stub: StubBigQuery) -> list[str]:
    """Every kind of schema change at once, from the lock (OLD) to NEW."""
    new = json.loads(LOCK.read_text())
    by_name = {field["name"]: field for field in new}
    by_name["DATA"]["name"] = "data"  # a case-only rename
    by_name["event_type"]["type"] = "INTEGER"
    by_name["user_id"]["mode"] = "REQUIRED"
    by_name["occurred_at"]["mode"] = "NULLABLE"  # relaxed: in place
    by_name["request_path"]["description"] = "Another description."
    by_name["hidden_DATA"]["fields"] = by_name["hidden_DATA"]["fields"][:1]  # nested drop
    tag = "projects/ecf-bq/locations/europe-west2/taxonomies/1/policyTags/2"
    by_name["hidden_DATA"]["fields"][0]["policyTags"] = {"names": [tag]}
    new.remove(by_name["namespace"])
    new.append({"name": "app_version", "type": "STRING", "mode": "NULLABLE"})
    new.append({"name": "tenant", "type": "STRING", "mode": "REQUIRED"})
    new.insert(0, new.pop(new.index(by_name["response_status"])))  # moved: a note
    return ["schema", "diff", str(LOCK), str(write_json(tmp / "new.json", new))]


def dropped_column(tmp: Path, _stub: StubBigQuery) -> list[str]:
    new = [f for f in json.loads(LOCK.read_text()) if f["name"] != "entity_table_name"]
    return ["schema", "diff", str(LOCK), str(write_json(tmp / "new.json", new)), "--format", "json"]


def changed_table(tmp: Path, _stub: StubBigQuery) -> list[str]:
    """The live table (OLD) against a table whose every setting differs (NEW)."""
    old = live(LIVE_TABLE)
    new = copy.deepcopy(old)
    new["tableReference"]["datasetId"] = "npq_events_other"
    new["timePartitioning"] = {"type": "HOUR", "field": "created_at", "expirationMs": "864000000"}
    new["clustering"] = {"fields": ["event_type", "namespace"]}
    new["requirePartitionFilter"] = True
    new["encryptionConfiguration"] = {
        "kmsKeyName": "projects/p/locations/l/keyRings/r/cryptoKeys/x"
    }
    new["labels"] = {"team": "data"}
    new["description"] = "A description."
    return ["schema", "diff", str(LIVE_TABLE), str(write_json(tmp / "new.json", new))]


def unpartitioned(tmp: Path, _stub: StubBigQuery) -> list[str]:
    new = live(LIVE_TABLE)
    del new["timePartitioning"]
    return ["schema", "diff", str(LIVE_TABLE), str(write_json(tmp / "new.json", new))]


def lock_check_with_drops(tmp: Path, _stub: StubBigQuery) -> list[str]:
    locked = json.loads(schema_lock.schema_text())
    locked.append({"name": "legacy_id", "type": "STRING", "mode": "REQUIRED"})
    write_json(tmp / schema_lock.SCHEMA_LOCK, locked)
    settings = json.loads(schema_lock.settings_text())
    settings["staging"]["clustering"] = {"fields": ["namespace"]}
    settings["retired"] = settings["sandbox"]
    del settings["review"]
    write_json(tmp / schema_lock.SETTINGS_LOCK, settings)
    return ["schema", "check", "--lock-dir", str(tmp)]


def streaming(stub: StubBigQuery, declaration, dataset: dict, table: dict) -> None:
    """The stack's dataset and table as given, holding events as the app streams them: the
    newest 18 minutes before NOW, and that night's entity table check at 00:30."""
    stub.put(declaration, dataset=dataset, table=table)
    stub.events(
        declaration,
        [
            (datetime(2026, 12, 1, 8, 42, tzinfo=UTC), "web_request"),
            (datetime(2026, 12, 1, 0, 30, tzinfo=UTC), ENTITY_TABLE_CHECK),
        ],
    )


def verify_drift(*extra: str, fmt: str = "text") -> Case:
    """The live staging reference with drift of every kind a live table can have."""

    def case(_tmp: Path, stub: StubBigQuery) -> list[str]:
        dataset, table = live(LIVE_DATASET), live(LIVE_TABLE)
        dataset["maxTimeTravelHours"] = "48"
        dataset["location"] = "EU"
        dataset["labels"]["service"] = "other"
        dataset["labels"]["owner"] = "data-team"
        dataset["defaultEncryptionConfiguration"]["kmsKeyName"] = "projects/p/x/cryptoKeys/y"
        table["schema"]["fields"].append({"name": "legacy_id", "type": "STRING"})
        table["schema"]["fields"][1]["mode"] = "NULLABLE"
        table["clustering"] = {"fields": ["namespace"]}
        table["labels"] = {"owner": "data-team", "goog-pulumi-provisioned": "true"}
        table["type"] = "VIEW"
        tag = {"names": ["projects/ecf-bq/locations/europe-west2/taxonomies/1/policyTags/2"]}
        table["schema"]["fields"][12]["fields"][1]["policyTags"] = tag
        streaming(stub, declare(settings_for("staging")), dataset, table)
        return ["verify", "--stack", "staging", "--api-endpoint", stub.endpoint, *extra, fmt]

    return case


def verify_missing(_tmp: Path, stub: StubBigQuery) -> list[str]:
    """Sandbox's dataset without its table, and no production dataset at all."""
    dataset = live(LIVE_DATASET)
    dataset["datasetReference"]["datasetId"] = "npq_events_sandbox"
    dataset["labels"]["environment"] = "sandbox"
    stub.put(declare(settings_for("sandbox")), dataset=dataset)
    stub.tables.clear()
    stacks = ["--stack", "sandbox", "--stack", "production"]
    return ["verify", *stacks, "--api-endpoint", stub.endpoint]


def other_template(*extra: str) -> Case:
    """A table made from another template, on an endpoint that reports no encryption (with
    --emulator: one that keeps none): the hidden key spelled KEY, user_id an INTEGER, no
    `environment` column."""

    def case(_tmp: Path, stub: StubBigQuery) -> list[str]:
        dataset, table = live(LIVE_DATASET), live(LIVE_TABLE)
        del dataset["defaultEncryptionConfiguration"], table["encryptionConfiguration"]
        fields = {field["name"]: field for field in table["schema"]["fields"]}
        fields["hidden_DATA"]["fields"][0]["name"] = "KEY"
        fields["user_id"]["type"] = "INTEGER"
        table["schema"]["fields"].remove(fields["environment"])
        streaming(stub, declare(settings_for("staging")), dataset, table)
        return ["verify", "--stack", "staging", "--api-endpoint", stub.endpoint, *extra]

    return case


CASES: dict[str, Case] = {
    "preview-gate-noop": preview("noop.json"),
    "preview-gate-noop-json": preview("noop.json", "--format", "json"),
    "preview-gate-update": preview("update-clustering.json"),
    "preview-gate-update-adoption": preview("update-clustering.json", "--adoption"),
    "preview-gate-import-adoption-json": preview(
        "import-adoption.json", "--adoption", "--format", "json"
    ),
    "preview-gate-replace-table": preview("replace-table.json"),
    "preview-gate-replace-table-json": preview("replace-table.json", "--format", "json"),
    "preview-gate-delete-dataset": preview("delete-dataset.json"),
    "preview-gate-delete-dataset-json": preview("delete-dataset.json", "--format", "json"),
    "preview-gate-delete-kms-grant": preview("delete-kms-grant.json"),
    "preview-gate-delete-kms-grant-json": preview("delete-kms-grant.json", "--format", "json"),
    "preview-gate-text-around-the-json": preview_text(
        f"Installing policy pack ...\n{NOOP}\nUpdate plan written to plan.json\n"
    ),
    "preview-gate-empty": preview_text(" \n"),
    "preview-gate-not-json": preview_text("{not json\n"),
    "preview-gate-a-list": preview_text("[]\n"),
    "preview-gate-not-a-preview": preview_text('{"config": {}}\n', "--format", "json"),
    "preview-gate-import-warned-adoption": import_warned,
    "schema-diff-every-change": changed_schema,
    "schema-diff-dropped-column-json": dropped_column,
    "schema-diff-table-settings": changed_table,
    "schema-diff-unpartitioned": unpartitioned,
    "schema-check-drops": lock_check_with_drops,
    "verify-drift": verify_drift("--format", fmt="text"),
    "verify-drift-json": verify_drift("--format", fmt="json"),
    "verify-drift-adopt-json": verify_drift("--adopt", "--format", fmt="json"),
    "verify-drift-strict-markdown": verify_drift("--strict", "--format", fmt="markdown"),
    "verify-missing": verify_missing,
    "verify-other-template": other_template(),
    "verify-other-template-emulator": other_template("--emulator"),
    "verify-other-template-adopt-json": other_template("--adopt", "--format", "json"),
}


@pytest.fixture
def stub():
    with StubBigQuery() as server:
        yield server


@pytest.fixture(autouse=True)
def verify_reads_at_now(monkeypatch):
    monkeypatch.setattr(verify_command, "utc_now", lambda: NOW)


def transcript(argv: list[str], code: int, out: str, err: str, tmp: Path, endpoint: str) -> str:
    text = f"$ npq-events {' '.join(argv)}\nexit {code}\n--- stdout\n{out}--- stderr\n{err}"
    return (
        text.replace(str(tmp), "<tmp>").replace(endpoint, "<endpoint>").replace(str(ROOT), "<repo>")
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_output(name, tmp_path, stub, capsys, request):
    argv = CASES[name](tmp_path, stub)
    code = cli_main(argv)
    captured = capsys.readouterr()
    got = transcript(argv, code, captured.out, captured.err, tmp_path, stub.endpoint)
    expected = OUTPUTS / f"{name}.txt"
    if request.config.getoption("--write-outputs"):
        OUTPUTS.mkdir(exist_ok=True)
        expected.write_text(got)
    assert got == expected.read_text()


# -- every refusal of a config value, as the CLI prints it after `config KEY = VALUE: ` -------

BASE = {
    "gcp:project": "ecf-bq",
    "npq-analytics:environment": "staging",
    "npq-analytics:kmsKey": "projects/ecf-bq/locations/europe-west2/keyRings/r/cryptoKeys/k",
}
REVIEW = {
    "npq-analytics:environment": "review",
    "npq-analytics:lifecycle": "ephemeral",
    "npq-analytics:prNumber": "7",
}
SA = '["serviceAccount:app@ecf-bq.iam.gserviceaccount.com"]'
BAD_CONFIGS: list[dict[str, str | None]] = [
    {"gcp:project": None},
    {"gcp:project": "Ecf_BQ"},
    {"npq-analytics:environment": None},
    {"npq-analytics:environment": "Prod"},
    {"npq-analytics:datasetId": "npq-events"},
    {"npq-analytics:location": "london"},
    {"npq-analytics:kmsKey": None},
    {"npq-analytics:kmsKey": "ecf-key"},
    {"npq-analytics:kmsKey": "projects/p/locations/us-east1/keyRings/r/cryptoKeys/k"},
    {"npq-analytics:timeTravelHours": "24"},
    {"npq-analytics:timeTravelHours": "7d"},
    {"npq-analytics:hiddenPolicyTag": "hidden"},
    {"npq-analytics:hiddenPolicyTag": "projects/p/locations/eu/taxonomies/1/policyTags/2"},
    {"npq-analytics:labels": "team"},
    {"npq-analytics:labels": '["a"]'},
    {"npq-analytics:labels": '{"Team": "x"}'},
    {"npq-analytics:labels": json.dumps({f"k{i}": "v" for i in range(63)})},
    {"npq-analytics:lifecycle": "temporary"},
    {"npq-analytics:lifecycle": "ephemeral"},
    {"npq-analytics:ownsKmsGrant": "yes"},
    {"npq-analytics:adopt": "1"},
    {"npq-analytics:prNumber": "0"},
    {"npq-analytics:prNumber": "4"},
    {"npq-analytics:createdOn": "28/11/2026"},
    {"npq-analytics:kmskey": "x"},
    {"other": "x"},
    {**REVIEW, "npq-analytics:ownsKmsGrant": "true"},
    {**REVIEW, "npq-analytics:adopt": "true"},
    {**REVIEW, "npq-analytics:datasetId": "npq_events_production"},
    {**REVIEW, "npq-analytics:reviewIamRole": "roles/owner", "npq-analytics:reviewIamMembers": SA},
    {**REVIEW, "npq-analytics:reviewIamMembers": SA},
    {**REVIEW, "npq-analytics:reviewIamRole": "roles/bigquery.dataEditor"},
    {**REVIEW, "npq-analytics:reviewIamMembers": "[1]"},
    {**REVIEW, "npq-analytics:reviewIamMembers": "not json"},
    {**REVIEW, "npq-analytics:reviewIamMembers": '["someone"]'},
    {**REVIEW, "npq-analytics:reviewIamMembers": '["user:a@b.co", "user:a@b.co"]'},
    {
        "npq-analytics:reviewIamRole": "roles/bigquery.dataEditor",
        "npq-analytics:reviewIamMembers": SA,
    },
]


def test_config_refusals(request):
    lines = []
    for overrides in BAD_CONFIGS:
        config = {**BASE, **{k: v for k, v in overrides.items() if v is not None}}
        for key in [k for k, v in overrides.items() if v is None]:
            config.pop(key)
        try:
            load_settings("s", config)
        except ConfigError as exc:
            lines.append(str(exc))
        else:
            lines.append(f"ACCEPTED {overrides}")
    got = "\n".join(lines) + "\n"
    expected = OUTPUTS / "config-refusals.txt"
    if request.config.getoption("--write-outputs"):
        OUTPUTS.mkdir(exist_ok=True)
        expected.write_text(got)
    assert got == expected.read_text()

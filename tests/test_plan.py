"""The Pulumi program on the SDK's mock engine: what each stack declares, options included."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml
from google.cloud import bigquery

from infra.model import schema
from infra.model.stackfiles import ROOT, committed_stacks, settings_for, stack_config
from infra.program.offline_plan import PROGRAM, plan_stack, run_program
from tests.helpers import run_cli
from tests.plans import of_type, one

DATASET = "gcp:bigquery/dataset:Dataset"
TABLE = "gcp:bigquery/table:Table"
GRANT = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
COMPONENT = "npq:analytics:EventsDataset"
KEY = "projects/ecf-bq/locations/europe-west2/keyRings/ecf-key-ring/cryptoKeys/ecf-key"
TAG = "projects/ecf-bq/locations/europe-west2/taxonomies/123/policyTags/456"


@pytest.fixture(scope="module")
def plans():
    stacks = [*committed_stacks(), "review-pr-42"]
    return {stack: plan_stack(stack) for stack in stacks}


@pytest.mark.parametrize("stack", ["production", "staging", "sandbox", "review"])
def test_long_lived_dataset(plans, stack):
    plan = plans[stack]
    dataset = one(plan, DATASET)
    assert dataset.inputs == {
        "project": "ecf-bq",
        "datasetId": f"npq_events_{stack}",
        "location": "europe-west2",
        "description": f"NPQ registration DfE Analytics events ({stack})",
        "labels": {"environment": stack, "managed-by": "pulumi", "service": "npq-registration"},
        "maxTimeTravelHours": "168",
        "defaultEncryptionConfiguration": {"kmsKeyName": KEY},
        "deleteContentsOnDestroy": False,
    }
    assert "accesses" not in dataset.inputs
    assert dataset.options["protect"] is True
    assert dataset.options["import"] is None
    assert dataset.options["parent"] == "npq-events"


@pytest.mark.parametrize("stack", ["production", "staging", "sandbox", "review"])
def test_long_lived_table(plans, stack):
    table = one(plans[stack], TABLE)
    inputs = dict(table.inputs)
    schema_json = inputs.pop("schema")
    assert inputs == {
        "project": "ecf-bq",
        "datasetId": f"npq_events_{stack}",
        "tableId": "events",
        "description": schema.TABLE_DESCRIPTION,
        "timePartitioning": {"type": "DAY", "field": "occurred_at"},
        "clusterings": ["event_type"],
        "requirePartitionFilter": False,
        "encryptionConfiguration": {"kmsKeyName": KEY},
        "deletionProtection": True,
    }
    assert json.loads(schema_json) == schema.to_api()
    assert table.options["protect"] is True
    assert table.options["ignore_changes"] == ["timePartitioning.expirationMs"]
    assert "npq-events-dataset" in table.options["depends_on"]
    assert table.options["parent"] == "npq-events"


@pytest.mark.parametrize("stack", [*committed_stacks(), "review-pr-42"])
def test_schema_given_to_the_table_parses_with_google_cloud_bigquery(plans, stack):
    fields = json.loads(one(plans[stack], TABLE).inputs["schema"])
    parsed = [bigquery.SchemaField.from_api_repr(field) for field in fields]
    declared = [bigquery.SchemaField.from_api_repr(field) for field in schema.to_api()]
    assert [f.to_api_repr() for f in parsed] == [f.to_api_repr() for f in declared]


def test_only_production_grants_the_key_and_its_resources_wait_for_it(plans):
    grant = one(plans["production"], GRANT)
    assert grant.inputs == {
        "cryptoKeyId": KEY,
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": "serviceAccount:bq-<project-number>@bigquery-encryption.iam.gserviceaccount.com",
    }
    assert grant.options["protect"] is True
    assert grant.options["parent"] == "npq-events"
    for type_ in (DATASET, TABLE):
        assert "npq-events-kms-grant" in one(plans["production"], type_).options["depends_on"]
    for stack in ("staging", "sandbox", "review", "review-pr-42"):
        assert of_type(plans[stack], GRANT) == []


def test_component_parents_everything(plans):
    for plan in plans.values():
        component = one(plan, COMPONENT)
        assert component.name == "npq-events"
        children = [r for r in plan.resources if r.type != COMPONENT]
        assert children and all(r.options["parent"] == "npq-events" for r in children)


@pytest.mark.parametrize("stack", [*committed_stacks(), "review-pr-42"])
def test_outputs(plans, stack):
    declared = settings_for(stack)
    ref = f"ecf-bq.{declared.dataset_id}.events"
    assert plans[stack].outputs == {
        "project": "ecf-bq",
        "dataset_id": declared.dataset_id,
        "table_id": "events",
        "table_ref": ref,
        "kms_key": KEY,
        "app_env": {
            "BIGQUERY_PROJECT_ID": "ecf-bq",
            "BIGQUERY_DATASET": declared.dataset_id,
            "BIGQUERY_TABLE_NAME": "events",
        },
    }


def test_review_app_stack_is_ephemeral(plans):
    plan = plans["review-pr-42"]
    dataset, table = one(plan, DATASET), one(plan, TABLE)
    assert dataset.inputs["datasetId"] == "npq_events_review_pr_42"
    assert dataset.inputs["deleteContentsOnDestroy"] is True
    assert dataset.inputs["labels"]["pr"] == "42"
    assert dataset.options["protect"] is False
    assert table.inputs["deletionProtection"] is False
    assert table.options["protect"] is False


def _stack_dir(tmp_path, stack, **changes):
    """A copy of a committed stack file with some npq-analytics keys changed."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    for key, value in changes.items():
        document["config"][f"npq-analytics:{key}"] = value
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def test_policy_tag_is_declared_on_hidden_value(tmp_path):
    plan = plan_stack("staging", _stack_dir(tmp_path, "staging", hiddenPolicyTag=TAG))
    fields = {f["name"]: f for f in json.loads(one(plan, TABLE).inputs["schema"])}
    hidden = {f["name"]: f for f in fields["hidden_DATA"]["fields"]}
    assert hidden["value"]["policyTags"] == {"names": [TAG]}
    assert "policyTags" not in fields["hidden_DATA"]
    assert "policyTags" not in {f["name"]: f for f in fields["DATA"]["fields"]}["value"]


def test_adoption_imports_the_live_ids_and_protects_them(tmp_path):
    plan = plan_stack("production", _stack_dir(tmp_path, "production", adopt=True))
    dataset, table = one(plan, DATASET), one(plan, TABLE)
    assert dataset.options["import"] == "projects/ecf-bq/datasets/npq_events_production"
    assert table.options["import"] == "projects/ecf-bq/datasets/npq_events_production/tables/events"
    assert dataset.options["protect"] and table.options["protect"]


def test_the_program_itself_stops_on_a_bad_value_with_one_line():
    config = {**stack_config("staging"), "npq-analytics:timeTravelHours": "100"}
    with pytest.raises(pulumi.RunError) as caught:
        run_program("staging", config, PROGRAM)
    assert str(caught.value).startswith("config npq-analytics:timeTravelHours = '100'")


def test_cli_plan_json_shows_the_protected_production_dataset_and_table():
    result = run_cli("plan", "--stack", "production", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["stack"] == "production"
    by_type = {r["type"]: r for r in document["resources"]}
    assert by_type[DATASET]["options"]["protect"] is True
    assert by_type[TABLE]["options"]["protect"] is True
    assert by_type[TABLE]["inputs"]["deletionProtection"] is True
    assert document["outputs"]["table_ref"] == "ecf-bq.npq_events_production.events"


def test_cli_plan_text_lists_every_resource():
    result = run_cli("plan", "--stack", "review-pr-42")
    assert result.returncode == 0, result.stderr
    for expected in (
        DATASET,
        TABLE,
        COMPONENT,
        "npq_events_review_pr_42",
        "deleteContentsOnDestroy: true",
    ):
        assert expected in result.stdout


def test_cli_plan_bad_config_exits_2_with_one_line_and_declares_nothing(tmp_path):
    _stack_dir(tmp_path, "staging", timeTravelHours=100)
    result = run_cli("--project-dir", str(tmp_path), "plan", "--stack", "staging")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "npq-events: error: config npq-analytics:timeTravelHours = '100': whole hours from 48 "
        "to 168, a multiple of 24 (default 168)"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--stack", "nope"], "no stack file Pulumi.nope.yaml"),
        (["plan", "--stack", "../etc/passwd"], "stack name '../etc/passwd' is not accepted"),
        (["plan", "--stack", "review-pr-0"], "no stack file Pulumi.review-pr-0.yaml"),
    ],
)
def test_cli_plan_bad_stack_names(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_unreadable_stack_file(tmp_path):
    (tmp_path / "Pulumi.staging.yaml").write_text("config: [unclosed\n")
    result = run_cli("--project-dir", str(tmp_path), "plan", "--stack", "staging")
    assert result.returncode == 2
    assert "Pulumi.staging.yaml: not readable YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_secret_config_value_names_the_file_and_key(tmp_path):
    # `pulumi config set --secret` writes {"secure": "<ciphertext>"}: this project has no secrets.
    _stack_dir(tmp_path, "staging", description={"secure": "v1:abc"})
    result = run_cli("--project-dir", str(tmp_path), "plan", "--stack", "staging")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("npq-events: error: Pulumi.staging.yaml: npq-analytics:description ")
    assert "is a secret" in line


def test_yes_is_text_as_the_pulumi_cli_reads_it_so_adopt_yes_is_refused(tmp_path):
    (tmp_path / "Pulumi.staging.yaml").write_text(
        (ROOT / "Pulumi.staging.yaml")
        .read_text()
        .replace("config:\n", "config:\n  npq-analytics:adopt: yes\n", 1)
    )
    assert stack_config("staging", tmp_path)["npq-analytics:adopt"] == "yes"
    result = run_cli("--project-dir", str(tmp_path), "plan", "--stack", "staging")
    assert result.returncode == 2
    assert "config npq-analytics:adopt = 'yes': true or false" in result.stderr
    assert stack_config("staging")["npq-analytics:ownsKmsGrant"] == "false"


def test_named_resource_types_are_what_the_sdk_registers(plans):
    from infra.program import resource_types

    registered = {r.type for plan in plans.values() for r in plan.resources}
    named = {
        resource_types.COMPONENT,
        resource_types.DATASET,
        resource_types.TABLE,
        resource_types.KMS_GRANT,
    }
    assert named <= registered

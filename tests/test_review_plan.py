"""A review app stack's resources, from the real program on Pulumi's SDK mock engine."""

from __future__ import annotations

import json
from datetime import date

import pytest

from infra.model.stackfiles import ROOT
from infra.program.offline_plan import Plan, plan_stack, run_program
from infra.review import decisions as review
from tests.plans import of_type, one

DATASET = "gcp:bigquery/dataset:Dataset"
TABLE = "gcp:bigquery/table:Table"
IAM_MEMBER = "gcp:bigquery/datasetIamMember:DatasetIamMember"
KMS_GRANT = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
AUTHORITATIVE = (
    "gcp:bigquery/datasetIamPolicy:DatasetIamPolicy",
    "gcp:bigquery/datasetIamBinding:DatasetIamBinding",
    "gcp:bigquery/datasetAccess:DatasetAccess",
)
SA = "serviceAccount:npq-review@ecf-bq.iam.gserviceaccount.com"
GROUP = "group:npq-devs@education.gov.uk"


def assert_ephemeral(plan: Plan, pr: int) -> None:
    dataset, table = one(plan, DATASET), one(plan, TABLE)
    assert dataset.inputs["datasetId"] == f"npq_events_review_pr_{pr}"
    assert dataset.inputs["deleteContentsOnDestroy"] is True
    assert dataset.options["protect"] is False and dataset.options["import"] is None
    assert "accesses" not in dataset.inputs
    assert table.inputs["deletionProtection"] is False
    assert table.options["protect"] is False and table.options["import"] is None
    assert table.inputs["datasetId"] == dataset.inputs["datasetId"]
    assert of_type(plan, KMS_GRANT) == []
    assert not any(of_type(plan, kind) for kind in AUTHORITATIVE)
    assert all(r.options["protect"] is False for r in plan.resources)
    assert plan.outputs["dataset_id"] == f"npq_events_review_pr_{pr}"
    assert plan.outputs["table_ref"] == f"ecf-bq.npq_events_review_pr_{pr}.events"


def test_plan_of_a_review_app_stack_from_its_name():
    plan = plan_stack("review-pr-42")
    assert_ephemeral(plan, 42)
    labels = one(plan, DATASET).inputs["labels"]
    assert labels["pr"] == "42" and labels["environment"] == "review"
    assert "created-on" not in labels  # set by `review up` at creation, not known offline
    assert of_type(plan, IAM_MEMBER) == []


def test_the_stack_review_up_configures():
    config = review.review_config(7, date(2025, 1, 2))
    plan = run_program("review-pr-7", config, ROOT / "__main__.py")
    assert_ephemeral(plan, 7)
    labels = one(plan, DATASET).inputs["labels"]
    assert labels["pr"] == "7" and labels["created-on"] == "2025-01-02"


@pytest.fixture
def iam_config():
    config = review.review_config(7, date(2025, 1, 2))
    config["npq-analytics:reviewIamRole"] = "projects/ecf-bq/roles/bigqueryAppender"
    config["npq-analytics:reviewIamMembers"] = json.dumps([SA, GROUP])
    return config


def test_configured_members_get_one_non_authoritative_grant_each(iam_config):
    plan = run_program("review-pr-7", iam_config, ROOT / "__main__.py")
    assert_ephemeral(plan, 7)
    members = of_type(plan, IAM_MEMBER)  # registered concurrently: in no particular order
    assert sorted(m.inputs["member"] for m in members) == sorted([SA, GROUP])
    for member in members:
        assert member.inputs["role"] == "projects/ecf-bq/roles/bigqueryAppender"
        assert member.inputs["datasetId"] == "npq_events_review_pr_7"
        assert member.inputs["project"] == "ecf-bq"
        assert member.options["parent"] == "npq-events"
        assert member.options["depends_on"] == ["npq-events-dataset"]
        assert member.options["protect"] is False
    assert len({m.name for m in members}) == 2


def test_the_shared_review_stack_grants_nothing(iam_config):
    config = {k: v for k, v in iam_config.items() if "prNumber" not in k and "createdOn" not in k}
    config["npq-analytics:lifecycle"] = "long-lived"
    plan = run_program("review", config, ROOT / "__main__.py")
    assert of_type(plan, IAM_MEMBER) == []
    assert one(plan, DATASET).options["protect"] is True


def test_plan_command_shows_an_unprotected_dataset_deleted_with_its_stack(cli):
    result = cli("plan", "--stack", "review-pr-42", "--format", "json")
    assert result.returncode == 0, result.stderr
    resources = {r["type"]: r for r in json.loads(result.stdout)["resources"]}
    dataset = resources[DATASET]
    assert dataset["options"]["protect"] is False
    assert dataset["inputs"]["deleteContentsOnDestroy"] is True
    assert resources[TABLE]["inputs"]["deletionProtection"] is False
    assert KMS_GRANT not in resources

    text = cli("plan", "--stack", "review-pr-42")
    assert text.returncode == 0
    assert "datasetId: npq_events_review_pr_42" in text.stdout
    assert "deleteContentsOnDestroy: true" in text.stdout
    assert '"protect": true' not in text.stdout

"""The review app decisions, tested directly: names, config, guards, what prune selects."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.cli.main import build_parser
from infra.errors import UserError
from infra.model.declared import declare
from infra.model.settings import ConfigError, load_settings
from infra.model.stackfiles import (
    ROOT,
    read_stack_file,
    review_pr_number,
    review_stack_config,
    settings_for,
)
from infra.review import decisions as review

TODAY = date(2025, 1, 2)
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _review(*args: str):
    """`npq-events review ARGS` as its parser reads them: UserError for a refused value."""
    return build_parser("review").parse_args(["review", *args])


def parse_pr(text: str) -> int:
    return _review("up", f"--pr={text}").pr


def parse_closed(text: str) -> frozenset[int]:
    return _review("prune", f"--closed={text}").closed


def parse_days(text: str) -> int:
    return _review("prune", f"--older-than={text}").older_than


# -- pull request numbers and stack names ----------------------------------------------------


@pytest.mark.parametrize("text", ["1", "42", "999999999"])
def test_pr_numbers_accepted(text):
    assert parse_pr(text) == int(text)
    assert review.stack_name(int(text)) == f"review-pr-{text}"


@pytest.mark.parametrize(
    "text",
    [
        "production",
        "0",
        "-1",
        "1e3",
        " 42",
        "42 ",
        "42\n",
        "+42",
        "042",
        "4_2",
        "4.2",
        "0x2a",
        "\u0664\u0662",  # Arabic-Indic digits: int() accepts them, a stack name must not
        "1000000000",
        "",
        "review-pr-42",
    ],
)
def test_pr_numbers_refused_with_one_line(text):
    with pytest.raises(UserError) as caught:
        parse_pr(text)
    message = str(caught.value)
    assert "\n" not in message and repr(text) in message and "1 to 999999999" in message
    assert caught.value.exit_code == 2


@given(st.text(max_size=12))
def test_any_accepted_pr_text_names_exactly_its_stack(text):
    try:
        pr = parse_pr(text)
    except UserError:
        assert not (text.isascii() and text.isdigit() and text[0] != "0" and len(text) <= 9)
        return
    assert str(pr) == text and 1 <= pr <= review.MAX_PR
    assert review.stack_name(pr) == "review-pr-" + text


@given(st.one_of(st.text(max_size=20), st.from_regex(r"review-pr-[0-9]{1,10}\s?", fullmatch=True)))
def test_the_guard_accepts_only_review_pr_digits(name):
    expected = (
        name.startswith("review-pr-")
        and name[len("review-pr-") :].isascii()
        and name[len("review-pr-") :].isdigit()
        and not name[len("review-pr-") :].startswith("0")
        and len(name) - len("review-pr-") <= 9
    )
    if expected:
        pr = review.require_review_stack(name)
        assert review.stack_name(pr) == name and review.is_review_stack(name)
    else:
        with pytest.raises(UserError, match="review commands act only on review-pr-<N>"):
            review.require_review_stack(name)
        assert not review.is_review_stack(name)


@given(st.integers())
def test_stack_names_from_numbers(number):
    if 1 <= number <= review.MAX_PR:
        assert review_pr_number(review.stack_name(number)) == number
    else:
        with pytest.raises(UserError):
            review.stack_name(number)


@pytest.mark.parametrize(
    "name",
    [
        "production",
        "staging",
        "review",
        "review-pr-",
        "review-pr-0",
        "review-pr-042",
        "review-pr-42\n",
        "review-pr-42 ",
        "Review-pr-42",
        "org/review-pr-42",
        "organization/npq-analytics/review-pr-42",
        "review-pr-1000000000",
        None,
        42,
    ],
)
def test_the_guard_refuses_other_stacks(name):
    assert not review.is_review_stack(name)
    with pytest.raises(UserError):
        review.require_review_stack(name)


def test_stack_name_refuses_bools_and_non_integers():
    for value in (True, 4.0, "42"):
        with pytest.raises(UserError):
            review.stack_name(value)


@pytest.mark.parametrize(
    ("text", "expected"), [("12", {12}), ("12,15,12", {12, 15}), ("7,999999999", {7, 999999999})]
)
def test_closed_lists(text, expected):
    assert parse_closed(text) == frozenset(expected)


@pytest.mark.parametrize("text", ["", ",", "12,", "12, 15", "12;15", "production", "0,1"])
def test_closed_lists_refused(text):
    with pytest.raises(UserError):
        parse_closed(text)


@pytest.mark.parametrize(("text", "ok"), [("1", True), ("14", True), ("3650", True), ("0", False)])
def test_days(text, ok):
    if ok:
        assert parse_days(text) == int(text)
    else:
        with pytest.raises(UserError):
            parse_days(text)


@pytest.mark.parametrize("text", ["3651", "-1", "1.5", " 14", "14d", ""])
def test_days_refused(text):
    with pytest.raises(UserError, match="--older-than"):
        parse_days(text)


# -- the config a review stack gets ----------------------------------------------------------


def test_review_config_is_the_review_file_plus_pr_lifecycle_and_creation_date():
    config = review.review_config(42, TODAY)
    assert config == {
        **review_stack_config(42),
        "npq-analytics:createdOn": "2025-01-02",
    }
    assert config["npq-analytics:prNumber"] == "42"
    assert config["npq-analytics:lifecycle"] == "ephemeral"
    base = read_stack_file("review")
    assert {k: v for k, v in config.items() if k in base and k != "npq-analytics:lifecycle"} == {
        k: v for k, v in base.items() if k != "npq-analytics:lifecycle"
    }


def test_review_settings_are_ephemeral_and_labelled():
    settings = review.review_settings(42, TODAY)
    assert settings.stack == "review-pr-42"
    assert settings.dataset_id == "npq_events_review_pr_42"
    assert not settings.protected and not settings.owns_kms_grant and not settings.adopt
    labels = dict(settings.labels)
    assert labels["pr"] == "42" and labels["created-on"] == "2025-01-02"
    declaration = declare(settings)
    assert declaration.dataset.delete_contents_on_destroy
    assert not declaration.table.deletion_protection
    assert declaration.dataset_iam_grants == ()


def _project_with_review_file(tmp_path: Path, extra: str) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    text = (ROOT / "Pulumi.review.yaml").read_text()
    (tmp_path / "Pulumi.review.yaml").write_text(text + extra)
    return tmp_path


def test_a_review_app_stack_never_inherits_the_shared_stacks_own_dataset(tmp_path):
    root = _project_with_review_file(
        tmp_path,
        "  npq-analytics:datasetId: npq_events_review\n"
        "  npq-analytics:description: The shared review dataset\n"
        "  npq-analytics:adopt: true\n",
    )
    shared = settings_for("review", root)
    assert shared.dataset_id == "npq_events_review" and shared.adopt
    app = review.review_settings(7, TODAY, root)
    assert app.dataset_id == "npq_events_review_pr_7"
    assert not app.adopt and "pull request 7" in app.description


def test_a_review_app_stack_refuses_another_dataset_id():
    config = {**review.review_config(7, TODAY), "npq-analytics:datasetId": "npq_events_production"}
    with pytest.raises(ConfigError, match="always npq_events_review_pr_7"):
        load_settings("review-pr-7", config)


@pytest.mark.parametrize(
    ("history_config", "expected"),
    [
        ({"npq-analytics:createdOn": {"value": "2024-12-31", "secret": False}}, date(2024, 12, 31)),
        ({"npq-analytics:createdOn": {"value": "2024-02-30", "secret": False}}, None),
        ({"npq-analytics:createdOn": {"value": "20241231", "secret": False}}, None),
        ({"npq-analytics:createdOn": {"secret": True}}, None),
        ({"npq-analytics:createdOn": "2024-12-31"}, None),
        ({"npq-analytics:prNumber": {"value": "7", "secret": False}}, None),
        ({}, None),
        (None, None),
    ],
)
def test_the_recorded_creation_date(history_config, expected):
    assert review.recorded_created_on(history_config) == expected


def test_the_recorded_creation_date_as_the_sdk_parses_it():
    from pulumi.automation import ConfigValue

    config = {"npq-analytics:createdOn": ConfigValue("2024-12-31")}
    assert review.recorded_created_on(config) == date(2024, 12, 31)
    assert review.recorded_created_on({"npq-analytics:createdOn": ConfigValue("x")}) is None


def test_the_creation_date_is_set_once():
    assert review.choose_created_on(None, TODAY) == TODAY
    assert review.choose_created_on(date(2024, 6, 1), TODAY) == date(2024, 6, 1)


def test_stale_config_keys_are_those_the_review_config_lacks():
    desired = review.review_config(42, TODAY)
    current = {**desired, "npq-analytics:datasetId": "x", "gcp:region": "europe-west2"}
    assert review.stale_config_keys(current, desired) == ["gcp:region", "npq-analytics:datasetId"]
    assert review.stale_config_keys(desired, desired) == []


# -- what up reports -------------------------------------------------------------------------

OUTPUTS = {
    "project": "ecf-bq",
    "dataset_id": "npq_events_review_pr_42",
    "table_id": "events",
    "table_ref": "ecf-bq.npq_events_review_pr_42.events",
    "kms_key": "projects/ecf-bq/locations/europe-west2/keyRings/ecf-key-ring/cryptoKeys/ecf-key",
}


def test_review_app_outputs_for_github():
    app = review.review_app(42, TODAY, "npq_events_review_pr_42", OUTPUTS)
    assert app.stack == "review-pr-42" and app.value("dataset") == "npq_events_review_pr_42"
    assert app.github_output_lines() == [
        "project=ecf-bq",
        "dataset=npq_events_review_pr_42",
        "table=events",
        "table_ref=ecf-bq.npq_events_review_pr_42.events",
    ]


@pytest.mark.parametrize(
    "change",
    [{"dataset_id": None}, {"table_ref": "a\nb=c"}, {"project": ""}, {"table_id": ["events"]}],
)
def test_review_app_refuses_missing_or_multiline_outputs(change):
    with pytest.raises(UserError, match="output"):
        review.review_app(42, TODAY, "npq_events_review_pr_42", {**OUTPUTS, **change})


def test_a_review_stack_naming_another_dataset_is_refused():
    foreign = {**OUTPUTS, "dataset_id": "npq_events_production"}
    with pytest.raises(UserError, match="npq_events_production"):
        review.review_app(42, TODAY, "npq_events_review_pr_42", foreign)
    with pytest.raises(UserError, match="refusing stack review-pr-42"):
        review.check_owned_dataset("review-pr-42", "npq_events_review_pr_42", foreign)
    review.check_owned_dataset("review-pr-42", "npq_events_review_pr_42", {})  # never updated


# -- list and prune --------------------------------------------------------------------------


def summary(name, last_update=None, resources=None, running=None):
    return SimpleNamespace(
        name=name, last_update=last_update, resource_count=resources, update_in_progress=running
    )


def test_review_stacks_ignore_every_other_name():
    naive = datetime(2025, 2, 1, 8, 30)  # the SDK parses the CLI's UTC time without a zone
    stacks, others = review.review_stacks(
        [
            summary("review-pr-12", naive, 5),
            summary("production", naive, 5),
            summary("review-pr-012", naive, 5),
            summary("org/review-pr-3", naive, 5),
            summary("review-pr-3"),
        ]
    )
    assert [s.name for s in stacks] == ["review-pr-3", "review-pr-12"]
    assert stacks[1].last_update == naive.replace(tzinfo=UTC) and stacks[1].pr == 12
    assert others == ("org/review-pr-3", "production", "review-pr-012")


def stack(pr, days_ago=None, running=False):
    last = None if days_ago is None else NOW - timedelta(days=days_ago)
    return review.ReviewStack(f"review-pr-{pr}", pr, last, 5, running)


def test_prune_selects_closed_prs():
    plan = review.select_for_prune([stack(1, 1), stack(2, 1), stack(3)], closed=frozenset({2, 3}))
    assert [(c.stack.pr, c.reason) for c in plan.selected] == [
        (2, "pull request 2 is closed"),
        (3, "pull request 3 is closed"),
    ]
    assert plan.kept == ()


def test_prune_selects_stacks_not_updated_for_more_than_the_days():
    stacks = [stack(1, 14), stack(2, 14.001), stack(3, 40), stack(4)]
    plan = review.select_for_prune(stacks, older_than_days=14, now=NOW)
    assert [c.stack.pr for c in plan.selected] == [2, 3]
    assert "40 days ago (more than 14)" in plan.selected[1].reason
    assert [(c.stack.pr, c.reason) for c in plan.kept] == [(4, "age unknown (never updated)")]


def test_prune_combines_both_and_keeps_running_updates():
    stacks = [stack(1, 30), stack(2, 1), stack(3, 30, running=True), stack(4, None, running=True)]
    plan = review.select_for_prune(stacks, frozenset({1, 2}), 14, NOW)
    assert [c.stack.pr for c in plan.selected] == [1, 2]
    assert plan.selected[0].reason.startswith("pull request 1 is closed; last update")
    assert [(c.stack.pr, c.reason) for c in plan.kept] == [
        (3, "an update is running; prune it later"),
        (4, "age unknown (an update is running)"),
    ]


def test_prune_needs_a_criterion_and_refuses_other_stacks():
    with pytest.raises(UserError, match="by closed pull requests, by age, or both"):
        review.select_for_prune([stack(1, 30)])
    forged = review.ReviewStack("production", 1, NOW - timedelta(days=99), 5, False)
    with pytest.raises(UserError, match="refusing stack 'production'"):
        review.select_for_prune([forged], frozenset({1}), 14, NOW)


# -- optional dataset IAM members ------------------------------------------------------------

SA = "serviceAccount:npq-review@ecf-bq.iam.gserviceaccount.com"


def with_iam(config, role, members):
    config = dict(config)
    if role is not None:
        config["npq-analytics:reviewIamRole"] = role
    if members is not None:
        config["npq-analytics:reviewIamMembers"] = json.dumps(members)
    return config


@pytest.mark.parametrize(
    "role",
    [
        "roles/bigquery.dataEditor",
        "roles/bigquery.dataViewer",
        "projects/ecf-bq/roles/bigqueryAppender",
        "organizations/123456789/roles/npq.appender",
    ],
)
def test_review_stacks_grant_a_role_to_each_member(role):
    members = [SA, "group:npq-devs@education.gov.uk", "user:a.b@education.gov.uk"]
    members.append("domain:education.gov.uk")
    members.append(
        "iamMember:principalSet://iam.googleapis.com/projects/1/locations/global/"
        "workloadIdentityPools/github/attribute.repository/DFE-Digital/npq-registration"
    )
    settings = load_settings(
        "review-pr-42", with_iam(review.review_config(42, TODAY), role, members)
    )
    grants = declare(settings).dataset_iam_grants
    assert [(g.role, g.member) for g in grants] == [(role, m) for m in members]


@pytest.mark.parametrize(
    ("role", "members", "key"),
    [
        ("roles/bigquery.dataEditor", ["allUsers"], "reviewIamMembers"),
        ("roles/bigquery.dataEditor", ["allAuthenticatedUsers"], "reviewIamMembers"),
        ("roles/bigquery.dataEditor", ["projectOwners"], "reviewIamMembers"),
        ("roles/bigquery.dataEditor", ["serviceAccount:"], "reviewIamMembers"),
        ("roles/bigquery.dataEditor", ["user:bob"], "reviewIamMembers"),
        ("roles/bigquery.dataEditor", [" " + SA], "reviewIamMembers"),
        ("roles/bigquery.dataEditor", [SA, SA], "reviewIamMembers"),
        (
            "roles/bigquery.dataEditor",
            "serviceAccount:x@y.iam.gserviceaccount.com",
            "reviewIamMembers",
        ),
        ("roles/bigquery.dataEditor", [42], "reviewIamMembers"),
        ("roles/bigquery.dataEditor", [], "reviewIamMembers"),
        ("roles/bigquery.dataEditor", None, "reviewIamMembers"),
        (None, [SA], "reviewIamRole"),
        ("roles/owner", [SA], "reviewIamRole"),
        ("OWNER", [SA], "reviewIamRole"),
        ("roles/storage.admin", [SA], "reviewIamRole"),
        ("projects/ecf-bq/roles/", [SA], "reviewIamRole"),
    ],
)
def test_dataset_iam_config_refused(role, members, key):
    with pytest.raises(ConfigError) as caught:
        load_settings("review-pr-42", with_iam(review.review_config(42, TODAY), role, members))
    assert caught.value.key == f"npq-analytics:{key}" and "\n" not in str(caught.value)


def test_dataset_iam_members_are_refused_where_history_lives():
    config = with_iam(read_stack_file("production"), "roles/bigquery.dataEditor", [SA])
    with pytest.raises(ConfigError, match="production's grants are managed outside"):
        load_settings("production", config)


def test_a_long_lived_stack_accepts_the_keys_but_grants_nothing():
    config = with_iam(read_stack_file("review"), "roles/bigquery.dataEditor", [SA])
    settings = load_settings("review", config)
    assert settings.review_iam_members == (SA,)
    assert declare(settings).dataset_iam_grants == ()


# -- ownership, from the state ----------------------------------------------------------------


DATASET_T = "gcp:bigquery/dataset:Dataset"


def _resource(type_: str, name: str, **inputs: object) -> dict:
    return {"urn": f"urn:pulumi:review-pr-5::npq-analytics::{type_}::{name}", "type": type_,
            "inputs": inputs, "outputs": {}}  # fmt: skip


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            _resource(DATASET_T, "d", datasetId="npq_events_staging"),
            "in dataset npq_events_staging",
        ),
        (_resource(DATASET_T, "d", project="other", datasetId="npq_events_review_pr_5"), "other."),
        (_resource(DATASET_T, "d"), "whose dataset the state does not name"),
        (_resource("gcp:storage/bucket:Bucket", "b"), "a review stack never declares"),
    ],
)
def test_a_review_stack_holding_anything_but_its_own_dataset_is_refused(resource, expected):
    own = [
        _resource("pulumi:pulumi:Stack", "npq-analytics-review-pr-5"),
        _resource("pulumi:providers:gcp", "default_10_2_0"),
        _resource(DATASET_T, "d", project="ecf-bq", datasetId="npq_events_review_pr_5"),
        _resource("gcp:bigquery/table:Table", "t", datasetId="npq_events_review_pr_5"),
    ]  # fmt: skip
    assert review.foreign_resources(own, "npq_events_review_pr_5", "ecf-bq") == []
    (found,) = review.foreign_resources([*own, resource], "npq_events_review_pr_5", "ecf-bq")
    assert expected in found
    with pytest.raises(UserError, match="refusing stack review-pr-5: its state holds"):
        review.check_owned_state("review-pr-5", "npq_events_review_pr_5", "ecf-bq", [resource])

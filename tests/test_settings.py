"""Stack settings: defaults, and one clear error for every value that is not accepted."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from infra.model.settings import ConfigError, load_settings
from infra.model.stackfiles import committed_stacks, settings_for
from tests.helpers import ROOT, run_cli

KEY = "projects/ecf-bq/locations/europe-west2/keyRings/ecf-key-ring/cryptoKeys/ecf-key"
TAG = "projects/ecf-bq/locations/europe-west2/taxonomies/123/policyTags/456"


def base(**overrides: str | None) -> dict[str, str]:
    config = {
        "gcp:project": "ecf-bq",
        "npq-analytics:environment": "staging",
        "npq-analytics:kmsKey": KEY,
    }
    for key, value in overrides.items():
        full = key if ":" in key else f"npq-analytics:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    return config


def test_committed_stacks_are_the_four_environments():
    assert committed_stacks() == ["production", "review", "sandbox", "staging"]


def test_defaults():
    settings = load_settings("staging", base())
    assert settings.dataset_id == "npq_events_staging"
    assert settings.location == "europe-west2"
    assert settings.time_travel_hours == 168
    assert settings.lifecycle == "long-lived" and settings.protected
    assert not settings.owns_kms_grant and not settings.adopt
    assert settings.hidden_policy_tag is None
    assert dict(settings.labels) == {"environment": "staging", "managed-by": "pulumi"}
    assert (settings.pr_number, settings.review_iam_role, settings.review_iam_members) == (
        None,
        None,
        (),
    )


def test_pull_request_1_and_a_yaml_boolean_label_value():
    review = load_settings(
        "review-pr-1",
        base(environment="review", prNumber="1", lifecycle="ephemeral", labels='{"flag": true}'),
    )
    assert (review.pr_number, review.dataset_id) == (1, "npq_events_review_pr_1")
    # YAML's `true` arrives as JSON true; BigQuery label values are lowercase.
    assert dict(review.labels)["flag"] == "true"


def test_a_review_role_without_members_names_the_members_value():
    config = base(
        environment="review",
        prNumber="3",
        lifecycle="ephemeral",
        reviewIamRole="roles/bigquery.dataViewer",
        reviewIamMembers="[]",
    )
    with pytest.raises(ConfigError) as raised:
        load_settings("review-pr-3", config)
    assert str(raised.value) == (
        "config npq-analytics:reviewIamMembers = '[]': reviewIamRole needs at least one member"
    )


def test_dataset_id_takes_underscores_for_hyphens_and_a_pr_suffix():
    settings = load_settings("x", base(environment="qa-two"))
    assert settings.dataset_id == "npq_events_qa_two"
    review = load_settings(
        "review-pr-7", base(environment="review", prNumber="7", lifecycle="ephemeral")
    )
    assert review.dataset_id == "npq_events_review_pr_7"
    assert dict(review.labels)["pr"] == "7"


def test_only_production_owns_the_kms_grant():
    owners = [stack for stack in committed_stacks() if settings_for(stack).owns_kms_grant]
    assert owners == ["production"]


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"),
    [
        ({"gcp:project": None}, "gcp:project", "GCP project id"),
        ({"gcp:project": "Ecf_BQ"}, "gcp:project", "GCP project id"),
        ({"environment": None}, "npq-analytics:environment", "environment name"),
        ({"environment": "Prod"}, "npq-analytics:environment", "lowercase"),
        ({"datasetId": "npq-events"}, "npq-analytics:datasetId", "letters, digits and under"),
        ({"location": "london"}, "npq-analytics:location", "BigQuery location"),
        ({"kmsKey": None}, "npq-analytics:kmsKey", "full Cloud KMS key name"),
        ({"kmsKey": "ecf-key"}, "npq-analytics:kmsKey", "full Cloud KMS key name"),
        ({"kmsKey": KEY + "/cryptoKeyVersions/1"}, "npq-analytics:kmsKey", "full Cloud KMS"),
        (
            {"kmsKey": KEY.replace("europe-west2", "us-east1")},
            "npq-analytics:kmsKey",
            "dataset's location europe-west2",
        ),
        ({"timeTravelHours": "24"}, "npq-analytics:timeTravelHours", "48 to 168"),
        ({"timeTravelHours": "100"}, "npq-analytics:timeTravelHours", "multiple of 24"),
        ({"timeTravelHours": "192"}, "npq-analytics:timeTravelHours", "48 to 168"),
        ({"timeTravelHours": "7d"}, "npq-analytics:timeTravelHours", "whole hours"),
        ({"hiddenPolicyTag": "hidden"}, "npq-analytics:hiddenPolicyTag", "full policy tag"),
        (
            {"hiddenPolicyTag": TAG.replace("europe-west2", "eu")},
            "npq-analytics:hiddenPolicyTag",
            "taxonomy must be in",
        ),
        ({"labels": "team"}, "npq-analytics:labels", "map of BigQuery labels"),
        ({"labels": '["a"]'}, "npq-analytics:labels", "map of BigQuery labels"),
        ({"labels": '{"Team": "x"}'}, "npq-analytics:labels", "Team"),
        ({"labels": '{"team": "Data Ops"}'}, "npq-analytics:labels", "Data Ops"),
        ({"lifecycle": "temporary"}, "npq-analytics:lifecycle", "long-lived"),
        ({"lifecycle": "ephemeral"}, "npq-analytics:lifecycle", "holds history"),
        ({"ownsKmsGrant": "yes"}, "npq-analytics:ownsKmsGrant", "true or false"),
        ({"adopt": "1"}, "npq-analytics:adopt", "true or false"),
        ({"prNumber": "0"}, "npq-analytics:prNumber", "positive whole number"),
        ({"prNumber": "-3"}, "npq-analytics:prNumber", "positive whole number"),
        ({"prNumber": "4"}, "npq-analytics:lifecycle", "review app stack"),
        ({"createdOn": "28/11/2026"}, "npq-analytics:createdOn", "YYYY-MM-DD"),
        ({"kmskey": KEY}, "npq-analytics:kmskey", "unknown key"),
    ],
)
def test_each_bad_value_names_its_key_value_and_what_is_accepted(overrides, key, accepted):
    with pytest.raises(ConfigError) as caught:
        load_settings("staging", base(**overrides))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"config {key} = ")
    assert accepted in message
    assert caught.value.key == key


def test_an_ephemeral_stack_never_owns_the_grant_nor_adopts():
    review = base(environment="review", lifecycle="ephemeral", prNumber="3")
    with pytest.raises(ConfigError, match="revoke the key"):
        load_settings("review-pr-3", {**review, "npq-analytics:ownsKmsGrant": "true"})
    with pytest.raises(ConfigError, match="only a long-lived stack adopts"):
        load_settings("review-pr-3", {**review, "npq-analytics:adopt": "true"})


@given(st.text(max_size=12))
@example("0\x1f")  # stripped, it was digits; whole, int() refused it (a traceback)
@example(" 48 ")
def test_time_travel_is_accepted_exactly_when_a_whole_day_multiple_in_range(text):
    try:
        settings = load_settings("s", base(timeTravelHours=text))
    except ConfigError as exc:
        assert exc.key == "npq-analytics:timeTravelHours"
        assert not (
            re.fullmatch(r"[0-9]+", text) and 48 <= int(text) <= 168 and int(text) % 24 == 0
        )
    else:
        assert settings.time_travel_hours in {48, 72, 96, 120, 144, 168}
        assert int(text) == settings.time_travel_hours


@given(st.text(max_size=120))
def test_kms_key_must_be_a_full_key_name_in_the_location(text):
    try:
        settings = load_settings("s", base(kmsKey=text))
    except ConfigError as exc:
        assert exc.key == "npq-analytics:kmsKey"
    else:
        parts = settings.kms_key.split("/")
        assert len(parts) == 8
        assert parts[0::2] == ["projects", "locations", "keyRings", "cryptoKeys"]
        assert parts[3] == "europe-west2"


@given(st.dictionaries(st.text(max_size=70), st.text(max_size=70), max_size=4))
def test_labels_are_accepted_only_when_bigquery_would_take_them(labels):
    try:
        settings = load_settings("s", base(labels=json.dumps(labels)))
    except ConfigError as exc:
        assert exc.key == "npq-analytics:labels"
    else:
        for key, value in settings.labels:
            assert re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", key)
            assert re.fullmatch(r"[a-z0-9_-]{0,63}", value)


@given(st.text(max_size=40))
def test_dataset_id_is_accepted_only_when_bigquery_would_take_it(text):
    try:
        settings = load_settings("s", base(datasetId=text))
    except ConfigError as exc:
        assert exc.key == "npq-analytics:datasetId"
    else:
        assert re.fullmatch(r"[A-Za-z0-9_]+", settings.dataset_id)
        assert settings.dataset_id in (text, "npq_events_staging")


@pytest.mark.parametrize("key", ["environment", "managed-by", "pr", "created-on"])
def test_labels_the_tool_sets_cannot_be_overridden(key):
    with pytest.raises(ConfigError) as caught:
        load_settings("s", base(labels=json.dumps({key: "mine"})))
    assert caught.value.key == "npq-analytics:labels"
    assert f"label {key} is set by npq-analytics itself" in str(caught.value)


@pytest.mark.parametrize(
    ("stack", "file", "key"),
    [
        ("staging", "Pulumi.staging.yaml", "environment"),
        ("production", "Pulumi.production.yaml", "managed-by"),
        ("review-pr-7", "Pulumi.review.yaml", "pr"),
        ("review-pr-7", "Pulumi.review.yaml", "created-on"),
    ],
)
def test_a_stack_file_overriding_a_tool_label_is_refused_naming_file_and_key(
    tmp_path, stack, file, key
):
    source = ROOT / file
    document = yaml.safe_load(source.read_text())
    document["config"]["npq-analytics:labels"] = {"service": "npq-registration", key: "x"}
    (tmp_path / file).write_text(yaml.safe_dump(document))
    refusal = (
        f"{file}: npq-analytics:labels: label {key} is set by npq-analytics itself "
        "(environment, managed-by, pr, created-on) and cannot be overridden; remove it "
        "from labels\n"
    )
    planned = run_cli("--project-dir", str(tmp_path), "plan", "--stack", stack)
    assert (planned.returncode, planned.stderr) == (2, f"npq-events: error: {refusal}")
    verified = run_cli(
        "--project-dir", str(tmp_path), "verify", "--stack", stack,
        "--api-endpoint", "http://127.0.0.1:9",
    )  # fmt: skip
    assert verified.returncode == 2
    assert verified.stderr == f"npq-events: error: stack {stack}: {refusal}"


def test_every_value_a_stack_sets_is_the_value_it_gets():
    settings = load_settings(
        "staging", base(timeTravelHours="48", createdOn="2026-11-30", maxStaleness="6h")
    )
    assert (settings.environment, settings.time_travel_hours, settings.created_on) == (
        "staging",
        48,
        "2026-11-30",
    )
    assert load_settings("staging", base(timeTravelHours="168")).time_travel_hours == 168


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"maxStaleness": "soon"},
            "config npq-analytics:maxStaleness = 'soon': ",
        ),
        (
            {"labels": '{"managed-by": "hand"}'},
            'config npq-analytics:labels = \'{"managed-by": "hand"}\': label managed-by is set '
            "by npq-analytics itself (",
        ),
        (
            {"location": "US", "kmsKey": KEY.replace("europe-west2", "us"), "hiddenPolicyTag": TAG},
            f"config npq-analytics:hiddenPolicyTag = {TAG!r}: the taxonomy must be in the "
            "dataset's location US",
        ),
        # A key of this project's namespace with a further colon is not a key of ours.
        (
            {"npq-analytics:kmsKey:extra": "x"},
            "config npq-analytics:kmsKey:extra = 'x': unknown key",
        ),
    ],
)
def test_a_refused_value_is_named_with_the_key(overrides, line):
    with pytest.raises(ConfigError) as raised:
        load_settings("staging", base(**overrides))
    assert str(raised.value).startswith(line), str(raised.value)


def test_keys_of_other_namespaces_pass_through_to_pulumi_and_their_providers():
    config = {**base(), "gcp:region": "europe-west2", "pulumi:tags": "{}", "random:seed": "1"}
    assert load_settings("staging", config).environment == "staging"
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings("staging", {**base(), "seed": "1"})

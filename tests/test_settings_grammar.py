"""Config values generated from the grammar each key accepts, and from small breaks of it.

Random text almost never forms a KMS key name or a label map that BigQuery takes, so a
property over random text only ever sees refusals. Here the valid values are built from the
grammar (GCP's own: project ids, KMS ids, label keys and values), every one must be accepted
as it is, and each invalid value is a valid one broken in one place, which must be refused
naming the key.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.model.settings import MAX_LABELS, TOOL_LABELS, ConfigError, load_settings

# GCP's grammars: project ids; key ring and key ids ([a-zA-Z0-9_-], 1 to 63).
PROJECT_IDS = st.from_regex(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", fullmatch=True)
KMS_IDS = st.from_regex(r"[A-Za-z0-9_-]{1,63}", fullmatch=True)
# A dataset location, and the Cloud KMS location whose keys it can use.
LOCATIONS = st.sampled_from(
    [
        ("europe-west2", "europe-west2"),
        ("us-east1", "us-east1"),
        ("asia-northeast1", "asia-northeast1"),
        ("EU", "europe"),
        ("US", "us"),
        ("eu", "europe"),
    ]
)
# The labels npq-analytics sets itself (environment, managed-by, ...) are not the user's.
LABEL_KEYS = st.from_regex(r"[a-z][a-z0-9_-]{0,62}", fullmatch=True).filter(
    lambda key: key not in TOOL_LABELS
)
LABEL_VALUES = st.from_regex(r"[a-z0-9_-]{0,63}", fullmatch=True)
KMS_KEY = "npq-analytics:kmsKey"
LABELS = "npq-analytics:labels"


def config(**values: str) -> dict[str, str]:
    """The staging config with some npq-analytics keys (short names) set."""
    base = {
        "gcp:project": "ecf-bq",
        "npq-analytics:environment": "staging",
        KMS_KEY: "projects/ecf-bq/locations/europe-west2/keyRings/r/cryptoKeys/k",
    }
    return {**base, **{f"npq-analytics:{key}": value for key, value in values.items()}}


@st.composite
def kms_keys(draw) -> tuple[str, str]:
    """A dataset location and a full key name in a key ring of that location."""
    location, kms_location = draw(LOCATIONS)
    name = (
        f"projects/{draw(PROJECT_IDS)}/locations/{kms_location}/"
        f"keyRings/{draw(KMS_IDS)}/cryptoKeys/{draw(KMS_IDS)}"
    )
    return location, name


def _broken_key(name: str, how: str) -> str:
    parts = name.split("/")
    if how == "other location":
        parts[3] = "asia-south1" if parts[3] != "asia-south1" else "us-west1"
    elif how == "key version":
        parts += ["cryptoKeyVersions", "1"]
    elif how == "segment missing":
        del parts[4:6]
    elif how == "segment empty":
        parts[5] = ""
    elif how == "collection misspelt":
        parts[4] = "keyrings"
    elif how == "space inside":
        parts[5] = f"{parts[5][:1]} {parts[5][1:]}"
    elif how == "trailing newline":
        parts[-1] += "\n"
    elif how == "leading slash":
        parts.insert(0, "")
    return "/".join(parts)


KEY_BREAKS = [
    "other location",
    "key version",
    "segment missing",
    "segment empty",
    "collection misspelt",
    "space inside",
    "trailing newline",
    "leading slash",
]


@given(kms_keys())
def test_a_key_from_the_grammar_is_accepted_as_it_is(located_key):
    location, name = located_key
    settings = load_settings("s", config(kmsKey=name, location=location))
    assert settings.kms_key == name
    assert settings.location == location


@given(kms_keys(), st.sampled_from(KEY_BREAKS))
def test_a_key_broken_in_one_place_is_refused_naming_it(located_key, how):
    location, name = located_key
    broken = _broken_key(name, how)
    with pytest.raises(ConfigError) as caught:
        load_settings("s", config(kmsKey=broken, location=location))
    assert caught.value.key == KMS_KEY
    assert str(caught.value).startswith(f"config {KMS_KEY} = {broken!r}: ")


@given(st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=8))
def test_labels_from_the_grammar_are_accepted_with_the_derived_ones(labels):
    settings = load_settings("s", config(labels=json.dumps(labels)))
    expected = {"environment": "staging", "managed-by": "pulumi", **labels}
    assert dict(settings.labels) == expected


LABEL_BREAKS = {
    "key upper case": lambda key, value: (key.upper() + "X", value),
    "key starts with a digit": lambda key, value: ("0" + key, value),
    "key too long": lambda key, value: (key + "k" * 63, value),
    "key with a space": lambda key, value: (key + " x", value),
    "key with a trailing newline": lambda key, value: (key + "\n", value),
    "value upper case": lambda key, value: (key, value + "X"),
    "value too long": lambda key, value: (key, value + "v" * 64),
    "value with a dot": lambda key, value: (key, value + "."),
    "value with a trailing newline": lambda key, value: (key, value + "\n"),
}


@given(
    st.dictionaries(LABEL_KEYS, LABEL_VALUES, max_size=4),
    LABEL_KEYS,
    LABEL_VALUES,
    st.sampled_from(sorted(LABEL_BREAKS)),
)
def test_a_label_broken_in_one_place_is_refused_naming_it(labels, key, value, how):
    bad_key, bad_value = LABEL_BREAKS[how](key, value)
    document = json.dumps({**labels, bad_key: bad_value})
    with pytest.raises(ConfigError) as caught:
        load_settings("s", config(labels=document))
    assert caught.value.key == LABELS
    assert f"label {bad_key}={bad_value!r} is not accepted" in str(caught.value)


@given(st.sampled_from(TOOL_LABELS), LABEL_VALUES)
def test_a_label_npq_analytics_sets_itself_is_refused(key, value):
    with pytest.raises(ConfigError) as caught:
        load_settings("s", config(labels=json.dumps({key: value})))
    assert caught.value.key == LABELS
    assert f"label {key} is set by npq-analytics itself" in str(caught.value)


@given(st.integers(min_value=MAX_LABELS - 4, max_value=MAX_LABELS + 2))
def test_at_most_64_labels_in_all_the_derived_ones_included(count):
    labels = {f"label-{i}": "x" for i in range(count)}
    values = config(labels=json.dumps(labels))
    if count + 2 <= MAX_LABELS:  # environment and managed-by are derived
        assert len(load_settings("s", values).labels) == count + 2
    else:
        with pytest.raises(ConfigError, match=f"at most {MAX_LABELS} labels in all"):
            load_settings("s", values)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gcp:project", "ecf-bq\n"),
        ("npq-analytics:environment", "staging\n"),
        ("npq-analytics:datasetId", "npq_events_staging\n"),
        ("npq-analytics:createdOn", "2026-11-01\n"),
        (
            "npq-analytics:hiddenPolicyTag",
            "projects/ecf-bq/locations/europe-west2/taxonomies/1/policyTags/2\n",
        ),
    ],
)
def test_a_trailing_newline_is_refused(key, value):
    with pytest.raises(ConfigError) as caught:
        load_settings("s", {**config(), key: value})
    assert caught.value.key == key

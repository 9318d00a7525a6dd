"""Stack settings: every config value typed and checked before any resource is declared.

Config arrives as Pulumi gives it to a program: a flat map of full keys
(`npq-analytics:kmsKey`, `gcp:project`) to strings. `load_settings` turns that map into one
frozen `StackSettings` or raises `ConfigError` naming the key, the value and what is accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from infra.errors import BadInput
from infra.model import times
from infra.model.events import ENTITY_TABLE_CHECK

PROJECT_NAME = "npq-analytics"
DEFAULT_LOCATION = "europe-west2"
DEFAULT_TIME_TRAVEL_HOURS = 168
LONG_LIVED = "long-lived"
EPHEMERAL = "ephemeral"
LIFECYCLES = (LONG_LIVED, EPHEMERAL)
DATASET_PREFIX = "npq_events_"
# Environments whose data is the service's history: never ephemeral, whatever the config says.
PROTECTED_ENVIRONMENTS = frozenset({"production", "staging", "sandbox"})
MAX_LABELS = 64
# Labels the program sets itself on every dataset; a stack file's labels may not override them.
TOOL_LABELS = ("environment", "managed-by", "pr", "created-on")


class ConfigError(BadInput):
    """A config value that is missing or not accepted; the message is one line."""

    def __init__(self, key: str, value: object, accepted: str) -> None:
        shown = "(not set)" if value is None else repr(value)
        super().__init__(f"config {key} = {shown}: {accepted}")
        self.key = key


@dataclass(frozen=True)
class ConfigKey:
    """One accepted config key: its full name and what it accepts."""

    name: str
    accepted: str
    namespace: str = PROJECT_NAME

    @property
    def full(self) -> str:
        return f"{self.namespace}:{self.name}"


KEYS: dict[str, ConfigKey] = {
    key.name: key
    for key in (
        ConfigKey(
            "project",
            "a GCP project id: 6-30 lowercase letters, digits or hyphens, starting with a letter",
            namespace="gcp",
        ),
        ConfigKey(
            "environment",
            "an environment name: lowercase letters, digits and hyphens, "
            "starting with a letter, at most 30",
        ),
        ConfigKey(
            "datasetId",
            "a BigQuery dataset id: letters, digits and underscores, "
            "at most 1024 (default npq_events_<environment>)",
        ),
        ConfigKey(
            "location",
            f"a BigQuery location: a region such as {DEFAULT_LOCATION} or us-central1, or the "
            f"multi-region EU or US (default {DEFAULT_LOCATION})",
        ),
        ConfigKey(
            "kmsKey",
            "a full Cloud KMS key name projects/<project>/locations/<location>/"
            "keyRings/<ring>/cryptoKeys/<key> (ring and key: 1-63 letters, digits, '_' or '-'), "
            "in the dataset's location",
        ),
        ConfigKey(
            "timeTravelHours",
            f"whole hours from 48 to 168, a multiple of 24 (default {DEFAULT_TIME_TRAVEL_HOURS})",
        ),
        ConfigKey(
            "hiddenPolicyTag",
            "a full policy tag name projects/<project>/locations/"
            "<location>/taxonomies/<id>/policyTags/<id>, in the dataset's location",
        ),
        ConfigKey(
            "labels",
            "a map of BigQuery labels: keys start with a lowercase letter, keys "
            "and values are at most 63 lowercase letters, digits, '_' or '-'",
        ),
        ConfigKey(
            "lifecycle",
            f"{LONG_LIVED} (protected; the default) or {EPHEMERAL} (deleted with its stack)",
        ),
        ConfigKey(
            "ownsKmsGrant",
            "true or false (default false): whether this stack grants the "
            "KMS key to BigQuery's encryption service account",
        ),
        ConfigKey(
            "adopt",
            "true or false (default false): import the existing dataset and "
            "table instead of creating them",
        ),
        ConfigKey(
            "reviewIamRole",
            "a BigQuery role roles/bigquery.<name> (e.g. roles/bigquery.dataEditor) or a custom "
            "role projects/<project>/roles/<id> or organizations/<number>/roles/<id>",
        ),
        ConfigKey(
            "reviewIamMembers",
            "a list of IAM members, each serviceAccount:<email>, user:<email>, group:<email>, "
            "domain:<domain> or iamMember:principal[Set]://...; no duplicates",
        ),
        ConfigKey(
            "maxStaleness",
            f"{times.ACCEPTED}, longer than zero: `npq-events verify` fails (exit 1) when "
            "the table's newest "
            "event is older, or it holds none (default: no limit; the age is reported only)",
        ),
        ConfigKey(
            "maxCheckStaleness",
            f"{times.ACCEPTED}, longer than zero: `npq-events verify` fails (exit 1) when "
            f"the newest {ENTITY_TABLE_CHECK} event (the app's nightly check) is older "
            "(default: no limit)",
        ),
        ConfigKey("prNumber", "a positive whole number: the pull request of a review app stack"),
        ConfigKey("createdOn", "a date YYYY-MM-DD: when a review app stack was created"),
        ConfigKey("description", "text describing the dataset"),
    )
}
PROVIDER_NAMESPACES = frozenset({"gcp", "pulumi"})


@dataclass(frozen=True)
class StackSettings:
    """What one stack declares, checked. Labels are sorted (key, value) pairs."""

    stack: str
    project: str
    environment: str
    dataset_id: str
    location: str
    kms_key: str
    time_travel_hours: int
    hidden_policy_tag: str | None
    labels: tuple[tuple[str, str], ...]
    lifecycle: str
    owns_kms_grant: bool
    adopt: bool
    pr_number: int | None
    created_on: str | None
    description: str
    review_iam_role: str | None = None
    review_iam_members: tuple[str, ...] = ()
    # How old the newest event, and the newest entity table check, may be (None: no limit).
    max_staleness: timedelta | None = None
    max_check_staleness: timedelta | None = None

    @property
    def protected(self) -> bool:
        return self.lifecycle == LONG_LIVED


# Every pattern below is used with fullmatch: `$` would also match before a trailing newline.
_PROJECT = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"
_PROJECT_RE = re.compile(_PROJECT)
_ENV_RE = re.compile(r"[a-z][a-z0-9-]{0,29}")
_DATASET_RE = re.compile(r"[A-Za-z0-9_]{1,1024}")
# A Google Cloud region is <geography>-<direction><number> (europe-west2, us-central1,
# northamerica-northeast1, me-central2); BigQuery's multi-regions are EU and US.
_REGION = (
    r"(?:africa|asia|australia|europe|me|northamerica|southamerica|us)-"
    r"(?:central|east|north|northeast|northwest|south|southeast|southwest|west)[1-9][0-9]?"
)
_LOCATION_RE = re.compile(rf"{_REGION}|EU|US|eu|us")
# Cloud KMS ids: key rings and keys are 1-63 letters, digits, '_' or '-'.
_KMS_ID = r"[A-Za-z0-9_-]{1,63}"
_KMS_RE = re.compile(
    rf"projects/(?P<project>{_PROJECT})/locations/(?P<location>[a-z0-9-]{{1,63}})"
    rf"/keyRings/(?P<ring>{_KMS_ID})/cryptoKeys/(?P<key>{_KMS_ID})"
)
_TAG_RE = re.compile(
    rf"projects/(?P<project>{_PROJECT})/locations/(?P<location>[a-z0-9-]{{1,63}})"
    r"/taxonomies/[0-9]{1,20}/policyTags/[0-9]{1,20}"
)
_LABEL_KEY_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE_RE = re.compile(r"[a-z0-9_-]{0,63}")
_DIGITS_RE = re.compile(r"[0-9]{1,9}")
_ROLE_RE = re.compile(
    r"(?:roles/bigquery\.[A-Za-z][A-Za-z0-9_.]{0,62}"
    rf"|projects/{_PROJECT}/roles/[A-Za-z0-9_.]{{3,64}}"
    r"|organizations/[0-9]{1,20}/roles/[A-Za-z0-9_.]{3,64})"
)
_EMAIL = r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_MEMBER_RE = re.compile(
    rf"(?:(?:serviceAccount|user|group):{_EMAIL}"
    r"|domain:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"|iamMember:principal(?:Set)?://iam\.googleapis\.com/[!-~]+)"
)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")


def default_dataset_id(environment: str, pr_number: int | None = None) -> str:
    """`npq_events_<environment>`, hyphens as underscores; a review PR gets `_pr_<N>`."""
    base = DATASET_PREFIX + environment.replace("-", "_")
    return base if pr_number is None else f"{base}_pr_{pr_number}"


def kms_location(location: str) -> str:
    """The Cloud KMS location that serves a BigQuery location (EU -> europe, US -> us)."""
    lowered = location.lower()
    return "europe" if lowered == "eu" else lowered


def load_settings(stack: str, config: Mapping[str, str]) -> StackSettings:
    """Typed, validated settings from a flat Pulumi config map, or ConfigError."""
    _reject_unknown(config)

    def raw(name: str) -> str | None:
        value = config.get(KEYS[name].full)
        return None if value is None else str(value)

    def fail(name: str, value: object, extra: str = "") -> ConfigError:
        return ConfigError(KEYS[name].full, value, extra or KEYS[name].accepted)

    project = raw("project")
    if project is None or not _PROJECT_RE.fullmatch(project):
        raise fail("project", project)

    environment = raw("environment")
    if environment is None or not _ENV_RE.fullmatch(environment):
        raise fail("environment", environment)

    pr_number = _positive_int(raw("prNumber"), fail("prNumber", raw("prNumber")))

    lifecycle = raw("lifecycle") or LONG_LIVED
    if lifecycle not in LIFECYCLES:
        raise fail("lifecycle", lifecycle)
    if lifecycle == EPHEMERAL and environment in PROTECTED_ENVIRONMENTS:
        raise fail("lifecycle", lifecycle, f"{environment} holds history and must be {LONG_LIVED}")
    if pr_number is not None and lifecycle != EPHEMERAL:
        raise fail("lifecycle", lifecycle, f"a review app stack (prNumber set) is {EPHEMERAL}")

    dataset_id = raw("datasetId") or default_dataset_id(environment, pr_number)
    if not _DATASET_RE.fullmatch(dataset_id):
        raise fail("datasetId", dataset_id)
    if pr_number is not None and dataset_id != default_dataset_id(environment, pr_number):
        raise fail(
            "datasetId",
            dataset_id,
            "a review app stack's dataset is always "
            f"{default_dataset_id(environment, pr_number)}; do not set datasetId",
        )

    location = raw("location") or DEFAULT_LOCATION
    if not _LOCATION_RE.fullmatch(location):
        raise fail("location", location)

    kms_key = raw("kmsKey")
    match = _KMS_RE.fullmatch(kms_key or "")
    if match is None:
        raise fail("kmsKey", kms_key)
    if match["location"].lower() != kms_location(location):
        raise fail(
            "kmsKey",
            kms_key,
            f"the key must be in the dataset's location {location}, not {match['location']}",
        )

    hours_text = raw("timeTravelHours")
    hours = DEFAULT_TIME_TRAVEL_HOURS
    if hours_text is not None:
        if not _DIGITS_RE.fullmatch(hours_text):
            raise fail("timeTravelHours", hours_text)
        hours = int(hours_text)
        if not (48 <= hours <= 168 and hours % 24 == 0):
            raise fail("timeTravelHours", hours_text)

    tag = raw("hiddenPolicyTag") or None
    if tag is not None:
        tag_match = _TAG_RE.fullmatch(tag)
        if tag_match is None:
            raise fail("hiddenPolicyTag", tag)
        if tag_match["location"].lower() != kms_location(location):
            raise fail(
                "hiddenPolicyTag",
                tag,
                f"the taxonomy must be in the dataset's location {location}",
            )

    owns_grant = _bool(raw("ownsKmsGrant"), fail("ownsKmsGrant", raw("ownsKmsGrant")))
    if owns_grant and lifecycle == EPHEMERAL:
        raise fail(
            "ownsKmsGrant",
            raw("ownsKmsGrant"),
            "an ephemeral stack never owns the key grant: destroying it would revoke the key "
            "for every dataset",
        )
    adopt = _bool(raw("adopt"), fail("adopt", raw("adopt")))
    if adopt and lifecycle == EPHEMERAL:
        raise fail("adopt", raw("adopt"), "only a long-lived stack adopts an existing dataset")

    iam_role, iam_members = _review_iam(raw, fail, environment)
    max_staleness = _limit(raw("maxStaleness"), fail("maxStaleness", raw("maxStaleness")))
    max_check_staleness = _limit(
        raw("maxCheckStaleness"), fail("maxCheckStaleness", raw("maxCheckStaleness"))
    )

    created_on = raw("createdOn") or None
    if created_on is not None and not _is_date(created_on):
        raise fail("createdOn", created_on)

    labels = _labels(raw("labels"), fail)
    overridden = tool_labels_in(labels)
    if overridden:
        raise fail("labels", raw("labels"), tool_label_refusal(overridden[0]))
    derived = {"environment": environment, "managed-by": "pulumi"}
    if pr_number is not None:
        derived["pr"] = str(pr_number)
    if created_on is not None:
        derived["created-on"] = created_on
    merged = {**derived, **labels}
    if len(merged) > MAX_LABELS:
        raise fail("labels", raw("labels"), f"at most {MAX_LABELS} labels in all")

    description = raw("description") or (
        f"NPQ registration DfE Analytics events ({environment}"
        + (f", pull request {pr_number}" if pr_number is not None else "")
        + ")"
    )

    return StackSettings(
        stack=stack,
        project=project,
        environment=environment,
        dataset_id=dataset_id,
        location=location,
        kms_key=kms_key or "",
        time_travel_hours=hours,
        hidden_policy_tag=tag,
        labels=tuple(sorted(merged.items())),
        lifecycle=lifecycle,
        owns_kms_grant=owns_grant,
        adopt=adopt,
        pr_number=pr_number,
        created_on=created_on,
        description=description,
        review_iam_role=iam_role,
        review_iam_members=iam_members,
        max_staleness=max_staleness,
        max_check_staleness=max_check_staleness,
    )


def _review_iam(raw, fail, environment: str) -> tuple[str | None, tuple[str, ...]]:
    """The role and members a review app stack grants on its dataset (both or neither)."""
    role = raw("reviewIamRole") or None
    members_text = raw("reviewIamMembers")
    members: tuple[str, ...] = ()
    if members_text is not None:
        try:
            parsed = json.loads(members_text)
        except json.JSONDecodeError:
            raise fail("reviewIamMembers", members_text) from None
        if not isinstance(parsed, list) or not all(isinstance(m, str) for m in parsed):
            raise fail("reviewIamMembers", members_text)
        for member in parsed:
            if not _MEMBER_RE.fullmatch(member):
                raise fail(
                    "reviewIamMembers",
                    members_text,
                    f"member {member!r} is not accepted; " + KEYS["reviewIamMembers"].accepted,
                )
        if len(set(parsed)) != len(parsed):
            raise fail("reviewIamMembers", members_text, "each member at most once")
        members = tuple(parsed)
    if role is not None and not _ROLE_RE.fullmatch(role):
        raise fail("reviewIamRole", role)
    if members and role is None:
        raise fail("reviewIamRole", role, "reviewIamMembers needs the role to grant them")
    if role is not None and not members:
        raise fail("reviewIamMembers", members_text, "reviewIamRole needs at least one member")
    if role is not None and environment in PROTECTED_ENVIRONMENTS:
        raise fail(
            "reviewIamRole",
            role,
            f"only review app stacks grant dataset access; {environment}'s grants are "
            "managed outside this project",
        )
    return role, members


def tool_labels_in(labels: Mapping[str, object]) -> list[str]:
    """The labels among `labels` that the program sets itself (TOOL_LABELS)."""
    return [key for key in TOOL_LABELS if key in labels]


def tool_label_refusal(key: str) -> str:
    return (
        f"label {key} is set by npq-analytics itself ({', '.join(TOOL_LABELS)}) and cannot be "
        "overridden; remove it from labels"
    )


def _reject_unknown(config: Mapping[str, str]) -> None:
    known = {key.full for key in KEYS.values()}
    for full in sorted(config):
        # Another namespace's keys (gcp:, pulumi:, any provider's) are theirs to judge.
        namespace, colon, _key = full.partition(":")
        if full not in known and (namespace == PROJECT_NAME or not colon):
            names = ", ".join(sorted(k.name for k in KEYS.values() if k.namespace == PROJECT_NAME))
            raise ConfigError(full, config[full], f"unknown key; accepted keys are {names}")


def _is_date(text: str) -> bool:
    """YYYY-MM-DD naming a day that exists (not 2026-02-30)."""
    if not _DATE_RE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _bool(value: str | None, error: ConfigError) -> bool:
    if value is None or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise error


def _limit(value: str | None, error: ConfigError) -> timedelta | None:
    if value is None:
        return None
    try:
        return times.parse_limit(value)
    except ValueError:
        raise error from None


def _positive_int(value: str | None, error: ConfigError) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if not _DIGITS_RE.fullmatch(text) or int(text) < 1:
        raise error
    return int(text)


def _labels(value: str | None, fail) -> dict[str, str]:
    if value is None:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        raise fail("labels", value) from None
    if not isinstance(parsed, dict):
        raise fail("labels", value)
    labels: dict[str, str] = {}
    for key, item in parsed.items():
        text = str(item).lower() if isinstance(item, bool) else str(item)
        if not _LABEL_KEY_RE.fullmatch(str(key)) or not _LABEL_VALUE_RE.fullmatch(text):
            raise fail(
                "labels", value, f"label {key}={text!r} is not accepted; " + KEYS["labels"].accepted
            )
        labels[str(key)] = text
    return labels

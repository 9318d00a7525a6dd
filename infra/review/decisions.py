"""Review app stacks: every decision, as plain functions.

A review app stack is `review-pr-<N>`, for pull request N of the NPQ app. This module decides
which names are review stacks, what config one gets and when it was created, what `prune`
selects, and what `review up` reports. It calls nothing: infra/review/automation.py runs the
Pulumi Automation API and asks these functions before it selects, updates or destroys a stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from infra.errors import InvalidValue, UserError
from infra.model.settings import KEYS, StackSettings, load_settings
from infra.model.stackfiles import (
    PR_NUMBER_PATTERN,
    REVIEW_STACK_PREFIX,
    ROOT,
    review_pr_number,
    review_stack_config,
)
from infra.program import resource_types

MAX_PR = 999_999_999
MAX_DAYS = 3650
CREATED_ON_KEY = KEYS["createdOn"].full
PR_ACCEPTED = "a pull request number: digits only, 1 to 999999999, no sign, space or leading zero"
DAYS_ACCEPTED = f"whole days: digits only, 1 to {MAX_DAYS}"
_PR_TEXT_RE = re.compile(rf"\A{PR_NUMBER_PATTERN}\Z")
_DAYS_RE = re.compile(r"\A[1-9][0-9]{0,3}\Z")
_DATE_RE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")

# Stack outputs `review up` reads, and the GITHUB_OUTPUT name each is written as.
GITHUB_OUTPUTS = (
    ("project", "project"),
    ("dataset", "dataset_id"),
    ("table", "table_id"),
    ("table_ref", "table_ref"),
)


# -- names -----------------------------------------------------------------------------------


def parse_pr(text: str) -> int:
    """A pull request number as written, or InvalidValue saying what is accepted."""
    if not isinstance(text, str) or not _PR_TEXT_RE.fullmatch(text):
        raise InvalidValue(f"is not accepted: {PR_ACCEPTED}")
    return int(text)


def parse_closed(text: str) -> frozenset[int]:
    """`12,15,18`: one or more pull request numbers separated by commas."""
    if not isinstance(text, str) or not text:
        raise InvalidValue(f"is not accepted: {PR_ACCEPTED}, separated by commas")
    numbers = set()
    for item in text.split(","):
        try:
            numbers.add(parse_pr(item))
        except InvalidValue as exc:
            raise InvalidValue(str(exc), part=item) from None
    return frozenset(numbers)


def parse_days(text: str) -> int:
    """A number of whole days, 1 to MAX_DAYS."""
    if not isinstance(text, str) or not _DAYS_RE.fullmatch(text) or int(text) > MAX_DAYS:
        raise InvalidValue(f"is not accepted: {DAYS_ACCEPTED}")
    return int(text)


# A Cloud KMS key as Pulumi's gcpkms:// secrets provider names it, or the passphrase provider.
_SECRETS_PROVIDER_RE = re.compile(
    r"passphrase|gcpkms://projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z0-9-]+"
    r"/keyRings/[A-Za-z0-9_-]{1,63}/cryptoKeys/[A-Za-z0-9_-]{1,63}"
)
SECRETS_PROVIDER_ACCEPTED = "passphrase, or gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K"


def parse_secrets_provider(text: str) -> str:
    """The secrets provider a new review stack is created with (`pulumi stack init`)."""
    if not isinstance(text, str) or not _SECRETS_PROVIDER_RE.fullmatch(text):
        raise InvalidValue(f"is not accepted: {SECRETS_PROVIDER_ACCEPTED}")
    return text


def stack_name(pr: int) -> str:
    """`review-pr-<N>` for pull request N."""
    if isinstance(pr, bool) or not isinstance(pr, int) or not 1 <= pr <= MAX_PR:
        raise UserError(f"pull request {pr!r} is not accepted: {PR_ACCEPTED}")
    name = f"{REVIEW_STACK_PREFIX}{pr}"
    if require_review_stack(name) != pr:  # the two directions must agree
        raise UserError(f"stack name {name!r} does not name pull request {pr}")
    return name


def is_review_stack(name: object) -> bool:
    return isinstance(name, str) and review_pr_number(name) is not None


def require_review_stack(name: object) -> int:
    """The PR of a `review-pr-<N>` stack; any other name is refused (exit 2).

    Called before every select, update and destroy, on names built here and on every name
    the Pulumi CLI returns.
    """
    pr = review_pr_number(name) if isinstance(name, str) else None
    if pr is None:
        raise UserError(
            f"refusing stack {name!r}: review commands act only on review-pr-<N> stacks"
        )
    return pr


# -- config ----------------------------------------------------------------------------------


def review_config(pr: int, created_on: date, root: Path = ROOT) -> dict[str, str]:
    """The whole config `review up` sets on `review-pr-<N>`: Pulumi.review.yaml, the PR, the
    ephemeral lifecycle (infra.model.stackfiles) and the creation date."""
    return {**review_stack_config(pr, root), CREATED_ON_KEY: created_on.isoformat()}


def review_settings(pr: int, created_on: date, root: Path = ROOT) -> StackSettings:
    """The checked settings of `review-pr-<N>`: ConfigError before any Pulumi call."""
    return load_settings(stack_name(pr), review_config(pr, created_on, root))


def recorded_created_on(update_config: Mapping[str, Any] | None) -> date | None:
    """The createdOn a stack's last update ran with, if any.

    Takes the update's config as the SDK gives it (key -> ConfigValue) or as
    `stack history --json` prints it (key -> {"value": "2025-01-02", "secret": false}).
    """
    entry = (update_config or {}).get(CREATED_ON_KEY)
    if isinstance(entry, Mapping):
        value = entry.get("value")
    elif getattr(entry, "secret", True) is False:
        value = getattr(entry, "value", None)
    else:
        value = None
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def choose_created_on(recorded: date | None, today: date) -> date:
    """Set once, at creation: later ups keep the recorded date so the label never churns."""
    return recorded if recorded is not None else today


def stale_config_keys(current: Iterable[str], desired: Mapping[str, str]) -> list[str]:
    """Keys a stack's config holds that its review config does not: `review up` removes them."""
    return sorted(key for key in current if key not in desired)


# -- what up reports -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewApp:
    """What `review up` reports: where the review app streams its events."""

    stack: str
    pr: int
    created_on: date
    outputs: tuple[tuple[str, str], ...]  # (GITHUB_OUTPUT name, value), in GITHUB_OUTPUTS order

    def value(self, name: str) -> str:
        return dict(self.outputs)[name]

    def github_output_lines(self) -> list[str]:
        return [f"{name}={value}" for name, value in self.outputs]


def review_app(
    pr: int, created_on: date, expected_dataset: str, outputs: Mapping[str, object]
) -> ReviewApp:
    """The stack outputs of an up, checked: each present, one line, the expected dataset."""
    values = []
    for name, output in GITHUB_OUTPUTS:
        value = outputs.get(output)
        if not isinstance(value, str) or not value or "\n" in value or "\r" in value:
            raise UserError(f"stack {stack_name(pr)}: output {output} is {value!r}, not a name")
        values.append((name, value))
    app = ReviewApp(stack_name(pr), pr, created_on, tuple(values))
    check_owned_dataset(app.stack, expected_dataset, outputs)
    return app


def check_owned_dataset(stack: str, expected_dataset: str, outputs: Mapping[str, object]) -> None:
    """Refuse a review stack whose outputs name another dataset than its own (after `up`)."""
    found = outputs.get("dataset_id")
    if found is not None and found != expected_dataset:
        raise UserError(
            f"refusing stack {stack}: its outputs name dataset {found!r}, "
            f"not its own {expected_dataset!r}"
        )


# What a review app stack's state may hold: the stack, the gcp provider, the component, and
# its own dataset with its table and dataset IAM members.
_BIGQUERY_TYPES = frozenset(
    {resource_types.DATASET, resource_types.TABLE, resource_types.DATASET_IAM_MEMBER}
)
_OWN_TYPES = _BIGQUERY_TYPES | {"pulumi:pulumi:Stack", resource_types.COMPONENT}
PROVIDER_TYPE_PREFIX = "pulumi:providers:"


def state_resources(deployment: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The resources of a `pulumi stack export` deployment (version 3), as a list."""
    resources = (deployment or {}).get("resources") or []
    return [r for r in resources if isinstance(r, Mapping)]


def held_datasets(resources: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The datasets a stack's state holds, `project.dataset` (or the id alone), in order."""
    held = []
    for resource in resources:
        if resource.get("type") == resource_types.DATASET:
            dataset, project = _dataset_of(resource)
            name = f"{project}.{dataset}" if project and dataset else str(dataset)
            if name not in held:
                held.append(name)
    return tuple(held)


def foreign_resources(
    resources: Iterable[Mapping[str, Any]], expected_dataset: str, project: str
) -> list[str]:
    """What a review stack's state holds that is not its own, each as one phrase.

    Ownership is judged from the state (`stack export`), not the outputs: a stack made or
    imported by hand under a review name can hold any dataset while its outputs are empty,
    and `destroy` deletes what the state holds. A BigQuery resource whose dataset the state
    does not say is foreign too (fail closed), and so is any type a review stack never
    declares.
    """
    foreign = []
    for resource in resources:
        type_ = str(resource.get("type") or "")
        name = str(resource.get("urn") or "").rsplit("::", 1)[-1] or type_
        if type_.startswith(PROVIDER_TYPE_PREFIX):
            continue
        if type_ not in _OWN_TYPES:
            foreign.append(f"{type_} {name}, which a review stack never declares")
            continue
        if type_ not in _BIGQUERY_TYPES:
            continue
        dataset, owner = _dataset_of(resource)
        if not isinstance(dataset, str) or not dataset:
            foreign.append(f"{type_} {name}, whose dataset the state does not name")
        elif dataset != expected_dataset or (owner is not None and owner != project):
            where = f"{owner}.{dataset}" if owner else dataset
            foreign.append(f"{type_} {name} in dataset {where}")
    return foreign


def check_owned_state(
    stack: str, expected_dataset: str, project: str, resources: Iterable[Mapping[str, Any]]
) -> None:
    """Refuse a review stack whose state holds anything but its own dataset and table."""
    foreign = foreign_resources(resources, expected_dataset, project)
    if foreign:
        raise UserError(
            f"refusing stack {stack}: its state holds {'; '.join(foreign)}, not only its own "
            f"dataset {project}.{expected_dataset}"
        )


def _dataset_of(resource: Mapping[str, Any]) -> tuple[object, str | None]:
    outputs = resource.get("outputs") if isinstance(resource.get("outputs"), Mapping) else {}
    inputs = resource.get("inputs") if isinstance(resource.get("inputs"), Mapping) else {}
    dataset = outputs.get("datasetId") or inputs.get("datasetId")
    owner = outputs.get("project") or inputs.get("project")
    return dataset, owner if isinstance(owner, str) else None


# -- list and prune --------------------------------------------------------------------------


class StackSummaryLike(Protocol):
    name: str
    last_update: datetime | None
    resource_count: int | None
    update_in_progress: bool | None


@dataclass(frozen=True)
class ReviewStack:
    """A review app stack as `pulumi stack ls` reports it."""

    name: str
    pr: int
    last_update: datetime | None  # UTC; None when never updated or an update is running
    resource_count: int | None
    update_in_progress: bool


def review_stacks(
    summaries: Iterable[StackSummaryLike],
) -> tuple[tuple[ReviewStack, ...], tuple[str, ...]]:
    """The review stacks among what the CLI listed, by PR, and every other name (ignored)."""
    stacks, others = [], []
    for summary in summaries:
        if not is_review_stack(summary.name):
            others.append(str(summary.name))
            continue
        last = summary.last_update
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)  # the CLI prints UTC; the SDK parses it naive
        stacks.append(
            ReviewStack(
                name=summary.name,
                pr=require_review_stack(summary.name),
                last_update=last,
                resource_count=summary.resource_count,
                update_in_progress=bool(summary.update_in_progress),
            )
        )
    return tuple(sorted(stacks, key=lambda s: s.pr)), tuple(sorted(others))


@dataclass(frozen=True)
class PruneChoice:
    stack: ReviewStack
    reason: str


@dataclass(frozen=True)
class PrunePlan:
    """What prune destroys, and the stacks a criterion matched that it keeps, with why."""

    selected: tuple[PruneChoice, ...]
    kept: tuple[PruneChoice, ...]


def select_for_prune(
    stacks: Iterable[ReviewStack],
    closed: frozenset[int] = frozenset(),
    older_than_days: int | None = None,
    now: datetime | None = None,
) -> PrunePlan:
    """Stacks whose PR is in `closed`, or whose last update is more than `older_than_days`
    days before `now`.

    Age is measured from the last update, not the creation date: a pull request that keeps
    pushing keeps its dataset. A stack that was never updated has no age and holds nothing:
    it is kept and reported. A stack with an update running is kept.
    """
    if not closed and older_than_days is None:
        raise UserError("prune selects by closed pull requests, by age, or both: none was given")
    now = now or datetime.now(UTC)
    selected, kept = [], []
    for stack in stacks:
        require_review_stack(stack.name)
        reasons = []
        if stack.pr in closed:
            reasons.append(f"pull request {stack.pr} is closed")
        age_unknown = False
        if older_than_days is not None:
            if stack.last_update is None:
                age_unknown = True
            else:
                age = now - stack.last_update
                if age > timedelta(days=older_than_days):
                    reasons.append(
                        f"last update {stack.last_update:%Y-%m-%d}, {age.days} days ago "
                        f"(more than {older_than_days})"
                    )
        if reasons and stack.update_in_progress:
            kept.append(PruneChoice(stack, "an update is running; prune it later"))
        elif reasons:
            selected.append(PruneChoice(stack, "; ".join(reasons)))
        elif age_unknown:
            why = "an update is running" if stack.update_in_progress else "never updated"
            kept.append(PruneChoice(stack, f"age unknown ({why})"))
    return PrunePlan(tuple(selected), tuple(kept))

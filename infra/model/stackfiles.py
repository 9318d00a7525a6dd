"""Reading `Pulumi.<stack>.yaml` the way the Pulumi CLI hands config to a program.

Commands that run without the Pulumi CLI (plan, verify, records, local) read a stack's config
from its committed file, as the CLI reads it (infra.model.stack_yaml: YAML 1.2, duplicate keys
an error) and passes it: scalars as text, structured values (labels) as JSON. A review app
stack `review-pr-<N>` has no file of its own: it is `Pulumi.review.yaml` plus its pull request
number.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from infra.errors import BadInput
from infra.model import stack_yaml
from infra.model.settings import (
    EPHEMERAL,
    KEYS,
    PROJECT_NAME,
    StackSettings,
    load_settings,
    tool_label_refusal,
    tool_labels_in,
)


def _project_root() -> Path:
    """This checkout when the package runs from one (an editable install); else, for an
    installed wheel, the directory it is run in, which should be the Pulumi project."""
    package_parent = Path(__file__).resolve().parents[2]
    return package_parent if (package_parent / "Pulumi.yaml").is_file() else Path.cwd()


ROOT = _project_root()
REVIEW_STACK_PREFIX = "review-pr-"
# A pull request number as written in a stack name: 1 to 999999999, no sign, no leading zero.
PR_NUMBER_PATTERN = "[1-9][0-9]{0,8}"
# \A and \Z: `$` would also match before a trailing newline ("review-pr-42\n").
REVIEW_STACK_RE = re.compile(rf"\A{REVIEW_STACK_PREFIX}({PR_NUMBER_PATTERN})\Z")
REVIEW_BASE_STACK = "review"
# Keys that describe the shared review stack's own dataset: a review app stack never inherits
# them (its dataset id and description are derived from its PR; it never adopts or owns the
# key grant; a pull request's app streams only while someone tries it, so no freshness limit).
REVIEW_BASE_OWN_KEYS = (
    "datasetId",
    "description",
    "adopt",
    "ownsKmsGrant",
    "maxStaleness",
    "maxCheckStaleness",
)


_STACK_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class StackFileError(BadInput):
    """A stack file that is missing or unreadable; the message is one line naming the file."""


def stack_file(stack: str, root: Path = ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def committed_stacks(root: Path = ROOT) -> list[str]:
    """Every stack with a committed `Pulumi.<stack>.yaml`, sorted."""
    return sorted(
        path.name[len("Pulumi.") : -len(".yaml")]
        for path in root.glob("Pulumi.*.yaml")
        if not REVIEW_STACK_RE.fullmatch(path.name[len("Pulumi.") : -len(".yaml")])
    )


def review_pr_number(stack: str) -> int | None:
    """The pull request number of a `review-pr-<N>` stack name, else None."""
    match = REVIEW_STACK_RE.fullmatch(stack)
    return int(match[1]) if match else None


def review_stack_config(pr_number: int, root: Path = ROOT) -> dict[str, str]:
    """The config of review app stack `review-pr-<N>`: the shared review file plus its PR."""
    config = read_stack_file(REVIEW_BASE_STACK, root)
    for name in REVIEW_BASE_OWN_KEYS:
        config.pop(KEYS[name].full, None)
    config[KEYS["prNumber"].full] = str(pr_number)
    config[KEYS["lifecycle"].full] = EPHEMERAL
    return config


def stack_config(stack: str, root: Path = ROOT) -> dict[str, str]:
    """The flat config map for a stack, as the Pulumi CLI would give it to the program."""
    if not _STACK_NAME_RE.fullmatch(stack):
        raise StackFileError(
            f"stack name {stack!r} is not accepted: letters, digits, '-', '_' and '.'"
        )
    pr_number = review_pr_number(stack)
    if pr_number is not None:
        return review_stack_config(pr_number, root)
    return read_stack_file(stack, root)


def read_stack_file(stack: str, root: Path = ROOT) -> dict[str, str]:
    path = stack_file(stack, root)
    if not path.is_file():
        known = ", ".join(committed_stacks(root)) or "none"
        raise StackFileError(
            f"no stack file {path.name} for stack {stack!r} (stacks: {known}, review-pr-<N>)"
        )
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise StackFileError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    try:
        config = stack_yaml.config_strings(content, PROJECT_NAME)
    except stack_yaml.StackYamlError as exc:
        raise StackFileError(f"{path.name}: {exc}") from None
    labels_key = KEYS["labels"].full
    try:
        labels = json.loads(config.get(labels_key, "{}"))
    except ValueError:
        labels = None  # a string, not a map: load_settings names what labels accepts
    overridden = tool_labels_in(labels) if isinstance(labels, dict) else []
    if overridden:
        raise StackFileError(f"{path.name}: {labels_key}: {tool_label_refusal(overridden[0])}")
    return config


def settings_for(stack: str, root: Path = ROOT) -> StackSettings:
    """Settings of a stack from its committed file; StackFileError or ConfigError."""
    return load_settings(stack, stack_config(stack, root))

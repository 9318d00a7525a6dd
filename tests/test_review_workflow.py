"""review-apps.yml and review-apps-prune.yml: valid, keyless, and their steps do what they say."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.cli.main import build_parser

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "review-apps.yml"
PRUNE = ROOT / ".github" / "workflows" / "review-apps-prune.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


@pytest.fixture(scope="module")
def prune() -> dict:
    return yaml.safe_load(PRUNE.read_text())


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def test_valid_against_the_github_workflow_schema():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW), str(PRUNE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_triggers_and_outputs(workflow, prune):
    on = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert set(on) == {"workflow_call", "workflow_dispatch"}
    assert set(on["workflow_call"]["outputs"]) == {"project", "dataset", "table", "table_ref"}
    assert set(prune[True]) == {"schedule", "workflow_dispatch"}


def test_a_caller_need_grant_no_more_than_an_identity_token(workflow):
    # GitHub refuses to start a called workflow any of whose jobs asks for a permission the
    # caller did not grant, even a job it would skip: so the prune (issues: write) lives in a
    # workflow of its own, and this one asks for what the caller's example grants.
    assert workflow["permissions"] == {"contents": "read", "id-token": "write"}
    assert [job.get("permissions") for job in workflow["jobs"].values()] == [None]


def test_prune_runs_only_in_this_repository_at_main(prune):
    assert prune["jobs"]["prune"]["if"] == "github.repository == 'DFE-Digital/npq-analytics'"
    checkout = next(
        s for s in steps(prune, "prune") if s.get("uses", "").startswith("actions/checkout@")
    )
    assert checkout["with"]["repository"] == "DFE-Digital/npq-analytics"
    assert checkout["with"]["ref"] == "main"


def test_the_caller_gets_this_repository_not_its_own(workflow):
    review_app = workflow["jobs"]["review-app"]
    checkout = next(
        s for s in review_app["steps"] if s.get("uses", "").startswith("actions/checkout@")
    )
    assert checkout["with"]["repository"] == "DFE-Digital/npq-analytics"


def test_google_auth_is_keyless_through_the_setup_action(workflow, prune):
    for path in (WORKFLOW, PRUNE):
        text = path.read_text()
        assert "credentials_json" not in text and "GOOGLE_CREDENTIALS" not in text
    for document, job in ((workflow, "review-app"), (prune, "prune")):
        names = [s.get("uses", "") for s in steps(document, job)]
        setup = names.index("./.github/actions/setup")
        checkout = next(i for i, u in enumerate(names) if u.startswith("actions/checkout@"))
        assert checkout < setup  # the setup action comes from it
        assert set(steps(document, job)[setup]["with"]) == {
            "workload_identity_provider",
            "service_account",
        }
    action = yaml.safe_load((ROOT / ".github" / "actions" / "setup" / "action.yml").read_text())
    uses = [s.get("uses", "") for s in action["runs"]["steps"]]
    assert any(u.startswith("google-github-actions/auth@") for u in uses)
    assert any(u.startswith("pulumi/actions@") for u in uses)


def run_decide(workflow: dict, tmp_path: Path, **env: str) -> tuple[int, dict[str, str]]:
    script = steps(workflow, "review-app")[0]["run"]
    output = tmp_path / "output"
    output.write_text("")
    base = {
        "INPUT_ACTION": "",
        "INPUT_PR": "",
        "EVENT_NAME": "",
        "EVENT_ACTION": "",
        "EVENT_PR": "",
    }
    result = subprocess.run(
        ["bash", "-e", "-c", script],
        env={**os.environ, **base, **env, "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        check=False,
    )
    values = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return result.returncode, values


@pytest.mark.parametrize(
    ("event_action", "expected"),
    [("opened", "up"), ("synchronize", "up"), ("reopened", "up"), ("closed", "destroy")],
)
def test_the_callers_pull_request_event_decides(workflow, tmp_path, event_action, expected):
    code, values = run_decide(
        workflow, tmp_path, EVENT_NAME="pull_request", EVENT_ACTION=event_action, EVENT_PR="42"
    )
    assert (code, values) == (0, {"action": expected, "pr": "42"})


def test_inputs_override_the_event(workflow, tmp_path):
    code, values = run_decide(
        workflow, tmp_path, INPUT_ACTION="destroy", INPUT_PR="7", EVENT_NAME="pull_request",
        EVENT_ACTION="opened", EVENT_PR="42",
    )  # fmt: skip
    assert (code, values) == (0, {"action": "destroy", "pr": "7"})


@pytest.mark.parametrize(
    "env",
    [
        {"EVENT_NAME": "pull_request", "EVENT_ACTION": "labeled", "EVENT_PR": "42"},
        {"EVENT_NAME": "workflow_dispatch", "INPUT_ACTION": "up", "INPUT_PR": ""},
        {"EVENT_NAME": "workflow_dispatch", "INPUT_ACTION": "up", "INPUT_PR": "7\naction=destroy"},
        {"EVENT_NAME": "workflow_dispatch", "INPUT_ACTION": "up", "INPUT_PR": "production"},
        {"EVENT_NAME": "workflow_dispatch", "INPUT_ACTION": "rm", "INPUT_PR": "7"},
    ],
)
def test_anything_else_stops_the_job(workflow, tmp_path, env):
    code, values = run_decide(workflow, tmp_path, **env)
    assert code == 2 and values == {}


def test_every_npq_events_command_in_them_parses(workflow, prune):
    samples = {
        "$ACTION": "up",
        "$PR": "42",
        '"${args[@]}"': "--older-than 14 --closed 3,4",
        "2>&1": "",  # a redirection, not an argument
    }
    commands = []
    for job in [*workflow["jobs"].values(), *prune["jobs"].values()]:
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():
                for match in re.finditer(r"venv/bin/npq-events ([^|)]+)", line):
                    text = match.group(1)
                    for name, value in samples.items():
                        text = text.replace(name, value)
                    commands.append(shlex.split(text))
    assert [c[:2] for c in commands] == [
        ["review", "up"],
        ["review", "list"],
        ["review", "prune"],
    ]
    parser = build_parser()
    for command in commands:
        parser.parse_args(command)

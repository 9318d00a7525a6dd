"""The GitHub Actions workflows: valid, wired as the README says, and their scripts behave.

GitHub and the Pulumi CLI cannot run here. The workflow files are checked against GitHub's
schema (check-jsonschema's built-in copy, as .ci/run does) and for the promises the README
makes about them. Their shell scripts run for real with a stand-in `pulumi` on PATH that
answers as the CLI does (recorded previews from tests/data/previews, its exit statuses); their
github-script steps run in Node.js against a stand-in for GitHub's REST API
(tests/support/github_script.cjs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.model.stackfiles import committed_stacks
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
SETUP_ACTION = ROOT / ".github" / "actions" / "setup" / "action.yml"
SCRIPTS = ROOT / ".github" / "scripts"
PREVIEWS = ROOT / "tests" / "data" / "previews"
HARNESS = ROOT / "tests" / "support" / "github_script.cjs"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


def workflow(name: str) -> dict:
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def all_workflows() -> dict[str, dict]:
    return {path.name: workflow(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


# --- validity ---------------------------------------------------------------------------------


def test_workflows_and_the_setup_action_match_githubs_schemas():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert {Path(f).name for f in files} >= {"ci.yml", "preview.yml", "deploy.yml", "drift.yml"}
    for schema, targets in (
        ("vendor.github-workflows", files),
        ("vendor.github-actions", [str(SETUP_ACTION)]),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *targets],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_major_version_or_a_commit():
    documents = [*all_workflows().values(), yaml.safe_load(SETUP_ACTION.read_text())["runs"]]
    used = []
    for document in documents:
        jobs = document.get("jobs", {"composite": document})
        for job in jobs.values():
            used.extend(step["uses"] for step in steps(job) if "uses" in step)
    assert used
    for uses in used:
        assert uses.startswith("./") or PINNED.match(uses), uses


def test_every_workflow_limits_its_token_and_asks_for_an_id_token_only_to_authenticate():
    for name, document in all_workflows().items():
        permissions = document.get("permissions")
        assert isinstance(permissions, dict), f"{name}: no top-level permissions"
        authenticates = any(
            step.get("uses", "").startswith(
                ("./.github/actions/setup", "google-github-actions/auth@")
            )
            for job in document["jobs"].values()
            for step in steps(job)
        )
        assert (permissions.get("id-token") == "write") == authenticates, name


def test_the_setup_action_authenticates_by_workload_identity_federation():
    action = yaml.safe_load(SETUP_ACTION.read_text())
    auth = next(
        s for s in action["runs"]["steps"] if s.get("uses", "").startswith("google-github-actions/")
    )
    assert set(auth["with"]) == {"workload_identity_provider", "service_account"}
    assert "credentials_json" not in SETUP_ACTION.read_text()


def test_the_setup_action_installs_into_the_virtualenv_pulumi_runs_the_program_with():
    # Pulumi runs __main__.py with the interpreter of Pulumi.yaml's `virtualenv`; a missing one
    # fails every preview and up (or is created empty, without pulumi-gcp or this package).
    virtualenv = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"][
        "virtualenv"
    ]
    action = yaml.safe_load(SETUP_ACTION.read_text())
    install = next(s["run"] for s in action["runs"]["steps"] if "pip install" in s.get("run", ""))
    assert f"python -m venv {virtualenv}\n" in install
    assert f"{virtualenv}/bin/python -m pip install --quiet -e ." in install
    assert f'echo "$PWD/{virtualenv}/bin" >> "$GITHUB_PATH"' in install
    # Every workflow that calls the installed command by path uses that same virtualenv.
    for name, text in ((p.name, p.read_text()) for p in WORKFLOWS.glob("*.yml")):
        for match in re.finditer(r"([\w./-]*)/bin/npq-events", text):
            assert match.group(1) == virtualenv, f"{name}: {match.group(0)}"


# --- wiring -----------------------------------------------------------------------------------


def test_ci_runs_the_readme_test_command_the_schema_gate_and_ruff():
    document = workflow("ci.yml")
    assert set(document["on"]) == {"push", "pull_request"}
    commands = runs(document["jobs"]["test"])
    readme = (ROOT / "README.md").read_text()
    assert "python -m pytest" in readme
    for command in (
        "pip install -e '.[local,dev]'",
        "python -m pytest",
        "npq-events schema check",
        "ruff check",
    ):
        assert command in commands, command


@pytest.mark.parametrize("name", ["preview.yml", "drift.yml"])
def test_previews_and_drift_cover_every_long_lived_stack(name):
    document = workflow(name)
    assert document["env"]["STACKS"].split() == sorted(committed_stacks(), key=_stack_order)


def _stack_order(stack: str) -> int:
    return ["production", "staging", "sandbox", "review"].index(stack)


def test_preview_posts_one_comment_and_fails_on_the_gate():
    document = workflow("preview.yml")
    assert list(document["on"]) == ["pull_request"]
    assert document["permissions"]["pull-requests"] == "write"
    job = document["jobs"]["preview"]
    commands = runs(job)
    assert ".github/scripts/preview-stack" in commands
    assert ".github/scripts/preview-comment" in commands
    assert steps(job)[-1]["if"] == "steps.previews.outputs.failed != '0'"


def test_deploy_gates_each_up_then_verifies_and_waits_for_approval_on_production():
    document = workflow("deploy.yml")
    assert document["on"]["push"]["branches"] == ["main"]
    staging, production = document["jobs"]["staging"], document["jobs"]["production"]
    assert production["needs"] == "staging"
    assert production["environment"] == "production"
    for stack, job in (("staging", staging), ("production", production)):
        assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
        commands = [step.get("run", "") for step in steps(job)]
        gate = commands.index(f".github/scripts/preview-stack {stack} previews")
        up = next(i for i, c in enumerate(commands) if c.startswith("pulumi up"))
        verify = next(i for i, c in enumerate(commands) if c.startswith("npq-events verify"))
        assert gate < up < verify
        assert f"--stack {stack}" in commands[up]
        assert f"--stack {stack}" in commands[verify]
        # No step between the gate and the up may let a failed gate through.
        assert all("continue-on-error" not in s for s in steps(job)[gate : up + 1])


def test_deploy_runs_only_from_main_also_when_started_by_hand():
    # workflow_dispatch lets anyone with write access pick any branch: its code must not reach
    # a live stack without review. Production needs staging, so it is skipped with it.
    document = workflow("deploy.yml")
    assert "workflow_dispatch" in document["on"]
    for name in ("staging", "production"):
        assert document["jobs"][name]["if"] == "github.ref == 'refs/heads/main'", name


def test_drift_runs_daily_and_on_demand_and_reads_exit_7_as_drift():
    document = workflow("drift.yml")
    assert set(document["on"]) == {"schedule", "workflow_dispatch"}
    commands = runs(document["jobs"]["drift"])
    assert "npq-events verify --all --format markdown" in commands
    assert "pulumi refresh --stack" in commands
    assert "--preview-only --expect-no-changes" in commands
    assert re.search(r"^\s*7\) result=", commands, flags=re.MULTILINE)
    assert document["permissions"]["issues"] == "write"


def test_the_docs_name_every_variable_and_secret_the_workflows_use():
    text = "\n".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    names = set(re.findall(r"\$\{\{\s*(?:vars|secrets)\.([A-Z0-9_]+)", text))
    assert names >= {"PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"}
    docs = "\n".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    for name in names:
        assert f"`{name}`" in docs, name


# --- the preview scripts, with a stand-in pulumi ----------------------------------------------

FAKE_PULUMI = """#!/usr/bin/env python3
# Answers `pulumi preview` as the CLI does: --json prints the digest (exit 255 when the
# preview reported an error), --diff prints text; FAKE_PULUMI_FAIL makes it fail like a
# missing stack does, before any preview.
import json, os, sys
args = sys.argv[1:]
if os.environ.get("FAKE_PULUMI_FAIL"):
    print("error: no stack named 'production' found", file=sys.stderr)
    sys.exit(255)
assert args[0] == "preview", args
text = open(os.environ["FAKE_PULUMI_PREVIEW"]).read()
failed = any(d.get("severity") == "error" for d in json.loads(text).get("diagnostics", []))
if "--json" in args:
    sys.stdout.write(text)
else:
    print("Previewing update (" + args[args.index("--stack") + 1] + "):")
    print("  ~ gcp:bigquery/table:Table: (update)")
    print("    ~ clusterings: [" + "x" * int(os.environ.get("FAKE_DIFF_WIDTH", "10")) + "]")
sys.exit(255 if failed else 0)
"""


@pytest.fixture
def fake_path(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "npq-events").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m infra.cli "$@"\n')
    for tool in bin_dir.iterdir():
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def preview_stack(fake_path, tmp_path, stack, preview, **env):
    environment = {
        **os.environ,
        "PATH": f"{fake_path}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "FAKE_PULUMI_PREVIEW": str(PREVIEWS / preview),
        **env,
    }
    return subprocess.run(
        [str(SCRIPTS / "preview-stack"), stack, str(tmp_path / "previews")],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def comment(tmp_path, *stacks, **env):
    result = subprocess.run(
        [str(SCRIPTS / "preview-comment"), str(tmp_path / "previews"), *stacks],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_preview_stack_refuses_a_table_replace_and_the_comment_says_so(fake_path, tmp_path):
    blocked = preview_stack(fake_path, tmp_path, "production", "replace-table.json")
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    passed = preview_stack(fake_path, tmp_path, "staging", "update-clustering.json")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    out = tmp_path / "previews"
    assert (out / "production.status").read_text().strip() == "1"
    assert (
        "BLOCKED replace table ecf-bq.npq_events_production.events"
        in (out / "production.gate").read_text()
    )
    assert "Previewing update (production)" in (out / "production.diff").read_text()

    text = comment(tmp_path, "production", "staging")
    assert text.splitlines()[0] == "<!-- npq-analytics:preview -->"
    assert "| `production` | **blocked**: would destroy stored data |" in text
    assert "| `staging` | pass |" in text
    assert "because of: schema" in text


def test_preview_stack_reports_pulumis_refusal_as_a_block(fake_path, tmp_path):
    # Pulumi exits 255 on the protected KMS grant; the gate names the grant: 1, not 2.
    result = preview_stack(fake_path, tmp_path, "production", "delete-kms-grant.json")
    assert result.returncode == 1
    assert "BLOCKED delete KMS grant" in result.stdout


def test_preview_stack_cannot_check_when_pulumi_fails(fake_path, tmp_path):
    result = preview_stack(fake_path, tmp_path, "production", "noop.json", FAKE_PULUMI_FAIL="1")
    assert result.returncode == 2
    gate = (tmp_path / "previews" / "production.gate").read_text()
    assert "empty input" in gate
    assert "no stack named 'production' found" in gate
    assert "**could not check**" in comment(tmp_path, "production")


def test_the_comment_cuts_a_long_diff(fake_path, tmp_path):
    preview_stack(fake_path, tmp_path, "production", "noop.json", FAKE_DIFF_WIDTH="5000")
    text = comment(tmp_path, "production", "staging", PREVIEW_DIFF_LIMIT="300")
    assert "cut at 300 characters" in text
    assert "x" * 400 not in text
    assert "| `staging` | **not previewed** |" in text


# --- the github-script steps, against a stand-in GitHub API -----------------------------------


def github_script(workflow_name: str, step_name: str, tmp_path, state: dict, env=None):
    document = workflow(workflow_name)
    step = next(
        s for job in document["jobs"].values() for s in steps(job) if s.get("name") == step_name
    )
    script = tmp_path / "script.js"
    script.write_text(step["with"]["script"])
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    result = subprocess.run(
        [_node(), str(HARNESS), str(script), str(state_file)],
        cwd=tmp_path,
        env={**os.environ, **document.get("env", {}), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [c for c in json.loads(result.stdout) if not c["call"].endswith(("list", "Repo"))]


def _node() -> str:
    node = shutil.which("node")
    assert node, "Node.js runs the workflows' github-script steps in these tests"
    return node


BOT = {"login": "github-actions[bot]", "type": "Bot"}
MARKER = "<!-- npq-analytics:preview -->"
POST = "Post the previews on the pull request"
TRACK = "Open, update or close the tracking issue"
TITLE = "Drift: live BigQuery or Pulumi state differs from the code"


def test_the_preview_comment_is_created_once_then_updated_in_place(tmp_path):
    (tmp_path / "previews").mkdir()
    (tmp_path / "previews" / "comment.md").write_text(f"{MARKER}\n## Pulumi previews\n")
    calls = github_script("preview.yml", POST, tmp_path, {"comments": []})
    assert [c["call"] for c in calls] == ["issues.listComments", "issues.createComment"]
    assert calls[1]["params"]["issue_number"] == 12

    others = [
        {"id": 1, "user": {"login": "dev", "type": "User"}, "body": f"{MARKER} quoted by a person"},
        {"id": 2, "user": BOT, "body": f"{MARKER}\nold previews"},
    ]
    calls = github_script("preview.yml", POST, tmp_path, {"comments": others})
    assert [c["call"] for c in calls] == ["issues.listComments", "issues.updateComment"]
    assert calls[1]["params"]["comment_id"] == 2
    assert calls[1]["params"]["body"].startswith(MARKER)


def drift_files(tmp_path):
    (tmp_path / "drift").mkdir()
    (tmp_path / "drift" / "verify.md").write_text("| staging | drift | replace |\n")
    (tmp_path / "drift" / "refresh.md").write_text("| `staging` | **drift** |\n")


def test_drift_opens_one_issue_then_comments_on_it(tmp_path):
    drift_files(tmp_path)
    env = {"VERIFY_STATUS": "1", "REFRESH_FAILED": "1"}
    calls = github_script("drift.yml", TRACK, tmp_path, {"issues": []}, env)
    created = [c for c in calls if c["call"] == "issues.create"]
    assert len(created) == 1
    assert created[0]["params"]["title"] == TITLE
    assert created[0]["params"]["labels"] == ["drift"]
    assert "| staging | drift | replace |" in created[0]["params"]["body"]

    open_issue = {"number": 5, "title": TITLE, "state": "open", "user": BOT}
    calls = github_script("drift.yml", TRACK, tmp_path, {"issues": [open_issue]}, env)
    assert [c["call"] for c in calls if c["call"].startswith("issues.")] == ["issues.createComment"]
    assert calls[0]["params"]["issue_number"] == 5


def test_drift_opens_an_issue_when_a_check_did_not_run(tmp_path):
    # A failed login leaves verify's output empty: that is not a clean run.
    calls = github_script(
        "drift.yml", TRACK, tmp_path, {"issues": []}, {"VERIFY_STATUS": "", "REFRESH_FAILED": ""}
    )
    (created,) = [c for c in calls if c["call"] == "issues.create"]
    assert "did not run" in created["params"]["body"]


def test_drift_opens_the_issue_unlabelled_when_labelling_fails(tmp_path):
    drift_files(tmp_path)
    calls = github_script(
        "drift.yml",
        TRACK,
        tmp_path,
        {"issues": [], "failLabels": True},
        {"VERIFY_STATUS": "0", "REFRESH_FAILED": "1"},
    )
    created = [c["params"] for c in calls if c["call"] == "issues.create"]
    assert [("labels" in p) for p in created] == [True, False]


def test_a_clean_run_closes_the_open_issue_and_leaves_others_alone(tmp_path):
    env = {"VERIFY_STATUS": "0", "REFRESH_FAILED": "0"}
    someone_elses = {"number": 3, "title": TITLE, "state": "open", "user": {"login": "dev"}}
    assert github_script("drift.yml", TRACK, tmp_path, {"issues": [someone_elses]}, env) == []

    open_issue = {"number": 5, "title": TITLE, "state": "open", "user": BOT}
    calls = github_script("drift.yml", TRACK, tmp_path, {"issues": [open_issue]}, env)
    assert [c["call"] for c in calls] == ["issues.createComment", "issues.update"]
    assert calls[1]["params"] == {
        "owner": "dfe",
        "repo": "npq-analytics",
        "issue_number": 5,
        "state": "closed",
        "state_reason": "completed",
    }

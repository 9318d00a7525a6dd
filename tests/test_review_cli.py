"""`npq-events review` on the real Automation API, against a stand-in Pulumi CLI.

The Pulumi CLI cannot be installed here. tests/fake_pulumi/fake_pulumi.py answers the
subcommands the Automation API invokes the way Pulumi CLI v3.272.0 does (same arguments, JSON
and exit codes; see its docstring), keeps a DIY backend's state in a temporary directory and
logs every call, so these tests assert the exact sequence of Pulumi calls each command makes.
Each test works on a copy of the project, as the Automation API writes Pulumi.<stack>.yaml
into the project directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from infra.cli.main import main as cli_main
from infra.model.stackfiles import review_pr_number
from infra.review import decisions as review
from tests.helpers import ROOT, one_line_error, run_cli, run_cli_process

FAKE = ROOT / "tests" / "fake_pulumi" / "fake_pulumi.py"
_spec = importlib.util.spec_from_file_location("fake_pulumi", FAKE)
fake_pulumi = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake_pulumi)

STACK_FILES = tuple(f"Pulumi.{s}.yaml" for s in ("production", "staging", "sandbox", "review"))
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "infra", "pyproject.toml", *STACK_FILES)
DAY = 86400


class StandIn:
    """A project copy, the stand-in `pulumi` first on PATH, its state and its call log."""

    def __init__(self, tmp: Path) -> None:
        self.project = tmp / "project"
        self.project.mkdir()
        for name in PROJECT_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, self.project / name, ignore=shutil.ignore_patterns("__py*"))
            else:
                shutil.copy(source, self.project / name)
        self.bin = tmp / "bin"
        self.bin.mkdir()
        wrapper = self.bin / "pulumi"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
        wrapper.chmod(0o755)
        self.log = tmp / "pulumi-calls.jsonl"
        self.github_output = tmp / "github-output"
        self.env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(self.project),
            "PULUMI_BACKEND_URL": f"file://{tmp / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "test-only",
            "NPQ_FAKE_PULUMI_LOG": str(self.log),
            "GITHUB_OUTPUT": "",
        }
        self.backend = fake_pulumi.Backend(self.project, self.env["PULUMI_BACKEND_URL"])

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """`npq-events ARGS` in this process, in the project copy (the stand-in Pulumi CLI it
        calls runs the copy's program in processes of its own)."""
        return run_cli(
            "--project-dir", str(self.project), *args, cwd=self.project, env={**self.env, **env}
        )

    def pulumi(self, *args: str) -> None:
        """Prepare state through the stand-in itself, as an earlier run would have."""
        result = subprocess.run(
            [str(self.bin / "pulumi"), "--non-interactive", *args],
            cwd=self.project,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        self.forget_calls()

    def seed(
        self,
        stack: str,
        last_update: float | None,
        outputs: dict | None = None,
        config: dict[str, str] | None = None,
        holds: str | None = None,
    ) -> None:
        """A stack's state written directly, as an earlier run or another tool left it: its
        dataset is the one the outputs name, else the stack's own (`holds` overrides it)."""
        pr = review_pr_number(stack)
        dataset = (
            holds
            or (outputs or {}).get("dataset_id")
            or (f"npq_events_review_pr_{pr}" if pr else f"npq_events_{stack}")
        )
        resources = [] if last_update is None else [
            {"type": "pulumi:pulumi:Stack", "name": f"npq-analytics-{stack}", "inputs": {}},
            {
                "type": "gcp:bigquery/dataset:Dataset",
                "name": "npq-events-dataset",
                "inputs": {"project": "ecf-bq", "datasetId": dataset},
            },
        ]  # fmt: skip
        updates = [] if last_update is None else [
            {
                "version": 1, "kind": "update", "startTime": last_update, "endTime": last_update,
                "config": config or {}, "result": "succeeded", "resourceChanges": {"create": 2},
            }
        ]  # fmt: skip
        self.backend.save(
            stack,
            {
                "deployed": last_update is not None,
                "lastUpdate": last_update,
                "resources": resources,
                "outputs": outputs or {},
                "history": updates,
            },
        )

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log.read_text().splitlines()]

    def exits(self) -> list[int]:
        return [json.loads(line)["exit"] for line in self.log.read_text().splitlines()]

    def forget_calls(self) -> None:
        self.log.unlink(missing_ok=True)

    def stacks(self) -> list[str]:
        return self.backend.names()


@pytest.fixture
def standin(tmp_path):
    return StandIn(tmp_path)


@pytest.fixture
def in_process(standin, monkeypatch, capsys):
    """`npq-events --project-dir <the project copy> ARGS` in this process: faster than a fresh
    process, for commands whose output is all a test needs."""

    def run(*args: str, **env: str) -> tuple[int, str, str]:
        for key, value in {**standin.env, **env}.items():
            monkeypatch.setenv(key, value)
        code = cli_main(["--project-dir", str(standin.project), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def ni(*args: str) -> list[str]:
    return ["--non-interactive", *args]


def history(stack: str, *, show_secrets: bool = True) -> list[str]:
    secrets = ["--show-secrets"] if show_secrets else []
    return ni(
        "stack", "history", "--json", *secrets, "--page-size", "1", "--page", "1", "--stack", stack
    )


def config_args(config: dict[str, str]) -> list[str]:
    args = []
    for key, value in config.items():
        args += ["--plaintext", f"{key}={value}"]
    return args


def up_calls(stack: str) -> list[list[str]]:
    return [
        ni("up", "--yes", "--skip-preview", "--exec-kind", "auto.local", "--stack", stack),
        ni("stack", "output", "--json", "--stack", stack),
        ni("stack", "output", "--json", "--show-secrets", "--stack", stack),
        history(stack),
    ]


def export_call(stack: str) -> list[str]:
    return ni("stack", "export", "--show-secrets", "--stack", stack)


def destroy_calls(stack: str) -> list[list[str]]:
    return [
        ni("stack", "select", "--stack", stack),
        export_call(stack),
        ni("destroy", "--skip-preview", "--yes", "--exec-kind", "auto.local", "--stack", stack),
        history(stack),
        ni("stack", "rm", "--yes", stack),
    ]


def today_candidates(before: datetime) -> set[str]:
    return {before.date().isoformat(), datetime.now(UTC).date().isoformat()}


# -- up --------------------------------------------------------------------------------------


def test_up_creates_configures_and_reports_the_dataset(standin):
    before = datetime.now(UTC)
    result = standin.cli("review", "up", "--pr", "42", GITHUB_OUTPUT=str(standin.github_output))
    assert result.returncode == 0, result.stderr
    assert "npq_events_review_pr_42" in result.stdout
    assert "ecf-bq.npq_events_review_pr_42.events" in result.stdout
    assert "Traceback" not in result.stderr and "Updating (review-pr-42)" in result.stderr

    calls = standin.calls()
    created_on = calls[4][-1].split("=", 1)[1]
    assert created_on in today_candidates(before)
    config = review.review_config(42, datetime.fromisoformat(created_on).date())
    assert calls == [
        ["version"],
        ni("stack", "select", "--stack", "review-pr-42"),
        ni("stack", "init", "review-pr-42"),
        ni("config", "--show-secrets", "--json", "--stack", "review-pr-42"),
        ni("config", "set-all", "--stack", "review-pr-42", *config_args(config)),
        *up_calls("review-pr-42"),
    ]
    assert standin.exits()[1] == 6  # select: no such stack yet, then init

    stack_file = yaml.safe_load((standin.project / "Pulumi.review-pr-42.yaml").read_text())
    assert stack_file["config"] == config
    assert standin.github_output.read_text().splitlines() == [
        "project=ecf-bq",
        "dataset=npq_events_review_pr_42",
        "table=events",
        "table_ref=ecf-bq.npq_events_review_pr_42.events",
    ]
    state = standin.backend.load("review-pr-42")
    assert state["outputs"]["dataset_id"] == "npq_events_review_pr_42"
    dataset = next(r for r in state["resources"] if r["type"] == "gcp:bigquery/dataset:Dataset")
    assert dataset["inputs"]["labels"]["created-on"] == created_on
    assert dataset["inputs"]["deleteContentsOnDestroy"] is True


def test_up_again_keeps_the_creation_date_and_drops_stale_config(standin):
    old = review.review_config(42, datetime(2025, 1, 2).date())
    standin.seed("review-pr-42", time.time() - 3 * DAY, config=old)
    # The local stack file holds a key the review config lacks (here: another dataset):
    # it must not reach the program.
    stale = {**old, "npq-analytics:datasetId": "npq_events_production"}
    standin.pulumi("config", "set-all", "--stack", "review-pr-42", *config_args(stale))

    result = standin.cli("review", "up", "--pr", "42")
    assert result.returncode == 0, result.stderr
    assert "(created 2025-01-02)" in result.stdout
    assert standin.calls() == [
        ["version"],
        ni("stack", "select", "--stack", "review-pr-42"),
        history("review-pr-42", show_secrets=False),
        ni("config", "--show-secrets", "--json", "--stack", "review-pr-42"),
        ni("config", "rm-all", "--stack", "review-pr-42", "npq-analytics:datasetId"),
        ni("config", "set-all", "--stack", "review-pr-42", *config_args(old)),
        *up_calls("review-pr-42"),
    ]
    state = standin.backend.load("review-pr-42")
    assert state["history"][-1]["config"] == old
    assert state["outputs"]["dataset_id"] == "npq_events_review_pr_42"


DONE_WHEN_REFUSALS = [("destroy", "production"), ("destroy", "0"), ("up", "production")]


@pytest.mark.parametrize(("action", "bad"), DONE_WHEN_REFUSALS)
def test_a_bad_pr_is_refused_before_any_pulumi_call(standin, action, bad):
    result = standin.cli("review", action, "--pr", bad)
    assert result.returncode == 2
    assert result.stderr == (
        f"npq-events: error: --pr {bad!r} is not accepted: a pull request number: digits only, "
        "1 to 999999999, no sign, space or leading zero\n"
    )
    assert standin.calls() == []


@pytest.mark.parametrize("bad", ["-1", "1e3", " 42", "42 ", "042", "+42", "review-pr-42", ""])
@pytest.mark.parametrize("action", ["up", "destroy"])
def test_every_bad_pr_is_refused_before_any_pulumi_call(in_process, standin, action, bad):
    code, out, err = in_process("review", action, "--pr", bad)
    assert (code, out) == (2, "")
    assert (
        err.startswith(f"npq-events: error: --pr {bad!r} is not accepted") and err.count("\n") == 1
    )
    assert standin.calls() == []


def test_a_bad_review_file_is_refused_before_any_pulumi_call(standin, in_process):
    path = standin.project / "Pulumi.review.yaml"
    path.write_text(path.read_text().replace("timeTravelHours: 168", "timeTravelHours: 12"))
    code, out, err = in_process("review", "up", "--pr", "42")
    assert (code, out) == (2, "")
    assert "npq-analytics:timeTravelHours = '12'" in err and err.count("\n") == 1
    assert standin.calls() == []


def test_a_project_dir_without_a_pulumi_project_is_refused(standin, monkeypatch, capsys, tmp_path):
    for key, value in standin.env.items():
        monkeypatch.setenv(key, value)
    assert cli_main(["--project-dir", str(tmp_path), "review", "list"]) == 2
    assert capsys.readouterr().err == (
        f"npq-events: error: --project-dir {tmp_path}: no Pulumi.yaml there; review commands "
        "run the Pulumi project in that directory\n"
    )
    assert standin.calls() == []


NO_CLI = (
    "npq-events: error: the Pulumi CLI (pulumi) is not on PATH; install it: "
    "https://www.pulumi.com/docs/iac/download-install/\n"
)


def test_without_the_pulumi_cli_up_says_so_in_one_line(standin, tmp_path):
    result = standin.cli("review", "up", "--pr", "42", PATH=str(tmp_path))
    assert (result.returncode, result.stderr) == (2, NO_CLI)


@pytest.mark.parametrize(
    "args", [["destroy", "--pr", "42"], ["list"], ["prune", "--closed", "1", "--dry-run"]]
)
def test_without_the_pulumi_cli_every_command_says_so(in_process, tmp_path, args):
    assert in_process("review", *args, PATH=str(tmp_path)) == (2, "", NO_CLI)


def test_a_pulumi_failure_is_one_line_and_exit_2(standin):
    env = {**standin.env}
    del env["PULUMI_CONFIG_PASSPHRASE"]
    result = run_cli_process("review", "up", "--pr", "42", cwd=standin.project, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert result.stderr.startswith("npq-events: error: selecting stack review-pr-42 failed: ")
    assert "passphrase must be set with PULUMI_CONFIG_PASSPHRASE" in result.stderr
    assert result.stderr.endswith("(pulumi exit 1)\n")
    assert standin.calls()[-1] == ni("stack", "init", "review-pr-42")


# -- destroy ---------------------------------------------------------------------------------


def test_destroy_destroys_and_removes_the_stack_then_finds_nothing(standin):
    config = review.review_config(42, datetime(2025, 1, 2).date())
    standin.seed("review-pr-42", time.time(), {"dataset_id": "npq_events_review_pr_42"}, config)
    standin.pulumi("config", "set-all", "--stack", "review-pr-42", *config_args(config))
    assert (standin.project / "Pulumi.review-pr-42.yaml").exists()

    result = standin.cli("review", "destroy", "--pr", "42")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "review-pr-42: destroyed its resources and removed the stack\n"
    assert "Destroying (review-pr-42)" in result.stderr
    assert standin.calls() == [["version"], *destroy_calls("review-pr-42")]
    assert standin.stacks() == []
    assert not (standin.project / "Pulumi.review-pr-42.yaml").exists()

    standin.forget_calls()
    again = standin.cli("review", "destroy", "--pr", "42")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "review-pr-42: no such stack; nothing to destroy\n"
    assert standin.calls() == [["version"], ni("stack", "select", "--stack", "review-pr-42")]
    assert standin.exits() == [0, 6]


def test_destroy_refuses_a_review_stack_that_holds_another_dataset(standin, in_process):
    standin.seed("review-pr-5", time.time(), {"dataset_id": "npq_events_production"})
    code, _out, err = in_process("review", "destroy", "--pr", "5")
    assert code == 2
    assert err == (
        "npq-events: error: refusing stack review-pr-5: its state holds "
        "gcp:bigquery/dataset:Dataset npq-events-dataset in dataset ecf-bq.npq_events_production, "
        "not only its own dataset ecf-bq.npq_events_review_pr_5\n"
    )
    assert standin.calls() == [["version"], *destroy_calls("review-pr-5")[:2]]
    assert standin.stacks() == ["review-pr-5"]


def test_destroy_judges_ownership_from_the_state_not_the_outputs(standin, in_process):
    """Path 7: a review-pr-N stack whose state holds another dataset and whose outputs are
    empty (made or imported by hand under a review name) must not be destroyed."""
    standin.seed("review-pr-6", time.time(), outputs={}, holds="npq_events_staging")
    code, _out, err = in_process("review", "destroy", "--pr", "6")
    assert code == 2
    assert "its state holds gcp:bigquery/dataset:Dataset npq-events-dataset in dataset " in err
    assert "ecf-bq.npq_events_staging" in err
    assert standin.stacks() == ["review-pr-6"]
    assert not any("destroy" in call for call in standin.calls())


# -- list and prune --------------------------------------------------------------------------


def seed_mixed(standin: StandIn) -> None:
    now = time.time()
    standin.seed("production", now - 90 * DAY, {"dataset_id": "npq_events_production"})
    standin.seed("review", now - 90 * DAY, {"dataset_id": "npq_events_review"})
    standin.seed("review-pr-7", now - 30 * DAY, {"dataset_id": "npq_events_review_pr_7"})
    standin.seed("review-pr-8", now - 1 * DAY, {"dataset_id": "npq_events_review_pr_8"})
    standin.seed("review-pr-9", None)
    standin.seed("review-pr-010", now - 90 * DAY)


def test_list_shows_only_review_stacks(standin, in_process):
    seed_mixed(standin)
    code, out, err = in_process("review", "list", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["stacks"]
    assert [(r["stack"], r["pr"], r["dataset"]) for r in rows] == [
        ("review-pr-7", 7, "npq_events_review_pr_7"),
        ("review-pr-8", 8, "npq_events_review_pr_8"),
        ("review-pr-9", 9, "npq_events_review_pr_9"),
    ]
    assert rows[2]["lastUpdate"] is None and rows[0]["resourceCount"] == 2
    assert [r["holds"] for r in rows] == [
        ["ecf-bq.npq_events_review_pr_7"],
        ["ecf-bq.npq_events_review_pr_8"],
        [],
    ]
    assert standin.calls() == [
        ["version"],
        ni("stack", "ls", "--json"),
        *(export_call(f"review-pr-{n}") for n in (7, 8, 9)),
    ]

    code, out, _err = in_process("review", "list")
    assert code == 0
    assert "review-pr-7" in out and "never" in out and "production" not in out
    assert "3 other stacks of this project are not review stacks" in out


def test_prune_dry_run_only_prints(standin, in_process):
    seed_mixed(standin)
    code, out, _err = in_process(
        "review", "prune", "--older-than", "14", "--closed", "8", "--dry-run"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "review prune: 2 of 3 review stacks to destroy"
    assert lines[1].startswith("  review-pr-7  last update ") and "30 days ago" in lines[1]
    assert lines[2:] == [
        "  review-pr-8  pull request 8 is closed",
        "kept:",
        "  review-pr-9  age unknown (never updated)",
        "dry run: nothing destroyed",
    ]
    assert standin.calls() == [
        ["version"],
        ni("stack", "ls", "--json"),
        export_call("review-pr-7"),
        export_call("review-pr-8"),
    ]
    assert len(standin.stacks()) == 6


def test_prune_lists_then_destroys_only_selected_review_stacks(standin, in_process):
    seed_mixed(standin)
    code, out, err = in_process("review", "prune", "--older-than", "14", "--closed", "8")
    assert code == 0, err
    assert out.index("review prune: 2 of 3") < out.index("review-pr-7: destroyed and removed")
    assert "review-pr-8: destroyed and removed" in out
    assert "[1/2] destroying review-pr-7" in err and "Destroying (review-pr-8)" in err
    assert standin.calls() == [
        ["version"],
        ni("stack", "ls", "--json"),
        export_call("review-pr-7"),
        export_call("review-pr-8"),
        *destroy_calls("review-pr-7"),
        *destroy_calls("review-pr-8"),
    ]
    assert standin.stacks() == ["production", "review", "review-pr-010", "review-pr-9"]


def test_prune_dry_run_never_lists_to_destroy_what_destroy_would_refuse(standin, in_process):
    """Path 7: review list shows what the state holds; prune --dry-run lists a stack whose
    state holds a foreign dataset as refused, not as one to destroy."""
    now = time.time()
    standin.seed("review-pr-3", now - 30 * DAY, outputs={}, holds="npq_events_production")
    standin.seed("review-pr-4", now - 30 * DAY, {"dataset_id": "npq_events_review_pr_4"})
    code, out, _err = in_process("review", "list", "--format", "json")
    assert code == 0
    holds = {row["stack"]: row["holds"] for row in json.loads(out)["stacks"]}
    assert holds == {
        "review-pr-3": ["ecf-bq.npq_events_production"],
        "review-pr-4": ["ecf-bq.npq_events_review_pr_4"],
    }
    code, out, _err = in_process("review", "prune", "--older-than", "14", "--dry-run")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "review prune: 1 of 2 review stacks to destroy"
    assert lines[1].startswith("  review-pr-4  last update")
    assert lines[2] == "refused (not destroyed):"
    assert lines[3].startswith("  review-pr-3  refusing stack review-pr-3: its state holds")
    assert len(standin.stacks()) == 2


def test_prune_goes_on_after_a_refusal_and_exits_2(standin, in_process):
    now = time.time()
    standin.seed("review-pr-3", now - 30 * DAY, {"dataset_id": "npq_events_staging"})
    standin.seed("review-pr-4", now - 30 * DAY, {"dataset_id": "npq_events_review_pr_4"})
    code, out, err = in_process("review", "prune", "--older-than", "14")
    assert code == 2
    assert "refusing stack review-pr-3" in err
    assert "review-pr-4: destroyed and removed" in out
    assert "review prune: 1 failed: review-pr-3" in out
    assert standin.stacks() == ["review-pr-3"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "needs --closed N,N... and/or --older-than DAYS"),
        (["--closed", "production"], "--closed item 'production' is not accepted"),
        (["--closed", "0"], "--closed item '0' is not accepted"),
        (["--closed", "12, 15"], "--closed item ' 15' is not accepted"),
        (["--older-than", "0"], "--older-than '0' is not accepted"),
        (["--older-than", "-3"], "--older-than '-3' is not accepted"),
    ],
)
def test_prune_arguments_refused_before_any_call(standin, in_process, args, message):
    code, out, err = in_process("review", "prune", *args)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1
    assert standin.calls() == []


# -- Pulumi's errors as one line -------------------------------------------------------------


NOT_FOUND = "error: no stack named 'review-pr-4' found"
DIAGNOSTICS = (
    "Updating (review-pr-4):\nDiagnostics:\n  gcp:bigquery:Dataset (npq-events-dataset):\n"
    "    error: googleapi: Error 403: Access Denied\n"
)


@pytest.mark.parametrize(
    ("stdout", "stderr", "code", "expected"),
    [
        ("", NOT_FOUND, 6, f"{NOT_FOUND} (pulumi exit 6)"),
        (DIAGNOSTICS, "", 4, "error: googleapi: Error 403: Access Denied (pulumi exit 4)"),
        (
            "",
            "warning: a\nerror: update failed\nerror: b",
            1,
            "error: update failed (pulumi exit 1)",
        ),
        ("", "", 255, "(no message) (pulumi exit 255)"),
    ],
)
def test_pulumi_errors_become_one_line(stdout, stderr, code, expected):
    from pulumi.automation import CommandResult
    from pulumi.automation.errors import create_command_error

    from infra.review import automation as review_automation

    error = create_command_error(CommandResult(stdout=stdout, stderr=stderr, code=code))
    assert review_automation.command_error_line(error) == expected
    context = review_automation.pulumi_errors("pulumi up of review-pr-4")
    with pytest.raises(review_automation.UserError) as caught, context:
        raise error
    assert str(caught.value) == f"pulumi up of review-pr-4 failed: {expected}"


def test_a_locked_stack_says_so():
    from pulumi.automation import CommandResult
    from pulumi.automation.errors import create_command_error

    from infra.review import automation as review_automation

    stderr = "error: the stack is currently locked by 1 lock(s). Either wait for the other"
    error = create_command_error(CommandResult(stdout="", stderr=stderr, code=1))
    context = review_automation.pulumi_errors("pulumi destroy of review-pr-4")
    with pytest.raises(review_automation.UserError) as caught, context:
        raise error
    assert str(caught.value) == (
        "pulumi destroy of review-pr-4: the stack is locked by another update; retry later"
    )


STATE_KEY = (
    "gcpkms://projects/ecf-bq/locations/europe-west2/keyRings/pulumi/cryptoKeys/npq-analytics-state"
)


def test_up_creates_a_new_stack_with_the_secrets_provider_it_is_given(standin):
    result = standin.cli("review", "up", "--pr", "7", "--secrets-provider", STATE_KEY)
    assert result.returncode == 0, result.stderr
    calls = standin.calls()
    assert ni("stack", "init", "review-pr-7", "--secrets-provider", STATE_KEY) in calls
    # An existing stack keeps its provider: a second up selects it and creates nothing.
    again = standin.cli("review", "up", "--pr", "7", "--secrets-provider", STATE_KEY)
    assert again.returncode == 0, again.stderr
    assert [c for c in standin.calls()[len(calls) :] if c[1:3] == ["stack", "init"]] == []


@pytest.mark.parametrize(
    "value", ["awskms://alias/x", "gcpkms://projects/ecf-bq/keyRings/r", "passphrase\n", ""]
)
def test_a_secrets_provider_it_does_not_take_is_one_line_before_any_pulumi_call(standin, value):
    result = standin.cli("review", "up", "--pr", "7", "--secrets-provider", value)
    assert result.returncode == 2
    line = one_line_error(result.stderr)
    assert "--secrets-provider" in line and "gcpkms://projects/P/" in line
    assert standin.calls() == []

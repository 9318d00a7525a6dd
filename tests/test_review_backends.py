"""What `pulumi stack ls --json` prints for the stacks `review prune` must tell apart, and what
prune does with each, on both backends the README names.

The DIY (gs://, here file://) backend: the stand-in CLI (tests/fake_pulumi) answers as
pkg/backend/diy does. A stack created but never updated has a checkpoint with no deployment, so
the listing gives it neither lastUpdate nor resourceCount, and prune keeps it; a stack whose
first update failed has a deployment, stamped when it was written, and is pruned once old.

Pulumi Cloud: no stand-in runs it; its listing, as the CLI prints it (pkg/cmd/pulumi/stack/
stack_list.go with pkg/backend/httpstate/stack.go), reaches the Automation API's own parser
(LocalWorkspace.list_stacks) through a `pulumi` wrapper on PATH: a running update is
`updateInProgress: true` without lastUpdate; a stack of another organisation than the default
one is named `org/stack`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from infra.cli.main import main as cli_main
from infra.review import automation as review_automation
from tests.test_review_cli import DAY, FAKE, StandIn

LIST = ["stack", "ls", "--json"]
MONTH_AGO = time.time() - 30 * DAY


@pytest.fixture
def standin(tmp_path):
    return StandIn(tmp_path)


def pulumi_stdout(standin: StandIn, *args: str, **env: str) -> str:
    """What the stand-in prints for `pulumi --non-interactive ARGS`."""
    done = subprocess.run(
        [str(standin.bin / "pulumi"), "--non-interactive", *args],
        cwd=standin.project,
        env={**os.environ, **standin.env, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- DIY backend -------------------------------------------------------------------------------


def test_a_stack_created_but_never_updated_is_listed_without_last_update(standin, monkeypatch):
    pulumi_stdout(standin, "stack", "init", "review-pr-9")
    assert pulumi_stdout(standin, *LIST) == (
        '[\n  {\n    "name": "review-pr-9",\n    "current": true\n  }\n]\n'
    )
    for key, value in standin.env.items():
        monkeypatch.setenv(key, value)
    (summary,) = review_automation.open_workspace(standin.project).list_stacks()
    assert summary.name == "review-pr-9"
    assert (summary.last_update, summary.resource_count, summary.update_in_progress) == (
        None,
        None,
        None,
    )


def test_prune_older_than_keeps_a_stack_created_but_never_updated(standin):
    # Created a month ago: were its creation a last update, prune would destroy it.
    pulumi_stdout(standin, "stack", "init", "review-pr-9", NPQ_FAKE_PULUMI_NOW=str(MONTH_AGO))
    standin.seed("review-pr-7", MONTH_AGO, {"dataset_id": "npq_events_review_pr_7"})
    standin.forget_calls()

    done = standin.cli("review", "prune", "--older-than", "14")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:4] == [
        "review prune: 1 of 2 review stacks to destroy",
        done.stdout.splitlines()[1],
        "kept:",
        "  review-pr-9  age unknown (never updated)",
    ]
    assert done.stdout.splitlines()[1].startswith("  review-pr-7  last update ")
    assert "review-pr-7: destroyed and removed" in done.stdout
    assert standin.stacks() == ["review-pr-9"]


def test_a_stack_whose_first_up_failed_long_ago_is_listed_and_pruned(standin):
    (standin.project / "__main__.py").write_text('raise RuntimeError("the program failed")\n')
    failed = standin.cli("review", "up", "--pr", "11", NPQ_FAKE_PULUMI_NOW=str(MONTH_AGO))
    assert failed.returncode == 2
    assert "pulumi up of review-pr-11 failed" in failed.stderr

    (listed,) = json.loads(pulumi_stdout(standin, *LIST))
    assert listed["resourceCount"] == 1  # the stack resource, registered before the failure
    when = datetime.strptime(listed["lastUpdate"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(when.timestamp() - MONTH_AGO) < 1

    done = standin.cli("review", "prune", "--older-than", "14")
    assert done.returncode == 0, done.stderr
    assert "review-pr-11: destroyed and removed" in done.stdout
    assert standin.stacks() == []


# -- Pulumi Cloud, through the Automation API's parser ----------------------------------------


def cloud_time(days_ago: float) -> str:
    """cmd.FormatTime of a time `days_ago` days back: RFC 5424, UTC, milliseconds."""
    moment = datetime.now(UTC) - timedelta(days=days_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def cloud_listing() -> str:
    """`pulumi stack ls --json` on Pulumi Cloud, logged in with a default organisation, for
    this project: fields in stackSummaryJSON's order, lastUpdate and updateInProgress only
    for a stack with a last update (time 0 while an update runs), url always."""
    url = "https://app.pulumi.com/{}/npq-analytics/{}"
    stacks = [
        # Another organisation's stack: cloudBackendReference.String() names it `org/stack`.
        {
            "name": "dfe-other/review-pr-5",
            "current": False,
            "lastUpdate": cloud_time(60),
            "updateInProgress": False,
            "resourceCount": 5,
            "url": url.format("dfe-other", "review-pr-5"),
        },
        {
            "name": "review-pr-6",
            "current": False,
            "updateInProgress": True,
            "resourceCount": 5,
            "url": url.format("dfe", "review-pr-6"),
        },
        {
            "name": "review-pr-7",
            "current": False,
            "lastUpdate": cloud_time(30),
            "updateInProgress": False,
            "resourceCount": 5,
            "url": url.format("dfe", "review-pr-7"),
        },
        {
            "name": "review-pr-8",
            "current": True,
            "resourceCount": 0,
            "url": url.format("dfe", "review-pr-8"),
        },
    ]
    return json.dumps(stacks, indent=2) + "\n"


@pytest.fixture
def cloud(standin, monkeypatch, capsys):
    """`npq-events` in this process, with `pulumi stack ls --json` answering the Cloud listing
    (a wrapper first on PATH prints it) and every other Pulumi call going to the stand-in."""
    listing = standin.bin.parent / "cloud-listing.json"
    listing.write_text(cloud_listing())
    wrapper = standin.bin / "pulumi"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ "$*" = "--non-interactive {" ".join(LIST)}" ]; then cat "{listing}"; exit 0; fi\n'
        f'exec "{sys.executable}" "{FAKE}" "$@"\n'
    )
    for key, value in standin.env.items():
        monkeypatch.setenv(key, value)
    # What each stack's state holds (`pulumi stack export`, the same document on both
    # backends) comes from the stand-in's state.
    standin.seed("review-pr-6", MONTH_AGO)
    standin.seed("review-pr-7", MONTH_AGO)
    standin.seed("review-pr-8", None)
    standin.forget_calls()

    def npq_events(*args: str) -> tuple[int, str, str]:
        code = cli_main(["--project-dir", str(standin.project), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return npq_events


def test_cloud_listing_through_the_sdk_lists_only_this_organisations_review_stacks(cloud):
    code, out, err = cloud("review", "list", "--format", "json")
    assert code == 0, err
    rows = {row["stack"]: row for row in json.loads(out)["stacks"]}
    assert sorted(rows) == ["review-pr-6", "review-pr-7", "review-pr-8"]
    assert rows["review-pr-6"]["updateInProgress"] is True
    assert rows["review-pr-6"]["lastUpdate"] is None
    assert rows["review-pr-7"]["updateInProgress"] is False
    assert rows["review-pr-7"]["lastUpdate"].endswith("+00:00")
    assert rows["review-pr-8"]["lastUpdate"] is None and rows["review-pr-8"]["resourceCount"] == 0

    code, out, _err = cloud("review", "list")
    assert code == 0
    assert "update running" in out and "never" in out
    assert "(1 other stacks of this project are not review stacks: not shown)" in out


def test_cloud_prune_keeps_running_and_never_updated_stacks(cloud, standin):
    code, out, err = cloud("review", "prune", "--older-than", "14", "--closed", "5,6", "--dry-run")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "review prune: 1 of 3 review stacks to destroy"
    assert lines[1].startswith("  review-pr-7  last update ") and "30 days ago" in lines[1]
    assert lines[2:] == [
        "kept:",
        "  review-pr-6  an update is running; prune it later",
        "  review-pr-8  age unknown (never updated)",
        "dry run: nothing destroyed",
    ]
    # Another organisation's review-pr-5 is neither selected nor kept: it is not looked at.
    assert "review-pr-5" not in out
    # Only the selected stack's state is read; nothing is destroyed.
    assert standin.calls() == [
        ["version"],
        ["--non-interactive", "stack", "export", "--show-secrets", "--stack", "review-pr-7"],
    ]

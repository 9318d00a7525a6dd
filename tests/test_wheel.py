"""The wheel: built from the sources, installed (not editable) in a fresh environment, it runs.

No package index is needed: the wheel is built with this environment's setuptools, and the
fresh environment sees the dependencies already installed here through a .pth file (only
path lines: the editable install's finder in this environment is not loaded there). Every
command runs outside the checkout, so `infra` can only come from the installed wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_cli

pytestmark = pytest.mark.wheel

PROJECT_FILES = ("Pulumi.yaml", "__main__.py")


def _run(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh environment with the wheel installed; returns its bin directory."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "infra", source / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(work / "dist"), str(source)],
        cwd=work,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (work / "dist").glob("npq_analytics-*.whl")

    venv = work / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=work
    ).stdout.strip()
    here = sysconfig.get_paths()
    (Path(purelib) / "dependencies-from-the-test-environment.pth").write_text(
        f"{here['purelib']}\n{here['platlib']}\n"
    )
    added = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", str(wheel)],
        cwd=work,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    return venv / "bin"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A directory outside the checkout."""
    assert not tmp_path.is_relative_to(ROOT)
    return tmp_path


def test_the_package_comes_from_the_wheel(installed, outside):
    found = _run([str(installed / "python"), "-c", "import infra; print(infra.__file__)"], outside)
    assert Path(found.stdout.strip()).is_relative_to(installed.parent), found.stderr


def test_help_lists_every_command(installed, outside):
    result = _run([str(installed / "npq-events"), "--help"], outside)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: npq-events ")
    for command in ("plan", "schema", "verify", "preview-gate", "review", "records", "local"):
        assert command in result.stdout


def test_schema_export_prints_what_the_checkout_prints(installed, outside):
    result = _run([str(installed / "npq-events"), "schema", "export"], outside)
    assert result.returncode == 0, result.stderr
    checkout = run_cli("schema", "export")
    assert checkout.returncode == 0, checkout.stderr
    assert result.stdout == checkout.stdout


def test_plan_runs_the_project_program_on_the_installed_package(installed, tmp_path):
    # A Pulumi project directory as a deploy sees it, without the sources of the package.
    project = tmp_path / "project"
    project.mkdir()
    for path in [*(ROOT / name for name in PROJECT_FILES), *ROOT.glob("Pulumi.*.yaml")]:
        shutil.copy2(path, project / path.name)
    result = _run(
        [str(installed / "npq-events"), "plan", "--stack", "staging", "--format", "json"], project
    )
    assert result.returncode == 0, result.stderr
    checkout = run_cli("plan", "--stack", "staging", "--format", "json")
    assert checkout.returncode == 0, checkout.stderr
    assert json.loads(result.stdout) == json.loads(checkout.stdout)


def test_plan_outside_a_project_says_where_to_run_it(installed, outside):
    (outside / "Pulumi.staging.yaml").write_text((ROOT / "Pulumi.staging.yaml").read_text())
    result = _run([str(installed / "npq-events"), "plan", "--stack", "staging"], outside)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"npq-events: error: no Pulumi program {outside.resolve() / '__main__.py'}: run "
        "npq-events in the project directory (the one holding Pulumi.yaml and __main__.py)"
    ]

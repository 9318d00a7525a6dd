"""The Pulumi SDK beyond its public API: confined to one module, pinned, and still as used.

infra/program/pulumi_internals.py is the only module that reaches past the SDK's public names.
Its calls were read in one SDK version; these tests fail when another is installed (re-read
pulumi/runtime/config.py, stack.py, mocks.py and rpc.py of the new version, then move
SDK_VERSION and the pin in pyproject.toml together), and check each call behaves as used.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pulumi
import pytest

from infra.program import pulumi_internals
from infra.program.pulumi_internals import SDK_VERSION, program_config, run_with_mocks
from tests.helpers import ROOT

CONFINED = ROOT / "infra" / "program" / "pulumi_internals.py"


def test_the_installed_sdk_is_the_version_the_internals_were_read_in():
    installed = metadata.version("pulumi")
    assert installed == SDK_VERSION, (
        f"pulumi {installed} is installed; infra/program/pulumi_internals.py was checked against "
        f"{SDK_VERSION}: re-read its calls in the new SDK, then update SDK_VERSION and the pin"
    )


def test_pyproject_pins_that_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pulumi_requirements = [r for r in project["dependencies"] if re.match(r"pulumi\b(?!-)", r)]
    assert pulumi_requirements == [f"pulumi=={SDK_VERSION}"]


def _python_files() -> list[Path]:
    files = [ROOT / "__main__.py"]
    for folder in ("infra", "tests", "bench"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return [path for path in files if path != CONFINED]


def _is_public(module_name: str, name: str) -> bool:
    """Whether `name` is part of `module_name`'s public API (its __all__, or no underscore)."""
    if name.startswith("__") and name.endswith("__"):
        return True  # __all__, __version__
    if any(part.startswith("_") for part in module_name.split(".")) or name.startswith("_"):
        return False
    try:
        importlib.import_module(f"{module_name}.{name}")
        # A submodule of pulumi.runtime is the SDK's runtime itself ("meant for internal use").
        return module_name != "pulumi.runtime" or name in pulumi.runtime.__all__
    except ImportError:
        pass
    module = importlib.import_module(module_name)
    public = getattr(module, "__all__", None)
    return name in public if public is not None else hasattr(module, name)


def _is_public_path(dotted: str) -> bool:
    """Whether every step of `pulumi.a.b` is public in the module before it."""
    parts = dotted.split(".")
    return all(_is_public(".".join(parts[:i]), parts[i]) for i in range(1, len(parts)))


def _non_public_uses(path: Path, root: Path = ROOT) -> list[str]:
    """Each use, as `file:line: module.name`, of a Pulumi name outside the public API."""
    where = path.relative_to(root)
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases: dict[str, str] = {}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pulumi":
                    aliases[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else "pulumi"
                    )
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pulumi":
            for alias in node.names:
                if not _is_public_path(f"{node.module}.{alias.name}"):
                    found.add(f"{where}:{node.lineno}: {node.module}.{alias.name}")
                elif _is_module(f"{node.module}.{alias.name}"):
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        chain = _attribute_chain(node)
        if not chain or chain[0] not in aliases:
            continue
        module_name = aliases[chain[0]]
        for name in chain[1:]:
            if not _is_public(module_name, name):
                found.add(f"{where}:{node.lineno}: {module_name}.{name}")
                break
            if not _is_module(f"{module_name}.{name}"):
                break
            module_name = f"{module_name}.{name}"
    return sorted(found)


def _is_module(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def _attribute_chain(node: ast.AST) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]."""
    if not isinstance(node, ast.Attribute):
        return None
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(names)]


def test_no_other_module_uses_the_sdk_beyond_its_public_api():
    found = [use for path in _python_files() for use in _non_public_uses(path)]
    assert found == [], "only infra/program/pulumi_internals.py may use the Pulumi SDK's internals"


def test_the_confinement_check_sees_an_internal_use(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import pulumi\n"
        "from pulumi.runtime.stack import wait_for_rpcs\n"
        "from pulumi.runtime import config\n"
        "value = pulumi.runtime.config.CONFIG\n"
        "mocks = pulumi.runtime.Mocks\n"
    )
    assert _non_public_uses(sample, tmp_path) == [
        "sample.py:2: pulumi.runtime.stack.wait_for_rpcs",
        "sample.py:3: pulumi.runtime.config",
        "sample.py:4: pulumi.runtime.config",
    ]


def test_program_config_merges_the_cli_environment_under_the_sdk_map(monkeypatch):
    # The CLI passes config as JSON in PULUMI_CONFIG; set_all_config (the mocks, the Automation
    # API's inline programs) fills the SDK's own map, which wins for a key in both.
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"p:a": "from-env", "p:b": "env-only"}))
    pulumi.runtime.set_all_config({"p:a": "from-map", "p:c": 7})
    try:
        assert program_config() == {"p:a": "from-map", "p:b": "env-only", "p:c": "7"}
    finally:
        pulumi.runtime.set_all_config({})


class _Echo(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


def test_run_with_mocks_records_options_inputs_and_outputs():
    def program() -> None:
        config = pulumi.Config("p")
        parent = pulumi.ComponentResource("p:index:Parent", "parent")
        child = pulumi.CustomResource(
            "p:index:Thing",
            "thing",
            {"someName": config.require("name"), "nested": {"aKey": [1, 2]}},
            opts=pulumi.ResourceOptions(
                parent=parent,
                protect=True,
                import_="thing-import-id",
                ignore_changes=["someName"],
            ),
        )
        pulumi.export("thing_id", child.id)
        pulumi.export("plain", {"x": 1})

    monitor, outputs = run_with_mocks(
        program, _Echo(), project="p", stack="s", config={"p:name": "value"}
    )
    assert [r.type for r in monitor.registrations] == ["p:index:Parent", "p:index:Thing"]
    thing = monitor.registrations[1]
    assert pulumi_internals.registered_inputs(thing) == {
        "someName": "value",
        "nested": {"aKey": [1, 2]},
    }
    assert thing.protect is True
    assert thing.importId == "thing-import-id"
    assert list(thing.ignoreChanges) == ["someName"]
    assert thing.parent.endswith("::parent")
    assert outputs == {"thing_id": "thing-id", "plain": {"x": 1}}


def test_run_with_mocks_raises_what_the_program_raises():
    def program() -> None:
        raise pulumi.RunError("config p:x = '1': not accepted")

    with pytest.raises(pulumi.RunError, match="not accepted"):
        run_with_mocks(program, _Echo(), project="p", stack="s", config={})

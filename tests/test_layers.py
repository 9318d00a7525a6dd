"""The folders are the layers: a module imports only from its own layer or the ones below it."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

# Lowest first. `errors` is shared by every layer; bigquery and review are side by side.
LAYERS: dict[str, int] = {
    "errors": 0,
    "model": 1,
    "program": 2,
    "rules": 3,
    "bigquery": 4,
    "review": 4,
    "cli": 5,
}


def _layer(module: Path) -> str:
    parts = module.relative_to(ROOT / "infra").parts
    return parts[0] if len(parts) > 1 else Path(parts[0]).stem


def _imported_layers(module: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(), str(module))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "infra" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_module_belongs_to_a_named_layer():
    modules = [p for p in (ROOT / "infra").rglob("*.py") if p.name != "__init__.py"]
    assert modules
    unknown = {str(p.relative_to(ROOT)) for p in modules if _layer(p) not in LAYERS}
    assert not unknown, f"modules outside the layers {sorted(LAYERS)}: {sorted(unknown)}"


def test_imports_point_down_the_layers_only():
    upward = []
    for module in (ROOT / "infra").rglob("*.py"):
        own = _layer(module)
        if own not in LAYERS:
            continue
        for target in _imported_layers(module):
            sideways = LAYERS[target] == LAYERS[own] and target != own
            if LAYERS.get(target, 99) > LAYERS[own] or sideways:
                upward.append(f"{module.relative_to(ROOT)} imports infra.{target}")
    assert not upward, "\n".join(sorted(upward))

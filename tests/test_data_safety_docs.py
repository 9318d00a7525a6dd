"""The data-safety table names, for each way of losing events, the tests that prove it is
stopped: every test it names exists, and every page it links to."""

from __future__ import annotations

import ast
import re

import pytest

from tests.helpers import ROOT

PAGE = ROOT / "docs" / "data-safety.md"


def named_tests() -> list[tuple[str, str]]:
    """(file, test) for each `tests/x.py::test` and each `::test` that follows one in a cell."""
    found = []
    for cell in PAGE.read_text().split("|"):
        current = None
        for match in re.finditer(r"`(tests/[\w/]+\.py)?::(\w+)(?:\[[^\]]*\])?`", cell):
            current = match[1] or current
            assert current, f"a ::{match[2]} without its file: {cell[:80]}"
            found.append((current, match[2]))
    return found


def test_the_table_names_tests_for_every_path():
    rows = {
        line.split("|")[1].strip(): line
        for line in PAGE.read_text().splitlines()
        if re.match(r"\| [0-9] \|", line)
    }
    assert sorted(rows) == [str(n) for n in range(1, 9)]
    for number, row in rows.items():
        assert "`tests/" in row, f"path {number} names no test"


@pytest.mark.parametrize(("file", "test"), named_tests())
def test_every_named_test_exists(file, test):
    tree = ast.parse((ROOT / file).read_text())
    names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert test in names, f"{file}::{test} named in docs/data-safety.md does not exist"


@pytest.mark.parametrize("page", ["README.md", "docs/data-safety.md", "docs/adoption.md"])
def test_links_to_docs_pages_resolve(page):
    path = ROOT / page
    for target in re.findall(r"\]\(((?:docs/)?[\w.-]+\.md)\)", path.read_text()):
        assert (path.parent / target).is_file(), f"{page} links to {target}, which is missing"

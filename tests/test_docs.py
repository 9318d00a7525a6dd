"""The docs: the generated pages match the code, and every link and reference resolves.

Links: every relative link in README.md and docs/*.md names a file that exists, and its
`#anchor` a heading of that file. References: every place in the code, the stack files and the
workflows that sends a reader to `docs/<page>.md` (optionally with a `#anchor` or a quoted
heading) or to a README section (`README, "Heading"` or `(README, Heading)`) names a page and
heading that exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.cli import docs as generator
from tests.helpers import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIPPED_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".npq-events",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "build",
    "dist",
    "docs",
    "mutants",  # mutmut's working copy (bench/mutation.py)
}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOC_REF = re.compile(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+)|, \"([^\"]+)\")?")
README_QUOTED = re.compile(r"(?<![/\w])README(?:\.md)?,? ((?:\"[^\"]+\"(?:, )?)+)")
README_BARE = re.compile(r"\(README, ([A-Z][\w ]*)\)")


def _outside_code(text: str) -> str:
    """The text without fenced blocks and inline code, where `#` and `[..](..)` are not Markdown."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings(page: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    return [m.group(1).strip() for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)]


def _anchors(page: Path) -> set[str]:
    return {_slug(heading) for heading in _headings(page)}


def test_the_generated_pages_are_up_to_date():
    stale = generator.stale_pages()
    command = ".venv/bin/python -m infra.cli.docs"
    assert stale == [], f"docs/{', docs/'.join(stale)} differ from the code: run `{command}`"


def test_a_changed_option_makes_its_page_stale(tmp_path):
    for name, render in generator.PAGES.items():
        (tmp_path / name).write_text(render())
    assert generator.stale_pages(tmp_path) == []
    cli = tmp_path / "cli.md"
    cli.write_text(cli.read_text().replace("--max-bytes", "--max-byte"))
    assert generator.stale_pages(tmp_path) == ["cli.md"]
    (tmp_path / "config.md").unlink()
    assert generator.stale_pages(tmp_path) == ["cli.md", "config.md"]


def test_the_check_command_says_how_to_write_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(generator, "DOCS", tmp_path)
    assert generator.main(["--check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "docs/cli.md is stale: run `python -m infra.cli.docs`",
        "docs/config.md is stale: run `python -m infra.cli.docs`",
    ]
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0


def test_the_readme_is_a_first_read():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200, "README.md is a first read: move details to a page in docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(_outside_code(page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert broken == []


def _referring_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.is_file() and path.name != "README.md" and path != Path(__file__).resolve():
            files.append(path)
    return files


def _references(text: str) -> list[tuple[Path, str | None]]:
    """(page, heading or None) for each reference in a file's text."""
    found: list[tuple[Path, str | None]] = []
    for match in DOC_REF.finditer(text):
        page, anchor, heading = match.groups()
        found.append((ROOT / "docs" / page, anchor or (heading and _slug(heading))))
    for match in README_QUOTED.finditer(text):
        for heading in re.findall(r"\"([^\"]+)\"", match.group(1)):
            found.append((ROOT / "README.md", _slug(heading)))
    for match in README_BARE.finditer(text):
        found.append((ROOT / "README.md", _slug(match.group(1))))
    return found


def test_every_reference_to_a_page_or_section_resolves():
    broken, seen = [], 0
    for path in _referring_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for page, anchor in _references(text):
            seen += 1
            where = f"{path.relative_to(ROOT)} -> {page.relative_to(ROOT)}"
            if not page.is_file():
                broken.append(f"{where}: no such page")
            elif anchor and anchor not in _anchors(page):
                broken.append(f"{where}: no heading #{anchor}")
    assert seen >= 5  # the schema gate's messages, the stack files, the workflows
    assert broken == []


def test_references_are_recognised_in_each_form():
    text = (
        'see docs/schema-changes.md) and (docs/deploying.md, "Adoption") and'
        " docs/drift.md#benchmark;"
        ' (README, Pipelines); README, "Quick start (fresh machine)", "Exit statuses";'
        ' tests/data/previews/README.md "not a section"'
    )
    assert _references(text) == [
        (ROOT / "docs/schema-changes.md", None),
        (ROOT / "docs/deploying.md", "adoption"),
        (ROOT / "docs/drift.md", "benchmark"),
        (ROOT / "README.md", "quick-start-fresh-machine"),
        (ROOT / "README.md", "exit-statuses"),
        (ROOT / "README.md", "pipelines"),
    ]

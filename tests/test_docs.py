"""The generated pages docs/cli.md and docs/config.md match the code that they describe."""

from __future__ import annotations

from infra.cli import docs as generator


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

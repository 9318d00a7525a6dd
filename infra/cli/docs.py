"""Write docs/cli.md from the argparse parser and docs/config.md from the settings keys.

    .venv/bin/python -m infra.cli.docs           # rewrite both pages
    .venv/bin/python -m infra.cli.docs --check   # exit 1 when a page differs from the code

tests/test_docs.py runs the check, so a changed option or key fails the tests until the pages
are written again. The pages are built from the parser's actions, not argparse's help
formatter, so they do not depend on the terminal's width or the Python version.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from infra.cli.main import build_parser
from infra.model import settings
from infra.model.stackfiles import ROOT

DOCS = ROOT / "docs"
GENERATED = "<!-- Written by `python -m infra.cli.docs`; edit the code it reads, not this page. -->"


def _text(value: object) -> str:
    """Help text as Markdown: paths inside the project relative to it, and `<stack>` kept
    (a bare `<stack>` would be read as an HTML tag and vanish)."""
    text = str(value).replace(f"{ROOT}/", "").replace(str(ROOT), ".")
    spans = text.split("`")  # odd spans are code, where Markdown shows `<` as it is
    for i in range(0, len(spans), 2):
        spans[i] = spans[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(spans)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        return str(action.metavar)
    if action.choices is not None:
        return "{" + ",".join(str(choice) for choice in action.choices) + "}"
    return action.dest.upper() if action.option_strings else action.dest


def _form(action: argparse.Action) -> str:
    """How the argument is written: `--stack NAME`, `--local`, `FILE`, `--event-type TYPE ...`."""
    if not action.option_strings:
        return _metavar(action)
    flag = max(action.option_strings, key=len)
    if action.nargs == 0:
        return flag
    value = _metavar(action)
    if action.nargs in ("+", "*"):
        value = f"{value} [{value} ...]"
    return f"{flag} {value}"


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        action
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
    ]


def _synopsis(prog: str, parser: argparse.ArgumentParser) -> str:
    grouped = {
        id(a): group for group in parser._mutually_exclusive_groups for a in group._group_actions
    }
    parts, done = [prog], set()
    for action in _arguments(parser):
        group = grouped.get(id(action))
        if group is not None:
            if id(group) in done:
                continue
            done.add(id(group))
            inner = " | ".join(_form(a) for a in group._group_actions)
            parts.append(f"({inner})" if group.required else f"[{inner}]")
        elif action.required or not action.option_strings:
            parts.append(_form(action))
        else:
            parts.append(f"[{_form(action)}]")
    return " ".join(parts)


def _what(action: argparse.Action, exclusive: dict[int, list[str]]) -> str:
    help_text = action.help or ""
    if "%(" in help_text:
        help_text = help_text % {**vars(action), "prog": "npq-events"}
    notes = []
    if action.choices is not None and action.metavar is not None:
        notes.append("one of " + ", ".join(f"`{c}`" for c in action.choices))
    shown_default = action.default not in (None, False, argparse.SUPPRESS)
    if shown_default and "default" not in help_text:
        notes.append(f"default `{_text(action.default)}`")
    repeatable = isinstance(action, argparse._AppendAction | argparse._ExtendAction)
    if repeatable and "repeatable" not in help_text:
        notes.append("repeatable")
    if action.required and action.option_strings:
        notes.append("required")
    if id(action) in exclusive:
        notes.append("not with " + ", ".join(f"`{other}`" for other in exclusive[id(action)]))
    what = _text(help_text)
    if notes:
        what = f"{what} ({'; '.join(notes)})" if what else "; ".join(notes).capitalize()
    return _cell(what)


def _table(parser: argparse.ArgumentParser) -> list[str]:
    exclusive: dict[int, list[str]] = {}
    for group in parser._mutually_exclusive_groups:
        for action in group._group_actions:
            exclusive[id(action)] = [
                max(other.option_strings, key=len)
                for other in group._group_actions
                if other is not action and not group.required
            ]
    exclusive = {key: value for key, value in exclusive.items() if value}
    rows = [f"| `{_form(a)}` | {_what(a, exclusive)} |" for a in _arguments(parser)]
    if not rows:
        return ["No options."]
    return ["| argument | what it does |", "|---|---|", *rows]


def _subcommands(
    parser: argparse.ArgumentParser,
) -> Iterable[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each subcommand, in the order they are registered."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, subparser in action.choices.items():
                yield name, helps.get(name, ""), subparser


def _command_sections(parser: argparse.ArgumentParser, level: int) -> list[str]:
    lines: list[str] = []
    for _name, summary, subparser in _subcommands(parser):
        lines += ["", f"{'#' * level} {subparser.prog}", ""]
        if summary:
            lines += [_text(summary[0].upper() + summary[1:]) + ".", ""]
        if subparser.description:
            lines += [_text(subparser.description), ""]
        children = list(_subcommands(subparser))
        if children:
            actions = ", ".join(f"`{name}`" for name, _summary, _parser in children)
            lines.append(f"Actions: {actions}.")
            lines += _command_sections(subparser, level + 1)
        else:
            lines += ["```", _synopsis(subparser.prog, subparser), "```", "", *_table(subparser)]
    return lines


def cli_page() -> str:
    parser = build_parser()
    lines = [
        "# npq-events: command reference",
        "",
        GENERATED,
        "",
        "What each command prints and its exit statuses: [commands.md](commands.md). Every",
        "command also answers `--help`.",
        "",
        "```",
        f"{_synopsis(parser.prog, parser)} COMMAND ...",
        "```",
        "",
        *_table(parser),
        *_command_sections(parser, 2),
    ]
    return "\n".join(lines) + "\n"


def config_page() -> str:
    ours = [key for key in settings.KEYS.values() if key.namespace == settings.PROJECT_NAME]
    others = [key for key in settings.KEYS.values() if key.namespace != settings.PROJECT_NAME]
    providers = ", ".join(f"`{name}:`" for name in sorted(settings.PROVIDER_NAMESPACES))
    lines = [
        "# Stack config keys",
        "",
        GENERATED,
        "",
        "Each stack's `Pulumi.<stack>.yaml` sets these under `config:`, as",
        "`pulumi config set <key> <value> --stack <stack>` writes them. A value that is missing",
        "or not accepted stops `pulumi up` and every `npq-events` command with one line naming",
        "the key, the value and what is accepted, before any resource is declared.",
        f"An unknown key in the `{settings.PROJECT_NAME}:` namespace is refused; keys of",
        f"{providers} pass through to Pulumi and the provider. The stacks and what each",
        "declares: [stacks.md](stacks.md).",
        "",
        "| key | accepted |",
        "|---|---|",
        *(f"| `{key.full}` | {_cell(_text(key.accepted))} |" for key in [*others, *ours]),
    ]
    return "\n".join(lines) + "\n"


PAGES = {"cli.md": cli_page, "config.md": config_page}


def stale_pages(docs: Path | None = None) -> list[str]:
    """The generated pages whose file (in `docs`, default DOCS) differs from the code now."""
    docs = DOCS if docs is None else docs
    return [
        name
        for name, render in PAGES.items()
        if not (docs / name).is_file() or (docs / name).read_text() != render()
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.cli.docs", description="Write docs/cli.md and docs/config.md."
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a page is stale"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages()
        for name in stale:
            print(f"docs/{name} is stale: run `python -m infra.cli.docs`", file=sys.stderr)
        return 1 if stale else 0
    DOCS.mkdir(exist_ok=True)
    for name, render in PAGES.items():
        (DOCS / name).write_text(render())
        print(f"wrote docs/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

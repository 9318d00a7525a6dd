"""Options several commands share, each defined once, and the parsing of option values.

Values are parsed by argparse `type=` callables made with `typed(flag, parse)`: `parse` is a
domain function that knows what a value means and raises InvalidValue saying what is accepted;
`typed` names the flag, so `--limit '²' is not accepted: give ...` is one line and exit 2. The
domain modules never spell a flag.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from infra.errors import InvalidValue, UserError

T = TypeVar("T")

STDIN = "-"  # a FILE argument that reads stdin
STDIN_LABEL = "stdin"
API_ENDPOINT = "--api-endpoint"
LOCAL = "--local"
SEND_CREDENTIALS = "--send-credentials"


def typed(flag: str, parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse `type=` for `flag`: `parse(text)`, its InvalidValue as the CLI's one line."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except InvalidValue as exc:
            subject = f"{flag} {text!r}" if exc.part is None else f"{flag} item {exc.part!r}"
            raise UserError(f"{subject} {exc}") from None

    convert.__name__ = flag.lstrip("-")
    return convert


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """A parse for a whole number from `low` to `high`, written in ASCII digits only (int()
    also takes '²'-like digits of other scripts, '_', signs and spaces: none is accepted)."""

    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
            raise InvalidValue(f"is not accepted: give a whole number from {low} to {high}")
        return int(text)

    return parse


# -- the options themselves ------------------------------------------------------------------


def _directory(text: str) -> Path:
    path = Path(text)
    try:
        if path.is_dir():
            return path
    except (OSError, ValueError):
        pass
    raise InvalidValue("is not a directory")


def add_project_dir(parser: argparse.ArgumentParser) -> None:
    from infra.model.stackfiles import ROOT

    parser.add_argument(
        "--project-dir",
        type=typed("--project-dir", _directory),
        default=ROOT,
        metavar="DIR",
        help="directory holding the Pulumi.<stack>.yaml files (default: this checkout; for an "
        "installed package, the current directory)",
    )


def add_stack(
    parser: argparse.ArgumentParser | argparse._ActionsContainer,
    help: str,
    *,
    required: bool = True,
    default: str | None = None,
    repeatable: bool = False,
) -> None:
    """--stack NAME (a stack file's name or review-pr-<N>), checked when its file is read."""
    extra = {"action": "append"} if repeatable else {"default": default}
    parser.add_argument(
        "--stack", metavar="NAME", required=required and not repeatable, help=help, **extra
    )


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...]) -> None:
    """--format, the first choice the default."""
    parser.add_argument("--format", choices=choices, default=choices[0])


def add_endpoint(parser: argparse.ArgumentParser) -> None:
    """--api-endpoint URL | --local, and --send-credentials: which BigQuery to read."""
    from infra.bigquery.client import check_endpoint

    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        API_ENDPOINT,
        type=typed(API_ENDPOINT, check_endpoint),
        metavar="URL",
        help="a BigQuery-compatible REST endpoint: https://HOST[:PORT], or plain http:// only "
        "on loopback, e.g. http://127.0.0.1:9050 (a local emulator), which gets anonymous "
        f"requests unless {SEND_CREDENTIALS} is given",
    )
    group.add_argument(
        LOCAL,
        action="store_true",
        help="the local emulator started by 'npq-events local up' (it must hold each stack); "
        "no credentials are sent",
    )
    parser.add_argument(
        SEND_CREDENTIALS,
        action="store_true",
        help=f"send the Google credentials to a plain-http loopback {API_ENDPOINT} too (e.g. a "
        "local proxy in front of BigQuery)",
    )


def endpoint(args: argparse.Namespace, *stacks: str) -> tuple[str | None, Mapping[str, str]]:
    """The endpoint the options name (None: BigQuery itself) and the environment credentials
    are read from: none for the local emulator and, unless asked, for a plain-http one."""
    from infra.bigquery import local
    from infra.bigquery.client import is_plain_http

    if args.send_credentials and (args.local or not is_plain_http(args.api_endpoint)):
        raise UserError(f"{SEND_CREDENTIALS} goes with a plain http:// {API_ENDPOINT} only")
    if args.local:
        return local.local_endpoint(*stacks), local.NO_CREDENTIALS
    if is_plain_http(args.api_endpoint) and not args.send_credentials:
        return args.api_endpoint, local.NO_CREDENTIALS
    return args.api_endpoint, os.environ


def read_stdin(expected: str) -> str:
    """All of stdin as text, or the one-line error saying why not and what was `expected`."""
    if sys.stdin is None:
        raise UserError(f"{STDIN_LABEL}: there is none; expected {expected}")
    try:
        return sys.stdin.read()
    except UnicodeDecodeError:
        raise UserError(f"{STDIN_LABEL}: not UTF-8 text; expected {expected}") from None
    except OSError as exc:
        raise UserError(f"{STDIN_LABEL}: cannot read it: {exc.strerror or exc}") from None

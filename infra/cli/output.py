"""Writing results: JSON for machines, rich text for terminals, plain text for pipes.

Every console here reads Rich markup (`[bold]...[/bold]`) in the text the CLI writes itself.
Text it did not write (a stack name, a URN, a column, a server's or Pulumi's message) goes
through `shown`, so it prints as it is: never read as markup, emoji codes or terminal escapes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.markup import escape

from infra.errors import one_line, printable

PROG = "npq-events"


def console(stderr: bool = False) -> Console:
    """A console that colours a terminal and writes plain text to a pipe."""
    return Console(
        file=sys.stderr if stderr else sys.stdout, soft_wrap=True, highlight=False, emoji=False
    )


def shown(text: object) -> str:
    """Text the CLI did not write, ready for a console's markup: terminal control sequences
    removed, Rich markup escaped. The one way such text reaches a console."""
    return escape(printable(text))


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def error_line(message: object, internal: bool = False) -> None:
    """`npq-events: error: ...` (or `internal error:`) as one line on stderr."""
    kind = "internal error" if internal else "error"
    sys.stderr.write(f"{PROG}: {kind}: {one_line(message, 'no message')}\n")
    sys.stderr.flush()


def warning_line(message: object) -> None:
    sys.stderr.write(f"{PROG}: warning: {one_line(message, 'no message')}\n")
    sys.stderr.flush()


class _QuietStdout:
    """sys.stdout that, once its reader has gone (`| head`), drops the rest of the output
    instead of raising BrokenPipeError: the command finishes and exits with its own status."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.closed_by_reader = False

    def write(self, text: str) -> int:
        if not self.closed_by_reader:
            try:
                return self._stream.write(text)
            except OSError as exc:
                self._reader_gone(exc)
        return len(text)

    def flush(self) -> None:
        if not self.closed_by_reader:
            try:
                self._stream.flush()
            except OSError as exc:
                self._reader_gone(exc)

    def _reader_gone(self, exc: OSError) -> None:
        if not isinstance(exc, BrokenPipeError) and exc.errno != errno.EPIPE:
            raise exc
        self.closed_by_reader = True
        # Whatever is still buffered would fail again when Python flushes stdout at exit.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def quiet_when_closed() -> Iterator[None]:
    """While inside, a closed stdout ends the output quietly (see _QuietStdout)."""
    original = sys.stdout
    sys.stdout = _QuietStdout(original)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        sys.stdout = original

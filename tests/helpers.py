"""What the test modules share: the CLI run in this process or in a process of its own, the
environment that holds no credentials, the one-line error, a declaration of a test's own and
RFC 3339 times."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from infra.bigquery.client import ADC_FILE_ENV, KEY_JSON_ENV
from infra.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
# The CLI's environment with neither credential variable set to anything usable.
NO_CREDENTIALS = {KEY_JSON_ENV: "", ADC_FILE_ENV: ""}


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`npq-events ARGS` in this process, answered as a process would answer it.

    main() runs with `env` laid over os.environ and `cwd` as the working directory (both
    restored afterwards), stdout and stderr captured, and warnings printed to that stderr under
    Python's default filters, as a process of its own would print them. Use run_cli_process
    where the process is the point: start-up imports, stdin, signals, a process that outlives
    the command, or code other than this checkout's.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        _environment(env or {}),
        _working_directory(cwd),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
        _warnings_printed(),
    ):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, and usage errors (already printed)
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(
        ["npq-events", *args], code, stdout.getvalue(), stderr.getvalue()
    )


def run_cli_process(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run `npq-events ARGS` exactly as a user would, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_error(stderr: str) -> str:
    """The one `npq-events: error: ...` line that is all of a failed command's stderr (never a
    traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("npq-events: error: "), stderr
    return lines[0]


def isolated(declaration):
    """The same declaration in a dataset of its own, so tests never share emulator state."""
    dataset_id = f"{declaration.dataset.dataset_id}_{uuid.uuid4().hex[:8]}"
    return replace(
        declaration,
        dataset=replace(declaration.dataset, dataset_id=dataset_id),
        table=replace(declaration.table, dataset_id=dataset_id),
    )


def when(text: str) -> datetime:
    """An RFC 3339 time as the CLI and the sample print it (`...Z`)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@contextlib.contextmanager
def _environment(overrides: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _working_directory(cwd: Path | None) -> Iterator[None]:
    if cwd is None:
        yield
        return
    before = Path.cwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _warnings_printed() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.resetwarnings()
        # Python's default filters (the warnings module's documentation, "Default Warning Filter").
        warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
            warnings.filterwarnings("ignore", category=category, append=True)
        warnings.filterwarnings("ignore", category=ResourceWarning, append=True)
        warnings.showwarning = _print_warning
        yield

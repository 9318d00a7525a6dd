"""A local BigQuery emulator (bqemulator: BigQuery's REST API on DuckDB) on loopback.

Used by `npq-events local`, the tests and the benchmarks. bqemulator needs DuckDB's spatial
extension at start-up and would download it; here the extension comes from its PyPI wheel and
is installed into DuckDB before the emulator starts (`python -m infra.bigquery.emulator ARGS`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORT = 9050
START_TIMEOUT = 60.0


class EmulatorError(RuntimeError):
    """The emulator could not be started or reached; the message is one line."""


@dataclass(frozen=True)
class RunningEmulator:
    pid: int
    port: int
    log_path: Path

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def installed() -> bool:
    try:
        import bqemulator  # noqa: F401
        import duckdb_extensions  # noqa: F401
    except ImportError:
        return False
    return True


def start(
    port: int,
    project: str,
    log_path: Path,
    data_dir: Path | None = None,
    timeout: float = START_TIMEOUT,
) -> RunningEmulator:
    """Start the emulator in the background and wait until it answers; EmulatorError if not."""
    if not installed():
        raise EmulatorError(
            "the local BigQuery emulator is not installed; run: pip install -e '.[local]'"
        )
    if not 1 <= port <= 65535:
        raise EmulatorError(f"port {port} is not a TCP port (1-65535)")
    if not port_is_free(port):
        raise EmulatorError(f"port {port} on {HOST} is in use; choose another with --port")
    command = [
        sys.executable,
        "-m",
        "infra.bigquery.emulator",
        "start",
        "--rest-host",
        HOST,
        "--rest-port",
        str(port),
        "--grpc-host",
        HOST,
        "--grpc-port",
        str(free_port()),
        "--project",
        project,
        "--log-level",
        "warning",
        "--log-format",
        "json",
    ]
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        command += ["--persistent", "--data-dir", str(data_dir)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parents[2],
            start_new_session=True,
        )
    running = RunningEmulator(pid=process.pid, port=port, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(
                f"the emulator exited with status {process.returncode} at start-up: "
                f"{_last_line(log_path)} (log: {log_path})"
            )
        if answers(running.endpoint, project):
            return running
        time.sleep(0.2)
    stop(process.pid)
    raise EmulatorError(f"the emulator did not answer within {timeout:.0f}s (log: {log_path})")


def answers(endpoint: str, project: str) -> bool:
    url = f"{endpoint}/bigquery/v2/projects/{project}/datasets"
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def is_running(pid: int) -> bool:
    """Whether the process lives. A zombie does not: an emulator left by an earlier
    `npq-events local up` is reparented to PID 1, which in a container may never reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): launchd reaps orphans
    # Field 3, after the parenthesised command name (which may itself hold spaces).
    state = stat.rpartition(")")[2].split()
    return bool(state) and state[0] in ("Z", "X")


def command_line(pid: int) -> str | None:
    """The process's command line where /proc shows it, else None."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def stop(pid: int, timeout: float = 10.0) -> bool:
    """Stop the emulator's process group; True if it was running."""
    if not is_running(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not is_running(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return True


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"


def _launch(argv: list[str]) -> None:
    """Install DuckDB's spatial extension from its wheel, then run bqemulator's CLI."""
    import duckdb_extensions
    from bqemulator.cli import main

    duckdb_extensions.import_extension("spatial")
    main(args=argv, prog_name="bqemulator")


if __name__ == "__main__":
    _launch(sys.argv[1:])

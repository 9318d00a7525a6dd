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
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORT = 9050
START_TIMEOUT = 60.0
ANSWER_DEADLINE = 2.0
MODULE = "infra.bigquery.emulator"
START = "start"
DATA_DIR_OPTION = "--data-dir"
MAX_PID = 2**31 - 1  # a pid_t; a larger number is no process (os.kill would overflow)


class EmulatorError(RuntimeError):
    """The emulator could not be started or reached; the message is one line."""

    def __init__(self, message: str, port_taken: bool = False) -> None:
        super().__init__(message)
        self.port_taken = port_taken


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
        raise EmulatorError(f"port {port} on {HOST} is in use", port_taken=True)
    command = [
        sys.executable,
        "-m",
        MODULE,
        START,
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
        command += ["--persistent", DATA_DIR_OPTION, str(data_dir)]
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
    stop(process.pid, data_dir)
    raise EmulatorError(f"the emulator did not answer within {timeout:.0f}s (log: {log_path})")


def answers(endpoint: str, project: str, deadline: float = ANSWER_DEADLINE) -> bool:
    """Whether a BigQuery REST API answers at `endpoint` within `deadline` seconds in all."""
    # Imported here: `local status` and `local down` with nothing running never ask.
    import requests

    from infra.bigquery.http import DeadlineSession

    url = f"{endpoint}/bigquery/v2/projects/{project}/datasets"
    with DeadlineSession(deadline) as session:
        try:
            return session.get(url, timeout=deadline).status_code == 200
        except (requests.RequestException, OSError, ValueError):
            return False


def is_running(pid: int) -> bool:
    """Whether the process lives. A zombie does not: an emulator left by an earlier
    `npq-events local up` is reparented to PID 1, which in a container may never reap it.
    Only a positive pid is asked about (0 and -1 would ask about whole process groups)."""
    if not 0 < pid <= MAX_PID:
        return False
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


def command_line(pid: int) -> list[str] | None:
    """The process's arguments where the system shows them (/proc, else `ps`), else None."""
    if not 0 < pid <= MAX_PID:
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None  # /proc exists and the process does not
    except OSError:
        return None
    else:
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part] or None
    try:
        shown = subprocess.run(
            ["ps", "-ww", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return shown.split() or None  # a data directory with spaces does not match: refused


def is_ours(argv: list[str] | None, data_dir: Path | None = None) -> bool:
    """Whether a command line is this module's emulator (with `data_dir`, when given)."""
    if not argv:
        return False
    for i in range(len(argv) - 2):
        if argv[i : i + 3] == ["-m", MODULE, START]:
            rest = argv[i + 3 :]
            if data_dir is None:
                return True
            return any(
                rest[j] == DATA_DIR_OPTION and rest[j + 1] == str(data_dir)
                for j in range(len(rest) - 1)
            )
    return False


def owned(pid: int, data_dir: Path | None = None) -> bool:
    """Whether `pid` is an emulator `start` launched (with `data_dir`, when given): never pid 0
    or 1 or a negative one; the leader of its own process group, as start_new_session made it;
    its command line this module's."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 1 or not is_running(pid):
        return False
    try:
        if os.getpgid(pid) != pid:
            return False
    except OSError:
        return False
    return is_ours(command_line(pid), data_dir)


def find(data_dir: Path) -> list[int]:
    """Every running emulator started with `data_dir` (when the record of it is lost)."""
    pids: list[int] = []
    proc = Path("/proc")
    if proc.is_dir():
        candidates = [int(entry.name) for entry in proc.iterdir() if entry.name.isdigit()]
    else:
        try:
            listing = subprocess.run(
                ["ps", "-ax", "-o", "pid="], capture_output=True, text=True, timeout=5, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        candidates = [int(word) for word in listing.split() if word.isdigit()]
    for pid in candidates:
        if pid != os.getpid() and owned(pid, data_dir):
            pids.append(pid)
    return pids


def stop(pid: int, data_dir: Path | None = None, timeout: float = 10.0) -> bool:
    """Stop the emulator's process group; True if it was running. Signals nothing unless
    `owned(pid, data_dir)`: never the caller's group, never another program."""
    if not owned(pid, data_dir):
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
    if owned(pid, data_dir):
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

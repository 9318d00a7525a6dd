"""Benchmark: how long `npq-events` takes to start, and the memory it holds, per command.

Each command runs as `python -m infra.cli ARGS` in a fresh process (as the `npq-events` script
runs it), with a state directory of its own; nothing reaches a network. Beside them, from the
same run, two baselines: `python -c pass` (the interpreter alone) and
`python -c "import google.cloud.bigquery"` (the client library as this environment installs
it, with pyarrow and numpy beside it). The median wall time of ROUNDS runs and the largest
resident set size are printed.

    python bench/startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 10
CLI = (sys.executable, "-m", "infra.cli")
RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("python -c pass", (sys.executable, "-c", "pass")),
    ("import google.cloud.bigquery", (sys.executable, "-c", "import google.cloud.bigquery")),
    ("npq-events --help", (*CLI, "--help")),
    ("npq-events local status", (*CLI, "local", "status")),
    ("npq-events local down", (*CLI, "local", "down")),
    ("npq-events schema check", (*CLI, "schema", "check")),
    ("npq-events verify --help", (*CLI, "verify", "--help")),
    ("npq-events records --help", (*CLI, "records", "--help")),
    ("npq-events plan --help", (*CLI, "plan", "--help")),
)


def run_once(command: tuple[str, ...], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak resident KiB of one run."""
    began = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}")
    return elapsed, usage.ru_maxrss


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "NPQ_EVENTS_STATE_DIR": tmp,
        }
        results = {}
        for label, command in RUNS:
            run_once(command, env)  # warm the file cache and the bytecode
            samples = [run_once(command, env) for _ in range(ROUNDS)]
            results[label] = (
                statistics.median(s for s, _ in samples),
                max(kib for _, kib in samples),
            )
    interpreter = results["python -c pass"][0]
    bigquery = results["import google.cloud.bigquery"][0]
    print(f"start-up, median of {ROUNDS} fresh processes (peak resident memory)")
    for label, (seconds, kib) in results.items():
        print(
            f"  {label:<30} {seconds:6.3f} s  {kib / 1024:6.1f} MiB  "
            f"(+{seconds - interpreter:5.3f} s over the interpreter; "
            f"{seconds / bigquery:4.0%} of importing google-cloud-bigquery)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

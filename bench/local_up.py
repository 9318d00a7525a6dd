"""Benchmark: how long `npq-events local up` takes, against a bare emulator start.

The same run times, each through the real CLI in a fresh process as a user runs it, with a
state directory of its own and a free loopback port:
  - the baseline: starting the emulator alone (infra.bigquery.emulator.start, in this
    process) and a CLI process that does nothing but print its help (the interpreter and the
    CLI's own start, which every command pays);
  - `local up` from nothing (start, create the declared table, load the sample);
  - `local up` again (it already runs: nothing to do);
  - `records --stack staging --local --since 2d --format json` (dry run, then the query);
  - `local down`.
Target: a fresh `local up` within 10 seconds, and within the baseline plus 5 seconds.

    python bench/local_up.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.bigquery import emulator, local  # noqa: E402

TARGET_SECONDS = 10.0
TARGET_OVER_BASELINE = 5.0


def cli(*args: str, env: dict[str, str]) -> float:
    began = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        check=True,
        capture_output=True,
    )
    return time.monotonic() - began


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = {local.STATE_DIR_ENV: str(Path(tmp) / "state")}

        began = time.monotonic()
        bare = emulator.start(emulator.free_port(), "ecf-bq", Path(tmp) / "bare.log")
        emulator_start = time.monotonic() - began
        emulator.stop(bare.pid)
        help_only = cli("--help", env=env)
        baseline = emulator_start + help_only

        port = str(emulator.free_port())
        try:
            fresh = cli("local", "up", "--port", port, env=env)
            again = cli("local", "up", "--port", port, env=env)
            records = cli(
                "records",
                "--stack",
                "staging",
                "--local",
                "--since",
                "2d",
                "--format",
                "json",
                env=env,
            )
        finally:
            down = cli("local", "down", env=env)

    print(f"baseline: emulator start {emulator_start:.2f}s + CLI start {help_only:.2f}s")
    print(f"local up (fresh)       {fresh:6.2f}s   baseline {baseline:.2f}s")
    print(f"local up (running)     {again:6.2f}s")
    print(f"records --local        {records:6.2f}s")
    print(f"local down             {down:6.2f}s")
    ok = fresh <= TARGET_SECONDS and fresh <= baseline + TARGET_OVER_BASELINE
    print(
        f"target: fresh up <= {TARGET_SECONDS:.0f}s and <= baseline + "
        f"{TARGET_OVER_BASELINE:.0f}s: {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

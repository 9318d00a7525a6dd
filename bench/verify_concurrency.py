"""Benchmark: verify 50 stacks concurrently against one stack at a time.

A loopback server answering in BigQuery's REST shapes (tests/bq_stub.py) holds 50 datasets
and adds 100 ms to every response. The same run times, through the verifier's own code
(infra.bigquery.live.check_all, one client per stack, as `npq-events verify` uses it):
  - one stack on its own;
  - the 50 stacks one at a time (the baseline);
  - the 50 stacks at once;
and then the real CLI, `npq-events --project-dir DIR verify --all`, over 50 stack files.
Target: all 50 at once in under 3 times the wall time of one.

    python bench/verify_concurrency.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from infra.bigquery.live import Target, check_all  # noqa: E402
from infra.model.declared import declare  # noqa: E402
from infra.model.stackfiles import settings_for  # noqa: E402
from tests.bq_stub import StubBigQuery  # noqa: E402

STACKS = 50
DELAY = 0.100  # seconds added to every response
ROUNDS = 3  # one stack and all at once are timed this many times; the median counts
TARGET_RATIO = 3.0


def targets() -> list[Target]:
    base = settings_for("staging")
    made = []
    for index in range(STACKS):
        settings = replace(base, stack=f"bench-{index:02d}", dataset_id=f"npq_events_b{index:02d}")
        made.append(Target(settings.stack, declaration=declare(settings)))
    return made


def timed(run) -> float:
    started = time.perf_counter()
    results = run()
    elapsed = time.perf_counter() - started
    bad = [r for r in results if r.status != "match"]
    if bad:
        raise SystemExit(f"benchmark stack did not match: {bad[0].stack}: {bad[0].error}")
    return elapsed


def stack_files(directory: Path) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    for index in range(STACKS):
        document["config"]["npq-analytics:datasetId"] = f"npq_events_b{index:02d}"
        (directory / f"Pulumi.bench-{index:02d}.yaml").write_text(yaml.safe_dump(document))


def cli(endpoint: str, directory: Path, *which: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [
            *(sys.executable, "-m", "infra.cli", "--project-dir", str(directory), "verify"),
            *which,
            *("--api-endpoint", endpoint, "--format", "json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"npq-events verify exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


def main() -> int:
    all_targets = targets()
    with StubBigQuery(delay=DELAY) as stub:
        for target in all_targets:
            stub.put(target.declaration)
        endpoint = stub.endpoint
        env: dict[str, str] = {}
        check_all(all_targets[:2], endpoint, env=env)  # warm up imports and sockets

        # The baseline: each stack checked on its own, one after another.
        seq_s = timed(lambda: [check_all([t], endpoint, env=env)[0] for t in all_targets])
        one, concurrent = [], []
        for _ in range(ROUNDS):
            one.append(timed(lambda: check_all(all_targets[:1], endpoint, env=env)))
            stub.max_in_flight = 0
            concurrent.append(timed(lambda: check_all(all_targets, endpoint, env=env)))
        in_flight = stub.max_in_flight

        with tempfile.TemporaryDirectory() as directory:
            stack_files(Path(directory))
            cli_one = cli(endpoint, Path(directory), "--stack", "bench-00")
            cli_all = cli(endpoint, Path(directory), "--all")

    one_s, conc_s = statistics.median(one), statistics.median(concurrent)
    ratio = conc_s / one_s
    print(f"verify, {STACKS} stacks, {DELAY * 1000:.0f} ms added to every response")
    print(f"  one stack:                   {one_s:6.3f} s")
    print(f"  {STACKS} one at a time (baseline): {seq_s:6.3f} s")
    print(f"  {STACKS} at once:                 {conc_s:6.3f} s  ({in_flight} requests in flight)")
    print(f"  ratio, {STACKS} at once / one:      {ratio:6.2f}x  (target < {TARGET_RATIO:g}x)")
    print(f"  speed-up over the baseline:  {seq_s / conc_s:6.1f}x")
    print(f"  CLI end to end (process start included): one {cli_one:.2f} s, --all {cli_all:.2f} s")
    print("PASS" if ratio < TARGET_RATIO else "FAIL: over the target")
    return 0 if ratio < TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the round trips `npq-events verify --all` waits for, with freshness read.

A loopback server answering in BigQuery's REST shapes (tests/bq_stub.py) holds every committed
stack's dataset and table. The real CLI, `npq-events verify --all` over the committed stack
files, runs with 0 ms and with 400 ms added to every response; (time at 400 ms - time at 0 ms)
/ 0.4 s is the number of round trips it waits for. Three cases, from the same run:

1. baseline: the verifier's metadata reads alone (infra.bigquery.live.check_all without
   freshness, in this process);
2. tables whose metadata answers (numRows 0, no streaming buffer): freshness from metadata;
3. tables holding events: freshness needs the query.

Also printed: the requests per stack and what the CLI says the freshness queries bill.

    python bench/verify_freshness.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.bigquery.bytesize import human_binary  # noqa: E402
from infra.bigquery.live import Target, check_all  # noqa: E402
from infra.model.declared import declare  # noqa: E402
from infra.model.events import ENTITY_TABLE_CHECK  # noqa: E402
from infra.model.stackfiles import committed_stacks, settings_for  # noqa: E402
from tests.bq_stub import StubBigQuery  # noqa: E402

LATENCY = 0.400  # seconds added to every response
ROUNDS = 5  # each case is timed this many times at each latency; the median counts


def cli(endpoint: str) -> dict:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "infra.cli", "verify", "--all", "--api-endpoint", endpoint),
            *("--format", "json", "--max-staleness", "none", "--max-check-staleness", "none"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"npq-events verify exited {done.returncode}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def median_time(run) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    stacks = committed_stacks()
    targets = [Target(stack, declaration=declare(settings_for(stack))) for stack in stacks]
    figures: dict[str, tuple[float, float, float]] = {}
    cost = {}
    with StubBigQuery() as stub:
        for target in targets:
            stub.put(target.declaration)
        endpoint = stub.endpoint
        check_all(targets, endpoint, env={})  # warm up imports and sockets

        def case(name: str, run) -> None:
            timings = {}
            for delay in (0.0, LATENCY):
                stub.delay = delay
                timings[delay] = median_time(run)
            stub.delay = 0.0
            before = len(stub.calls)
            run()
            per_stack = (len(stub.calls) - before) / len(stacks)
            figures[name] = (timings[0.0], timings[LATENCY], per_stack)

        case(
            "metadata reads alone (baseline, in process)",
            lambda: check_all(targets, endpoint, env={}),
        )
        case("freshness from metadata (empty tables)", lambda: cli(endpoint))
        now = datetime.now(UTC)
        for target in targets:
            stub.events(target.declaration, [(now - timedelta(minutes=5), "web_request")])
            stub.events(target.declaration, [(now - timedelta(hours=5), ENTITY_TABLE_CHECK)])
        case("freshness from the query (tables with events)", lambda: cli(endpoint))
        cost = cli(endpoint)["freshness_cost"]

    print(
        f"verify --all, {len(stacks)} committed stacks ({', '.join(stacks)}), "
        f"{LATENCY * 1000:.0f} ms added to every response; median of {ROUNDS}"
    )
    for name, (fast, slow, per_stack) in figures.items():
        trips = (slow - fast) / LATENCY
        print(
            f"  {name:<48} 0 ms {fast:6.3f} s, {LATENCY * 1000:.0f} ms {slow:6.3f} s: "
            f"{trips:4.2f} round trips, {per_stack:g} requests per stack"
        )
    print(
        f"  the query case's freshness queries: {cost['queries']}, billed "
        f"{human_binary(cost['bytes_billed'])} a run, "
        f"{human_binary(cost['bytes_billed_a_month_hourly'])} a month at one run an hour "
        "(the stub's dry runs say 0 bytes: BigQuery's 10 MiB minimum each)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

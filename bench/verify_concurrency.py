"""Benchmark: what verify costs in round trips to BigQuery, and over many stacks.

A loopback server answering in BigQuery's REST shapes (tests/bq_stub.py) adds a fixed delay to
every response. Through the verifier's own code (infra.bigquery.live, one client per stack, as
`npq-events verify` uses it) and through the real CLI, the same run measures:

1. Round trips: `npq-events verify --all` over the committed stacks with 0 ms and with 400 ms
   added to every response; (time at 400 ms - time at 0 ms) / 0.4 s is the number of round
   trips a verify waits for (target: at most 1.2). The stub's tables hold no events, so the
   CLI runs with `--max-staleness none --max-check-staleness none` (freshness reported, no
   limit in force) and its freshness is answered by the tables' metadata: its dry run is one
   more read beside the GETs. Freshness is timed apart too: check_all with freshness off (the
   GETs alone) and on (the GETs and the dry run). Beside them: the requests per stack, the
   peak of requests in flight, and the baseline of the same GETs with each stack's dataset
   GET and table GET one after the other. (bench/verify_freshness.py times the case where
   the freshness query runs too.)
2. Many stacks: 50 stacks at 100 ms (the stub in a process of its own), one stack on its
   own, the 50 one at a time (baseline) and the 50 at once (target: all 50 at once in under
   3 times the wall time of one).

    python bench/verify_concurrency.py
"""

from __future__ import annotations

import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from infra.bigquery.client import DEFAULT_DEADLINES, make_client  # noqa: E402
from infra.bigquery.live import FRESHNESS_DRY_RUN, READS, Target, check_all  # noqa: E402
from infra.model.declared import declare  # noqa: E402
from infra.model.stackfiles import committed_stacks, settings_for  # noqa: E402
from infra.rules.freshness import Limits  # noqa: E402
from tests.bq_stub import StubBigQuery  # noqa: E402

STACKS = 50
DELAY = 0.100  # seconds added to every response
ROUNDS = 3  # one stack and all at once are timed this many times; the median counts
TARGET_RATIO = 3.0
LATENCY = 0.400  # seconds added to every response for the round-trip figure
TRIP_ROUNDS = 5
TARGET_ROUND_TRIPS = 1.2


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
            # The stub's tables hold no events: freshness is reported, no limit is in force.
            *("--max-staleness", "none", "--max-check-staleness", "none"),
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


def one_after_another(targets: list[Target], endpoint: str) -> None:
    """The baseline: each stack's reads one after the other (stacks still side by side)."""

    def check(target: Target) -> None:
        client = make_client(target.declaration.dataset.project, endpoint, env={})
        try:
            for read in READS.values():
                read(client, target.declaration, DEFAULT_DEADLINES)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        list(pool.map(check, targets))


def median_time(run, rounds: int = TRIP_ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def round_trips() -> bool:
    stacks = committed_stacks()
    committed = [Target(stack, declaration=declare(settings_for(stack))) for stack in stacks]
    # Freshness on, no limit in force: the committed stacks as the CLI above reads them.
    fresh = [replace(target, limits=Limits(events=None, checks=None)) for target in committed]
    with StubBigQuery() as stub:
        for target in committed:
            stub.put(target.declaration)
        endpoint = stub.endpoint
        check_all(committed, endpoint, env={})  # warm up imports and sockets
        check_all(fresh, endpoint, env={})
        timings: dict[str, dict[float, float]] = {
            "cli": {},
            "library": {},
            "library, fresh": {},
            "baseline": {},
        }
        for delay in (0.0, LATENCY):
            stub.delay = delay
            timings["cli"][delay] = median_time(lambda: cli(endpoint, ROOT, "--all"))
            timings["library"][delay] = median_time(lambda: check_all(committed, endpoint, env={}))
            timings["library, fresh"][delay] = median_time(
                lambda: check_all(fresh, endpoint, env={})
            )
            timings["baseline"][delay] = median_time(lambda: one_after_another(committed, endpoint))
        stub.requests.clear()
        stub.max_in_flight = 0
        cli(endpoint, ROOT, "--all")
        per_stack = sum(stub.requests.values()) / len(stacks)
        peak = stub.max_in_flight

    def trips(kind: str) -> float:
        return (timings[kind][LATENCY] - timings[kind][0.0]) / LATENCY

    print(
        f"verify --all, {len(stacks)} committed stacks ({', '.join(stacks)}), "
        f"{LATENCY * 1000:.0f} ms added to every response; median of {TRIP_ROUNDS}"
    )
    for kind, label in (
        ("cli", "npq-events verify --all, freshness on (process start incl.)"),
        ("library", "check_all in this process, freshness off"),
        ("library, fresh", "check_all in this process, freshness on"),
        ("baseline", "baseline: each stack's GETs one after the other"),
    ):
        print(
            f"  {label:<59} 0 ms {timings[kind][0.0]:6.3f} s, {LATENCY * 1000:.0f} ms "
            f"{timings[kind][LATENCY]:6.3f} s: {trips(kind):4.2f} round trips"
        )
    print(
        f"  requests per stack, CLI: {per_stack:g} ({', '.join(READS)} GET, "
        f"{FRESHNESS_DRY_RUN}); peak in flight: {peak}"
    )
    ok = all(trips(kind) <= TARGET_ROUND_TRIPS for kind in ("cli", "library", "library, fresh"))
    print(f"  target: at most {TARGET_ROUND_TRIPS:g} round trips: {'met' if ok else 'NOT met'}")
    return ok


def _serve(delay: float, conn: Connection) -> None:
    """The stub holding the 50 stacks, in a process of its own (as BigQuery is): its threads
    do not compete with the verifier's for this process's interpreter."""
    with StubBigQuery(delay=delay) as stub:
        for target in targets():
            stub.put(target.declaration)
        conn.send(stub.endpoint)
        while (message := conn.recv()) != "stop":
            if message == "reset":
                stub.max_in_flight = 0
            conn.send(stub.max_in_flight)


def many_stacks() -> bool:
    all_targets = targets()
    conn, child_end = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=_serve, args=(DELAY, child_end), daemon=True
    )
    server.start()
    try:
        endpoint = conn.recv()
        env: dict[str, str] = {}
        check_all(all_targets[:2], endpoint, env=env)  # warm up imports and sockets

        # The baseline: each stack checked on its own, one after another.
        seq_s = timed(lambda: [check_all([t], endpoint, env=env)[0] for t in all_targets])
        one, concurrent = [], []
        for _ in range(ROUNDS):
            one.append(timed(lambda: check_all(all_targets[:1], endpoint, env=env)))
            conn.send("reset")
            conn.recv()
            concurrent.append(timed(lambda: check_all(all_targets, endpoint, env=env)))
        conn.send("peak")
        in_flight = conn.recv()

        with tempfile.TemporaryDirectory() as directory:
            stack_files(Path(directory))
            cli_one = cli(endpoint, Path(directory), "--stack", "bench-00")
            cli_all = cli(endpoint, Path(directory), "--all")
    finally:
        conn.send("stop")
        server.join(timeout=10)

    one_s, conc_s = statistics.median(one), statistics.median(concurrent)
    ratio = conc_s / one_s
    print(f"verify, {STACKS} stacks, {DELAY * 1000:.0f} ms added to every response")
    print(f"  one stack:                   {one_s:6.3f} s")
    print(f"  {STACKS} one at a time (baseline): {seq_s:6.3f} s")
    print(f"  {STACKS} at once:                 {conc_s:6.3f} s  ({in_flight} requests in flight)")
    print(f"  ratio, {STACKS} at once / one:      {ratio:6.2f}x")
    print(f"  speed-up over the baseline:  {seq_s / conc_s:6.1f}x")
    print(f"  CLI end to end (process start included): one {cli_one:.2f} s, --all {cli_all:.2f} s")
    ok = ratio < TARGET_RATIO
    print(f"  target: {STACKS} at once under {TARGET_RATIO:g}x one: {'met' if ok else 'NOT met'}")
    return ok


def main() -> int:
    trips_ok = round_trips()
    print()
    many_ok = many_stacks()
    return 0 if trips_ok and many_ok else 1


if __name__ == "__main__":
    sys.exit(main())

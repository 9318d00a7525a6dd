"""Benchmark: the requests `npq-events records` sends to BigQuery, and what they cost.

The local emulator holds the staging stack's table with its sample events (as `npq-events
local up` loads it); a counting proxy (tests/counting_proxy.py) in front of it logs every
request and adds a fixed latency to each. The same run measures:
  - `npq-events records --stack staging --since 2d --format json` through the proxy: the
    requests it sends (target: 2, the dry run and one jobs.query) and its time with 0 ms and
    with 400 ms added to every request;
  - the same, in this process, through infra.bigquery.records (dry_run, then run);
  - the baseline: the same dry run, then the same query as a job (jobs.insert, then
    job.result(): the sequence records used before), through the same proxy.

    python bench/records_requests.py
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from google.cloud import bigquery  # noqa: E402

from infra.bigquery import emulator, local, records  # noqa: E402
from infra.bigquery.client import DEFAULT_DEADLINES, make_client  # noqa: E402
from infra.bigquery.window import Window, utc_now  # noqa: E402
from infra.model.declared import declare  # noqa: E402
from infra.model.stackfiles import settings_for  # noqa: E402
from tests.counting_proxy import CountingProxy  # noqa: E402

STACK = "staging"
LATENCY = 0.400  # seconds added to every request
ROUNDS = 5
TARGET_REQUESTS = 2
_JOB_ID_RE = re.compile(r"(?<=/queries/)[^/]+$")


def cli(endpoint: str) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "infra.cli", "records", "--stack", STACK, "--since", "2d"),
            *("--format", "json", "--api-endpoint", endpoint),
        ],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"npq-events records exited {done.returncode}: {done.stderr.strip()}")


def as_a_job(client: bigquery.Client, query: records.Query, location: str) -> None:
    """The baseline: the dry run, then jobs.insert and job.result() (getQueryResults)."""
    records.dry_run(client, query, location)
    config = bigquery.QueryJobConfig(
        query_parameters=list(query.parameters), maximum_bytes_billed=10**9
    )
    job = client.query(
        query.sql,
        job_config=config,
        location=location,
        retry=DEFAULT_DEADLINES.retry,
        timeout=DEFAULT_DEADLINES.timeout,
        job_retry=None,
    )
    list(job.result(timeout=DEFAULT_DEADLINES.timeout, job_retry=None))


def measure(proxy: CountingProxy, run) -> tuple[list[str], dict[float, float]]:
    """The requests one run sends, and its median time at each latency."""
    proxy.delay = 0.0
    proxy.clear()
    run()
    sent = [f"{f.method} {_JOB_ID_RE.sub('<job id>', f.path)}" for f in proxy.log]
    times = {}
    for latency in (0.0, LATENCY):
        proxy.delay = latency
        samples = []
        for _ in range(ROUNDS):
            began = time.perf_counter()
            run()
            samples.append(time.perf_counter() - began)
        times[latency] = statistics.median(samples)
    return sent, times


def main() -> int:
    declaration = declare(settings_for(STACK))
    now = utc_now()
    query = records.build_query(
        declaration.table, records.Filters(window=Window(now - timedelta(days=2), now))
    )
    location = declaration.dataset.location
    with tempfile.TemporaryDirectory() as tmp:
        env = {local.STATE_DIR_ENV: str(Path(tmp) / "state")}
        try:
            loaded = local.up(STACK, emulator.free_port(), env=env)
            with CountingProxy(loaded.state.endpoint) as proxy:
                client = make_client(declaration.dataset.project, proxy.endpoint, env={})
                rows = len(records.run(client, query, 10**9, location))

                def library() -> None:
                    records.dry_run(client, query, location)
                    records.run(client, query, 10**9, location)

                results = {
                    "npq-events records (process start included)": measure(
                        proxy, lambda: cli(proxy.endpoint)
                    ),
                    "records.dry_run + records.run, in this process": measure(proxy, library),
                    "baseline: dry run, then jobs.insert + result()": measure(
                        proxy, lambda: as_a_job(client, query, location)
                    ),
                }
        finally:
            local.down(env)

    print(
        f"records --stack {STACK} --since 2d: {rows} events from the local emulator, "
        f"through a counting proxy adding 0 or {LATENCY * 1000:.0f} ms per request; "
        f"median of {ROUNDS}"
    )
    for label, (sent, times) in results.items():
        waited = (times[LATENCY] - times[0.0]) / LATENCY
        print(
            f"  {label:<48} {len(sent)} requests; 0 ms {times[0.0]:6.3f} s, "
            f"{LATENCY * 1000:.0f} ms {times[LATENCY]:6.3f} s ({waited:.1f} round trips)"
        )
        print(f"    {', '.join(sent)}")
    cli_requests = len(next(iter(results.values()))[0])
    ok = cli_requests <= TARGET_REQUESTS
    print(f"  target: {TARGET_REQUESTS} requests: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Read each stack's live dataset and table and compare them with its declaration.

Every stack is checked with its own client, under short deadlines and a bounded retry
(infra.bigquery.client.Deadlines): one slow or failing stack never delays or hides another's
result, and whatever goes wrong becomes that stack's one-line error. Every read of every stack
(READS: the dataset GET and the table GET) is in flight at once, so a verify of any number of
stacks costs one round trip to BigQuery.

With freshness asked for (Target.limits), the freshness query's dry run (free) is one more read
in flight beside the GETs; the query itself runs only when the table's metadata cannot answer
(infra.rules.freshness), so a stack costs that one round trip, plus one when it queries.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery

from infra.bigquery import freshness as freshness_query
from infra.bigquery import records
from infra.bigquery.client import DEFAULT_DEADLINES, Deadlines, make_client
from infra.errors import BadInput, UserError, explain, one_line
from infra.model.declared import Declaration, declare
from infra.model.stackfiles import ROOT, settings_for
from infra.rules import freshness
from infra.rules.verify import StackResult, compare, error_result

MAX_STACKS_AT_ONCE = 64
MAX_READS_IN_FLIGHT = 128


@dataclass(frozen=True)
class Target:
    """A stack to check: its name, and its declaration once its config has loaded."""

    stack: str
    declaration: Declaration | None = None
    config_error: str | None = None
    # The freshness limits to judge the table's newest events by; None: freshness not read.
    limits: freshness.Limits | None = None


def load_target(stack: str, stack_dir: Path = ROOT) -> Target:
    """The stack's declaration from its stack file, or the one-line reason it has none."""
    try:
        return Target(stack, declaration=declare(settings_for(stack, stack_dir)))
    except BadInput as exc:  # an unreadable stack file, or a config value not accepted
        return Target(stack, config_error=str(exc))


def read_dataset(
    client: bigquery.Client, declaration: Declaration, deadlines: Deadlines
) -> dict | None:
    return _fetch(client.get_dataset, declaration.dataset.ref, deadlines)


def read_table(
    client: bigquery.Client, declaration: Declaration, deadlines: Deadlines
) -> dict | None:
    return _fetch(client.get_table, declaration.table.ref, deadlines)


Read = Callable[[bigquery.Client, Declaration, Deadlines], object]

# What verify reads of each stack, by name; all of them are in flight at once. A further read
# of a stack is one more entry and adds no round trip: with freshness asked for, its dry run
# (FRESHNESS_DRY_RUN) joins these.
READS: dict[str, Read] = {
    "dataset": read_dataset,
    "table": read_table,
}
FRESHNESS_DRY_RUN = "freshness dry run"


def read_live(
    client: bigquery.Client,
    declaration: Declaration,
    deadlines: Deadlines = DEFAULT_DEADLINES,
    pool: Executor | None = None,
    reads: Mapping[str, Read] = READS,
) -> dict[str, object]:
    """Every read of `reads` (those of READS, with "dataset" first) for one stack, started
    together (on `pool` when given).

    What a read finds missing is None. A stack whose dataset does not exist has nothing else
    either: every read is then None, whatever it answered. Otherwise the first failure, in
    `reads` order, is raised.
    """
    own_pool = pool is None
    pool = pool or ThreadPoolExecutor(max_workers=len(reads))
    try:
        futures = {
            name: pool.submit(read, client, declaration, deadlines) for name, read in reads.items()
        }
        wait(futures.values())
    finally:
        if own_pool:
            pool.shutdown()
    dataset = futures["dataset"]
    if dataset.exception() is None and dataset.result() is None:
        return dict.fromkeys(reads)
    for future in futures.values():
        if future.exception() is not None:
            raise future.exception()
    return {name: future.result() for name, future in futures.items()}


def check_stack(
    target: Target,
    api_endpoint: str | None = None,
    deadlines: Deadlines = DEFAULT_DEADLINES,
    strict: bool = False,
    adopt: bool = False,
    env: Mapping[str, str] = os.environ,
    emulator: bool = False,
    pool: Executor | None = None,
    now: datetime | None = None,
) -> StackResult:
    """Read the live dataset and table of one stack and compare them; never raises.

    `emulator`: the endpoint is a BigQuery emulator, which keeps no CMEK settings (see
    infra.rules.verify.compare). `pool`: where its reads run (see read_live). With
    `target.limits`, also how fresh its events are, as of `now` (default: when the reads
    start); a freshness read that fails is the stack's error.
    """
    declaration = target.declaration
    if declaration is None:
        return error_result(target.stack, None, target.config_error or "no declaration")
    table_ref = declaration.table.ref
    try:
        client = make_client(declaration.dataset.project, api_endpoint, env, deadlines)
    except UserError as exc:
        return error_result(target.stack, table_ref, str(exc))
    try:
        plan, reads = None, READS
        try:
            if target.limits is not None:
                plan = _FreshnessPlan.make(declaration, target.limits, now or datetime.now(UTC))
                reads = {**READS, FRESHNESS_DRY_RUN: plan.price}
            live = read_live(client, declaration, deadlines, pool, reads)
        except Exception as exc:  # each failure is this stack's one-line error
            return error_result(target.stack, table_ref, describe_error(exc, deadlines))
        fresh, fresh_error = (None, None)
        if plan is not None:
            fresh, fresh_error = plan.finish(
                client, live["table"], live[FRESHNESS_DRY_RUN], api_endpoint, deadlines
            )
    finally:
        client.close()
    try:
        result = compare(
            declaration,
            live["dataset"],
            live["table"],
            strict=strict,
            adopt=adopt or declaration.adopt,
            encryption_optional=emulator,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # An endpoint answering outside BigQuery's REST shapes (a column without a name,
        # labels that are not a map): this stack's error, never the whole run's traceback.
        return error_result(
            target.stack,
            table_ref,
            f"the answer for {declaration.dataset.ref} or {table_ref} is not in BigQuery's "
            f"shape ({type(exc).__name__}: {one_line(exc)})",
        )
    return replace(result, freshness=fresh, error=fresh_error)


@dataclass(frozen=True)
class _DryRun:
    """What the freshness query's dry run answered: the bytes it would process, or why not.
    Kept rather than raised: whether the query runs at all is known only from the metadata."""

    processed: int | None = None
    failure: Exception | None = None


@dataclass(frozen=True)
class _FreshnessPlan:
    """One stack's freshness read: its query, and as of when."""

    declaration: Declaration
    limits: freshness.Limits
    now: datetime
    since: datetime
    query: records.Query

    @classmethod
    def make(cls, declaration: Declaration, limits: freshness.Limits, now: datetime):
        since = limits.since(now, declaration.table.partition_type)
        query = freshness_query.build_query(declaration.table, since)
        return cls(declaration, limits, now, since, query)

    def price(self, client, declaration: Declaration, deadlines: Deadlines) -> _DryRun:
        """The dry run, a read of READS' shape: the bytes the query would process (free)."""
        try:
            location = declaration.dataset.location
            return _DryRun(processed=records.dry_run(client, self.query, location, deadlines))
        except Exception as exc:  # judged in finish, once the metadata has answered
            return _DryRun(failure=exc)

    def finish(
        self,
        client,
        live_table: Mapping | None,
        dry_run: _DryRun,
        api_endpoint: str | None,
        deadlines: Deadlines,
    ) -> tuple[freshness.Freshness | None, str | None]:
        """The figures, from the metadata when it answers, else from the query; or the
        one-line reason the read failed."""
        empty = freshness.answered_by_metadata(live_table)
        if empty is not None:  # a missing dataset too: read_live then answers None for all
            return freshness.empty(self.limits, self.now, self.since, empty), None
        try:
            if dry_run.failure is not None:
                raise dry_run.failure
            processed = dry_run.processed
            freshness_query.check_cost(self.declaration.table, processed)
            newest_event, newest_check = freshness_query.run(
                client, self.query, self.declaration.dataset.location, deadlines
            )
        except freshness_query.NO_QUERIES as exc:
            where = api_endpoint or "BigQuery"
            reason = f"{where} runs no queries: {describe_error(exc, deadlines)}"
            return freshness.unknown(self.limits, self.now, self.since, reason), None
        except Exception as exc:  # the stack's error, beside its findings
            return None, f"reading the newest events failed: {describe_error(exc, deadlines)}"
        fresh = freshness.from_query(
            self.limits, self.now, self.since, newest_event, newest_check, processed
        )
        return fresh, None


def check_all(
    targets: Sequence[Target],
    api_endpoint: str | None = None,
    deadlines: Deadlines = DEFAULT_DEADLINES,
    strict: bool = False,
    adopt: bool = False,
    env: Mapping[str, str] = os.environ,
    on_done: Callable[[StackResult], None] | None = None,
    emulator: bool = False,
    now: datetime | None = None,
) -> list[StackResult]:
    """Check every target concurrently; results in the order of `targets`.

    Each stack opens its client in a thread of its own; the reads of every stack share one
    pool large enough to have all of them in flight at once (a freshness dry run included).
    """
    if not targets:
        return []
    results: dict[int, StackResult] = {}
    per_stack = len(READS) + any(target.limits is not None for target in targets)
    reads = min(MAX_READS_IN_FLIGHT, len(targets) * per_stack)
    with (
        ThreadPoolExecutor(max_workers=reads) as read_pool,
        ThreadPoolExecutor(max_workers=min(MAX_STACKS_AT_ONCE, len(targets))) as pool,
    ):
        futures = {
            pool.submit(
                check_stack,
                target,
                api_endpoint,
                deadlines,
                strict,
                adopt,
                env,
                emulator,
                read_pool,
                now,
            ): index
            for index, target in enumerate(targets)
        }
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # a bug in one stack's check never hides the others
                stack = targets[futures[future]].stack
                result = error_result(stack, None, f"internal error: {explain(exc).message}")
            results[futures[future]] = result
            if on_done is not None:
                on_done(result)
    return [results[index] for index in range(len(targets))]


def _fetch(get: Callable, ref: str, deadlines: Deadlines) -> dict | None:
    """The REST payload of a dataset or table, None when BigQuery says it does not exist."""
    try:
        resource = get(ref, retry=deadlines.retry, timeout=deadlines.timeout)
    except api_exceptions.NotFound:
        return None
    return resource.to_api_repr()


def describe_error(exc: BaseException, deadlines: Deadlines = DEFAULT_DEADLINES) -> str:
    """One line saying why a stack could not be checked (never a credential)."""
    return explain(exc, retry_seconds=deadlines.retry_seconds).message

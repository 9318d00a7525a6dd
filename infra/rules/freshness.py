"""Are events arriving? The newest event of a stack's table, and its newest entity table check,
judged against the stack's limits.

Pure functions over what BigQuery answered. What table metadata can and cannot say about recent
rows (docs/freshness.md): `numRows` excludes the streaming buffer and `streamingBuffer` is absent
when nothing is buffered, so `numRows` 0 with no `streamingBuffer` is an empty table. Neither
says when the newest event occurred (the buffer's `oldestEntryTime` is when its oldest row
arrived, `lastModifiedTime` also moves with metadata changes), so every other answer comes from
one query of the newest `occurred_at` over the partitions the largest limit reaches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from infra.model import times
from infra.model.events import ENTITY_TABLE_CHECK
from infra.model.times import rfc3339
from infra.rules.billing import billed

FRESH, STALE, EMPTY, UNKNOWN = "fresh", "stale", "empty", "unknown"
# What a judgement rests on: the table's metadata, a query, or an endpoint that cannot answer.
METADATA, QUERY, NO_ANSWER = "metadata", "query", "none"
# How far back the query reads when no limit is in force: the age is then reported only.
DEFAULT_REACH = timedelta(days=7)
EVENTS_LABEL, CHECKS_LABEL = "event", ENTITY_TABLE_CHECK


@dataclass(frozen=True)
class Limits:
    """How old the newest event and the newest entity table check may be (None: no limit)."""

    events: timedelta | None = None
    checks: timedelta | None = None

    @property
    def reach(self) -> timedelta:
        """How far back the query must read: the largest limit in force, else DEFAULT_REACH."""
        return max((x for x in (self.events, self.checks) if x is not None), default=DEFAULT_REACH)

    def since(self, now: datetime, partition_type: str) -> datetime:
        """Where the query starts: the start of the partition that `reach` back from `now`
        falls in. BigQuery bills whole partitions, so reading all of that one costs nothing
        more, and an older newest event is still found and named."""
        start = now - self.reach
        if partition_type == "DAY":
            return start.replace(hour=0, minute=0, second=0, microsecond=0)
        if partition_type == "HOUR":
            return start.replace(minute=0, second=0, microsecond=0)
        return start


@dataclass(frozen=True)
class Figure:
    """One figure: the newest event of its kind, and how it stands against its limit."""

    label: str
    newest: datetime | None
    limit: timedelta | None
    status: str
    now: datetime

    @property
    def age(self) -> timedelta | None:
        return None if self.newest is None else max(timedelta(0), self.now - self.newest)

    @property
    def failing(self) -> bool:
        """Over a limit in force: stale, or no event at all."""
        return self.limit is not None and self.status in (STALE, EMPTY)

    def as_json(self) -> dict:
        return {
            "newest_event": None if self.newest is None else rfc3339(self.newest),
            "age_seconds": _seconds(self.age),
            "max_staleness_seconds": _seconds(self.limit),
            "status": self.status,
        }

    def describe(self, since: datetime, at: bool) -> str:
        """One phrase: `newest event 12 min ago (limit 6h)`; `at`: with the newest event's
        time, `newest event 12 min ago, 2026-11-28T07:49:13Z (limit 6h)`."""
        limit = "" if self.limit is None else f" (limit {times.show(self.limit)})"
        if self.status == EMPTY:
            return f"no {self.label} at all{limit}"
        if self.status == UNKNOWN:
            return f"newest {self.label} unknown"
        if self.newest is None:
            return f"no {self.label} since {rfc3339(since)}{limit}"
        when = f", {rfc3339(self.newest)}" if at else ""
        return f"newest {self.label} {times.show_age(self.age or timedelta(0))} ago{when}{limit}"


@dataclass(frozen=True)
class Freshness:
    """A stack's two figures, what they rest on, and what reading them cost."""

    events: Figure
    checks: Figure
    source: str
    since: datetime
    reason: str | None = None  # why metadata answered, or why the endpoint could not
    bytes_processed: int | None = None  # what the query's dry run said; None: no query

    @property
    def figures(self) -> tuple[Figure, Figure]:
        return (self.events, self.checks)

    @property
    def failing(self) -> tuple[Figure, ...]:
        return tuple(f for f in self.figures if f.failing)

    @property
    def bytes_billed(self) -> int:
        """What BigQuery's on-demand pricing bills for the query (0 without one)."""
        return 0 if self.bytes_processed is None else billed(self.bytes_processed)

    def as_json(self) -> dict:
        return {
            **self.events.as_json(),
            "checks": self.checks.as_json(),
            "read": self.source,
            "since": rfc3339(self.since),
            "reason": self.reason,
            "bytes_processed": self.bytes_processed,
            "bytes_billed": self.bytes_billed,
        }


def answered_by_metadata(table: Mapping | None) -> str | None:
    """Why the table's metadata alone says it holds no event, or None when it cannot say.

    `table` is what tables.get answered (None: the table does not exist). `numRows` leaves out
    the streaming buffer and `streamingBuffer` is absent when nothing is buffered, so both
    together mean no row at all. (The buffer's statistics can lag a first insert by seconds.)
    """
    if table is None:
        return "the table does not exist"
    rows = table.get("numRows")
    if rows is not None and str(rows) == "0" and not table.get("streamingBuffer"):
        return "numRows 0 and no streaming buffer"
    return None


def empty(limits: Limits, now: datetime, since: datetime, reason: str) -> Freshness:
    return Freshness(
        events=Figure(EVENTS_LABEL, None, limits.events, EMPTY, now),
        checks=Figure(CHECKS_LABEL, None, limits.checks, EMPTY, now),
        source=METADATA,
        since=since,
        reason=reason,
    )


def unknown(limits: Limits, now: datetime, since: datetime, reason: str) -> Freshness:
    """The endpoint cannot answer the question (it runs no queries): said, never judged."""
    return Freshness(
        events=Figure(EVENTS_LABEL, None, limits.events, UNKNOWN, now),
        checks=Figure(CHECKS_LABEL, None, limits.checks, UNKNOWN, now),
        source=NO_ANSWER,
        since=since,
        reason=reason,
    )


def from_query(
    limits: Limits,
    now: datetime,
    since: datetime,
    newest_event: datetime | None,
    newest_check: datetime | None,
    bytes_processed: int,
) -> Freshness:
    """The figures from the newest `occurred_at` of all events and of entity table checks
    since `since` (None: none since then, in a table that holds rows)."""
    return Freshness(
        events=_judge(EVENTS_LABEL, newest_event, limits.events, now),
        checks=_judge(CHECKS_LABEL, newest_check, limits.checks, now),
        source=QUERY,
        since=since,
        bytes_processed=bytes_processed,
    )


def _judge(label: str, newest: datetime | None, limit: timedelta | None, now: datetime) -> Figure:
    if newest is None:
        status = STALE  # none in the partitions read, which reach at least as far as the limit
    elif limit is None or now - newest <= limit:
        status = FRESH
    else:
        status = STALE
    return Figure(label, newest, limit, status, now)


def _seconds(duration: timedelta | None) -> int | None:
    return None if duration is None else int(duration.total_seconds())

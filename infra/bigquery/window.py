"""A time window from --since/--until values: a duration back from now, a date or a UTC time.

The window is half-open, [since, until): a query filters the partition column on both ends so
BigQuery reads only the day partitions inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from infra.errors import UserError

DEFAULT_SINCE = "24h"
NOW = "now"
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION_RE = re.compile(r"^([0-9]{1,6})([mhdw])$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIME_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?$"
)
ACCEPTED = (
    "a duration back from now such as 30m, 24h, 7d or 2w, a date YYYY-MM-DD, "
    "a time YYYY-MM-DDTHH:MM[:SS] (UTC unless it ends in Z or +HH:MM), or 'now'"
)


@dataclass(frozen=True)
class Window:
    """[since, until) in UTC."""

    since: datetime
    until: datetime

    def describe(self) -> str:
        return f"{_show(self.since)} to {_show(self.until)}"


def parse_when(flag: str, value: str, now: datetime, *, end: bool = False) -> datetime:
    """One --since/--until value as a UTC time, or UserError naming the flag and value.

    A date alone is that day's 00:00 UTC; as the end of a window (`end=True`) it is the next
    day's 00:00, so `--until 2026-11-01` includes the whole of 1 November.
    """
    text = value.strip()
    if text.lower() == NOW:
        return now
    try:
        return _parse(text, now, end)
    except OverflowError:
        # 999999d back, or the day after 9999-12-31: outside what a datetime (and BigQuery's
        # TIMESTAMP) can hold.
        raise UserError(
            f"{flag} {value!r} is out of range: give a time from year 1 to 9999"
        ) from None
    except ValueError:
        raise UserError(f"{flag} {value!r} is not accepted: give {ACCEPTED}") from None


def _parse(text: str, now: datetime, end: bool) -> datetime:
    """ValueError for a value of no accepted form, OverflowError for one out of range."""
    match = _DURATION_RE.match(text)
    if match:
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    # A well-shaped but impossible date such as 2026-02-30 raises ValueError too.
    if _DATE_RE.match(text):
        day = date.fromisoformat(text)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    if _TIME_RE.match(text):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    raise ValueError(text)


def parse_window(since: str | None, until: str | None, now: datetime) -> Window:
    """The window --since and --until name (defaults: the last 24 hours up to now)."""
    start = parse_when("--since", since or DEFAULT_SINCE, now)
    stop = parse_when("--until", until or NOW, now, end=True)
    if start >= stop:
        raise UserError(
            f"--since {since or DEFAULT_SINCE!r} ({_show(start)}) is not before --until "
            f"{until or NOW!r} ({_show(stop)}): give a window that starts before it ends"
        )
    return Window(since=start, until=stop)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _show(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")

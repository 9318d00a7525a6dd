"""A time window from two ends as people write them: a duration back from now, a date or a UTC
time.

The window is half-open, [since, until): a query filters the partition column on both ends so
BigQuery reads only the day partitions inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from infra.errors import InvalidValue
from infra.model import times

DEFAULT_SINCE = "24h"
NOW = "now"
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
ACCEPTED = (
    "a duration back from now such as 30m, 24h, 7d or 2w, a date YYYY-MM-DD, "
    "a time YYYY-MM-DDTHH:MM[:SS] (UTC unless it ends in Z or +HH:MM), or 'now'"
)


@dataclass(frozen=True)
class When:
    """A window end as written: a duration back from now, a date, a time or now. Its moment
    depends on when it is read (`at`), so both ends of a window use one `now`."""

    text: str

    def at(self, now: datetime, *, end: bool = False) -> datetime:
        """The moment in UTC; InvalidValue when it falls outside years 1 to 9999.

        A date alone is that day's 00:00 UTC; as the end of a window (`end=True`) it is the
        next day's 00:00, so an end of 2026-11-01 includes the whole of 1 November.
        """
        try:
            return _moment(self.text.strip(), now, end)
        except OverflowError:
            # 999999d back, or the day after 9999-12-31: outside what a datetime (and
            # BigQuery's TIMESTAMP) can hold.
            raise InvalidValue("is out of range: give a time from year 1 to 9999") from None


@dataclass(frozen=True)
class Window:
    """[since, until) in UTC."""

    since: datetime
    until: datetime

    def describe(self) -> str:
        return f"{show(self.since)} to {show(self.until)}"


def parse_when(text: str) -> When:
    """A window end in one of the accepted forms, or InvalidValue saying which forms those are."""
    try:
        _moment(text.strip(), datetime(2000, 1, 1, tzinfo=UTC), False)
    except OverflowError:
        pass  # well formed; whether it is in range depends on when it is read
    except ValueError:
        raise InvalidValue(f"is not accepted: give {ACCEPTED}") from None
    return When(text)


def _moment(text: str, now: datetime, end: bool) -> datetime:
    """ValueError for a value of no accepted form, OverflowError for one out of range."""
    if text.lower() == NOW:
        return now
    if times.DURATION_RE.fullmatch(text):
        return now - times.parse(text)
    # A well-shaped but impossible date such as 2026-02-30 raises ValueError too.
    if _DATE_RE.fullmatch(text):
        day = date.fromisoformat(text)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    if _TIME_RE.fullmatch(text):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    raise ValueError(text)


def utc_now() -> datetime:
    return datetime.now(UTC)


def show(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")

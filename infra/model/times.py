"""Durations as people write them (`90m`, `6h`, `2d`, `1w`), and durations and moments as
they read them.

One grammar for every duration the project accepts: `records --since 24h`, `verify
--max-staleness 6h` and the stack files' `maxStaleness: 6h`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from infra.errors import InvalidValue

UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DURATION_RE = re.compile(r"\A([0-9]{1,6})([mhdw])\Z")
EXAMPLES = "90m, 6h, 2d or 1w"
ACCEPTED = f"a duration of whole minutes (m), hours (h), days (d) or weeks (w), such as {EXAMPLES}"
_SHOWN = (("d", 86400), ("h", 3600), ("m", 60))


def parse(text: str) -> timedelta:
    """`6h` as a timedelta; ValueError for anything else (a sign, a space inside, a fraction)."""
    match = DURATION_RE.match(text.strip())
    if match is None:
        raise ValueError(text)
    return timedelta(**{UNITS[match[2]]: int(match[1])})


def parse_limit(text: str) -> timedelta:
    """A limit: a duration longer than zero; InvalidValue (a ValueError) saying what is
    accepted otherwise."""
    try:
        limit = parse(text)
    except ValueError:
        limit = timedelta(0)
    if limit <= timedelta(0):
        raise InvalidValue(f"is not accepted: give {ACCEPTED}, longer than zero")
    return limit


def show(duration: timedelta) -> str:
    """A duration in the grammar above, in its largest whole unit: `6h`, `26h`, `2d`, `90m`."""
    seconds = int(duration.total_seconds())
    for unit, size in _SHOWN:
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def show_age(age: timedelta) -> str:
    """How long ago, rounded down to what a reader needs: `40 s`, `12 min`, `5 h 3 min`,
    `3 d 4 h`."""
    seconds = max(0, int(age.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def rfc3339(moment: datetime) -> str:
    """A moment in UTC as BigQuery and JSON readers take it: `2026-11-28T07:49:13.250000Z`."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")

"""Byte counts as people write them (1GB, 10GiB) and as they read them (3.4 MB)."""

from __future__ import annotations

import re
from decimal import Decimal

from infra.errors import InvalidValue

_DECIMAL = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}
_BINARY = {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "PIB": 2**50}
_UNITS = {**_DECIMAL, **_BINARY}
_SHOWN_UNITS = ("KB", "MB", "GB", "TB", "PB")  # what human() prints, smallest first
_SHOWN_BINARY_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")  # and human_binary()
_SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)")
# BigQuery's maximumBytesBilled is an int64: a larger ceiling passes a dry run, then BigQuery
# refuses the query itself.
MAX_BYTES = 2**63 - 1
ACCEPTED = (
    "a positive size such as 500MB, 1GB, 2.5TB or 10GiB (B, KB, MB, GB, TB, PB are powers of "
    "1000; KiB, MiB, GiB, TiB, PiB powers of 1024), or a whole number of bytes"
)


def parse_bytes(value: str) -> int:
    """A size such as `1GB` as a whole number of bytes, or InvalidValue saying what is taken."""
    match = _SIZE_RE.fullmatch(value.strip()) if value.isascii() else None
    unit = match[2].upper() if match else ""
    if match is None or unit not in _UNITS or (not unit and "." in match[1]):
        raise InvalidValue(f"is not accepted: give {ACCEPTED}")
    size = int(Decimal(match[1]) * _UNITS[unit])  # exact, unlike a float
    if size < 1:
        raise InvalidValue(f"is not accepted: give {ACCEPTED}")
    if size > MAX_BYTES:
        raise InvalidValue(
            f"is not accepted: at most {MAX_BYTES} bytes ({human(MAX_BYTES)}), the most "
            "BigQuery takes"
        )
    return size


def human(size: int) -> str:
    """A byte count in decimal units as BigQuery's console shows them: `3.4 MB`, `0 B`."""
    return _shown(size, _SHOWN_UNITS, 1000)


def human_binary(size: int) -> str:
    """A byte count in binary units, as BigQuery's billing minimum is written: `10 MiB`."""
    return _shown(size, _SHOWN_BINARY_UNITS, 1024)


def _shown(size: int, units: tuple[str, ...], step: int) -> str:
    """The count in the largest unit it reaches, to one decimal.

    So the figure is within 5% of the count (`950 MB`, never `1 GB` for 950,000,001 bytes); a
    figure that would read `step` (1000 or 1024) moves up a unit (`1 GB` for 999,960,000 bytes,
    `1 MiB` for 1,048,575).
    """
    reached = [unit for unit in units if size >= _UNITS[unit.upper()]]
    if not reached:
        return f"{size} B"
    unit = reached[-1]
    figure = f"{size / _UNITS[unit.upper()]:.1f}"
    if figure == f"{step}.0" and unit != units[-1]:
        unit, figure = units[units.index(unit) + 1], "1.0"
    return f"{figure.removesuffix('.0')} {unit}"

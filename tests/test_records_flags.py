"""--since/--until, --max-bytes and --limit: what people type, and one line when it is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from infra.bigquery.bytesize import human, human_binary
from infra.bigquery.records import MAX_LIMIT
from infra.cli.main import build_parser
from infra.cli.records import _window
from infra.errors import EXIT_USAGE, UserError
from tests.helpers import run_cli

NOW = datetime(2026, 11, 27, 10, 30, 15, tzinfo=UTC)


def parsed(**flags: str):
    """`npq-events records --stack staging --FLAG=VALUE...` as its parser reads them (UserError
    for a value it refuses). `--FLAG=VALUE`, as a value may start with '-'."""
    args = [f"--{flag.replace('_', '-')}={value}" for flag, value in flags.items()]
    return build_parser("records").parse_args(["records", "--stack", "staging", *args])


def parse_when(flag: str, value: str, now: datetime) -> datetime:
    return getattr(parsed(**{flag[2:]: value}), flag[2:]).at(now, end=flag == "--until")


def parse_window(since: str | None, until: str | None, now: datetime):
    args = parsed(**({"since": since} if since else {}), **({"until": until} if until else {}))
    return _window(args.since, args.until, now)


def parse_bytes(flag: str, value: str) -> int:
    return parsed(max_bytes=value).max_bytes


def parse_limit(value: str) -> int:
    return parsed(limit=value).limit


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T09:15", datetime(2026, 11, 1, 9, 15, tzinfo=UTC)),
        ("2026-11-01T09:15:30Z", datetime(2026, 11, 1, 9, 15, 30, tzinfo=UTC)),
        ("2026-11-01T10:15:30+01:00", datetime(2026, 11, 1, 9, 15, 30, tzinfo=UTC)),
        ("now", NOW),
    ],
)
def test_since_values(value, expected):
    assert parse_when("--since", value, NOW) == expected


def test_a_date_as_the_end_includes_that_whole_day():
    window = parse_window("2026-11-01", "2026-11-01", NOW)
    assert window.since == datetime(2026, 11, 1, tzinfo=UTC)
    assert window.until == datetime(2026, 11, 2, tzinfo=UTC)


def test_default_window_is_the_last_day():
    window = parse_window(None, None, NOW)
    assert (window.since, window.until) == (NOW - timedelta(hours=24), NOW)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--since", "3x"),
        ("--since", "yesterday"),
        ("--until", "-2d"),
        ("--until", "2026-02-30"),
        ("--since", "2026-11-01 9am"),
        ("--since", ""),
    ],
)
def test_bad_time_is_one_line_naming_flag_value_and_forms(flag, value):
    with pytest.raises(UserError) as caught:
        parse_when(flag, value, NOW)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{flag} {value!r} is not accepted")
    assert "24h" in message and "YYYY-MM-DD" in message
    assert caught.value.exit_code == EXIT_USAGE


def test_a_window_that_ends_before_it_starts_is_refused():
    with pytest.raises(UserError, match=r"--since '2026-11-30'.* is not before --until"):
        parse_window("2026-11-30", None, NOW)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1GB", 10**9),
        ("500MB", 5 * 10**8),
        ("2.5TB", 25 * 10**11),
        ("10GiB", 10 * 2**30),
        ("1 gb", 10**9),
        ("12345", 12345),
    ],
)
def test_sizes(value, expected):
    assert parse_bytes("--max-bytes", value) == expected


@pytest.mark.parametrize("value", ["0", "-1GB", "1.5", "GB", "1XB", "1e9", ""])
def test_bad_size_is_one_line(value):
    with pytest.raises(UserError) as caught:
        parse_bytes("--max-bytes", value)
    assert str(caught.value).startswith(f"--max-bytes {value!r} is not accepted: give")
    assert "1GB" in str(caught.value)


@given(st.integers(min_value=1, max_value=10**17))
@example(950_000_001)  # once shown as "1 GB", 5.3% off
@example(1_049_999_999)  # the widest rounding a one-decimal figure allows: shown as "1 GB"
@example(999_960_000)  # a figure that would read 1000 MB
def test_a_shown_size_reads_back_close_to_itself(size):
    shown = human(size).replace(" ", "")
    assert abs(parse_bytes("--max-bytes", shown) - size) <= max(size * 0.05, 1)


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1 KB"),
        (3_400_000, "3.4 MB"),
        (950_000_001, "950 MB"),
        (999_949_999, "999.9 MB"),
        (999_960_000, "1 GB"),
        (10**17, "100 PB"),
        (2**63 - 1, "9223.4 PB"),
    ],
)
def test_a_size_is_shown_in_the_largest_unit_it_reaches(size, shown):
    assert human(size) == shown


@given(st.integers(min_value=1, max_value=1000 * 2**50))
@example(2**20 - 1)  # once shown as "1024 KiB"
@example(10 * 2**20)  # BigQuery's minimum billed per query: "10 MiB"
def test_a_size_shown_in_binary_units_reads_back_close_to_itself(size):
    shown = human_binary(size)
    assert not shown.startswith("1024 ")
    assert abs(parse_bytes("--max-bytes", shown.replace(" ", "")) - size) <= max(size * 0.05, 1)


@pytest.mark.parametrize("value", ["1", "20", str(MAX_LIMIT)])
def test_limits(value):
    assert parse_limit(value) == int(value)


@pytest.mark.parametrize("value", ["0", "-3", "ten", str(MAX_LIMIT + 1), "2.5"])
def test_bad_limit(value):
    with pytest.raises(UserError, match=rf"^--limit {value!r} is not accepted"):
        parse_limit(value)


@pytest.mark.parametrize(
    ("since", "until", "flag", "value"),
    [
        ("999999d", None, "--since", "999999d"),
        ("999999w", None, "--since", "999999w"),
        ("2026-11-01", "9999-12-31", "--until", "9999-12-31"),
    ],
)
def test_a_time_out_of_range_is_one_line_not_a_traceback(since, until, flag, value):
    with pytest.raises(UserError) as caught:
        parse_window(since, until, NOW)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{flag} {value!r} is out of range")
    assert caught.value.exit_code == EXIT_USAGE


def test_a_time_out_of_range_through_the_cli():
    done = run_cli("records", "--stack", "staging", "--since", "999999d")
    assert done.returncode == EXIT_USAGE
    assert done.stderr == (
        "npq-events: error: --since '999999d' is out of range: give a time from year 1 to 9999\n"
    )


def test_a_size_is_read_exactly():
    assert parse_bytes("--max-bytes", "1000000000000000001") == 10**18 + 1
    assert parse_bytes("--max-bytes", "0.1KB") == 100


@pytest.mark.parametrize("value", ["10000PB", "9223372036854775808", "8192PiB"])
def test_a_size_beyond_what_bigquery_takes_is_refused(value):
    # maximumBytesBilled is an int64: a larger ceiling would pass the dry run, then BigQuery
    # would refuse the query itself.
    with pytest.raises(UserError) as caught:
        parse_bytes("--max-bytes", value)
    assert str(caught.value).startswith(f"--max-bytes {value!r} is not accepted: at most")

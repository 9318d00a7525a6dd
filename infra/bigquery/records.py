"""Recent events of a stack's table, read at a known, bounded cost.

BigQuery bills the bytes of every column a query references in every partition it reads; a
LIMIT does not reduce them. So each query here filters the partition column on a window (only
those day partitions are read), selects only the columns it shows, and is first dry-run to
learn the bytes it will process, which the caller compares with a ceiling before running it.
User values reach BigQuery only as query parameters; identifiers come from the declaration.

hidden_DATA's values are personal data under a policy tag: unless asked to show them, the query
selects only their keys, so the values never leave BigQuery (nor are they billed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from google.cloud import bigquery

from infra.bigquery.client import DEFAULT_DEADLINES, Deadlines
from infra.bigquery.window import Window
from infra.errors import UnexpectedAnswer
from infra.model import schema
from infra.model.declared import TableSpec
from infra.model.schema import quote_identifier
from infra.model.times import rfc3339 as iso
from infra.rules.billing import MIN_BILLED_BYTES

DEFAULT_LIMIT = 20
MAX_LIMIT = 10_000
MASK = "***"
# Client.query wraps the per-call retry in a whole-job retry that keeps going for up to ten
# minutes (an unreachable endpoint hung there): an interactive command fails fast instead.
NO_JOB_RETRY = None
# The columns records shows, in order. The others (user agent, referer, request id, content
# type, anonymised agent and IP) are not read, so not billed.
SHOWN: tuple[str, ...] = (
    schema.OCCURRED_AT,
    schema.EVENT_TYPE,
    schema.ENVIRONMENT,
    schema.NAMESPACE,
    schema.ENTITY_TABLE_NAME,
    schema.EVENT_TAGS,
    schema.USER_ID,
    schema.REQUEST_METHOD,
    schema.REQUEST_PATH,
    schema.RESPONSE_STATUS,
    schema.REQUEST_QUERY,
    schema.DATA,
    schema.HIDDEN_DATA,
)
# The declaration's settings validate each part; this only guards the quoting below.
_REF_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+")


@dataclass(frozen=True)
class Filters:
    """What to read: a window, optional filters (all must hold) and a row limit."""

    window: Window
    event_types: tuple[str, ...] = ()
    entity_table: str | None = None
    namespace: str | None = None
    limit: int = DEFAULT_LIMIT
    show_hidden: bool = False


@dataclass(frozen=True)
class Query:
    """SQL text with named parameters: the text holds no user value."""

    sql: str
    parameters: tuple[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter, ...]


def build_query(table: TableSpec, filters: Filters) -> Query:
    """The parameterised SELECT for the filters against the declared table."""
    check_ref(table)
    time_column = quote_identifier(table.partition_field)
    columns = []
    for name in SHOWN:
        if name == schema.HIDDEN_DATA and not filters.show_hidden:
            # Keys only: the values are personal data, and unread columns are not billed.
            columns.append(
                f"ARRAY(SELECT AS STRUCT h.{quote_identifier(schema.KEY)}"
                f" FROM UNNEST({quote_identifier(name)}) AS h) AS {quote_identifier(name)}"
            )
        else:
            columns.append(quote_identifier(name))
    where = [f"{time_column} >= @since", f"{time_column} < @until"]
    parameters: list = [
        bigquery.ScalarQueryParameter("since", "TIMESTAMP", filters.window.since),
        bigquery.ScalarQueryParameter("until", "TIMESTAMP", filters.window.until),
    ]
    if filters.event_types:
        where.append(f"{quote_identifier(schema.EVENT_TYPE)} IN UNNEST(@event_types)")
        parameters.append(
            bigquery.ArrayQueryParameter("event_types", "STRING", list(filters.event_types))
        )
    if filters.entity_table is not None:
        where.append(f"{quote_identifier(schema.ENTITY_TABLE_NAME)} = @entity_table")
        parameters.append(
            bigquery.ScalarQueryParameter("entity_table", "STRING", filters.entity_table)
        )
    if filters.namespace is not None:
        where.append(f"{quote_identifier(schema.NAMESPACE)} = @namespace")
        parameters.append(bigquery.ScalarQueryParameter("namespace", "STRING", filters.namespace))
    parameters.append(bigquery.ScalarQueryParameter("limit", "INT64", filters.limit))
    sql = (
        "SELECT\n  "
        + ",\n  ".join(columns)
        + f"\nFROM `{table.ref}`\nWHERE "
        + "\n  AND ".join(where)
        + f"\nORDER BY {time_column} DESC\nLIMIT @limit"
    )
    return Query(sql=sql, parameters=tuple(parameters))


def check_ref(table: TableSpec) -> None:
    """ValueError unless the table's reference is safe to quote in SQL as it is."""
    if not _REF_RE.fullmatch(table.ref):
        raise ValueError(f"table reference {table.ref!r} is not a plain project.dataset.table")


def dry_run(
    client: bigquery.Client,
    query: Query,
    location: str | None = None,
    deadlines: Deadlines = DEFAULT_DEADLINES,
) -> int:
    """The bytes BigQuery says the query will process (nothing is read or billed)."""
    config = bigquery.QueryJobConfig(
        dry_run=True, use_query_cache=False, query_parameters=list(query.parameters)
    )
    job = client.query(
        query.sql,
        job_config=config,
        location=location,
        retry=deadlines.retry,
        timeout=deadlines.timeout,
        job_retry=NO_JOB_RETRY,
    )
    if job.state is None:
        raise UnexpectedAnswer("the answer to the dry run is not a BigQuery job (it has no status)")
    processed = job.total_bytes_processed
    if processed is None:
        # Never "0 bytes": a ceiling must not be passed by an answer that leaves the cost out.
        raise UnexpectedAnswer(
            "the dry run's answer gives no byte count (totalBytesProcessed), so the query's "
            "cost is unknown; it was not run"
        )
    return int(processed)


def run(
    client: bigquery.Client,
    query: Query,
    max_bytes: int,
    location: str | None = None,
    deadlines: Deadlines = DEFAULT_DEADLINES,
) -> list[dict]:
    """The events the query selects (see `query_rows`)."""
    return [
        event(dict(row.items()))
        for row in query_rows(client, query, max_bytes, location, deadlines)
    ]


def query_rows(
    client: bigquery.Client,
    query: Query,
    max_bytes: int,
    location: str | None = None,
    deadlines: Deadlines = DEFAULT_DEADLINES,
) -> Iterable[bigquery.Row]:
    """Run the query, with BigQuery itself refusing to bill above the ceiling; its rows.

    One jobs.query request: BigQuery answers with the rows once the query is done (within
    the call's timeout), where jobs.insert needs more requests to wait for the job and fetch
    them. Only a query still running at the timeout, or rows beyond one 10 MB page, cost
    further requests.
    """
    config = bigquery.QueryJobConfig(
        query_parameters=list(query.parameters),
        # BigQuery bills at least MIN_BILLED_BYTES: a lower ceiling would fail every query.
        maximum_bytes_billed=max(max_bytes, MIN_BILLED_BYTES),
    )
    return client.query_and_wait(
        query.sql,
        job_config=config,
        location=location,
        api_timeout=deadlines.timeout,
        wait_timeout=deadlines.timeout,
        retry=deadlines.retry,
        job_retry=NO_JOB_RETRY,
    )


def event(row: Mapping[str, object]) -> dict:
    """One result row as plain JSON-ready data: key/value records become {key: [values]},
    and hidden_DATA read without its values (see build_query) shows each value as MASK."""
    shaped: dict = {}
    for name in SHOWN:
        value = row.get(name)
        if name == schema.OCCURRED_AT and isinstance(value, datetime):
            value = iso(value)
        elif name in schema.KEY_VALUE_COLUMNS:
            value = key_values(value or ())
        elif name == schema.EVENT_TAGS:
            value = list(value or ())
        shaped[name] = value
    return shaped


def key_values(entries: Iterable[Mapping[str, object]]) -> dict[str, list[str]]:
    """A repeated key/value record as an ordered map; an entry without values is masked."""
    result: dict[str, list[str]] = {}
    for entry in entries:
        key = str(entry.get(schema.KEY))
        if schema.VALUE in entry:
            values = [str(item) for item in entry.get(schema.VALUE) or ()]
        else:
            values = [MASK]
        result.setdefault(key, []).extend(values)
    return result


def render_key_values(pairs: Mapping[str, Sequence[str]]) -> str:
    """`id=7, email=***`; several values as `key=[a, b]`, none as `key=[]`."""
    parts = []
    for key, values in pairs.items():
        shown = values[0] if len(values) == 1 else "[" + ", ".join(values) + "]"
        parts.append(f"{key}={shown}")
    return ", ".join(parts)

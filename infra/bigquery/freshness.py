"""The newest event of a stack's table, and its newest entity table check, in one query.

The query reads two columns (the partition column and `event_type`) in the day partitions from
`since` on, so BigQuery bills only those (and at least its minimum: infra.rules.billing). It is
dry-run first (free), refused above MAX_BYTES, and run in one `jobs.query` request with
`maximumBytesBilled` set, so BigQuery itself refuses to bill more. Values reach it only as
query parameters; identifiers come from the declaration.
"""

from __future__ import annotations

from datetime import datetime

from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery

from infra.bigquery import bytesize, records
from infra.bigquery.client import DEFAULT_DEADLINES, Deadlines
from infra.errors import UserError
from infra.model.declared import TableSpec
from infra.model.events import ENTITY_TABLE_CHECK
from infra.model.schema import EVENT_TYPE, quote_identifier

# The most one freshness query may process (and be billed for): far above what the partitions
# of a day or two hold for this table, so reaching it means something is wrong.
MAX_BYTES = 10**9
NEWEST_EVENT, NEWEST_CHECK = "newest_event", "newest_check"
# What an endpoint answers when it does not run queries at all (a metadata-only stand-in).
NO_QUERIES = (api_exceptions.MethodNotImplemented, api_exceptions.MethodNotAllowed)


def build_query(table: TableSpec, since: datetime) -> records.Query:
    """MAX(occurred_at) of all events and of entity table checks since `since`."""
    time_column = quote_identifier(table.partition_field)
    records.check_ref(table)
    sql = (
        f"SELECT\n  MAX({time_column}) AS {NEWEST_EVENT},\n"
        f"  MAX(IF({quote_identifier(EVENT_TYPE)} = @check_type, {time_column}, NULL))"
        f" AS {NEWEST_CHECK}\n"
        f"FROM `{table.ref}`\nWHERE {time_column} >= @since"
    )
    parameters = (
        bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
        bigquery.ScalarQueryParameter("check_type", "STRING", ENTITY_TABLE_CHECK),
    )
    return records.Query(sql=sql, parameters=parameters)


def check_cost(table: TableSpec, processed: int) -> None:
    """UserError when the dry run says the query would process more than MAX_BYTES."""
    if processed > MAX_BYTES:
        raise UserError(
            f"the freshness query of {table.ref} would process {bytesize.human(processed)}, "
            f"over its {bytesize.human(MAX_BYTES)} ceiling: not run"
        )


def run(
    client: bigquery.Client,
    query: records.Query,
    location: str | None = None,
    deadlines: Deadlines = DEFAULT_DEADLINES,
) -> tuple[datetime | None, datetime | None]:
    """The newest event and the newest entity table check (None: none since `since`)."""
    rows = records.query_rows(client, query, MAX_BYTES, location, deadlines)
    row = next(iter(rows), None)
    if row is None:
        return None, None
    return row.get(NEWEST_EVENT), row.get(NEWEST_CHECK)

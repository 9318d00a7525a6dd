"""What BigQuery's on-demand pricing bills for a query.

BigQuery rounds the bytes a query processes up to the next MB, and bills at least 10 MB for
each table the query references and at least 10 MB for the query (BigQuery pricing, "On-demand
compute pricing"; the same rule in google/adk-python, src/google/adk/tools/bigquery/config.py).
BigQuery refuses a `maximumBytesBilled` below 10485760 bytes, so its MB here is 2**20 bytes.
A dry run is free and bills nothing; so are metadata reads (tables.get).
"""

from __future__ import annotations

MB = 2**20
MIN_BILLED_BYTES = 10 * MB  # per query, and per table the query references
# An average month in hours (365 * 24 / 12), as Google's pricing calculator counts one.
HOURS_A_MONTH = 730


def billed(processed: int, tables: int = 1) -> int:
    """The bytes BigQuery bills for a query that processes `processed` bytes of `tables`
    tables: rounded up to the MB, at least 10 MB a table and 10 MB a query."""
    rounded = -(-max(0, processed) // MB) * MB
    return max(rounded, MIN_BILLED_BYTES * max(1, tables))

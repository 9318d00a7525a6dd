"""Create a stack's declared dataset and table through the BigQuery API.

For a local emulator and for tests: production datasets are made by `pulumi up`, never here.
"""

from __future__ import annotations

from google.cloud import bigquery

from infra.bigquery.client import DEFAULT_DEADLINES, Deadlines
from infra.model.declared import Declaration


def create_declared(
    client: bigquery.Client, declaration: Declaration, deadlines: Deadlines = DEFAULT_DEADLINES
) -> bigquery.Table:
    """Create the dataset and the events table as declared (existing ones are kept)."""
    dataset = bigquery.Dataset.from_api_repr(declaration.dataset.api_repr())
    client.create_dataset(dataset, exists_ok=True, retry=deadlines.retry, timeout=deadlines.timeout)
    table = bigquery.Table.from_api_repr(declaration.table.api_repr())
    return client.create_table(
        table, exists_ok=True, retry=deadlines.retry, timeout=deadlines.timeout
    )

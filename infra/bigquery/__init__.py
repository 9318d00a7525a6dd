"""BigQuery adapters: the client, live reads, the records query, schema files, the emulator."""

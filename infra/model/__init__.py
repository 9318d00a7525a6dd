"""The model: the events schema, typed stack settings and the declared state built from them.

Everything else reads what is declared here; nothing here talks to Pulumi or BigQuery.
"""

"""What the events themselves say: the event types this project reads by name.

The DfE::Analytics gem streams events of many types (web_request, create_entity, ...); the
columns they fill are infra.model.schema's.
"""

from __future__ import annotations

# The event_type of the events the app's nightly entity table check streams, one per checked
# table (DfE::Analytics' EntityTableCheckJob, when entity_table_checks_enabled is set).
ENTITY_TABLE_CHECK = "entity_table_check"

"""The events table's schema: the single source of truth for every column.

The 18 columns are those the DfE::Analytics gem streams (its published DDL), spelled exactly
as the live NPQ tables spell them: pulumi-gcp compares column names case-sensitively, so a
different spelling here would replace the table. Everything else (the Pulumi table, the
verifier, the schema lock, the console JSON, the DDL) renders from this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from infra.errors import SchemaError

# Legacy type names: pulumi-gcp treats only INTEGER=INT64, FLOAT=FLOAT64 and BOOLEAN=BOOL as
# aliases, so STRUCT would diff against the RECORD that BigQuery reports, for ever.
LEGACY_TYPES = frozenset(
    {
        "STRING",
        "BYTES",
        "INTEGER",
        "FLOAT",
        "NUMERIC",
        "BIGNUMERIC",
        "BOOLEAN",
        "TIMESTAMP",
        "DATE",
        "TIME",
        "DATETIME",
        "GEOGRAPHY",
        "JSON",
        "RECORD",
    }
)
# Every type name a schema in BigQuery's REST shape may carry: the legacy names, their standard
# spellings, and the types with no legacy name (google-cloud-bigquery 3.47, enums.SqlTypeNames,
# whose FOREIGN is a wrapper rather than a column type; and JSON).
API_TYPES = LEGACY_TYPES | frozenset(
    {"INT64", "FLOAT64", "BOOL", "STRUCT", "DECIMAL", "BIGDECIMAL", "INTERVAL", "RANGE"}
)
RECORD_TYPES = frozenset({"RECORD", "STRUCT"})
MODES = ("NULLABLE", "REQUIRED", "REPEATED")

# Every column name, spelled once: EVENTS below and every reader (records, the sample events)
# use these, so a rename here renames them all and reaches the schema gate as one change.
OCCURRED_AT = "occurred_at"
EVENT_TYPE = "event_type"
USER_ID = "user_id"
REQUEST_UUID = "request_uuid"
REQUEST_METHOD = "request_method"
REQUEST_PATH = "request_path"
REQUEST_USER_AGENT = "request_user_agent"
REQUEST_REFERER = "request_referer"
REQUEST_QUERY = "request_query"
RESPONSE_CONTENT_TYPE = "response_content_type"
RESPONSE_STATUS = "response_status"
DATA = "DATA"
HIDDEN_DATA = "hidden_DATA"
ENTITY_TABLE_NAME = "entity_table_name"
EVENT_TAGS = "event_tags"
ANONYMISED_USER_AGENT_AND_IP = "anonymised_user_agent_and_ip"
ENVIRONMENT = "environment"
NAMESPACE = "namespace"
# The nested fields of every key/value record column.
KEY = "key"
VALUE = "value"
KEY_VALUE_COLUMNS: tuple[str, ...] = (REQUEST_QUERY, DATA, HIDDEN_DATA)

TABLE_ID = "events"
TABLE_DESCRIPTION = (
    "DfE Analytics events streamed by the NPQ registration service: web requests, "
    "entity changes and entity table checks."
)
PARTITION_TYPE = "DAY"
PARTITION_FIELD = OCCURRED_AT
CLUSTER_FIELDS: tuple[str, ...] = (EVENT_TYPE,)
REQUIRE_PARTITION_FILTER = False
# The column whose values carry personal data: the 'hidden' policy tag goes here.
HIDDEN_PATH = f"{HIDDEN_DATA}.{VALUE}"
MAX_CLUSTER_FIELDS = 4
PARTITION_TYPES = frozenset({"TIMESTAMP", "DATE"})


@dataclass(frozen=True)
class Column:
    """One column as BigQuery describes it (legacy type names, explicit mode)."""

    name: str
    type: str
    mode: str
    description: str
    fields: tuple[Column, ...] = ()


def _key_value(what: str) -> tuple[Column, ...]:
    return (
        Column(KEY, "STRING", "REQUIRED", f"Name of the {what}."),
        Column(VALUE, "STRING", "REPEATED", f"Values of the {what}, as strings."),
    )


EVENTS: tuple[Column, ...] = (
    Column(OCCURRED_AT, "TIMESTAMP", "REQUIRED", "When the event happened (UTC)."),
    Column(EVENT_TYPE, "STRING", "REQUIRED", "Kind of event, e.g. web_request, create_entity."),
    Column(USER_ID, "STRING", "NULLABLE", "Id of the signed-in user, if any."),
    Column(REQUEST_UUID, "STRING", "NULLABLE", "Id of the web request that caused the event."),
    Column(REQUEST_METHOD, "STRING", "NULLABLE", "HTTP method of the request."),
    Column(REQUEST_PATH, "STRING", "NULLABLE", "Path of the request, without query string."),
    Column(REQUEST_USER_AGENT, "STRING", "NULLABLE", "User agent of the request."),
    Column(REQUEST_REFERER, "STRING", "NULLABLE", "Referer header of the request."),
    Column(
        REQUEST_QUERY,
        "RECORD",
        "REPEATED",
        "Query string parameters of the request.",
        _key_value("query parameter"),
    ),
    Column(RESPONSE_CONTENT_TYPE, "STRING", "NULLABLE", "Content type of the response."),
    Column(RESPONSE_STATUS, "STRING", "NULLABLE", "HTTP status of the response."),
    Column(
        DATA,
        "RECORD",
        "REPEATED",
        "Entity fields or custom event data.",
        _key_value("field"),
    ),
    Column(
        HIDDEN_DATA,
        "RECORD",
        "REPEATED",
        "Entity fields that hold personal data.",
        _key_value("hidden field"),
    ),
    Column(ENTITY_TABLE_NAME, "STRING", "NULLABLE", "Database table of the entity event."),
    Column(EVENT_TAGS, "STRING", "REPEATED", "Tags; the first holds an import or check id."),
    Column(
        ANONYMISED_USER_AGENT_AND_IP,
        "STRING",
        "NULLABLE",
        "Hash of the user agent and IP address.",
    ),
    Column(ENVIRONMENT, "STRING", "NULLABLE", "App environment that sent the event."),
    Column(NAMESPACE, "STRING", "NULLABLE", "App namespace that sent the event."),
)


def walk(columns: Sequence[Column], prefix: str = "") -> Iterable[tuple[str, Column]]:
    """Every column with its dotted path, parents before children."""
    for column in columns:
        path = f"{prefix}{column.name}"
        yield path, column
        yield from walk(column.fields, f"{path}.")


def find(columns: Sequence[Column], path: str) -> Column | None:
    """The column at a dotted path, or None."""
    return dict(walk(columns)).get(path)


def validate(
    columns: Sequence[Column],
    partition_field: str = PARTITION_FIELD,
    cluster_fields: Sequence[str] = CLUSTER_FIELDS,
) -> None:
    """Raise SchemaError unless the schema, its partition and its clustering are valid."""
    _validate_columns(columns, "")
    top = {c.name: c for c in columns}
    part = top.get(partition_field)
    if part is None or part.mode != "REQUIRED" or part.type not in PARTITION_TYPES:
        raise SchemaError(
            f"partition column {partition_field!r} must be a top-level REQUIRED TIMESTAMP or "
            "DATE column"
        )
    if len(cluster_fields) > MAX_CLUSTER_FIELDS:
        raise SchemaError(
            f"at most {MAX_CLUSTER_FIELDS} cluster columns, got {len(cluster_fields)}"
        )
    if len(set(cluster_fields)) != len(cluster_fields):
        raise SchemaError(f"cluster columns repeat: {list(cluster_fields)}")
    for name in cluster_fields:
        column = top.get(name)
        if column is None:
            raise SchemaError(f"cluster column {name!r} is not a top-level column")
        if column.mode == "REPEATED" or column.type == "RECORD":
            raise SchemaError(f"cluster column {name!r} must not be repeated or a record")


def _validate_columns(columns: Sequence[Column], prefix: str) -> None:
    seen: dict[str, str] = {}
    for column in columns:
        path = f"{prefix}{column.name}"
        folded = column.name.lower()
        if folded in seen:
            raise SchemaError(
                f"column {path!r} repeats {prefix}{seen[folded]!r} (BigQuery names are "
                "case-insensitive)"
            )
        seen[folded] = column.name
        if not _valid_name(column.name):
            raise SchemaError(
                f"column {path!r}: a name is letters, digits and underscores, not starting "
                "with a digit, at most 300 characters"
            )
        if column.type not in LEGACY_TYPES:
            raise SchemaError(
                f"column {path!r}: type {column.type!r} is not a legacy type name "
                f"({', '.join(sorted(LEGACY_TYPES))})"
            )
        if column.mode not in MODES:
            raise SchemaError(f"column {path!r}: mode {column.mode!r} is not one of {MODES}")
        if (column.type == "RECORD") != bool(column.fields):
            raise SchemaError(f"column {path!r}: a RECORD has nested fields, nothing else does")
        _validate_columns(column.fields, f"{path}.")


def _valid_name(name: str) -> bool:
    return (
        0 < len(name) <= 300
        and not name[0].isdigit()
        and all(ch == "_" or (ch.isascii() and ch.isalnum()) for ch in name)
    )


def to_api(columns: Sequence[Column] = EVENTS, policy_tag: str | None = None) -> list[dict]:
    """The schema in BigQuery's REST/JSON form, with the policy tag on the hidden column."""
    return [_field_api(column, column.name, policy_tag) for column in columns]


def _field_api(column: Column, path: str, policy_tag: str | None) -> dict:
    field: dict = {
        "name": column.name,
        "type": column.type,
        "mode": column.mode,
        "description": column.description,
    }
    if column.fields:
        field["fields"] = [
            _field_api(child, f"{path}.{child.name}", policy_tag) for child in column.fields
        ]
    if policy_tag and path == HIDDEN_PATH:
        field["policyTags"] = {"names": [policy_tag]}
    return field


def to_json(
    columns: Sequence[Column] = EVENTS, policy_tag: str | None = None, indent: int | None = None
) -> str:
    """The JSON that `gcp.bigquery.Table(schema=...)`, `bq mk` and the console all take."""
    return json.dumps(to_api(columns, policy_tag), indent=indent)


def ddl_type(column: Column) -> str:
    """The GoogleSQL type of a column, ARRAY and STRUCT included."""
    if column.type == "RECORD":
        inner = ", ".join(_ddl_column(child) for child in column.fields)
        base = f"STRUCT<{inner}>"
    else:
        base = _STANDARD_NAMES.get(column.type, column.type)
    return f"ARRAY<{base}>" if column.mode == "REPEATED" else base


_STANDARD_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def _ddl_column(column: Column) -> str:
    not_null = " NOT NULL" if column.mode == "REQUIRED" else ""
    desc = f" OPTIONS(description={_sql_string(column.description)})" if column.description else ""
    return f"{quote_identifier(column.name)} {ddl_type(column)}{not_null}{desc}"


def quote_identifier(name: str) -> str:
    """A column or table name as a GoogleSQL quoted identifier."""
    return f"`{name}`"


def _sql_string(text: str) -> str:
    return json.dumps(text)


def to_ddl(
    table_ref: str,
    kms_key: str,
    columns: Sequence[Column] = EVENTS,
    description: str = TABLE_DESCRIPTION,
    partition_field: str = PARTITION_FIELD,
    cluster_fields: Sequence[str] = CLUSTER_FIELDS,
    require_partition_filter: bool = REQUIRE_PARTITION_FILTER,
) -> str:
    """A CREATE TABLE statement equal to the declaration (policy tags are not DDL)."""
    body = ",\n".join(f"  {_ddl_column(column)}" for column in columns)
    validate(columns, partition_field, cluster_fields)
    partition = quote_identifier(partition_field)
    if find(columns, partition_field).type == "TIMESTAMP":
        partition = f"DATE({partition})"
    options = ",\n  ".join(
        [
            f"description={_sql_string(description)}",
            f"kms_key_name={_sql_string(kms_key)}",
            f"require_partition_filter={'TRUE' if require_partition_filter else 'FALSE'}",
        ]
    )
    return (
        f"CREATE TABLE `{table_ref}`\n(\n{body}\n)\n"
        f"PARTITION BY {partition}\n"
        f"CLUSTER BY {', '.join(quote_identifier(name) for name in cluster_fields)}\n"
        f"OPTIONS(\n  {options}\n);\n"
    )


validate(EVENTS)

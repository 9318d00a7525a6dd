"""BigQuery JSON schema files, in every shape people copy them in.

Accepted: a bare list of fields (`bq show --schema --format=prettyjson`, the console's "Copy as
JSON", `npq-events schema export`), an object with "fields" (a TableSchema), or a whole table
resource with "schema": {"fields": [...]} (`bq show --format=prettyjson TABLE`), whose table
settings are then compared too. Anything else is a SchemaFileError with one line saying which
file, what is wrong and what is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra.errors import BadInput
from infra.model.schema import API_TYPES, MODES, RECORD_TYPES

ACCEPTED = (
    'accepted: a JSON list of fields, an object with "fields", or a table resource with '
    '"schema": {"fields": [...]}; each field an object with "name" and "type"'
)


class SchemaFileError(BadInput):
    """A schema file that cannot be read; the message is one line."""


@dataclass(frozen=True)
class SchemaDocument:
    fields: list[dict]
    table: dict | None = None  # the whole table resource, when the file is one


def read_schema_file(path: Path, label: str | None = None) -> SchemaDocument:
    """Read and check one schema file; SchemaFileError names it as `label` (default: path)."""
    label = label or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaFileError(f"{label}: no such file; {ACCEPTED}") from None
    except IsADirectoryError:
        raise SchemaFileError(f"{label}: is a directory, not a schema file; {ACCEPTED}") from None
    except UnicodeDecodeError:
        raise SchemaFileError(f"{label}: not UTF-8 text; {ACCEPTED}") from None
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL character
        reason = getattr(exc, "strerror", None) or exc
        raise SchemaFileError(f"{label}: cannot be read ({reason}); {ACCEPTED}") from None
    return parse_schema_document(text, label)


def parse_schema_document(text: str, label: str) -> SchemaDocument:
    """The fields (and the table, if it is one) of a schema document's text."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaFileError(
            f"{label}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); {ACCEPTED}"
        ) from None
    except RecursionError:
        raise SchemaFileError(f"{label}: nested too deeply to be a schema; {ACCEPTED}") from None
    table = None
    if isinstance(document, list):
        fields = document
    elif isinstance(document, dict) and "fields" in document:
        fields = document["fields"]
    elif isinstance(document, dict) and isinstance(document.get("schema"), dict):
        table = document
        fields = document["schema"].get("fields")
        if fields is None:
            raise SchemaFileError(f'{label}: the table\'s "schema" has no "fields"; {ACCEPTED}')
    else:
        raise SchemaFileError(f"{label}: {_describe(document)} is not a schema; {ACCEPTED}")
    _check_fields(fields, label, parent="")
    if table is not None:
        _check_settings(table, label)
    return SchemaDocument(fields=fields, table=table)


def _check_fields(fields: object, label: str, parent: str) -> None:
    where = f"inside `{parent}`" if parent else "at the top level"
    if not isinstance(fields, list):
        raise SchemaFileError(
            f'{label}: "fields" {where} must be a list of fields, not {_describe(fields)}; '
            f"{ACCEPTED}"
        )
    seen: dict[str, str] = {}
    for number, field in enumerate(fields, start=1):
        if not isinstance(field, dict):
            raise SchemaFileError(
                f"{label}: field #{number} {where} is {_describe(field)}, not an object; {ACCEPTED}"
            )
        name = field.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaFileError(f'{label}: field #{number} {where} has no "name"; {ACCEPTED}')
        path = f"{parent}.{name}" if parent else name
        folded = name.lower()
        if folded in seen:
            raise SchemaFileError(
                f"{label}: column `{path}` repeats `{seen[folded]}` {where} (BigQuery column "
                f"names are unique, ignoring case); {ACCEPTED}"
            )
        seen[folded] = name
        kind = field.get("type")
        if not isinstance(kind, str) or not kind:
            raise SchemaFileError(f'{label}: column `{path}` has no "type"; {ACCEPTED}')
        if kind.upper() not in API_TYPES:
            raise SchemaFileError(
                f"{label}: column `{path}` has type {kind!r}, not a BigQuery type; accepted: "
                f"{', '.join(sorted(API_TYPES))}"
            )
        mode = field.get("mode")
        if mode is not None and (not isinstance(mode, str) or mode.upper() not in MODES):
            raise SchemaFileError(
                f"{label}: column `{path}` has mode {mode!r}; accepted: NULLABLE, REQUIRED, "
                "REPEATED or no mode (NULLABLE)"
            )
        description = field.get("description")
        if description is not None and not isinstance(description, str):
            raise SchemaFileError(
                f'{label}: column `{path}` has a "description" that is not text; {ACCEPTED}'
            )
        tags = field.get("policyTags")
        if tags is not None and not (
            isinstance(tags, dict)
            and isinstance(tags.get("names", []), list)
            and all(isinstance(tag, str) for tag in tags.get("names", []))
        ):
            raise SchemaFileError(
                f'{label}: column `{path}` has "policyTags" that are not '
                '{"names": ["projects/.../policyTags/..."]}'
            )
        children = field.get("fields")
        if kind.upper() in RECORD_TYPES and not children:
            raise SchemaFileError(
                f"{label}: column `{path}` is a {kind.upper()} without nested fields; {ACCEPTED}"
            )
        if kind.upper() not in RECORD_TYPES and children:
            raise SchemaFileError(
                f"{label}: column `{path}` is a {kind.upper()} with nested fields; only a "
                "RECORD (STRUCT) has them"
            )
        if children is not None:
            _check_fields(children, label, path)


def _check_settings(table: dict, label: str) -> None:
    for key in ("timePartitioning", "clustering", "encryptionConfiguration", "labels"):
        value = table.get(key)
        if value is not None and not isinstance(value, dict):
            raise SchemaFileError(
                f'{label}: the table\'s "{key}" is {_describe(value)}, not an object, as '
                "`bq show --format=prettyjson` prints it"
            )
    clustering = (table.get("clustering") or {}).get("fields")
    if clustering is not None and not (
        isinstance(clustering, list) and all(isinstance(name, str) for name in clustering)
    ):
        raise SchemaFileError(
            f'{label}: the table\'s "clustering" "fields" must be a list of column names'
        )


def _describe(value: object) -> str:
    if isinstance(value, Mapping):
        keys = ", ".join(sorted(str(key) for key in value)[:6])
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"

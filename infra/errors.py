"""Errors a user can cause, each with the exit status the CLI documents."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1  # drift found, or a destructive change
EXIT_USAGE = 2  # bad input, bad config, or could not check
EXIT_STALE = 3  # the schema lock is stale but every change is safe


class UserError(Exception):
    """Something the user can fix; the CLI prints the message as one line."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SchemaError(ValueError):
    """The schema breaks one of BigQuery's rules or the table's own."""

"""The one scale of what a change does to stored events, shared by every check.

The schema gate and the settings lock (infra.rules.schema_lock), the verifier
(infra.rules.verify) and the preview gate (infra.rules.preview_gate) all say what `pulumi up`,
or BigQuery itself, would do with the same words, ranked on the same scale. Each effect is its
own text in JSON and output (`"in_place"`, `"replace"`, ...); `rank` orders them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Effect(StrEnum):
    """What happens to a dataset or table, least to most harmful."""

    NONE = "none"  # nothing changes
    IN_PLACE = "in_place"  # updated in place; nothing is lost
    CREATE = "create"  # a missing dataset or table is created
    DROP_COLUMN = "drop_column"  # ALTER TABLE DROP COLUMN: that column's data is gone
    EXPIRES = "expires"  # BigQuery deletes the table, or its partitions, when they expire
    DELETE = "delete"  # deleted, with every stored event
    REPLACE = "replace"  # deleted, then created empty: every stored event is gone

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @property
    def destructive(self) -> bool:
        """True when stored events are lost: a dropped column, an expiry, a delete, a replace."""
        return self in DESTRUCTIVE


_ORDER = tuple(Effect)
DESTRUCTIVE = frozenset({Effect.DROP_COLUMN, Effect.EXPIRES, Effect.DELETE, Effect.REPLACE})


def worst(effects: Iterable[Effect | str]) -> Effect:
    """The most harmful of several effects; NONE when there are none."""
    return max((Effect(e) for e in effects), key=lambda e: e.rank, default=Effect.NONE)

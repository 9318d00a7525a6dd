"""Writing results: JSON for machines, rich text for terminals, plain text for pipes."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


def console(stderr: bool = False) -> Console:
    """A console that colours a terminal and writes plain text to a pipe."""
    return Console(file=sys.stderr if stderr else sys.stdout, soft_wrap=True, highlight=False)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")

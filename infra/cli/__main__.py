"""`python -m infra.cli`: the same entry point as the `npq-events` script."""

import sys

from infra.cli.main import entry

sys.exit(entry())

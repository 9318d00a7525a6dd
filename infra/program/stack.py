"""The glue `__main__.py` uses inside a Pulumi run: config in, stack outputs out."""

from __future__ import annotations

import pulumi

from infra.model.declared import Declaration
from infra.model.settings import ConfigError, StackSettings, load_settings
from infra.program.component import EventsDataset
from infra.program.pulumi_internals import program_config


def settings_from_pulumi() -> StackSettings:
    """The running stack's settings; a bad value stops the program with its one-line reason."""
    try:
        return load_settings(pulumi.get_stack(), program_config())
    except ConfigError as exc:
        # RunError ends the program with its message alone, no traceback.
        raise pulumi.RunError(str(exc)) from None


def export_outputs(declaration: Declaration, events: EventsDataset) -> None:
    dataset, table = declaration.dataset, declaration.table
    pulumi.export("project", dataset.project)
    pulumi.export("dataset_id", events.dataset.dataset_id)
    pulumi.export("table_id", events.table.table_id)
    pulumi.export("table_ref", table.ref)
    pulumi.export("kms_key", dataset.kms_key)
    pulumi.export("app_env", declaration.app_env())

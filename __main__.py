"""The NPQ analytics stack: settings, the events dataset component, exports."""

from infra.model.declared import declare
from infra.program.component import EventsDataset
from infra.program.stack import export_outputs, settings_from_pulumi

declaration = declare(settings_from_pulumi())
events = EventsDataset("npq-events", declaration)
export_outputs(declaration, events)

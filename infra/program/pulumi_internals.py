"""Every use of the Pulumi SDK beyond its public API, in one module.

The public API (`pulumi.Config`, `pulumi.runtime.set_mocks`, `@pulumi.runtime.test`) does not
cover three things this project does:

- read the whole config map a program was given, so that an unknown key is refused
  (`pulumi.Config` reads one named key at a time);
- run a program file under the mock engine and wait for it, outside `@pulumi.runtime.test`;
- see resource options (protect, import, ignore_changes, depends_on, parent) and inputs as the
  provider receives them: only the mock monitor's `RegisterResource` request carries them.

These calls were read in the SDK at `SDK_VERSION` (pulumi/runtime/config.py, stack.py, mocks.py
and rpc.py), and pyproject.toml pins that version. tests/test_pulumi_internals.py fails when
another SDK is installed, and checks each call still behaves as used here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, rpc
from pulumi.runtime.stack import run_pulumi_func, wait_for_rpcs

SDK_VERSION = "3.272.0"
STACK_TYPE = "pulumi:pulumi:Stack"


def program_config() -> dict[str, str]:
    """The running program's whole config map, full keys to text.

    The CLI hands config to a program in the PULUMI_CONFIG environment variable; the Automation
    API's inline programs and the mock engine set it in the SDK's config map, which wins.
    """
    values = {**pulumi.runtime.get_config_env(), **runtime_config.CONFIG.get()}
    return {key: str(value) for key, value in values.items()}


class RecordingMonitor(mocks.MockMonitor):
    """The SDK's mock monitor, keeping every resource registration but the stack's own."""

    def __init__(self, provider_mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(provider_mocks)
        self.registrations: list[Any] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != STACK_TYPE:
            self.registrations.append(request)
        return response


def registered_inputs(request: Any) -> dict[str, Any]:
    """A registration's inputs as the provider receives them (camelCase, plain values)."""
    return rpc.deserialize_properties(request.object)


def run_with_mocks(
    program: Callable[[], None],
    provider_mocks: pulumi.runtime.Mocks,
    *,
    project: str,
    stack: str,
    config: dict[str, str],
) -> tuple[RecordingMonitor, dict[str, Any]]:
    """Run `program` on the mock engine with `config`: its registrations and stack outputs.

    preview=False, so every `apply` runs as in an up.
    """

    async def outputs(root: pulumi.Resource) -> dict[str, Any]:
        resolved = {}
        for name, value in root.outputs.items():
            resolved[name] = await pulumi.Output.from_input(value).future()
        return resolved

    # The SDK binds its futures to the loop current when the mocks are set: make it ours.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi.runtime.reset_options(project=project, stack=stack, preview=False)
        monitor = RecordingMonitor(provider_mocks)
        pulumi.runtime.set_mocks(
            monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor
        )
        pulumi.runtime.set_all_config(config)
        root = pulumi.runtime.get_root_resource()
        loop.run_until_complete(run_pulumi_func(program))
        loop.run_until_complete(wait_for_rpcs())
        stack_outputs = loop.run_until_complete(outputs(root))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return monitor, stack_outputs

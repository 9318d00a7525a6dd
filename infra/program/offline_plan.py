"""Offline plan: run the real Pulumi program under the SDK's mock engine and record it.

No cloud and no Pulumi CLI: the program in `__main__.py` runs with a stack's committed config,
and a recording monitor keeps every resource registration (type, name, inputs as the provider
would receive them, resource options) and the stack outputs.
"""

from __future__ import annotations

import runpy
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from infra.errors import UserError
from infra.model.settings import PROJECT_NAME, load_settings
from infra.model.stackfiles import ROOT, stack_config
from infra.program import resource_types
from infra.program.pulumi_internals import RecordingMonitor, registered_inputs, run_with_mocks

PROGRAM = ROOT / "__main__.py"
DEFAULT_SA_TOKEN = "gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount"
# The encryption service account's email embeds the project number, known only at deploy.
ENCRYPTION_ACCOUNT = "bq-<project-number>@bigquery-encryption.iam.gserviceaccount.com"


@dataclass(frozen=True)
class PlannedResource:
    type: str
    name: str
    inputs: dict[str, Any]
    options: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    stack: str
    resources: tuple[PlannedResource, ...]
    outputs: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        document = asdict(self)
        return {**document, "resources": list(document["resources"])}


class _ProviderMocks(pulumi.runtime.Mocks):
    """Answers as the gcp provider would for what this program declares."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        inputs = dict(args.inputs)
        project = inputs.get("project", "")
        if args.typ == resource_types.DATASET:
            return f"projects/{project}/datasets/{inputs['datasetId']}", inputs
        if args.typ == resource_types.TABLE:
            table_id = (
                f"projects/{project}/datasets/{inputs['datasetId']}/tables/{inputs['tableId']}"
            )
            return table_id, inputs
        if args.typ == resource_types.DATASET_IAM_MEMBER:
            dataset = f"projects/{project}/datasets/{inputs['datasetId']}"
            return f"{dataset}/{inputs['role']}/{inputs['member']}", inputs
        if args.typ == resource_types.KMS_GRANT:
            return f"{inputs['cryptoKeyId']}/{inputs['role']}/{inputs['member']}", inputs
        return f"{args.name}-id", inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == DEFAULT_SA_TOKEN:
            return {
                "email": ENCRYPTION_ACCOUNT,
                "member": f"serviceAccount:{ENCRYPTION_ACCOUNT}",
                "id": ENCRYPTION_ACCOUNT,
                "project": args.args.get("project", ""),
            }
        raise NotImplementedError(f"the offline plan does not answer {args.token}")


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _record(monitor: RecordingMonitor) -> tuple[PlannedResource, ...]:
    planned = []
    for request in monitor.registrations:
        inputs = registered_inputs(request)
        planned.append(
            PlannedResource(
                type=request.type,
                name=request.name,
                inputs=_plain(inputs),
                options={
                    "protect": bool(request.protect),
                    "import": request.importId or None,
                    "ignore_changes": list(request.ignoreChanges),
                    "depends_on": sorted({_urn_name(urn) for urn in request.dependencies}),
                    "parent": _urn_name(request.parent) if request.parent else None,
                },
            )
        )
    return tuple(planned)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def run_program(stack: str, config: dict[str, str], program: Path) -> Plan:
    """Run a Pulumi program under the mock engine with the given flat config."""

    def program_body() -> None:
        runpy.run_path(str(program), run_name="__main__")

    monitor, outputs = run_with_mocks(
        program_body, _ProviderMocks(), project=PROJECT_NAME, stack=stack, config=config
    )
    return Plan(stack=stack, resources=_record(monitor), outputs=_plain(outputs))


def plan_stack(stack: str, stack_dir: Path = ROOT) -> Plan:
    """The offline plan of a stack from its `Pulumi.<stack>.yaml` in `stack_dir`.

    Settings are checked before the program runs, so a bad value declares nothing.
    """
    config = stack_config(stack, stack_dir)
    load_settings(stack, config)
    if not PROGRAM.is_file():
        raise UserError(
            f"no Pulumi program {PROGRAM}: run npq-events in the project directory "
            "(the one holding Pulumi.yaml and __main__.py)"
        )
    return run_program(stack, config, PROGRAM)

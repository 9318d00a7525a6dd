"""`npq-events plan`: what a stack declares, offline, from the real Pulumi program."""

from __future__ import annotations

import argparse
import json

from infra.cli import options
from infra.cli.output import console, emit_json, shown
from infra.program.offline_plan import Plan, plan_stack

SCHEMA_INPUT = "schema"


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the Pulumi program under the SDK's mock engine with the stack's "
        "Pulumi.<stack>.yaml and print every resource it declares. No cloud, no Pulumi CLI."
    )
    options.add_stack(parser, "stack name, e.g. production or review-pr-42")
    options.add_format(parser, ("text", "json"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    plan = plan_stack(args.stack, args.project_dir)
    if args.format == "json":
        emit_json(plan.as_json())
    else:
        _print_text(plan)
    return 0


def _print_text(plan: Plan) -> None:
    out = console()
    out.print(f"[bold]Stack {shown(plan.stack)}[/bold]: {len(plan.resources)} resources")
    for resource in plan.resources:
        out.print(
            f"\n[bold cyan]{shown(resource.type)}[/bold cyan] [bold]{shown(resource.name)}[/bold]"
        )
        chosen = {k: v for k, v in resource.options.items() if v not in (None, [], False)}
        out.print(f"  options: {shown(json.dumps(chosen)) if chosen else '(none)'}")
        for key, value in resource.inputs.items():
            if key == SCHEMA_INPUT and isinstance(value, str):
                columns = [field["name"] for field in json.loads(value)]
                value = f"{len(columns)} columns: {', '.join(columns)} (--format json: whole)"
            elif not isinstance(value, str):
                value = json.dumps(value)
            out.print(f"  {shown(key)}: {shown(value)}")
    out.print("\n[bold]Outputs[/bold]")
    for key, value in plan.outputs.items():
        text = value if isinstance(value, str) else json.dumps(value)
        out.print(f"  {shown(key)}: {shown(text)}")

"""Looking resources up in an offline plan, by type token."""

from __future__ import annotations

from infra.program.offline_plan import Plan, PlannedResource


def of_type(plan: Plan, type_: str) -> list[PlannedResource]:
    return [resource for resource in plan.resources if resource.type == type_]


def one(plan: Plan, type_: str) -> PlannedResource:
    found = of_type(plan, type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]

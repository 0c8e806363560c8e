"""`--dry-run`: what an operation would do to each resource, computed without touching anything.

Properties are resolved against the attribute values stored now; a resource
whose inputs come from a resource that will be created or replaced is
classified from what is known (a property that cannot be resolved yet counts as
changed).
"""

from __future__ import annotations

from dataclasses import dataclass

from actors import Registry
from supervisor.diff import ChangeKind, classify
from supervisor.errors import TemplateError
from supervisor.rows import Rows
from supervisor.template import CompiledTemplate


@dataclass(frozen=True)
class PlannedChange:
    resource_name: str
    resource_type: str
    action: ChangeKind


def plan_changes(compiled: CompiledTemplate, rows: Rows,
                 registry: Registry) -> list[PlannedChange]:
    planned: list[PlannedChange] = []
    for name in compiled.order():
        definition = compiled.resources[name]
        current = rows.current(name)
        actor = registry.actor_class(definition.type)
        try:
            props = compiled.resolve_properties(name, rows.lookup)
        except TemplateError:
            props = None
        if current is None:
            kind = ChangeKind.CREATE
        elif props is None or actor is None:
            kind = ChangeKind.UPDATE if current.type == definition.type else ChangeKind.REPLACE
        else:
            kind = classify(actor, current, definition.type, props).kind
        planned.append(PlannedChange(name, definition.type, kind))
    for row in rows.current_rows():
        if row.name not in compiled.resources:
            planned.append(PlannedChange(row.name, row.type, ChangeKind.DELETE))
    return planned

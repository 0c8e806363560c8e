"""What `show`, `list` and the event stream report, as plain dicts with Heat's field names.

Field names follow `openstack stack ...` (`stack_name`, `stack_status`,
`resource_name`, `physical_resource_id`, `output_key`, ...). Times are ISO 8601
UTC strings. Outputs are resolved from the stored template and the current
resource attributes each time they are read, so they always match the state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from storage import EventRecord, ResourceRecord, StackRecord, status_text
from supervisor.compiling import compile_stored
from supervisor.engine import Engine
from supervisor.errors import InputError
from supervisor.rows import Rows
from supervisor.template import CompiledTemplate, ResolvedOutput


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def stack_summary(stack: StackRecord) -> dict[str, Any]:
    return {
        "id": stack.id,
        "stack_name": stack.name,
        "stack_status": status_text(stack.action, stack.status),
        "convergence": stack.convergence,
        "creation_time": iso(stack.created_at),
        "updated_time": iso(stack.updated_at),
    }


def stack_detail(stack: StackRecord, outputs: list[ResolvedOutput],
                 description: str = "") -> dict[str, Any]:
    return {
        **stack_summary(stack),
        "description": description,
        "stack_status_reason": stack.reason,
        "disable_rollback": stack.disable_rollback,
        "timeout_mins": stack.timeout_mins,
        "tags": list(stack.tags),
        "parameters": dict(stack.parameters),
        "outputs": [output_view(o) for o in outputs],
    }


def output_view(output: ResolvedOutput) -> dict[str, Any]:
    view = {"output_key": output.key, "output_value": output.value,
            "description": output.description}
    if output.error is not None:
        view["output_error"] = output.error
    return view


def resource_summary(row: ResourceRecord) -> dict[str, Any]:
    return {
        "resource_name": row.name,
        "physical_resource_id": row.physical_id,
        "resource_type": row.type,
        "resource_status": status_text(row.action, row.status),
        "resource_status_reason": row.reason,
        "updated_time": iso(row.updated_at or row.created_at),
    }


def resource_detail(row: ResourceRecord, required_by: list[str]) -> dict[str, Any]:
    return {
        **resource_summary(row),
        "attributes": dict(row.attributes),
        "properties": dict(row.properties),
        "required_by": required_by,
    }


def event_view(event: EventRecord) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "resource_name": event.resource_name,
        "physical_resource_id": event.physical_id,
        "resource_status": status_text(event.action, event.status),
        "resource_status_reason": event.reason,
        "event_time": iso(event.time),
    }


async def current_template(engine: Engine, stack: StackRecord) -> CompiledTemplate | None:
    if stack.template_id is None:
        return None
    return await compile_stored(engine, stack, stack.template_id)


async def show_stack(engine: Engine, stack: StackRecord) -> dict[str, Any]:
    compiled = await current_template(engine, stack)
    if compiled is None:
        return stack_detail(stack, [])
    rows = Rows(await engine.store.list_resources(stack.id))
    return stack_detail(stack, compiled.resolve_outputs(rows.lookup), compiled.description)


async def stack_outputs(engine: Engine, stack: StackRecord) -> list[ResolvedOutput]:
    compiled = await current_template(engine, stack)
    if compiled is None:
        return []
    rows = Rows(await engine.store.list_resources(stack.id))
    return compiled.resolve_outputs(rows.lookup)


async def list_resources(engine: Engine, stack: StackRecord) -> list[dict[str, Any]]:
    rows = Rows(await engine.store.list_resources(stack.id))
    return [resource_summary(row) for row in rows.current_rows()]


async def show_resource(engine: Engine, stack: StackRecord, name: str) -> dict[str, Any]:
    rows = Rows(await engine.store.list_resources(stack.id))
    row = rows.current(name)
    if row is None:
        raise InputError(f"stack {stack.name!r} has no resource {name!r}", stack=stack.name)
    compiled = await current_template(engine, stack)
    required_by = [] if compiled is None else sorted(
        other for other, deps in compiled.dependencies.items() if name in deps)
    return resource_detail(row, required_by)

"""Record factories for the storage tests: valid records with fresh ids and awkward payloads."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from storage import (
    Action,
    EngineRecord,
    EventRecord,
    ResourceRecord,
    StackRecord,
    Status,
    Store,
    TemplateRecord,
)

#: JSON that tends to break naive encoders: unicode, escapes, nesting, big and tiny numbers
AWKWARD: dict[str, Any] = {
    "ünïcødé ✓": ["a", {"nested": [1, 2.5, None, True, False, {"deep": {}}]}],
    "emoji 🚀": "日本語",
    "empty": {},
    "list": [],
    "quotes": 'it\'s "quoted"\n\t\\ \u0000 end',
    "big": 2**53,
    "tiny": -1.5e-300,
    "": "empty key",
}


def new_id() -> str:
    return uuid.uuid4().hex


def stack(name: str = "web", **changes: Any) -> StackRecord:
    record = StackRecord(
        id=new_id(),
        name=name,
        convergence=False,
        action=Action.CREATE,
        status=Status.IN_PROGRESS,
        reason="Stack CREATE started",
        template_id=None,
        prev_template_id=None,
        parameters={},
        disable_rollback=True,
        timeout_mins=None,
        tags=(),
        created_at=1_700_000_000.0,
        updated_at=None,
    )
    return dataclasses.replace(record, **changes)


def template(owner: StackRecord, **changes: Any) -> TemplateRecord:
    record = TemplateRecord(
        id=new_id(),
        stack_id=owner.id,
        template={"heat_template_version": "2021-04-16", "resources": {}},
    )
    return dataclasses.replace(record, **changes)


def resource(owner: StackRecord, name: str = "server", **changes: Any) -> ResourceRecord:
    record = ResourceRecord(
        id=new_id(),
        stack_id=owner.id,
        name=name,
        type="OS::Test::Thing",
        physical_id=None,
        action=Action.INIT,
        status=Status.COMPLETE,
        reason="",
        properties={},
        attributes={},
        template_id=owner.template_id,
        requires=(),
        replaces=None,
        replaced_by=None,
        created_at=1_700_000_001.0,
        updated_at=None,
    )
    return dataclasses.replace(record, **changes)


def event(owner: StackRecord, resource_name: str = "", **changes: Any) -> EventRecord:
    record = EventRecord(
        stack_id=owner.id,
        resource_name=resource_name or owner.name,
        physical_id=None,
        action=Action.CREATE,
        status=Status.IN_PROGRESS,
        reason="state changed",
        time=1_700_000_002.5,
    )
    return dataclasses.replace(record, **changes)


def engine(**changes: Any) -> EngineRecord:
    record = EngineRecord(
        id=new_id(), host="host-1", pid=4242, started_at=100.0, heartbeat_at=100.0
    )
    return dataclasses.replace(record, **changes)


async def created(store: Store, name: str = "web", **changes: Any) -> StackRecord:
    """A stack stored with its first template, as the engine creates one."""
    first = stack(name, **changes)
    tmpl = template(first)
    first = dataclasses.replace(first, template_id=tmpl.id)
    await store.create_stack(first, tmpl)
    return first

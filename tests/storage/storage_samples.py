"""Record factories for the storage tests: valid records with fresh ids and awkward payloads."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

from storage import (
    Action,
    EngineRecord,
    EventRecord,
    NodeKey,
    Phase,
    ReadyNode,
    ResourceRecord,
    StackRecord,
    Status,
    Store,
    SyncPoint,
    TemplateRecord,
    TraversalRecord,
    TraversalStart,
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


def traversal(owner: StackRecord, **changes: Any) -> TraversalRecord:
    record = TraversalRecord(
        id=new_id(),
        stack_id=owner.id,
        action=Action.CREATE,
        template_id=owner.template_id,
        previous_template_id=None,
        rollback_on_failure=True,
        deadline=None,
        created_at=1_700_000_003.0,
    )
    return dataclasses.replace(record, **changes)


def update(ref: str) -> NodeKey:
    return NodeKey(Phase.UPDATE, ref)


def sync_point(
    walk: TraversalRecord, node: NodeKey, remaining: int = 0, *successors: NodeKey, **changes: Any
) -> SyncPoint:
    record = SyncPoint(
        traversal_id=walk.id,
        stack_id=walk.stack_id,
        node=node,
        remaining=remaining,
        successors=successors,
    )
    return dataclasses.replace(record, **changes)


async def started(
    store: Store, owner: StackRecord, *points: tuple[NodeKey, int], expected: str | None = None,
    successors: Mapping[NodeKey, tuple[NodeKey, ...]] | None = None,
    slack: Mapping[NodeKey, int] | None = None,
) -> TraversalRecord:
    """Start a traversal of `owner` with a sync point per (node, remaining), with the
    `successors` and `slack` given per node, over its current traversal `expected`."""
    walk = traversal(owner)
    sync_points = [sync_point(walk, node, remaining, *(successors or {}).get(node, ()),
                              slack=(slack or {}).get(node, 0))
                   for node, remaining in points]

    def build(stored: StackRecord, rows: list[ResourceRecord]) -> TraversalStart | None:
        return (
            TraversalStart(stored, walk, sync_points) if stored.traversal_id == expected else None
        )

    assert await store.start_traversal(owner.id, build) is not None
    return walk


def ready(
    walk: TraversalRecord,
    node: NodeKey,
    claimed_by: str | None = None,
    parked_on: str | None = None,
    slack: int = 0,
) -> ReadyNode:
    """The ready entry of `node` in `walk` a store should report."""
    return ReadyNode(walk.id, walk.stack_id, node, claimed_by, parked_on, slack)


async def locked(store: Store, walk: TraversalRecord, engine_id: str, name: str = "db") -> str:
    """A new resource row of `walk`'s stack, locked by `engine_id` for `walk`; returns its id."""
    owner = await store.get_stack(walk.stack_id)
    assert owner is not None
    row = resource(owner, name)
    await store.add_resource(row)
    assert (await store.lock_resource(row.id, engine_id, walk.id)).atomic_key == 1
    return row.id

"""The in-process store: plain dicts, for tests and benchmarks (URL `memory://`).

It keeps the `Store` invariants of `storage.base` within one process:

* each method yields once (an anyio checkpoint) before it looks at the state and
  then runs to completion without awaiting again, so every method is atomic with
  respect to other tasks, as a transaction is in the SQL backends;
* a method checks everything that can fail before it changes anything, so a
  failed call leaves the state as it was;
* records are frozen and kept as given, never copied except to keep the lock
  columns or to assign an event id. Payload mappings are kept *by reference*:
  callers must treat the mappings they pass in or get back as read-only;
* event ids come from one counter per store and are never reused;
* the convergence state (traversals, sync points, the ready queue) lives in a
  `storage.memory_traversals.TraversalState`; the resource locks live on the rows;
* nothing is durable: the state lives as long as the object.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from anyio.lowlevel import checkpoint

from storage.base import (
    NotFound,
    StackExists,
    StoreError,
    TraversalBuilder,
    TraversalStart,
    check_traversal_start,
)
from storage.memory_traversals import TraversalState
from storage.records import (
    EngineRecord,
    EventRecord,
    NodeKey,
    NodeState,
    ReadyNode,
    ResourceRecord,
    StackRecord,
    Status,
    SyncPoint,
    TemplateRecord,
    TraversalRecord,
    evolve,
)


class MemoryStore:
    """A `Store` in dicts; see the module docstring for what it guarantees."""

    url = "memory://"

    def __init__(self) -> None:
        self._stacks: dict[str, StackRecord] = {}
        self._stack_ids: dict[str, str] = {}  # name -> id
        self._templates: dict[str, TemplateRecord] = {}
        self._resources: dict[str, ResourceRecord] = {}
        self._stack_resources: dict[str, set[str]] = {}
        self._events: dict[str, list[EventRecord]] = {}
        self._engines: dict[str, EngineRecord] = {}
        self._cancel_requests: dict[str, bool] = {}
        self._traversals = TraversalState()
        self._last_event_id = 0

    async def close(self) -> None:
        await checkpoint()

    # stacks

    async def create_stack(self, stack: StackRecord, template: TemplateRecord) -> None:
        await checkpoint()
        if stack.name in self._stack_ids:
            raise StackExists(stack.name)
        if stack.id in self._stacks:
            raise StoreError(f"stack id {stack.id!r} is already stored")
        if template.stack_id != stack.id:
            self._require_stack(template.stack_id)
        self._require_new_template(template.id)
        self._stacks[stack.id] = stack
        self._stack_ids[stack.name] = stack.id
        self._stack_resources[stack.id] = set()
        self._events[stack.id] = []
        self._templates[template.id] = template

    async def get_stack(self, name_or_id: str) -> StackRecord | None:
        await checkpoint()
        found = self._stacks.get(name_or_id)
        if found is not None:
            return found
        stack_id = self._stack_ids.get(name_or_id)
        return None if stack_id is None else self._stacks[stack_id]

    async def list_stacks(self) -> list[StackRecord]:
        await checkpoint()
        return sorted(self._stacks.values(), key=lambda s: (s.created_at, s.name))

    async def save_stack(self, stack: StackRecord, event: EventRecord | None = None) -> None:
        await checkpoint()
        old = self._require_stack(stack.id)
        self._check_stack_save(stack, old, event)
        self._put_stack(stack, old, old.traversal_id)
        if event is not None:
            self._append(event)

    async def delete_stack(self, stack_id: str) -> None:
        await checkpoint()
        self._delete_stack(stack_id)

    def _delete_stack(self, stack_id: str) -> None:
        stack = self._stacks.pop(stack_id, None)
        if stack is None:
            return
        del self._stack_ids[stack.name]
        self._cancel_requests.pop(stack_id, None)
        for resource_id in self._stack_resources.pop(stack_id):
            del self._resources[resource_id]
        del self._events[stack_id]
        self._traversals.purge_stack(stack_id)
        owned = [t.id for t in self._templates.values() if t.stack_id == stack_id]
        for template_id in owned:
            del self._templates[template_id]

    async def acquire_stack_lock(
        self, stack_id: str, engine_id: str, expected: str | None = None
    ) -> bool:
        await checkpoint()
        stack = self._require_stack(stack_id)
        if stack.engine_id != expected:
            return False
        self._stacks[stack_id] = evolve(stack, engine_id=engine_id)
        self._cancel_requests.pop(stack_id, None)
        return True

    async def release_stack_lock(self, stack_id: str, engine_id: str) -> None:
        await checkpoint()
        stack = self._stacks.get(stack_id)
        if stack is not None and stack.engine_id == engine_id:
            self._stacks[stack_id] = evolve(stack, engine_id=None)

    async def request_cancel(self, stack_id: str, rollback: bool) -> None:
        await checkpoint()
        self._require_stack(stack_id)
        self._cancel_requests[stack_id] = rollback

    async def take_cancel_request(self, stack_id: str) -> bool | None:
        await checkpoint()
        return self._cancel_requests.pop(stack_id, None)

    # templates

    async def store_template(self, template: TemplateRecord) -> None:
        await checkpoint()
        self._require_stack(template.stack_id)
        self._require_new_template(template.id)
        self._templates[template.id] = template

    async def get_template(self, template_id: str) -> TemplateRecord | None:
        await checkpoint()
        return self._templates.get(template_id)

    async def delete_template(self, template_id: str) -> None:
        await checkpoint()
        self._templates.pop(template_id, None)

    # resources

    async def add_resource(
        self, resource: ResourceRecord, event: EventRecord | None = None
    ) -> None:
        await checkpoint()
        self._check_new_resources([resource])
        self._require_event_stacks([event] if event else [])
        self._add_resource(resource)
        if event is not None:
            self._append(event)

    async def save_resource(
        self, resource: ResourceRecord, event: EventRecord | None = None
    ) -> None:
        await self.save_resources([resource], [event] if event else [])

    async def write_resources(
        self,
        added: Sequence[ResourceRecord],
        saved: Sequence[ResourceRecord],
        dropped: Sequence[str],
        events: Sequence[EventRecord],
    ) -> None:
        await checkpoint()
        self._check_new_resources(added)
        new_ids = {r.id for r in added}
        missing = [r.id for r in saved if r.id not in self._resources and r.id not in new_ids]
        if missing:
            raise NotFound(f"no resource {missing[0]!r}")
        self._require_event_stacks(events)
        for resource in added:
            self._add_resource(resource)
        self._save_resources(saved, events)
        for resource_id in dropped:
            self._drop_resource(resource_id)

    async def save_resources(
        self, resources: Sequence[ResourceRecord], events: Sequence[EventRecord]
    ) -> None:
        await checkpoint()
        self._save_resources(resources, events)

    def _save_resources(
        self, resources: Sequence[ResourceRecord], events: Sequence[EventRecord]
    ) -> None:
        missing = [r.id for r in resources if r.id not in self._resources]
        if missing:
            raise NotFound(f"no resource {missing[0]!r}")
        self._require_event_stacks(events)
        for resource in resources:
            self._put_resource(resource)
        for event in events:
            self._append(event)

    async def get_resource(self, resource_id: str) -> ResourceRecord | None:
        await checkpoint()
        return self._resources.get(resource_id)

    async def list_resources(self, stack_id: str) -> list[ResourceRecord]:
        await checkpoint()
        rows = [self._resources[i] for i in self._stack_resources.get(stack_id, ())]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

    async def delete_resource(self, resource_id: str) -> None:
        await checkpoint()
        self._drop_resource(resource_id)

    def _drop_resource(self, resource_id: str) -> None:
        resource = self._resources.pop(resource_id, None)
        if resource is not None:
            self._stack_resources[resource.stack_id].discard(resource_id)

    # events

    async def append_event(self, event: EventRecord) -> EventRecord:
        await checkpoint()
        self._require_stack(event.stack_id)
        return self._append(event)

    async def list_events(
        self, stack_id: str, after: int = 0, resource_name: str | None = None
    ) -> list[EventRecord]:
        await checkpoint()
        events = self._events.get(stack_id, [])
        start = bisect.bisect_right(events, after, key=lambda e: e.id)
        if resource_name is None:
            return events[start:]
        return [e for e in events[start:] if e.resource_name == resource_name]

    # engines

    async def register_engine(self, engine: EngineRecord) -> None:
        await checkpoint()
        self._engines[engine.id] = engine

    async def heartbeat(self, engine_id: str, now: float) -> None:
        await checkpoint()
        engine = self._engines.get(engine_id)
        if engine is None:
            raise NotFound(f"no engine {engine_id!r}")
        self._engines[engine_id] = evolve(engine, heartbeat_at=now)

    async def get_engine(self, engine_id: str) -> EngineRecord | None:
        await checkpoint()
        return self._engines.get(engine_id)

    async def list_engines(self) -> list[EngineRecord]:
        await checkpoint()
        return sorted(self._engines.values(), key=lambda e: (e.started_at, e.id))

    async def remove_engine(self, engine_id: str) -> None:
        await checkpoint()
        self._engines.pop(engine_id, None)

    # convergence: traversals, sync points, the ready queue, resource locks

    async def start_traversal(
        self, stack_id: str, build: TraversalBuilder
    ) -> TraversalStart | None:
        await checkpoint()
        old = self._require_stack(stack_id)
        rows = [self._resources[r] for r in self._stack_resources[stack_id]]
        start = build(old, sorted(rows, key=lambda r: (r.created_at, r.id)))
        if start is None:
            return None
        check_traversal_start(start)
        if start.stack.id != stack_id:
            raise StoreError(f"the traversal is not for stack {stack_id!r}")
        self._check_stack_save(start.stack, old, None)
        self._traversals.check_new(start.traversal, start.sync_points)
        self._check_new_resources(start.new_resources)
        if start.template is not None:
            self._require_new_template(start.template.id)
        # all checks passed: write
        if start.template is not None:
            self._templates[start.template.id] = start.template
        self._put_stack(start.stack, old, start.traversal.id)
        if old.traversal_id is not None:
            self._traversals.purge(old.traversal_id)
        self._traversals.add(start.traversal, start.sync_points)
        for resource in start.new_resources:
            self._add_resource(resource)
        for event in start.events:
            self._append(event)
        return start

    async def save_stack_in_traversal(
        self, stack: StackRecord, traversal_id: str, event: EventRecord | None = None
    ) -> bool:
        await checkpoint()
        old = self._stacks.get(stack.id)
        if old is None or old.traversal_id != traversal_id or old.status is not Status.IN_PROGRESS:
            return False
        self._check_stack_save(stack, old, event)
        self._put_stack(stack, old, traversal_id)
        if event is not None:
            self._append(event)
        return True

    async def delete_stack_in_traversal(self, stack_id: str, traversal_id: str) -> bool:
        await checkpoint()
        stack = self._stacks.get(stack_id)
        if stack is None or stack.traversal_id != traversal_id \
                or stack.status is not Status.IN_PROGRESS:
            return False
        self._delete_stack(stack_id)
        return True

    async def get_traversal(self, traversal_id: str) -> TraversalRecord | None:
        await checkpoint()
        return self._traversals.get(traversal_id)

    async def cancel_traversal(self, traversal_id: str) -> None:
        await checkpoint()
        self._traversals.cancel(traversal_id)

    async def get_sync_point(self, traversal_id: str, node: NodeKey) -> SyncPoint | None:
        await checkpoint()
        return self._traversals.sync_point(traversal_id, node)

    async def get_node_state(self, traversal_id: str, node: NodeKey) -> NodeState | None:
        await checkpoint()
        traversal = self._traversals.get(traversal_id)
        sync = None if traversal is None else self._traversals.sync_point(traversal_id, node)
        stack = None if sync is None else self._stacks.get(sync.stack_id)
        if traversal is None or sync is None or stack is None:
            return None
        rows: list[ResourceRecord] = []
        row = None if sync.row_id is None else self._resources.get(sync.row_id)
        while row is not None and row not in rows:
            rows.append(row)
            row = None if row.replaced_by is None else self._resources.get(row.replaced_by)
        return NodeState(stack, traversal, sync, tuple(rows))

    async def deliver(
        self,
        traversal_id: str,
        sender: NodeKey,
        deliveries: Sequence[tuple[NodeKey, Mapping[str, Any]]],
        claimant: str | None = None,
    ) -> list[ReadyNode]:
        await checkpoint()
        return self._traversals.deliver(traversal_id, sender, deliveries, claimant)

    async def claim_ready(
        self, engine_id: str, limit: int, stack_id: str | None = None
    ) -> list[ReadyNode]:
        await checkpoint()
        return self._traversals.claim(engine_id, limit, stack_id)

    async def release_claims(self, engine_id: str) -> int:
        await checkpoint()
        return self._traversals.release(engine_id)

    async def finish_ready(self, traversal_id: str, node: NodeKey) -> None:
        await checkpoint()
        self._traversals.finish(traversal_id, node)

    async def park(self, traversal_id: str, node: NodeKey, resource_id: str) -> bool:
        await checkpoint()
        row = self._resources.get(resource_id)
        if row is None or row.engine_id is None:
            return False
        return self._traversals.park(traversal_id, node, resource_id)

    async def lock_resource(
        self,
        resource_id: str,
        engine_id: str,
        traversal_id: str,
        expected: str | None = None,
        requires: Sequence[str] = (),
        *,
        version: int | None = None,
        save: tuple[ResourceRecord, EventRecord] | None = None,
    ) -> ResourceRecord | None:
        await checkpoint()
        row = self._resources.get(resource_id)
        if row is None or row.engine_id != expected:
            return None
        if self._stacks[row.stack_id].traversal_id != traversal_id:
            return None
        if version is not None and row.atomic_key != version:
            return None
        if save is not None:
            if save[0].id != resource_id:
                raise StoreError(f"lock_resource of {resource_id!r} cannot save {save[0].id!r}")
            self._save_resources([save[0]], [save[1]])
            row = self._resources[resource_id]
        merged = tuple(sorted(set(row.requires) | set(requires))) if requires else row.requires
        row = evolve(
            row, engine_id=engine_id, atomic_key=row.atomic_key + 1, requires=merged
        )
        self._resources[resource_id] = row
        return row

    async def unlock_resource(
        self, resource_id: str, engine_id: str, claimant: str | None = None
    ) -> list[ReadyNode]:
        await checkpoint()
        return self._unlock(resource_id, engine_id, claimant)

    async def finish_node(
        self,
        traversal_id: str,
        node: NodeKey,
        engine_id: str,
        unlock: Sequence[str],
        deliveries: Sequence[tuple[NodeKey, Mapping[str, Any]]],
        save: tuple[ResourceRecord, EventRecord] | None = None,
        *,
        drop: bool = False,
        passes: Collection[NodeKey] = (),
    ) -> list[ReadyNode]:
        await checkpoint()
        if save is not None:
            self._save_resources([save[0]], [save[1]])
            if drop:
                self._drop_resource(save[0].id)
        entries = [e for r in unlock for e in self._unlock(r, engine_id, None)]
        entries += self._traversals.deliver(traversal_id, node, deliveries, engine_id, passes)
        self._traversals.finish(traversal_id, node)
        return entries

    def _unlock(self, resource_id: str, engine_id: str, claimant: str | None) -> list[ReadyNode]:
        row = self._resources.get(resource_id)
        if row is not None and row.engine_id is not None:
            if row.engine_id != engine_id:
                return []  # another engine holds it: its entries stay parked
            self._resources[resource_id] = evolve(row, engine_id=None)
        return self._traversals.unpark(resource_id, claimant or engine_id)

    async def replace_resource(
        self,
        old: ResourceRecord | None,
        new: ResourceRecord,
        traversal_id: str,
        event: EventRecord | None = None,
    ) -> bool:
        await checkpoint()
        stack = self._stacks.get(new.stack_id)
        if stack is None or stack.traversal_id != traversal_id:
            return False
        self._check_new_resources([new])
        if old is not None and old.id not in self._resources:
            raise NotFound(f"no resource {old.id!r}")
        self._require_event_stacks([event] if event else [])
        self._add_resource(new)
        if old is not None:
            self._put_resource(old)
        if event is not None:
            self._append(event)
        return True

    async def purge_traversal(self, traversal_id: str) -> None:
        await checkpoint()
        self._traversals.purge(traversal_id)

    async def purge_templates(self, stack_id: str) -> int:
        await checkpoint()
        stack = self._stacks.get(stack_id)
        if stack is None:
            return 0
        kept = {stack.template_id, stack.prev_template_id}
        current = None if stack.traversal_id is None else self._traversals.get(stack.traversal_id)
        if current is not None:
            kept |= {current.template_id, current.previous_template_id}
        kept |= {self._resources[r].template_id for r in self._stack_resources[stack_id]}
        unused = [t.id for t in self._templates.values()
                  if t.stack_id == stack_id and t.id not in kept]
        for template_id in unused:
            del self._templates[template_id]
        return len(unused)

    async def list_ready(self, stack_id: str) -> list[ReadyNode]:
        await checkpoint()
        return self._traversals.list_ready(stack_id)

    # helpers: checks raise before any change; writers assume the checks passed

    def _require_stack(self, stack_id: str) -> StackRecord:
        stack = self._stacks.get(stack_id)
        if stack is None:
            raise NotFound(f"no stack {stack_id!r}")
        return stack

    def _require_stack_ids(self, stack_ids: Iterable[str]) -> None:
        for stack_id in stack_ids:
            self._require_stack(stack_id)

    def _require_event_stacks(self, events: Iterable[EventRecord]) -> None:
        self._require_stack_ids(e.stack_id for e in events)

    def _require_new_template(self, template_id: str) -> None:
        if template_id in self._templates:
            raise StoreError(f"template id {template_id!r} is already stored")

    def _check_stack_save(
        self, stack: StackRecord, old: StackRecord, event: EventRecord | None
    ) -> None:
        if stack.name != old.name and stack.name in self._stack_ids:
            raise StackExists(stack.name)
        self._require_event_stacks([event] if event else [])

    def _check_new_resources(self, resources: Sequence[ResourceRecord]) -> None:
        self._require_stack_ids(r.stack_id for r in resources)
        for resource in resources:
            if resource.id in self._resources:
                raise StoreError(f"resource id {resource.id!r} is already stored")
        if len({r.id for r in resources}) != len(resources):
            raise StoreError("a resource id is listed twice")

    def _put_stack(self, stack: StackRecord, old: StackRecord, traversal_id: str | None) -> None:
        """Store `stack` over `old`, keeping the stack lock, with `traversal_id`."""
        if stack.name != old.name:
            del self._stack_ids[old.name]
            self._stack_ids[stack.name] = stack.id
        if (stack.engine_id, stack.traversal_id) != (old.engine_id, traversal_id):
            stack = evolve(stack, engine_id=old.engine_id, traversal_id=traversal_id)
        self._stacks[stack.id] = stack

    def _add_resource(self, resource: ResourceRecord) -> None:
        self._resources[resource.id] = resource
        self._stack_resources[resource.stack_id].add(resource.id)

    def _put_resource(self, resource: ResourceRecord) -> None:
        """Save `resource`, keeping what a save never changes: its stack, its creation time and
        its lock."""
        old = self._resources[resource.id]
        fixed = (old.stack_id, old.created_at, old.engine_id, old.atomic_key)
        if (resource.stack_id, resource.created_at, resource.engine_id,
                resource.atomic_key) != fixed:
            resource = evolve(resource, stack_id=old.stack_id, created_at=old.created_at,
                              engine_id=old.engine_id, atomic_key=old.atomic_key)
        self._resources[resource.id] = resource

    def _append(self, event: EventRecord) -> EventRecord:
        self._last_event_id += 1
        event = evolve(event, id=self._last_event_id)
        self._events[event.stack_id].append(event)
        return event

"""The `Store` protocol: everything the engine persists, and the atomic steps it relies on.

Invariants every backend keeps (the conformance suite in
`tests/storage/test_conformance.py` checks them):

* a method returns only once its write is durable for that backend: a state is
  persisted before the engine reports it;
* `create_stack` is atomic with the stack's first template and fails with
  `StackExists` when the name is taken, whatever the number of processes;
* `acquire_stack_lock` is a compare-and-set: exactly one of several concurrent
  callers expecting the same holder wins;
* `save_stack`/`save_resource` never touch the lock columns (`engine_id`,
  `atomic_key`, `traversal_id`); only the lock methods do;
* events get strictly increasing ids in append order within a store;
* a `save_*` of a row that does not exist raises `NotFound` and writes nothing
  (not even its event); a `delete_*` of a missing row is a no-op;
* a write that takes an optional event appends it in the same transaction;
* records come back equal to what was written (JSON payloads round-trip:
  mappings come back as dicts, tuples as tuples);
* payload mappings handed to or returned by a store are read-only for the caller:
  the memory store keeps them by reference.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from storage.records import (
    EngineRecord,
    EventRecord,
    NodeKey,
    NodeState,
    ReadyNode,
    ResourceRecord,
    StackRecord,
    SyncPoint,
    TemplateRecord,
    TraversalRecord,
)


class StoreError(Exception):
    """Base of the errors a store raises; the engine translates them for the user."""


class StackExists(StoreError):
    """`create_stack` found the name taken."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a stack named {name!r} already exists")
        self.name = name


class NotFound(StoreError):
    """A record the caller expected is not in the store."""


class StoreURLError(StoreError):
    """A store URL that no backend accepts."""


@dataclass(frozen=True)
class TraversalStart:
    """What `Store.start_traversal` writes: a traversal and the state it starts from."""

    stack: StackRecord
    traversal: TraversalRecord
    sync_points: Sequence[SyncPoint]
    new_resources: Sequence[ResourceRecord] = ()
    events: Sequence[EventRecord] = ()
    template: TemplateRecord | None = None


#: builds a traversal from the stack and its rows as stored (see `Store.start_traversal`)
TraversalBuilder = Callable[[StackRecord, list[ResourceRecord]], TraversalStart | None]


def check_traversal_start(start: TraversalStart) -> None:
    """Raise `StoreError` unless `start_traversal`'s records agree: the traversal, its
    sync points, new rows, events and template belong to the stack, and the sync points
    to the traversal."""
    stack, traversal, sync_points = start.stack, start.traversal, start.sync_points
    if traversal.stack_id != stack.id:
        raise StoreError(f"traversal {traversal.id!r} is not for stack {stack.id!r}")
    for point in sync_points:
        if (point.traversal_id, point.stack_id) != (traversal.id, stack.id):
            raise StoreError(f"sync point {point.node} is not in traversal {traversal.id!r}")
    owners = [r.stack_id for r in start.new_resources] + [e.stack_id for e in start.events]
    if start.template is not None:
        owners.append(start.template.stack_id)
    if any(owner != stack.id for owner in owners):
        raise StoreError(f"a new row, event or template is not for stack {stack.id!r}")


class Store(Protocol):
    """Async persistence for stacks, templates, resources, events and engines."""

    url: str

    async def close(self) -> None: ...

    # stacks
    async def create_stack(self, stack: StackRecord, template: TemplateRecord) -> None: ...
    async def get_stack(self, name_or_id: str) -> StackRecord | None: ...
    async def list_stacks(self) -> list[StackRecord]: ...
    async def save_stack(self, stack: StackRecord, event: EventRecord | None = None) -> None: ...
    async def delete_stack(self, stack_id: str) -> None: ...
    async def acquire_stack_lock(
        self, stack_id: str, engine_id: str, expected: str | None = None
    ) -> bool: ...
    async def release_stack_lock(self, stack_id: str, engine_id: str) -> None: ...
    async def request_cancel(self, stack_id: str, rollback: bool) -> None:
        """Ask the engine running the stack's operation to cancel it (then roll back or not)."""
        ...

    async def take_cancel_request(self, stack_id: str) -> bool | None:
        """Read and clear a pending cancel request: its rollback flag, or None if none.

        Taking the stack lock clears a stale request."""
        ...

    # templates
    async def store_template(self, template: TemplateRecord) -> None: ...
    async def get_template(self, template_id: str) -> TemplateRecord | None: ...
    async def delete_template(self, template_id: str) -> None: ...

    # resources
    async def add_resource(
        self, resource: ResourceRecord, event: EventRecord | None = None
    ) -> None: ...
    async def save_resource(
        self, resource: ResourceRecord, event: EventRecord | None = None
    ) -> None: ...
    async def save_resources(
        self, resources: Sequence[ResourceRecord], events: Sequence[EventRecord]
    ) -> None: ...
    async def write_resources(
        self,
        added: Sequence[ResourceRecord],
        saved: Sequence[ResourceRecord],
        dropped: Sequence[str],
        events: Sequence[EventRecord],
    ) -> None:
        """In one transaction: `add_resource` each of `added`, then save `saved` in order and
        append `events` (as `save_resources`), then `delete_resource` each of `dropped`.
        All or nothing: a taken id raises `StoreError`, a missing saved row `NotFound`."""
        ...

    async def get_resource(self, resource_id: str) -> ResourceRecord | None: ...
    async def list_resources(self, stack_id: str) -> list[ResourceRecord]: ...
    async def delete_resource(self, resource_id: str) -> None: ...

    # events
    async def append_event(self, event: EventRecord) -> EventRecord: ...
    async def list_events(
        self, stack_id: str, after: int = 0, resource_name: str | None = None
    ) -> list[EventRecord]: ...

    # engines
    async def register_engine(self, engine: EngineRecord) -> None: ...
    async def heartbeat(self, engine_id: str, now: float) -> None: ...
    async def get_engine(self, engine_id: str) -> EngineRecord | None: ...
    async def list_engines(self) -> list[EngineRecord]: ...
    async def remove_engine(self, engine_id: str) -> None: ...

    # convergence: traversals, sync points, the ready queue, resource locks

    async def start_traversal(
        self, stack_id: str, build: TraversalBuilder
    ) -> TraversalStart | None:
        """Start a traversal built from the stack's state, atomically with reading it.

        One transaction: read the stack and its rows, call `build(stack, rows)`
        (a pure function: no I/O, no awaits) and, unless it returns None,
        write what it returned: the stack's columns (as `save_stack`, with
        `traversal_id` set to the new traversal's id), the template, the
        traversal, its sync points, an unclaimed ready entry for every sync
        point whose `remaining` is 0, the new rows and the events (in order);
        then purge the sync points and ready entries of the traversal that was
        current (it is superseded). Returns what was written, or None.

        Because reading and writing are one step, no resource lock can be taken
        between them for the superseded traversal (`lock_resource` checks that
        its traversal is current). A missing stack raises `NotFound`; records
        that disagree (`check_traversal_start`) or ids already stored raise
        `StoreError`; an exception from `build` propagates; none of them write.
        """
        ...

    async def save_stack_in_traversal(
        self, stack: StackRecord, traversal_id: str, event: EventRecord | None = None
    ) -> bool:
        """`save_stack`, only if the stack's current traversal is `traversal_id` and the stack
        is still IN_PROGRESS (a traversal ends once); else False (also when the stack is gone),
        and then the event is not appended either."""
        ...

    async def delete_stack_in_traversal(self, stack_id: str, traversal_id: str) -> bool:
        """`delete_stack`, only if the stack's current traversal is `traversal_id` and the stack
        is still IN_PROGRESS (a delete traversal's last step, so no crash can leave a deleted
        stack's name taken); else False, deleting nothing."""
        ...

    async def get_traversal(self, traversal_id: str) -> TraversalRecord | None: ...

    async def cancel_traversal(self, traversal_id: str) -> None:
        """Mark the traversal cancelled (engines then cancel its in-flight actors); the flag
        stays readable after `purge_traversal`."""
        ...

    async def get_sync_point(self, traversal_id: str, node: NodeKey) -> SyncPoint | None:
        """The node's sync point with its inputs in delivery order, or None once purged."""
        ...

    async def get_node_state(self, traversal_id: str, node: NodeKey) -> NodeState | None:
        """In one snapshot: the node's stack, traversal and sync point (as `get_sync_point`),
        and the row the sync point names followed by its replacements (`replaced_by`), oldest
        first; None if the traversal, its stack or the sync point is gone."""
        ...

    async def deliver(
        self,
        traversal_id: str,
        sender: NodeKey,
        deliveries: Sequence[tuple[NodeKey, Mapping[str, Any]]],
        claimant: str | None = None,
    ) -> list[ReadyNode]:
        """Deliver `sender`'s dependency-satisfied message to each target, in one transaction.

        For each target: record the input unless this sender already delivered
        to it (a repeated delivery changes nothing), and only then decrement its
        `remaining`; when that reaches 0, create its ready entry, claimed by
        `claimant` (or unclaimed). Targets without a sync point (a purged
        traversal) are skipped. Returns the ready entries created, in delivery
        order. The cost is O(len(deliveries)), whatever a target's fan-in.
        """
        ...

    async def claim_ready(
        self, engine_id: str, limit: int, stack_id: str | None = None
    ) -> list[ReadyNode]:
        """Claim up to `limit` unclaimed, unparked ready entries of every stack or only of
        `stack_id`, least slack first and, among equal slack, oldest first; returns them
        claimed, in that order."""
        ...

    async def release_claims(self, engine_id: str) -> int:
        """Unclaim every ready entry claimed by `engine_id` (a dead engine); returns how many."""
        ...

    async def finish_ready(self, traversal_id: str, node: NodeKey) -> None:
        """Remove a ready entry once its node has run and delivered (a no-op if gone)."""
        ...

    async def park(self, traversal_id: str, node: NodeKey, resource_id: str) -> bool:
        """Park a ready entry on a locked resource: unclaim it and record `parked_on`.

        Only while the resource is still locked (by anyone); if the lock is free
        nothing is written and False is returned, so the caller retries the lock.
        False too, writing nothing, when the entry is gone (a purged traversal).
        """
        ...

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
        """Compare-and-set the resource lock from `expected` to `engine_id` for a node of
        `traversal_id`.

        Only while that traversal is its stack's current one, and with `version`
        only while the row's `atomic_key` is still `version` (nothing changed it
        since it was read). On success, in the same transaction: store the row
        `save[0]` if given (as `save_resource`, with its event `save[1]`: the first
        state change of an operation takes the lock with it), add `requires` to the
        row's `requires` (an operation about to start makes its new dependencies
        visible to any later traversal's graph), bump `atomic_key` and return the
        locked row as stored. None, writing nothing, if the lock was not `expected`,
        the version differs, the traversal is not current, or the row does not exist.
        """
        ...

    async def unlock_resource(
        self, resource_id: str, engine_id: str, claimant: str | None = None
    ) -> list[ReadyNode]:
        """Release the lock if `engine_id` holds it (or the row is gone) and unpark every ready
        entry parked on this resource, claiming them for `claimant` (default `engine_id`;
        a recovering engine releases a dead one's lock for itself); returns them, oldest
        first. While another engine holds the lock nothing changes and [] is returned."""
        ...

    async def replace_resource(
        self,
        old: ResourceRecord | None,
        new: ResourceRecord,
        traversal_id: str,
        event: EventRecord | None = None,
    ) -> bool:
        """In one transaction, while `traversal_id` is the stack's current traversal: add `new`
        (with its lock columns, as `add_resource`), save `old` if given (as `save_resource`,
        normally with `replaced_by` set to `new.id`) and append the event. False, writing
        nothing, once the traversal is superseded (or the stack is gone)."""
        ...

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
        """A node's last step, in one transaction: `save_resource(*save)` if given (the state
        the node ends with) and, with `drop`, `delete_resource` of that row (a deletion
        ends with its event); `unlock_resource(r, engine_id)` for each of `unlock`;
        `deliver(traversal_id, node, deliveries, claimant=engine_id)`; then
        `finish_ready(traversal_id, node)`.

        A target in `passes` is a node the caller knows has nothing to do (a cleanup
        node whose row the update node kept): its sync point is marked passing. A
        passing sync point that completes (with this delivery or any later one) gets
        no ready entry: it delivers `{}` to each of its own successors at once
        instead, in that transaction, as `finish_node` would for it.

        Returns the entries unparked (in `unlock` order, each resource's oldest first),
        then those made ready, all claimed for `engine_id`."""
        ...

    async def purge_traversal(self, traversal_id: str) -> None:
        """Delete the traversal's sync points, inputs and ready entries. The traversal record
        stays (with its `cancelled` flag) until the stack is deleted."""
        ...

    async def purge_templates(self, stack_id: str) -> int:
        """Delete the stack's templates that neither the stack (`template_id`,
        `prev_template_id`), a current traversal nor a resource row refers to, in one
        transaction; returns how many."""
        ...

    async def list_ready(self, stack_id: str) -> list[ReadyNode]:
        """Every ready entry of the stack's traversals, oldest first (for recovery and
        tests)."""
        ...

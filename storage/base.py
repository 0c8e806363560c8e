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

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from storage.records import (
    EngineRecord,
    EventRecord,
    NodeKey,
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


def check_traversal_start(
    stack: StackRecord, traversal: TraversalRecord, sync_points: Sequence[SyncPoint]
) -> None:
    """Raise `StoreError` unless `start_traversal`'s records agree: the traversal and its
    sync points belong to `stack`, and the sync points to the traversal."""
    if traversal.stack_id != stack.id:
        raise StoreError(f"traversal {traversal.id!r} is not for stack {stack.id!r}")
    for point in sync_points:
        if (point.traversal_id, point.stack_id) != (traversal.id, stack.id):
            raise StoreError(f"sync point {point.node} is not in traversal {traversal.id!r}")


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
        self,
        stack: StackRecord,
        expected_traversal: str | None,
        traversal: TraversalRecord,
        sync_points: Sequence[SyncPoint],
        new_resources: Sequence[ResourceRecord],
        event: EventRecord | None = None,
        template: TemplateRecord | None = None,
    ) -> bool:
        """Start `traversal` if the stack's current traversal is still `expected_traversal`.

        One transaction: compare-and-set `stacks.traversal_id` from
        `expected_traversal` to `traversal.id`; save the stack's other columns
        as `save_stack` does; store `template` (the traversal's new target);
        insert the traversal, its sync points, an unclaimed ready entry for
        every sync point whose `remaining` is 0, the new resource rows; append
        the event. If the compare-and-set fails, nothing is written and False
        is returned.

        `stack.traversal_id` is ignored (the new id is written) and the stack lock
        is left alone. A missing stack raises `NotFound`, a taken new name
        `StackExists`, records that disagree (`check_traversal_start`) or ids
        already stored `StoreError`; all of them write nothing.
        """
        ...

    async def save_stack_in_traversal(
        self, stack: StackRecord, traversal_id: str, event: EventRecord | None = None
    ) -> bool:
        """`save_stack`, only if the stack's current traversal is `traversal_id`; else False
        (also when the stack is gone), and then the event is not appended either."""
        ...

    async def get_traversal(self, traversal_id: str) -> TraversalRecord | None: ...

    async def cancel_traversal(self, traversal_id: str) -> None:
        """Mark the traversal cancelled (engines then cancel its in-flight actors); a no-op
        once it is purged."""
        ...

    async def get_sync_point(self, traversal_id: str, node: NodeKey) -> SyncPoint | None:
        """The node's sync point with its inputs in delivery order, or None once purged."""
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
        """Claim up to `limit` unclaimed, unparked ready entries, oldest first, of every
        stack or only of `stack_id`; returns them claimed, oldest first."""
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
        self, resource_id: str, engine_id: str, expected: str | None = None
    ) -> int | None:
        """Compare-and-set the resource lock from `expected` to `engine_id`.

        On success bump and return `atomic_key`; None if the lock was not
        `expected` or the row does not exist.
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
        self, old: ResourceRecord, new: ResourceRecord, event: EventRecord | None = None
    ) -> None:
        """In one transaction: add `new` (with its lock columns, as `add_resource`) and save
        `old` (as `save_resource`, normally with `replaced_by` set to `new.id`)."""
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

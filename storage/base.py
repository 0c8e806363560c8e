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

from collections.abc import Sequence
from typing import Protocol

from storage.records import EngineRecord, EventRecord, ResourceRecord, StackRecord, TemplateRecord


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

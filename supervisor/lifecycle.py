"""The stack lock and stack-level state transitions shared by every operation.

A legacy operation holds the stack lock (`engine_id` on the stack,
compare-and-set) from the moment it marks the stack IN_PROGRESS until it has
saved the final state. A lock held by a live engine refuses the operation
(`StateError`, exit code 3); a lock held by a dead engine is taken over, and an
IN_PROGRESS stack found in that state is first marked FAILED with a reason that
says the engine went down.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from storage import Action, EventRecord, ResourceRecord, StackRecord, Status, evolve, status_text
from supervisor.engine import Engine
from supervisor.errors import InputError, StateError
from supervisor.operations import event_for


def stack_event(stack: StackRecord) -> EventRecord:
    return EventRecord(
        stack_id=stack.id, resource_name=stack.name, physical_id=stack.id,
        action=stack.action, status=stack.status, reason=stack.reason,
        time=stack.updated_at or stack.created_at,
    )


async def set_state(engine: Engine, stack: StackRecord, action: Action, status: Status,
                    reason: str, **changes: object) -> StackRecord:
    """Persist the stack's new state with its event."""
    updated = evolve(stack, action=action, status=status, reason=reason,
                     updated_at=time.time(), **changes)
    event = stack_event(updated)
    await engine.store.save_stack(updated, event)
    engine.published(event)
    engine.log.info(f"stack.{action.value.lower()}.{status.value.lower()}", stack=stack.name,
                    reason=reason)
    return updated


async def load_stack(engine: Engine, name_or_id: str) -> StackRecord:
    """The stack, after reporting a dead engine's IN_PROGRESS legacy operation as FAILED."""
    stack = await engine.store.get_stack(name_or_id)
    if stack is None:
        raise InputError(f"stack {name_or_id!r} not found")
    return await reap_if_orphaned(engine, stack)


async def reap_if_orphaned(engine: Engine, stack: StackRecord) -> StackRecord:
    holder = stack.engine_id
    if stack.convergence or holder is None or holder == engine.id:
        return stack
    if await engine.is_alive(holder):
        return stack
    if not await engine.store.acquire_stack_lock(stack.id, engine.id, expected=holder):
        fresh = await engine.store.get_stack(stack.id)
        return stack if fresh is None else fresh
    try:
        return await _fail_orphaned(engine, stack)
    finally:
        with anyio.CancelScope(shield=True):
            await engine.store.release_stack_lock(stack.id, engine.id)


async def _fail_orphaned(engine: Engine, stack: StackRecord) -> StackRecord:
    fresh = await engine.store.get_stack(stack.id) or stack
    if fresh.status is not Status.IN_PROGRESS:
        return fresh
    reason = f"Engine went down during stack {fresh.action.value}"
    for row in await engine.store.list_resources(stack.id):
        if row.status is Status.IN_PROGRESS:
            await _fail_row(engine, row, reason)
    engine.log.warning("stack.orphan.failed", stack=stack.name, engine_gone=stack.engine_id)
    return await set_state(engine, fresh, fresh.action, Status.FAILED, reason)


async def _fail_row(engine: Engine, row: ResourceRecord, reason: str) -> None:
    failed = evolve(row, status=Status.FAILED, reason=reason, updated_at=time.time())
    event = event_for(failed)
    await engine.store.save_resource(failed, event)
    engine.published(event)


async def lock_stack(engine: Engine, stack: StackRecord) -> StackRecord:
    """Take the legacy stack lock, or raise `StateError` while a live engine holds it."""
    if await engine.store.acquire_stack_lock(stack.id, engine.id):
        return evolve(stack, engine_id=engine.id)
    fresh = await reap_if_orphaned(engine, await _reload(engine, stack))
    holder = fresh.engine_id
    if holder is not None and holder != engine.id and not await engine.is_alive(holder) \
            and await engine.store.acquire_stack_lock(stack.id, engine.id, expected=holder):
        return evolve(fresh, engine_id=engine.id)
    if holder is None and await engine.store.acquire_stack_lock(stack.id, engine.id):
        return evolve(fresh, engine_id=engine.id)
    raise StateError(
        f"stack {stack.name!r} is {status_text(fresh.action, fresh.status)}: another operation "
        "is in progress; wait for it (convergent stack wait) or cancel it", stack=stack.name)


@asynccontextmanager
async def holding_lock(engine: Engine, stack: StackRecord,
                       held: bool = False) -> AsyncIterator[StackRecord]:
    """Hold the legacy stack lock for the block (taking it unless `held`); always released."""
    locked = stack if held else await lock_stack(engine, stack)
    try:
        yield locked
    finally:
        with anyio.CancelScope(shield=True):
            await engine.store.release_stack_lock(stack.id, engine.id)


async def _reload(engine: Engine, stack: StackRecord) -> StackRecord:
    fresh = await engine.store.get_stack(stack.id)
    if fresh is None:
        raise InputError(f"stack {stack.name!r} not found")
    return fresh

"""Resource operations: one actor call wrapped in persisted state transitions.

Each function moves one resource row through `ACTION_IN_PROGRESS` to
`ACTION_COMPLETE` or `ACTION_FAILED`, persisting the row together with its
event before it reports it.
A failing actor is a value: the function returns the FAILED row and never
raises for it. If the call is cancelled (stack cancel, stack timeout) the row is
saved FAILED with the interruption's reason, shielded, and the cancellation
propagates.

Both engine paths use these functions; they know nothing about graphs. How a
state change is persisted is up to the path: a convergence node writes it
through its `persist` hook, durably before the actor is called; the legacy
walk through its `Journal`, which commits an IN_PROGRESS state before the call
when the actor has outside effects and holds the other states for its next
commit.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.lowlevel

from actors import (
    ActorContext,
    Created,
    Operation,
    ReplaceRequired,
    ResourceActor,
    ResourceFailure,
)
from storage import Action, EventRecord, ResourceRecord, StackRecord, Status, evolve
from supervisor.engine import Engine, new_id

T = TypeVar("T")

COMPLETE_REASON = "state changed"


#: the longest a held state waits for its commit while the legacy walk goes on through
#: resources whose actors change nothing outside the engine (`Journal`)
HOLD_AT_MOST_S = 0.02
#: the longest such a walk runs without letting the event loop's other tasks run
YIELD_EVERY_S = 0.005


@dataclass
class Journal:
    """Write-behind for the legacy walk: as few commits as the walk's guarantees allow.

    The walk changes one resource at a time. What must be durable before an actor is
    called is the IN_PROGRESS state of an actor with outside effects (the default): a crash
    during the call must leave a row that says the resource may exist. Everything else is
    held here: final states, rows about to be created, removals of deleted rows, other
    row saves, and the IN_PROGRESS states of actors that change nothing outside the engine
    (`ResourceActor.outside_effects` False: `OS::Heat::None`, `Value`, `RandomString`).
    What is held is written in one store transaction (`flush`) with the walk's next state
    that must be durable (an outside actor's IN_PROGRESS state, a FAILED state, and any
    IN_PROGRESS state while an outside actor's final state is held: that one waits for
    the next actor call at most, as it always did), before the walk waits for a free
    action slot, when a held state has waited `HOLD_AT_MOST_S`, or when the walk ends;
    meanwhile the walk lets the event loop's other tasks run every `YIELD_EVERY_S`, as
    its writes used to. (An inward actor is expected to return promptly: while it runs,
    the states held before it wait.) Nothing is reported early: held events are
    published once written. A crash loses only what is held: the last outside call's
    final state, whose row then shows the IN_PROGRESS state a crash a moment earlier
    would have left, and the states of inward resources, which exist nowhere but in
    their rows.
    """

    engine: Engine
    stack_name: str
    #: rows to insert, by id: a row saved before it is written is inserted as saved
    added: dict[str, ResourceRecord] = dataclasses.field(default_factory=dict)
    #: rows to save, by id: the last state held of a row is the one written
    saved: dict[str, ResourceRecord] = dataclasses.field(default_factory=dict)
    dropped: list[str] = dataclasses.field(default_factory=list)
    events: list[EventRecord] = dataclasses.field(default_factory=list)
    #: event-loop time at which the oldest state held was recorded
    held_since: float = math.inf
    #: event-loop time at which the walk last let other tasks run (a write does)
    yielded_at: float = -math.inf
    #: whether a final state of an actor with outside effects is held
    outside_held: bool = False
    #: resource type -> whether its IN_PROGRESS state may be held
    _inward: dict[str, bool] = dataclasses.field(default_factory=dict)

    def add(self, row: ResourceRecord) -> None:
        self.added[row.id] = row

    def save(self, row: ResourceRecord) -> None:
        if row.id in self.added:
            self.added[row.id] = row
        else:
            self.saved[row.id] = row

    def drop(self, row_id: str) -> None:
        """Remove a row; a save of it that is still held is not written."""
        self.saved.pop(row_id, None)
        self.dropped.append(row_id)

    async def record(self, row: ResourceRecord, event: EventRecord, final: bool) -> None:
        """A state change: held if it may be (see the class), else written now with the rest.

        A final state is never interrupted here: its caller has still to act on it (drop a
        deleted row, say), so a cancel waits for the walk's next checkpoint. An IN_PROGRESS
        state whose write is cancelled is taken back: its actor is not called."""
        before = self.added.get(row.id) if row.id in self.added else self.saved.get(row.id)
        self.save(row)
        self.events.append(event)
        inward = self._inward_type(row.type)
        if final:
            self.outside_held = self.outside_held or not inward
        # an outside final state waits for the next actor call at most, as it always did
        holds = final or (row.status is Status.IN_PROGRESS and inward and not self.outside_held)
        try:
            if holds:
                now = anyio.current_time()
                if now < self.held_since:
                    self.held_since = now
                if now - self.held_since < HOLD_AT_MOST_S:
                    if now - self.yielded_at >= YIELD_EVERY_S:
                        # the write skipped was the walk's yield point: an inward actor has none
                        self.yielded_at = now
                        if final:
                            await anyio.lowlevel.cancel_shielded_checkpoint()
                        else:
                            await anyio.lowlevel.checkpoint()
                    return
            with anyio.CancelScope(shield=final):
                await self.flush()
        except anyio.get_cancelled_exc_class():
            if row.status is Status.IN_PROGRESS:
                self._take_back(row, before)  # its actor will not be called now
            raise

    def _take_back(self, row: ResourceRecord, before: ResourceRecord | None) -> None:
        """Forget the state just recorded for `row` (and its event): hold `before` again."""
        self.events.pop()
        if row.id in self.added:
            assert before is not None, "an added row is held from its `add`"
            self.added[row.id] = before
        elif before is None:
            del self.saved[row.id]
        else:
            self.saved[row.id] = before

    def _inward_type(self, type_name: str) -> bool:
        """Whether actors of `type_name` declare no outside effects."""
        inward = self._inward.get(type_name)
        if inward is None:
            actor = self.engine.registry.actor_class(type_name)
            inward = self._inward[type_name] = actor is not None and not actor.outside_effects
        return inward

    async def flush(self) -> None:
        """Write everything held, in one transaction, then report its events. A write
        cancelled before the store took it leaves it all held, for the flush that ends the
        walk; a write the store refused is dropped with its error (it would only fail
        again)."""
        if not (self.added or self.saved or self.dropped or self.events):
            return
        events = self.events
        try:
            await self.engine.store.write_resources(list(self.added.values()),
                                                    list(self.saved.values()), self.dropped,
                                                    events)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException:
            self._clear()
            raise
        self._clear()
        for event in events:
            report(self.engine, self.stack_name, event)

    def _clear(self) -> None:
        self.added, self.saved, self.dropped, self.events = {}, {}, [], []
        self.held_since = math.inf
        self.outside_held = False
        self.yielded_at = anyio.current_time()


@dataclass
class OperationScope:
    """What a resource operation needs to know about the stack operation it serves."""

    engine: Engine
    stack: StackRecord
    #: event-loop time at which the stack operation times out
    deadline: float = math.inf
    #: persists each state change instead of `save_resource`, told whether it is the final
    #: state of the operation: a convergence node takes the row's lock with its first write
    #: and saves its final state with its deliveries
    persist: Callable[[ResourceRecord, EventRecord, bool], Awaitable[None]] | None = None
    #: the legacy walk's write-behind (see `Journal`; its `record` is then `persist`), which
    #: also holds the walk's other row writes
    journal: Journal | None = None

    def interruption(self) -> str:
        return "timed out" if anyio.current_time() >= self.deadline else "cancelled"


@dataclass(frozen=True)
class Outcome:
    """The row after the operation, and whether the actor asked for replacement instead."""

    row: ResourceRecord
    replace: bool = False

    @property
    def failed(self) -> bool:
        return self.row.status is Status.FAILED


def new_row(stack: StackRecord, name: str, type_name: str, template_id: str | None,
            replaces: str | None = None) -> ResourceRecord:
    return ResourceRecord(
        id=new_id(), stack_id=stack.id, name=name, type=type_name, physical_id=None,
        action=Action.INIT, status=Status.COMPLETE, reason="", properties={}, attributes={},
        template_id=template_id, requires=(), replaces=replaces, replaced_by=None,
        created_at=time.time(), updated_at=None,
    )


def event_for(row: ResourceRecord) -> EventRecord:
    return EventRecord(
        stack_id=row.stack_id, resource_name=row.name, physical_id=row.physical_id,
        action=row.action, status=row.status, reason=row.reason,
        time=row.updated_at or row.created_at, resource_id=row.id, resource_type=row.type,
    )


async def transition(scope: OperationScope, row: ResourceRecord, action: Action, status: Status,
                     reason: str, *, final: bool = False, **changes: Any) -> ResourceRecord:
    """Persist the row in its new state together with the event that reports it, and report
    it once persisted: through `scope.persist` when the scope has one (`final` marks the
    COMPLETE state that ends the operation)."""
    updated = evolve(row, action=action, status=status, reason=reason,
                     updated_at=time.time(), **changes)
    event = event_for(updated)
    if scope.persist is not None:
        await scope.persist(updated, event, final)
    else:
        await scope.engine.store.save_resource(updated, event)
        report(scope.engine, scope.stack.name, event)
    return updated


def report(engine: Engine, stack_name: str, event: EventRecord) -> None:
    """Publish a persisted resource event and log it."""
    engine.published(event)
    engine.log.info(f"resource.{event.action.value.lower()}.{event.status.value.lower()}",
                    stack=stack_name, resource=event.resource_name, reason=event.reason or None)


def _context(scope: OperationScope, row: ResourceRecord, operation: Operation) -> ActorContext:
    return ActorContext(
        stack_name=scope.stack.name, stack_id=scope.stack.id, resource_name=row.name,
        resource_id=row.id, operation=operation,
        idempotency_key=f"{row.id}:{operation.value}",
    )


def failure_reason(err: Exception) -> str:
    if isinstance(err, ResourceFailure):
        return str(err) or type(err).__name__
    return f"{type(err).__name__}: {err}"


async def _call(
    scope: OperationScope, row: ResourceRecord, action: Action,
    call: Callable[[], Awaitable[T]],
) -> T | ResourceRecord:
    """Run an actor call under the limiter; a failure or interruption becomes a FAILED row.
    (An error of the store's while waiting for a slot is the store's, not the actor's: it
    propagates.)"""
    limiter = scope.engine.limiter
    try:
        try:
            limiter.acquire_nowait()  # no reschedule when a slot is free and nobody waits
        except anyio.WouldBlock:
            if scope.journal is not None:
                await scope.journal.flush()  # what it holds must not wait for a free slot
            await limiter.acquire()
    except anyio.get_cancelled_exc_class():
        await _interrupted(scope, row, action)
        raise
    try:
        started = anyio.current_time()
        try:
            return await call()
        finally:
            limiter.release()
            scope.engine.timed_action(anyio.current_time() - started)
    except ReplaceRequired:
        raise
    except anyio.get_cancelled_exc_class():
        await _interrupted(scope, row, action)
        raise
    except Exception as err:
        return await transition(scope, row, action, Status.FAILED, failure_reason(err))


async def _interrupted(scope: OperationScope, row: ResourceRecord, action: Action) -> None:
    """Save the row FAILED with the interruption's reason (stack cancel, stack timeout)."""
    with anyio.CancelScope(shield=True):
        await transition(scope, row, action, Status.FAILED, scope.interruption())


async def create(scope: OperationScope, row: ResourceRecord, props: Mapping[str, Any],
                 requires: tuple[str, ...] = ()) -> Outcome:
    actor = _actor(scope, row)
    row = await transition(scope, row, Action.CREATE, Status.IN_PROGRESS, "state changed",
                           properties=dict(props), requires=requires)
    ctx = _context(scope, row, Operation.CREATE)
    result = await _call(scope, row, Action.CREATE, lambda: actor.create(ctx, props))
    if isinstance(result, ResourceRecord):
        return Outcome(result)
    if not isinstance(result, Created):
        failed = await transition(scope, row, Action.CREATE, Status.FAILED,
                                  f"{row.type}.create returned {type(result).__name__}, "
                                  "not Created")
        return Outcome(failed)
    done = await transition(scope, row, Action.CREATE, Status.COMPLETE, COMPLETE_REASON,
                            final=True,
                            physical_id=result.physical_id, attributes=dict(result.attributes))
    return Outcome(done)


async def update(scope: OperationScope, row: ResourceRecord, props: Mapping[str, Any],
                 changed: frozenset[str], requires: tuple[str, ...] = ()) -> Outcome:
    """Update in place; `Outcome.replace` is set (row untouched) if the actor asks to replace."""
    actor = _actor(scope, row)
    old_props = row.properties
    physical_id = row.physical_id or ""
    ctx = _context(scope, row, Operation.UPDATE)
    started = await transition(scope, row, Action.UPDATE, Status.IN_PROGRESS, "state changed")
    try:
        result = await _call(scope, started, Action.UPDATE,
                             lambda: actor.update(ctx, physical_id, old_props, props, changed))
    except ReplaceRequired:
        restored = await transition(scope, started, row.action, row.status,
                                    "replacement required")
        return Outcome(restored, replace=True)
    if isinstance(result, ResourceRecord):
        return Outcome(result)
    done = await transition(scope, started, Action.UPDATE, Status.COMPLETE, COMPLETE_REASON,
                            final=True,
                            properties=dict(props), attributes=dict(result), requires=requires)
    return Outcome(done)


async def delete(scope: OperationScope, row: ResourceRecord, *, retain: bool = False,
                 action: Action = Action.DELETE) -> Outcome:
    """Delete the physical resource (unless retained); the caller removes the row on success."""
    if row.physical_id is None:
        done = await transition(scope, row, action, Status.COMPLETE, "nothing to delete",
                                final=True)
        return Outcome(done)
    if retain:
        done = await transition(scope, row, action, Status.COMPLETE,
                                "retained (deletion_policy: Retain)", final=True)
        return Outcome(done)
    actor = _actor(scope, row)
    physical_id = row.physical_id
    ctx = _context(scope, row, Operation.DELETE)
    started = await transition(scope, row, action, Status.IN_PROGRESS, "state changed")
    result = await _call(scope, started, action,
                         lambda: actor.delete(ctx, physical_id, row.properties))
    if isinstance(result, ResourceRecord):
        return Outcome(result)
    done = await transition(scope, started, action, Status.COMPLETE, COMPLETE_REASON,
                            final=True)
    return Outcome(done)


_SIMPLE = {
    Action.CHECK: Operation.CHECK,
    Action.SUSPEND: Operation.SUSPEND,
    Action.RESUME: Operation.RESUME,
}


async def simple(scope: OperationScope, row: ResourceRecord, action: Action) -> Outcome:
    """Check, suspend or resume one resource."""
    operation = _SIMPLE[action]
    actor = _actor(scope, row)
    method = getattr(actor, operation.value)
    physical_id = row.physical_id or ""
    ctx = _context(scope, row, operation)
    started = await transition(scope, row, action, Status.IN_PROGRESS, "state changed")
    if row.physical_id is None:
        failed = await transition(scope, started, action, Status.FAILED,
                                  "resource was never created")
        return Outcome(failed)
    result = await _call(scope, started, action,
                         lambda: method(ctx, physical_id, row.properties))
    if isinstance(result, ResourceRecord):
        return Outcome(result)
    done = await transition(scope, started, action, Status.COMPLETE, COMPLETE_REASON)
    return Outcome(done)


def _actor(scope: OperationScope, row: ResourceRecord) -> ResourceActor:
    actor = scope.engine.registry.get(row.type)
    if actor is None:
        raise LookupError(f"resource type {row.type} is not registered in this engine")
    return actor

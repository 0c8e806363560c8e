"""A node actor: one graph node of one traversal, run once its sync point is complete.

Steps (DESIGN section 7):

1. stop if the node's traversal is no longer the stack's current one;
2. take the resource lock (compare-and-set); if a live engine holds it, park
   the node on that resource (the holder's unlock re-triggers it); if a dead
   engine holds it, steal it. When the row read is unlocked and alone in its
   chain, the lock is taken by the node's first write instead (its IN_PROGRESS
   state), and only if the row is unchanged since it was read; if not, the
   node starts over, locking first;
3. do the work: create / update in place / replace / nothing (update nodes),
   delete or pass through (cleanup nodes), check / suspend / resume (walks);
4. save the state (the shared `operations` do, with events);
5. save the final state (or, for a deletion, drop the row), release the locks,
   deliver the dependency-satisfied message to the successors and remove the
   ready entry, in one store write (`finish_node`). An update node that kept its
   row also finishes that row's cleanup node, which has nothing to do, in the
   same write. A crash anywhere before that leaves the entry to be re-run;
   every step is safe to repeat.

Properties are resolved only from the data the predecessors delivered; a node
never loads the whole stack.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import anyio

from actors import Replacement
from storage import (
    Action,
    EventRecord,
    NodeKey,
    NodeState,
    Phase,
    ReadyNode,
    ResourceRecord,
    StackRecord,
    Status,
    TraversalRecord,
    evolve,
)
from supervisor import operations
from supervisor.convergence import traversal as traversals
from supervisor.convergence.priority import NO_TURN, Turn
from supervisor.diff import ChangeKind, changed_properties, classify, is_settled
from supervisor.engine import Engine
from supervisor.errors import TemplateError
from supervisor.operations import OperationScope, Outcome
from supervisor.template import CompiledTemplate, DeletionPolicy, ResourceData


class Host(Protocol):
    """What a node needs from the worker running it."""

    engine: Engine

    async def compiled(self, stack: StackRecord, template_id: str) -> CompiledTemplate: ...

    def adopt(self, entries: Sequence[ReadyNode]) -> None:
        """Run entries this engine has just claimed (made ready or unparked by us)."""

    def ended(self, traversal_id: str) -> None:
        """A node has just completed or failed its traversal."""


class Parked(Exception):
    """The node's resource is locked by a live engine; the node waits for its unlock."""


class Superseded(Exception):
    """The node's traversal is no longer current: the node stops without delivering."""


class Relock(Exception):
    """The row was locked or changed since the node read it, before the node's first write
    took its lock (nothing was written): the node starts over, locking first."""


async def run_node(host: Host, entry: ReadyNode, scope: anyio.CancelScope,
                   turn: Turn = NO_TURN) -> None:
    """Run one claimed ready entry to its end (or park it); `turn` is the node's place among
    the worker's nodes (`priority`), held from its start to its actor call and from the
    actor's return to its end."""
    store = host.engine.store
    state = await store.get_node_state(entry.traversal_id, entry.node)
    if state is None or not _current(state.stack, state.traversal):
        await store.finish_ready(entry.traversal_id, entry.node)
        return
    stack, traversal = state.stack, state.traversal
    if entry.node.phase is Phase.STACK:
        await traversals.complete(host.engine, stack, traversal)
        host.ended(traversal.id)
        return
    if traversal.deadline is not None:
        scope.deadline = anyio.current_time() + (traversal.deadline - host.engine.now())
    node = NodeRun(host, state, entry, scope.deadline, turn)
    try:
        failure = await node.run()
    except Parked:
        return
    except Superseded:
        await store.finish_ready(entry.traversal_id, entry.node)
        return
    if failure is not None:
        await traversals.fail(host.engine, stack, traversal, failure,
                              on_ready=lambda: None)
        await store.finish_ready(entry.traversal_id, entry.node)
        host.ended(traversal.id)


def _current(stack: StackRecord, traversal: TraversalRecord) -> bool:
    return stack.traversal_id == traversal.id and stack.status is Status.IN_PROGRESS


@dataclasses.dataclass
class NodeRun:
    host: Host
    state: NodeState
    entry: ReadyNode
    deadline: float
    turn: Turn = NO_TURN

    def __post_init__(self) -> None:
        self.stack = self.state.stack
        self.traversal = self.state.traversal
        self.sync = self.state.sync_point
        self.engine = self.host.engine
        self.store = self.engine.store
        self.op = OperationScope(self.engine, self.stack, self.deadline, persist=self._persist)
        self.held: list[str] = []
        self.finished = False
        #: may the node's first write take the lock of the row it read (`_take`)?
        self.deferring = True
        #: the row as read, whose lock the node's first write is to take
        self.deferred: ResourceRecord | None = None
        self.deferred_requires: tuple[str, ...] = ()
        #: the row whose final state ends the node, and whether the row goes with it
        self.ending: str | None = None
        self.dropping = False

    async def run(self) -> str | None:
        """Do the node's work; returns the failure reason (its locks released, its entry left
        for the caller), or None once it has finished: locks released, successors delivered
        to and its ready entry removed, in one store write."""
        try:
            try:
                try:
                    failure, data = await self._work()
                except Relock:
                    self.deferring, self.deferred = False, None
                    self.ending, self.dropping = None, False
                    failure, data = await self._work()
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._unlock_all()
                raise
            if self.finished:
                return failure
            with anyio.CancelScope(shield=True):
                if failure is None:
                    await self._finish(data)
                else:
                    await self._unlock_all()
            return failure
        finally:
            # the scope's hook refers back to this run: without this, every node would stay
            # in memory until a full garbage collection
            self.op.persist = None

    async def _work(self) -> tuple[str | None, Mapping[str, Any]]:
        if self.entry.node.phase is Phase.CLEANUP:
            return await self._cleanup()
        return await self._update()

    # locks

    async def _take(self, row: ResourceRecord,
                    requires: tuple[str, ...] = ()) -> ResourceRecord | None:
        """`_lock`, or, when the row read is unlocked and alone in its chain, the row as the
        lock would leave it, its lock deferred to the node's first write (`_persist`)."""
        if not (self.deferring and len(self.state.rows) == 1 and row.engine_id is None
                and row.replaces is None):
            return await self._lock(row, requires)
        self.deferred, self.deferred_requires = row, requires
        merged = tuple(sorted(set(row.requires) | set(requires))) if requires else row.requires
        return evolve(row, engine_id=self.engine.id, atomic_key=row.atomic_key + 1,
                      requires=merged)

    async def _confirm(self) -> None:
        """Take the deferred lock now: a write that is no state change is about to need it."""
        row, self.deferred = self.deferred, None
        if row is None:
            return
        if await self.store.lock_resource(row.id, self.engine.id, self.traversal.id,
                                          requires=self.deferred_requires,
                                          version=row.atomic_key) is None:
            raise Relock
        self.held.append(row.id)

    async def _lock(self, row: ResourceRecord,
                    requires: tuple[str, ...] = ()) -> ResourceRecord | None:
        """Lock `row` for this node and return its fresh state (None if it is gone).

        Raises `Parked` when a live engine holds it, `Superseded` when the node's
        traversal is no longer current (no lock can be taken for it then).
        `requires` is added to the row's `requires` as the lock is taken.
        """
        while True:
            locked = await self.store.lock_resource(row.id, self.engine.id, self.traversal.id,
                                                    requires=requires)
            if locked is not None:
                self.held.append(row.id)
                return locked
            current = await self.store.get_resource(row.id)
            if current is None:
                return None
            holder = current.engine_id
            if holder is not None and holder != self.engine.id \
                    and not await self.engine.is_alive(holder):
                locked = await self.store.lock_resource(row.id, self.engine.id,
                                                        self.traversal.id, holder, requires)
                if locked is not None:
                    self.engine.log.info("resource.lock.stolen", resource=row.name,
                                         engine_gone=holder[:8])
                    self.held.append(row.id)
                    return locked
            elif holder is not None and await self.store.park(
                    self.entry.traversal_id, self.entry.node, row.id):
                self.engine.log.debug("node.parked", stack=self.stack.name, resource=row.name)
                await self._unlock_all()
                raise Parked
            if not await self._still_current():
                raise Superseded

    async def _still_current(self) -> bool:
        stack = await self.store.get_stack(self.stack.id)
        return stack is not None and _current(stack, self.traversal)

    async def _unlock_all(self) -> None:
        while self.held:
            unparked = await self.store.unlock_resource(self.held.pop(), self.engine.id)
            if unparked:
                self.host.adopt(unparked)

    # update nodes

    async def _update(self) -> tuple[str | None, Mapping[str, Any]]:
        name = self.entry.node.ref
        assert self.traversal.template_id is not None
        target = await self.host.compiled(self.stack, self.traversal.template_id)
        walking = self.traversal.action in traversals.WALK_DIRECTION
        requires = () if walking else self._requires()
        row = self.state.rows[-1] if self.state.rows else None
        locked = None if row is None else await self._take(row, requires)
        if locked is None:
            if walking:
                return None, {}
            locked = await self._recreate(name, target.resources[name].type, requires)
        row = locked
        if walking:
            outcome = await operations.simple(self.op, row, self.traversal.action)
            return _result(outcome.row, Action(self.traversal.action))
        try:
            props = target.resolve_properties(name, self._lookup)
        except TemplateError as err:
            failed = await operations.transition(
                self.op, row, Action.CREATE if row.physical_id is None else Action.UPDATE,
                Status.FAILED, str(err))
            return _result(failed, failed.action)
        return await self._converge(row, target, name, props)

    async def _converge(self, row: ResourceRecord, target: CompiledTemplate, name: str,
                        props: dict[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
        definition = target.resources[name]
        requires = self._requires()
        template_id = self.traversal.template_id
        if row.action is Action.INIT or (row.action is Action.CREATE
                                         and row.status is Status.IN_PROGRESS):
            return await self._create(row, definition.type, props, requires)
        older = await self._reclaimable(row, definition.type, props)
        if older is not None:
            return _result(older, Action.UPDATE)
        actor = self.engine.registry.actor_class(definition.type)
        if actor is None:
            failed = await operations.transition(
                self.op, row, Action.UPDATE, Status.FAILED,
                f"resource type {definition.type} is not registered")
            return _result(failed, Action.UPDATE)
        change = classify(actor, row, definition.type, props)
        if change.kind is ChangeKind.UNCHANGED:
            if row.requires != requires or row.template_id != template_id:
                await self._confirm()
                row = evolve(row, requires=requires, template_id=template_id)
                await self.store.save_resource(row)
            return None, _data(row)
        if change.kind is ChangeKind.UPDATE:
            self.ending = row.id
            outcome = await operations.update(self.op, row, props, change.changed, requires)
            if not outcome.replace:
                return _result(_with_template(outcome, template_id), Action.UPDATE)
        return await self._replace(row, definition.type, props, requires)

    async def _replace(self, row: ResourceRecord, type_name: str, props: dict[str, Any],
                       requires: tuple[str, ...]) -> tuple[str | None, Mapping[str, Any]]:
        await self._confirm()
        fresh = evolve(
            operations.new_row(self.stack, row.name, type_name, self.traversal.template_id,
                               replaces=row.id),
            engine_id=self.engine.id, requires=requires)
        if not await self.store.replace_resource(
                evolve(row, replaced_by=fresh.id), fresh, self.traversal.id):
            raise Superseded
        self.held.append(fresh.id)
        return await self._create(fresh, type_name, props, requires)

    async def _create(self, row: ResourceRecord, type_name: str, props: dict[str, Any],
                      requires: tuple[str, ...]) -> tuple[str | None, Mapping[str, Any]]:
        """Create `row`'s resource. For a delete-before-create type, first delete the resource
        of the row it replaces and that row (also when re-run after a crash in between)."""
        actor = self.engine.registry.actor_class(type_name)
        if row.replaces is not None and actor is not None \
                and actor.replacement is Replacement.DELETE_BEFORE_CREATE:
            failure = await self._delete_predecessor(row.replaces)
            if failure is not None:
                return failure
        self.ending = row.id
        outcome = await operations.create(self.op, row, props, requires)
        return _result(outcome.row, Action.CREATE)

    async def _delete_predecessor(
            self, row_id: str) -> tuple[str | None, Mapping[str, Any]] | None:
        """Delete the replaced row `row_id` and its resource; the failure, or None."""
        older = await self.store.get_resource(row_id)
        if older is not None and older.id not in self.held:
            older = await self._lock(older)
        if older is None:
            return None
        if older.physical_id is None or (older.action is Action.DELETE
                                         and older.status is Status.COMPLETE):
            await self.store.delete_resource(older.id)  # its resource is gone already
            return None
        return await self._delete_row(older)

    async def _delete_row(self, row: ResourceRecord) -> tuple[str | None, Mapping[str, Any]] | None:
        """Delete `row`'s resource (honouring its deletion policy), then the row; the failure,
        or None."""
        policy = await self._policy(row)
        outcome = await operations.delete(self.op, row, retain=policy is DeletionPolicy.RETAIN)
        if outcome.failed:
            return _result(outcome.row, Action.DELETE)
        if not (self.finished and row.id == self.ending):  # else it went with the node's end
            await self.store.delete_resource(row.id)
        return None

    async def _reclaimable(self, row: ResourceRecord, type_name: str,
                           props: Mapping[str, Any]) -> ResourceRecord | None:
        """Take back the row this one replaced when it already matches (rollback)."""
        if row.replaces is None or (is_settled(row) and row.type == type_name
                                    and not changed_properties(row.properties, props)):
            return None
        older = await self.store.get_resource(row.replaces)
        if older is None or older.type != type_name or not is_settled(older) \
                or changed_properties(older.properties, props):
            return None
        await self._confirm()
        if await self.store.lock_resource(older.id, self.engine.id, self.traversal.id,
                                          requires=self._requires()) is None:
            return None
        self.held.append(older.id)
        back = evolve(older, replaced_by=None, requires=self._requires(),
                      template_id=self.traversal.template_id)
        await self.store.save_resources(
            [back, evolve(row, replaced_by=older.id)], [])
        self.engine.log.info("resource.reclaimed", stack=self.stack.name, resource=row.name)
        return back

    async def _recreate(self, name: str, type_name: str,
                        requires: tuple[str, ...]) -> ResourceRecord:
        """A new row for `name`, whose row was deleted meanwhile (by a superseded
        traversal's cleanup that held its lock when this traversal started)."""
        fresh = evolve(
            operations.new_row(self.stack, name, type_name, self.traversal.template_id),
            engine_id=self.engine.id, requires=requires)
        if not await self.store.replace_resource(None, fresh, self.traversal.id):
            raise Superseded
        self.held.append(fresh.id)
        return fresh

    def _lookup(self, name: str) -> ResourceData | None:
        for delivery in self.sync.inputs:
            if delivery.sender == NodeKey(Phase.UPDATE, name):
                data = delivery.data
                return ResourceData(physical_id=data.get("physical_id"),
                                    attributes=data.get("attributes") or {})
        return None

    def _requires(self) -> tuple[str, ...]:
        return tuple(sorted(
            str(d.data["row_id"]) for d in self.sync.inputs
            if d.sender.phase is Phase.UPDATE and d.data.get("row_id")))

    # cleanup nodes

    async def _cleanup(self) -> tuple[str | None, Mapping[str, Any]]:
        if not self.state.rows:
            return None, {}
        row = self.state.rows[0]
        target = None if self.traversal.template_id is None else \
            await self.host.compiled(self.stack, self.traversal.template_id)
        kept = target is not None and row.name in target.resources
        if kept and row.replaced_by is None:
            # its update node, which ran before this one, kept it: nothing to delete
            return None, {}
        locked = await self._take(row)
        if locked is None:
            return None, {}
        row = locked
        if kept:
            doomed = [row] if row.replaced_by is not None else []
        else:
            doomed = list(reversed(self.state.rows))  # newest first
        for doomed_row in doomed:
            victim = doomed_row if doomed_row.id == row.id else await self._lock(doomed_row)
            if victim is None:
                continue
            if doomed_row is doomed[-1]:
                self.ending, self.dropping = victim.id, True
            failure = await self._delete_row(victim)
            if failure is not None:
                return failure
        return None, {}

    async def _policy(self, row: ResourceRecord) -> DeletionPolicy:
        if row.template_id is None:
            return DeletionPolicy.DELETE
        try:
            template = await self.host.compiled(self.stack, row.template_id)
        except TemplateError:
            return DeletionPolicy.DELETE
        definition = template.resources.get(row.name)
        return DeletionPolicy.DELETE if definition is None else definition.deletion_policy

    # delivery

    async def _persist(self, row: ResourceRecord, event: EventRecord, final: bool) -> None:
        """Persist a state change of the node's operation (`OperationScope.persist`), then
        report it: the first takes the deferred lock with it, the final one of the row that
        ends the node ends it (`_finish`); any other is a plain save."""
        ends = final and row.id == self.ending
        if final and self.turn is not NO_TURN:  # (a cancel scope per node costs ~15 µs)
            # the actor has returned: the node's end is a step to take in turn, and its
            # outcome is saved whatever comes (a cancel would lose a created resource)
            with anyio.CancelScope(shield=True):
                await self.turn.take()
        deferred = self.deferred
        if deferred is not None and deferred.id == row.id:
            if ends:
                await self._confirm()  # a first state change that is also the last
            else:
                self.deferred = None
                if await self.store.lock_resource(row.id, self.engine.id, self.traversal.id,
                                                  version=deferred.atomic_key,
                                                  save=(row, event)) is None:
                    raise Relock
                self.held.append(row.id)
                self.turn.release()  # the actor works next
                operations.report(self.engine, self.stack.name, event)
                return
        if ends:
            with anyio.CancelScope(shield=True):
                await self._finish(_data(row), (row, event), drop=self.dropping)
        else:
            await self.store.save_resource(row, event)
        if not final:
            self.turn.release()  # the actor works next
        operations.report(self.engine, self.stack.name, event)

    async def _finish(self, data: Mapping[str, Any],
                      save: tuple[ResourceRecord, EventRecord] | None = None,
                      drop: bool = False) -> None:
        deliveries = [(succ, data if succ.phase is Phase.UPDATE else {})
                      for succ in self.sync.successors]
        held, self.held = self.held, []
        claimed = await self.store.finish_node(self.traversal.id, self.entry.node,
                                               self.engine.id, held, deliveries, save,
                                               drop=drop, passes=self._passes(data))
        self.finished = True
        if claimed:
            self.host.adopt(claimed)

    def _passes(self, data: Mapping[str, Any]) -> tuple[NodeKey, ...]:
        """The cleanup node of the row this update node kept has nothing to do: it runs
        within this node's end (`Store.finish_node`)."""
        rows = self.state.rows
        if self.entry.node.phase is not Phase.UPDATE or len(rows) != 1 \
                or rows[0].replaced_by is not None or data.get("row_id") != rows[0].id:
            return ()
        return (NodeKey(Phase.CLEANUP, rows[0].id),)


def _data(row: ResourceRecord) -> dict[str, Any]:
    return {"row_id": row.id, "physical_id": row.physical_id,
            "attributes": dict(row.attributes)}


def _result(row: ResourceRecord, action: Action) -> tuple[str | None, Mapping[str, Any]]:
    if row.status is Status.FAILED:
        return f"Resource {action.value} failed: {row.name}: {row.reason}", {}
    return None, _data(row)


def _with_template(outcome: Outcome, template_id: str | None) -> ResourceRecord:
    return evolve(outcome.row, template_id=template_id)

"""Traversals: how a convergence operation starts, fails, and completes.

`begin` starts a traversal in one store transaction (`Store.start_traversal`):
it reads the stack and its rows, builds the graph, and writes the traversal,
its sync points, the ready leaves, the rows of new resources and the stack's
new state, superseding (and purging) the traversal that was current. Nothing
can change the rows in between: a node of the superseded traversal can no
longer take a resource lock, and one that holds a lock already shows it (and
the dependencies its operation adds) in the rows the graph is built from.

`fail` and `complete` are called by the node that observed the outcome; both
act only if the traversal is still the stack's current one. A failure with
rollback enabled starts the rollback traversal in the same step (the stack
goes from `X_IN_PROGRESS` straight to `ROLLBACK_IN_PROGRESS`, with the
`X_FAILED` event recorded), so waiters never see a transient FAILED.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from storage import (
    Action,
    EventRecord,
    ResourceRecord,
    StackRecord,
    Status,
    SyncPoint,
    TemplateRecord,
    TraversalRecord,
    TraversalStart,
    evolve,
)
from supervisor.compiling import compile_stored, display_parameters
from supervisor.convergence.graph import Graph, build_graph, build_walk, slacks
from supervisor.engine import Engine, new_id
from supervisor.lifecycle import stack_event
from supervisor.operations import new_row
from supervisor.rows import Rows
from supervisor.template import CompiledTemplate

WALK_DIRECTION = {Action.CHECK: 0, Action.RESUME: 1, Action.SUSPEND: -1}


@dataclass(frozen=True)
class Plan:
    """What a traversal is to do and how the stack looks while it does it."""

    action: Action
    #: target template (None: the empty template, i.e. delete everything)
    template_id: str | None
    target: CompiledTemplate | None
    #: template to roll back to on failure (None with rollback: the empty template)
    previous_template_id: str | None
    rollback_on_failure: bool
    timeout_mins: int | None
    reason: str
    #: stack columns to set when the traversal starts (template ids, parameters, ...)
    stack_changes: dict[str, object] = dataclasses.field(default_factory=dict)
    #: an event to record just before the start (the FAILED state a rollback follows)
    prelude: EventRecord | None = None
    #: the new target template, stored with the traversal (an update's)
    template: TemplateRecord | None = None


def create_plan(stack: StackRecord, template_id: str, target: CompiledTemplate) -> Plan:
    return Plan(action=Action.CREATE, template_id=template_id, target=target,
                previous_template_id=None, rollback_on_failure=not stack.disable_rollback,
                timeout_mins=stack.timeout_mins, reason="Stack CREATE started")


def not_started(stack: StackRecord) -> bool:
    """A stack stored for its create whose create traversal has not started yet."""
    return stack.traversal_id is None


async def begin(engine: Engine, stack: StackRecord, plan: Plan,
                on_ready: Callable[[], None] | None = None,
                only_if: Callable[[StackRecord], bool] | None = None) -> StackRecord | None:
    """Start the traversal of `plan`, superseding whatever traversal is current.

    With `only_if`, only if it holds for the stack as stored when the traversal
    would start (else nothing is written and None is returned).
    """
    now = engine.now()  # read here: `build` runs in the store's transaction, maybe a thread

    def build(fresh: StackRecord, stored: list[ResourceRecord]) -> TraversalStart | None:
        if only_if is not None and not only_if(fresh):
            return None
        return _build(fresh, Rows(stored), plan, now)

    started = await engine.store.start_traversal(stack.id, build)
    if started is None:
        return None
    for event in started.events:
        engine.published(event)
    if on_ready is not None:
        on_ready()
    engine.log.info("traversal.start", stack=stack.name, traversal=started.traversal.id[:8],
                    action=plan.action.value, nodes=len(started.sync_points))
    return started.stack


def _build(stack: StackRecord, rows: Rows, plan: Plan, now: float) -> TraversalStart:
    """The records of a traversal of `plan` over the stack's rows, starting at `now` (run
    inside the store's transaction: pure, no I/O)."""
    traversal_id = new_id()
    current, fresh_rows = _bind_rows(stack, rows, plan)
    graph = _graph_for(stack, plan, current, rows)
    traversal = TraversalRecord(
        id=traversal_id, stack_id=stack.id, action=plan.action, template_id=plan.template_id,
        previous_template_id=plan.previous_template_id,
        rollback_on_failure=plan.rollback_on_failure,
        deadline=now + plan.timeout_mins * 60 if plan.timeout_mins else None, created_at=now)
    updated = evolve(
        stack, action=plan.action, status=Status.IN_PROGRESS, reason=plan.reason,
        updated_at=now, traversal_id=traversal_id, **plan.stack_changes)
    events = [] if plan.prelude is None else [plan.prelude]
    events.append(stack_event(updated))
    return TraversalStart(stack=updated, traversal=traversal,
                          sync_points=sync_points(traversal_id, stack.id, graph),
                          new_resources=fresh_rows, events=events, template=plan.template)


def _bind_rows(stack: StackRecord, rows: Rows,
               plan: Plan) -> tuple[dict[str, ResourceRecord], list[ResourceRecord]]:
    """The row each update node works on: the name's current row, or a new one."""
    current: dict[str, ResourceRecord] = {}
    fresh: list[ResourceRecord] = []
    if plan.target is None:
        return current, fresh
    walking = plan.action in WALK_DIRECTION
    for name, definition in plan.target.resources.items():
        row = rows.current(name)
        if row is None and not walking:
            row = new_row(stack, name, definition.type, plan.template_id)
            fresh.append(row)
        if row is not None:
            current[name] = row
    return current, fresh


def _graph_for(stack: StackRecord, plan: Plan, current: dict[str, ResourceRecord],
               rows: Rows) -> Graph:
    if plan.action in WALK_DIRECTION:
        assert plan.target is not None
        return build_walk(stack.id, plan.target, current, WALK_DIRECTION[plan.action])
    return build_graph(stack.id, plan.target, current, rows)


def sync_points(traversal_id: str, stack_id: str, graph: Graph) -> list[SyncPoint]:
    slack = slacks(graph)
    return [
        SyncPoint(traversal_id=traversal_id, stack_id=stack_id, node=node.key,
                  remaining=len(node.predecessors),
                  successors=tuple(sorted(node.successors)),
                  row_id=node.row_id, slack=slack[node.key])
        for node in graph.nodes.values()
    ]


async def fail(engine: Engine, stack: StackRecord, traversal: TraversalRecord, reason: str,
               *, rollback: bool | None = None,
               on_ready: Callable[[], None] | None = None) -> StackRecord | None:
    """End `traversal` FAILED (or start its rollback); None if it is no longer current."""
    wants_rollback = traversal.rollback_on_failure if rollback is None else rollback
    failed = evolve(stack, action=traversal.action, status=Status.FAILED,
                    reason=reason, updated_at=engine.now())
    if wants_rollback and traversal.action in (Action.CREATE, Action.UPDATE):
        plan = await rollback_plan(engine, stack, traversal, stack_event(failed))
        return await begin(engine, stack, plan, on_ready,
                           only_if=lambda fresh: fresh.traversal_id == traversal.id
                           and fresh.status is Status.IN_PROGRESS)
    event = stack_event(failed)
    if not await engine.store.save_stack_in_traversal(failed, traversal.id, event):
        return None
    engine.published(event)
    await engine.store.purge_traversal(traversal.id)
    engine.log.info("traversal.failed", stack=stack.name, traversal=traversal.id[:8],
                    reason=reason)
    return failed


async def rollback_plan(engine: Engine, stack: StackRecord, traversal: TraversalRecord,
                        prelude: EventRecord | None) -> Plan:
    """Roll back to the template before `traversal` (the empty template after a create)."""
    target_id = traversal.previous_template_id if traversal.action is Action.UPDATE else None
    target = None if target_id is None else await compile_stored(engine, stack, target_id)
    changes: dict[str, object] = {}
    if target is not None:
        changes = {"template_id": target_id, "prev_template_id": None,
                   "parameters": display_parameters(target)}
    return Plan(action=Action.ROLLBACK, template_id=target_id, target=target,
                previous_template_id=None, rollback_on_failure=False,
                timeout_mins=stack.timeout_mins, reason="Stack ROLLBACK started",
                stack_changes=changes, prelude=prelude)


async def complete(engine: Engine, stack: StackRecord,
                   traversal: TraversalRecord) -> StackRecord | None:
    """The stack node ran: the traversal succeeded. None if it was superseded meanwhile."""
    done = evolve(
        stack, action=traversal.action, status=Status.COMPLETE,
        reason=f"Stack {traversal.action.value} completed successfully", updated_at=engine.now())
    event = stack_event(done)
    if traversal.action is Action.DELETE:
        # one step: a crash must not leave a DELETE_COMPLETE stack holding its name
        if not await engine.store.delete_stack_in_traversal(stack.id, traversal.id):
            return None
        engine.published(event)
        engine.log.info("traversal.complete", stack=stack.name, traversal=traversal.id[:8])
        return done
    if not await engine.store.save_stack_in_traversal(done, traversal.id, event):
        return None
    engine.published(event)
    await engine.store.purge_traversal(traversal.id)
    await engine.store.purge_templates(stack.id)
    engine.log.info("traversal.complete", stack=stack.name, traversal=traversal.id[:8])
    return done

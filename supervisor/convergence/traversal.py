"""Traversals: how a convergence operation starts, fails, and completes.

`begin` starts a traversal with one compare-and-set on the stack's traversal
id: it reads the rows, builds the graph, and writes the traversal, its sync
points, the ready leaves, the rows of new resources and the stack's new state
in one store transaction. If another starter won in between, it re-reads and
tries again, so the last starter's traversal is current and earlier ones stop
propagating.

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
)
from supervisor.compiling import compile_stored, display_parameters
from supervisor.convergence.graph import Graph, build_graph, build_walk
from supervisor.engine import Engine, new_id
from supervisor.errors import StateError
from supervisor.lifecycle import stack_event
from supervisor.operations import new_row
from supervisor.rows import Rows
from supervisor.template import CompiledTemplate

WALK_DIRECTION = {Action.CHECK: 0, Action.RESUME: 1, Action.SUSPEND: -1}
MAX_START_ATTEMPTS = 50


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


async def begin(engine: Engine, stack: StackRecord, plan: Plan,
                on_ready: Callable[[], None] | None = None) -> StackRecord:
    """Start the traversal of `plan`, superseding whatever traversal is current."""
    for _ in range(MAX_START_ATTEMPTS):
        started = await _start(engine, stack, stack.traversal_id, plan)
        if started is not None:
            if on_ready is not None:
                on_ready()
            return started
        fresh = await engine.store.get_stack(stack.id)
        if fresh is None:
            raise StateError(f"stack {stack.name!r} was deleted meanwhile", stack=stack.name)
        stack = fresh
    raise StateError(f"stack {stack.name!r}: too many concurrent operations, try again",
                     stack=stack.name)


async def _start(engine: Engine, stack: StackRecord, expected: str | None,
                 plan: Plan) -> StackRecord | None:
    """One attempt: start `plan` if `expected` is still the current traversal."""
    rows = Rows(await engine.store.list_resources(stack.id))
    traversal_id = new_id()
    current, fresh_rows = _bind_rows(stack, rows, plan)
    graph = _graph_for(stack, plan, current, rows)
    now = engine.now()
    traversal = TraversalRecord(
        id=traversal_id, stack_id=stack.id, action=plan.action, template_id=plan.template_id,
        previous_template_id=plan.previous_template_id,
        rollback_on_failure=plan.rollback_on_failure,
        deadline=now + plan.timeout_mins * 60 if plan.timeout_mins else None, created_at=now)
    updated = dataclasses.replace(
        stack, action=plan.action, status=Status.IN_PROGRESS, reason=plan.reason,
        updated_at=now, traversal_id=traversal_id, **plan.stack_changes)  # type: ignore[arg-type]
    event = stack_event(updated)
    if plan.prelude is not None:
        await engine.store.append_event(plan.prelude)
    if not await engine.store.start_traversal(updated, expected, traversal,
                                              sync_points(traversal_id, stack.id, graph),
                                              fresh_rows, event, plan.template):
        return None
    if plan.prelude is not None:
        engine.published(plan.prelude)
    engine.published(event)
    if expected is not None:
        # the superseded traversal's in-flight nodes finish their operation, find no sync
        # points to deliver to, and stop
        await engine.store.purge_traversal(expected)
    engine.log.info("traversal.start", stack=stack.name, traversal=traversal_id[:8],
                    action=plan.action.value, nodes=len(graph.nodes))
    return updated


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
    return [
        SyncPoint(traversal_id=traversal_id, stack_id=stack_id, node=node.key,
                  remaining=len(node.predecessors),
                  successors=tuple(sorted(node.successors, key=lambda k: (k.phase, k.ref))),
                  row_id=node.row_id)
        for node in graph.nodes.values()
    ]


async def fail(engine: Engine, stack: StackRecord, traversal: TraversalRecord, reason: str,
               *, rollback: bool | None = None,
               on_ready: Callable[[], None] | None = None) -> StackRecord | None:
    """End `traversal` FAILED (or start its rollback); None if it is no longer current."""
    wants_rollback = traversal.rollback_on_failure if rollback is None else rollback
    failed = dataclasses.replace(stack, action=traversal.action, status=Status.FAILED,
                                 reason=reason, updated_at=engine.now())
    if wants_rollback and traversal.action in (Action.CREATE, Action.UPDATE):
        plan = await rollback_plan(engine, stack, traversal, stack_event(failed))
        return await _begin_if_current(engine, stack, traversal, plan, on_ready)
    event = stack_event(failed)
    if not await engine.store.save_stack_in_traversal(failed, traversal.id, event):
        return None
    engine.published(event)
    await engine.store.purge_traversal(traversal.id)
    engine.log.info("traversal.failed", stack=stack.name, traversal=traversal.id[:8],
                    reason=reason)
    return failed


async def _begin_if_current(engine: Engine, stack: StackRecord, traversal: TraversalRecord,
                            plan: Plan, on_ready: Callable[[], None] | None) -> StackRecord | None:
    fresh = await engine.store.get_stack(stack.id)
    if fresh is None or fresh.traversal_id != traversal.id:
        return None
    started = await _start(engine, fresh, traversal.id, plan)
    if started is not None and on_ready is not None:
        on_ready()
    return started


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
    done = dataclasses.replace(
        stack, action=traversal.action, status=Status.COMPLETE,
        reason=f"Stack {traversal.action.value} completed successfully", updated_at=engine.now())
    event = stack_event(done)
    if not await engine.store.save_stack_in_traversal(done, traversal.id, event):
        return None
    engine.published(event)
    await engine.store.purge_traversal(traversal.id)
    if traversal.action is Action.DELETE:
        await engine.store.delete_stack(stack.id)
    else:
        await engine.store.purge_templates(stack.id)
    engine.log.info("traversal.complete", stack=stack.name, traversal=traversal.id[:8])
    return done

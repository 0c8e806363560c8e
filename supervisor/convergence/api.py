"""Stack operations on the convergence path.

Each operation starts a traversal (superseding any in progress) and, like the
legacy path, returns once the stack has settled: this process's worker helps
with the stack's ready nodes meanwhile, and so may any other engine on the
store. A stack that settles under a newer operation (another process's
update) is reported in the state that operation left it.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

from storage import Action, StackRecord, Status, TemplateRecord, evolve
from supervisor.compiling import compile_stored, display_parameters
from supervisor.convergence import traversal as traversals
from supervisor.convergence.traversal import Plan
from supervisor.convergence.worker import Worker, working
from supervisor.engine import Engine
from supervisor.errors import InputError, StateError
from supervisor.template import CompiledTemplate

#: poll intervals between two reads of a settling stack when nothing signalled its end
SETTLE_POLLS = 5


async def run_plan(engine: Engine, stack: StackRecord, plan: Plan,
                   only_if: Callable[[StackRecord], bool] | None = None) -> StackRecord:
    """Start `plan` (if `only_if` holds for the stack as stored) and help until the stack
    settles."""
    async with working(engine, stack.id) as worker:
        if plan.template_id is not None and plan.target is not None:
            worker.remember(plan.template_id, plan.target)
        await traversals.begin(engine, stack, plan, worker.wake, only_if)
        return await settled(engine, stack, worker)


async def settled(engine: Engine, stack: StackRecord, worker: Worker) -> StackRecord:
    """Wait until the stack leaves IN_PROGRESS; a deleted stack is reported DELETE_COMPLETE.

    The store is read again as soon as `worker` has ended a traversal (and none of its nodes
    runs here any more), and otherwise every `SETTLE_POLLS` poll intervals: another process
    may end it. A hundred stacks settling in one process must not poll the store a hundred
    times per interval."""
    last = stack
    while True:
        ended = worker.traversal_ended()
        fresh = await engine.store.get_stack(stack.id)
        if fresh is None:
            return evolve(last, action=Action.DELETE, status=Status.COMPLETE,
                          reason="Stack DELETE completed successfully")
        last = fresh
        if fresh.status is not Status.IN_PROGRESS:
            return fresh
        with anyio.move_on_after(engine.config.poll_interval * SETTLE_POLLS):
            await ended.wait()


async def create(engine: Engine, stack: StackRecord, template: TemplateRecord,
                 compiled: CompiledTemplate) -> StackRecord:
    """`stack` is stored already (CREATE_IN_PROGRESS, no traversal); start its create
    traversal, unless a recovering engine already did."""
    return await run_plan(engine, stack, traversals.create_plan(stack, template.id, compiled),
                          traversals.not_started)


async def update(engine: Engine, stack: StackRecord, template: TemplateRecord,
                 compiled: CompiledTemplate, disable_rollback: bool,
                 timeout_mins: int | None) -> StackRecord:
    plan = Plan(
        action=Action.UPDATE, template_id=template.id, target=compiled,
        previous_template_id=stack.template_id, rollback_on_failure=not disable_rollback,
        timeout_mins=timeout_mins, reason="Stack UPDATE started",
        stack_changes={"template_id": template.id, "prev_template_id": stack.template_id,
                       "parameters": display_parameters(compiled),
                       "disable_rollback": disable_rollback, "timeout_mins": timeout_mins},
        template=template)
    return await run_plan(engine, stack, plan)


async def delete(engine: Engine, stack: StackRecord) -> StackRecord:
    plan = Plan(action=Action.DELETE, template_id=None, target=None, previous_template_id=None,
                rollback_on_failure=False, timeout_mins=stack.timeout_mins,
                reason="Stack DELETE started")
    return await run_plan(engine, stack, plan)


async def walk(engine: Engine, stack: StackRecord, action: Action) -> StackRecord:
    """Check, suspend or resume every resource as a traversal."""
    if stack.template_id is None:
        raise InputError(f"stack {stack.name!r} has no template", stack=stack.name)
    if stack.status is Status.IN_PROGRESS:
        raise StateError(f"stack {stack.name!r} is {stack.action.value}_IN_PROGRESS: wait for "
                         f"it before a {action.value.lower()}", stack=stack.name)
    compiled = await compile_stored(engine, stack, stack.template_id)
    plan = Plan(action=action, template_id=stack.template_id, target=compiled,
                previous_template_id=None, rollback_on_failure=False,
                timeout_mins=stack.timeout_mins, reason=f"Stack {action.value} started")
    return await run_plan(engine, stack, plan)


async def cancel(engine: Engine, stack: StackRecord, rollback: bool) -> StackRecord:
    """Cancel the in-flight actors of the current traversal, then roll back if asked."""
    traversal = None if stack.traversal_id is None else \
        await engine.store.get_traversal(stack.traversal_id)
    if traversal is None or stack.status is not Status.IN_PROGRESS:
        raise StateError(f"stack {stack.name!r} is {stack.action.value}_{stack.status.value}: "
                         "there is no operation in progress to cancel", stack=stack.name)
    wanted = rollback and (traversal.action is Action.UPDATE or traversal.rollback_on_failure)
    # Fail (or start the rollback) first, then flag the traversal so that workers cancel its
    # running actors: a crash in between leaves the stack failed or rolling back, and those
    # actors merely run to their end, where the other order left an IN_PROGRESS stack whose
    # work was cancelled, reported later as "Engine went down".
    ended = await traversals.fail(engine, stack, traversal, "cancelled", rollback=wanted)
    await engine.store.cancel_traversal(traversal.id)
    return stack if ended is None else ended


async def wait(engine: Engine, stack: StackRecord) -> StackRecord:
    """Help the stack's traversal (resuming a dead engine's work) until it settles."""
    if stack.status is not Status.IN_PROGRESS:
        return stack
    async with working(engine, stack.id) as worker:
        await worker.recover()
        return await settled(engine, stack, worker)


async def migrate(engine: Engine, stack: StackRecord) -> StackRecord:
    """Move a legacy stack at rest onto the convergence path."""
    if stack.convergence:
        raise StateError(f"stack {stack.name!r} is already a convergence stack",
                         stack=stack.name)
    if stack.status is Status.IN_PROGRESS or not await engine.store.acquire_stack_lock(
            stack.id, engine.id):
        raise StateError(f"stack {stack.name!r} is {stack.action.value}_{stack.status.value}: "
                         "only a stack at rest can be migrated", stack=stack.name)
    try:
        migrated = evolve(stack, convergence=True, updated_at=engine.now())
        await engine.store.save_stack(migrated)
    finally:
        with anyio.CancelScope(shield=True):
            await engine.store.release_stack_lock(stack.id, engine.id)
    engine.log.info("stack.migrated", stack=stack.name)
    return migrated

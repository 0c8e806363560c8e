"""Stack operations as users ask for them: create, update, delete, check, suspend, resume, cancel.

Each operation validates everything first (a `TemplateError` or `InputError`
leaves the store untouched), then hands the work to the stack's code path:
the legacy supervisor (under the stack lock, in this module) or a convergence
traversal (`supervisor.convergence.api`). A stack stays on the path that
created it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import anyio

from storage import Action, StackExists, StackRecord, Status, TemplateRecord, evolve
from supervisor import legacy
from supervisor.compiling import (
    compile_inputs,
    compile_stored,
    display_parameters,
    inputs_of,
    policies_for,
    purge_templates,
    update_inputs,
)
from supervisor.convergence import api as converge_api
from supervisor.engine import Engine, new_id
from supervisor.errors import InputError, StateError
from supervisor.inputs import Inputs
from supervisor.lifecycle import holding_lock, load_stack, set_state, stack_event
from supervisor.operations import OperationScope
from supervisor.planning import PlannedChange, plan_changes
from supervisor.rows import Rows
from supervisor.runner import NO_ROLLBACK, Finisher, RollbackPolicy, Work, run_operation
from supervisor.template import CompiledTemplate


class RollbackMode(enum.Enum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    KEEP = "keep"


@dataclass(frozen=True)
class CreateOptions:
    convergence: bool | None = None
    disable_rollback: bool = True
    timeout_mins: int | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpdateOptions:
    existing: bool = False
    rollback: RollbackMode = RollbackMode.KEEP
    timeout_mins: int | None = None


async def create_stack(engine: Engine, name: str, inputs: Inputs,
                       options: CreateOptions = CreateOptions()) -> StackRecord:
    stack_id = new_id()
    compiled = compile_inputs(engine, name, stack_id, inputs)
    _check_name(name)
    convergence = engine.config.convergence_engine if options.convergence is None \
        else options.convergence
    _check_timeout(options.timeout_mins)
    template = TemplateRecord(id=new_id(), stack_id=stack_id, template=inputs.template,
                              files=inputs.files, environment=inputs.environment)
    now = engine.now()
    stack = StackRecord(
        id=stack_id, name=name, convergence=convergence, action=Action.CREATE,
        status=Status.IN_PROGRESS, reason="Stack CREATE started", template_id=template.id,
        prev_template_id=None, parameters=display_parameters(compiled),
        disable_rollback=options.disable_rollback, timeout_mins=options.timeout_mins,
        tags=options.tags, created_at=now, updated_at=None, engine_id=engine.id,
    )
    if convergence:
        # no lock: the create traversal starts next (`Worker.recover` starts it if this
        # process dies before it does)
        stack = evolve(stack, engine_id=None)
    try:
        await engine.store.create_stack(stack, template)
    except StackExists:
        raise StateError(f"a stack named {name!r} already exists", stack=name) from None
    if convergence:
        return await converge_api.create(engine, stack, template, compiled)
    engine.published(await engine.store.append_event(stack_event(stack)))
    rows = Rows()
    policies = await policies_for(engine, stack, rows)

    async def build(scope: OperationScope) -> legacy.Failure | None:
        return await legacy.converge(scope, rows, compiled, template.id, policies)

    async def undo(scope: OperationScope) -> legacy.Failure | None:
        current = await fresh_rows(engine, stack)
        return await legacy.cleanup(scope, current, list(current),
                                    await policies_for(engine, stack, current))

    enabled = not options.disable_rollback
    policy = RollbackPolicy(on_failure=enabled, on_cancel=enabled, work=undo)
    async with holding_lock(engine, stack, held=True):
        return await run_operation(engine, stack, Action.CREATE, build, policy)


async def plan_create(engine: Engine, name: str, inputs: Inputs) -> list[PlannedChange]:
    compiled = compile_inputs(engine, name, new_id(), inputs)
    _check_name(name)
    if await engine.store.get_stack(name) is not None:
        raise StateError(f"a stack named {name!r} already exists", stack=name)
    return plan_changes(compiled, Rows(), engine.registry)


async def update_stack(engine: Engine, name: str, inputs: Inputs | None,
                       environments: tuple[dict[str, object], ...] = (),
                       parameters: dict[str, str] | None = None,
                       options: UpdateOptions = UpdateOptions()) -> StackRecord:
    stack = await load_stack(engine, name)
    merged = await update_inputs(engine, stack, inputs, environments, parameters or {},
                                 existing=options.existing)
    compiled = compile_inputs(engine, stack.name, stack.id, merged)
    _check_timeout(options.timeout_mins)
    if stack.convergence:
        template = TemplateRecord(id=new_id(), stack_id=stack.id, template=merged.template,
                                  files=merged.files, environment=merged.environment)
        disable_rollback = {RollbackMode.ENABLED: False, RollbackMode.DISABLED: True}.get(
            options.rollback, stack.disable_rollback)
        timeout = options.timeout_mins if options.timeout_mins is not None \
            else stack.timeout_mins
        return await converge_api.update(engine, stack, template, compiled, disable_rollback,
                                         timeout)
    async with holding_lock(engine, stack) as stack:
        return await _update_locked(engine, stack, merged, compiled, options)


async def _update_locked(engine: Engine, stack: StackRecord, merged: Inputs,
                         compiled: CompiledTemplate, options: UpdateOptions) -> StackRecord:
    old_template_id, old_prev_id = stack.template_id, stack.prev_template_id
    template = TemplateRecord(id=new_id(), stack_id=stack.id, template=merged.template,
                              files=merged.files, environment=merged.environment)
    await engine.store.store_template(template)
    disable_rollback = {RollbackMode.ENABLED: False, RollbackMode.DISABLED: True}.get(
        options.rollback, stack.disable_rollback)
    timeout = options.timeout_mins if options.timeout_mins is not None else stack.timeout_mins
    stack = await set_state(
        engine, stack, Action.UPDATE, Status.IN_PROGRESS, "Stack UPDATE started",
        template_id=template.id, prev_template_id=old_template_id,
        parameters=display_parameters(compiled), disable_rollback=disable_rollback,
        timeout_mins=timeout)
    rows = Rows(await engine.store.list_resources(stack.id))
    policies = await policies_for(engine, stack, rows)
    previous = None if old_template_id is None else \
        await compile_stored(engine, stack, old_template_id)

    async def build(scope: OperationScope) -> legacy.Failure | None:
        return await legacy.converge(scope, rows, compiled, template.id, policies)

    async def undo(scope: OperationScope) -> legacy.Failure | None:
        current = await fresh_rows(engine, stack)
        undo_policies = await policies_for(engine, stack, current)
        if previous is None:
            return await legacy.cleanup(scope, current, list(current), undo_policies)
        return await legacy.converge(scope, current, previous, old_template_id, undo_policies)

    async def finished(done: StackRecord) -> StackRecord:
        await purge_templates(engine, done, rows, {old_prev_id, old_template_id})
        return done

    policy = RollbackPolicy(on_failure=not disable_rollback, on_cancel=True, work=undo)
    final = await run_operation(engine, stack, Action.UPDATE, build, policy, finished)
    if final.action is Action.ROLLBACK and final.status is Status.COMPLETE:
        final = await _restore_previous(engine, final, old_template_id, template.id)
    return final


async def _restore_previous(engine: Engine, stack: StackRecord, previous_id: str | None,
                            failed_id: str) -> StackRecord:
    """After a successful rollback the stack's template is the previous one again."""
    restored = stack
    if previous_id is not None:
        compiled = await compile_stored(engine, stack, previous_id)
        fresh = await engine.store.get_stack(stack.id) or stack
        restored = evolve(fresh, template_id=previous_id, prev_template_id=None,
                          parameters=display_parameters(compiled))
        await engine.store.save_stack(restored)
    rows = Rows(await engine.store.list_resources(stack.id))
    await purge_templates(engine, restored, rows, {failed_id})
    return restored


async def plan_update(engine: Engine, name: str, inputs: Inputs | None,
                      environments: tuple[dict[str, object], ...] = (),
                      parameters: dict[str, str] | None = None,
                      existing: bool = False) -> list[PlannedChange]:
    stack = await load_stack(engine, name)
    merged = await update_inputs(engine, stack, inputs, environments, parameters or {},
                                 existing=existing)
    compiled = compile_inputs(engine, stack.name, stack.id, merged)
    rows = Rows(await engine.store.list_resources(stack.id))
    return plan_changes(compiled, rows, engine.registry)


async def delete_stack(engine: Engine, name: str) -> StackRecord:
    """Delete every resource (honouring Retain) and then the stack; returns its last state."""
    stack = await load_stack(engine, name)
    if stack.convergence:
        return await converge_api.delete(engine, stack)
    async with holding_lock(engine, stack) as stack:
        stack = await set_state(engine, stack, Action.DELETE, Status.IN_PROGRESS,
                                "Stack DELETE started")
        rows = Rows(await engine.store.list_resources(stack.id))
        policies = await policies_for(engine, stack, rows)
        return await run_operation(engine, stack, Action.DELETE, _destroyer(rows, policies),
                                   NO_ROLLBACK, _purger(engine))


def _destroyer(rows: Rows, policies: legacy.PolicyOf) -> Work:

    async def destroy(scope: OperationScope) -> legacy.Failure | None:
        return await legacy.cleanup(scope, rows, list(rows), policies)

    return destroy


def _purger(engine: Engine) -> Finisher:
    async def purge(done: StackRecord) -> StackRecord:
        await engine.store.delete_stack(done.id)
        return done

    return purge


async def act_on_stack(engine: Engine, name: str, action: Action) -> StackRecord:
    """Check, suspend or resume every resource; suspend walks dependents first."""
    stack = await load_stack(engine, name)
    if stack.convergence:
        return await converge_api.walk(engine, stack, action)
    if stack.template_id is None:
        raise InputError(f"stack {name!r} has no template", stack=name)
    compiled = await compile_stored(engine, stack, stack.template_id)
    order = compiled.order()
    if action is Action.SUSPEND:
        order.reverse()
    async with holding_lock(engine, stack) as stack:
        stack = await set_state(engine, stack, action, Status.IN_PROGRESS,
                                f"Stack {action.value} started")
        rows = Rows(await engine.store.list_resources(stack.id))

        async def walk(scope: OperationScope) -> legacy.Failure | None:
            return await legacy.walk_each(scope, rows, order, action)

        return await run_operation(engine, stack, action, walk)


async def cancel_stack(engine: Engine, name: str, rollback: bool = True) -> StackRecord:
    """Ask the engine running the stack's operation to stop it."""
    stack = await load_stack(engine, name)
    if stack.convergence:
        return await converge_api.cancel(engine, stack, rollback)
    if stack.status is not Status.IN_PROGRESS or stack.engine_id is None:
        raise StateError(
            f"stack {stack.name!r} is {stack.action.value}_{stack.status.value}: "
            "there is no operation in progress to cancel", stack=stack.name)
    await engine.store.request_cancel(stack.id, rollback)
    return stack


async def wait_stack(engine: Engine, name: str) -> StackRecord:
    """Block until the stack leaves IN_PROGRESS (reporting a dead engine's stack as FAILED)."""
    stack = await load_stack(engine, name)
    if stack.convergence:
        return await converge_api.wait(engine, stack)
    while stack.status is Status.IN_PROGRESS:
        await anyio.sleep(engine.config.poll_interval)
        fresh = await engine.store.get_stack(stack.id)
        if fresh is None:
            return stack
        stack = await load_stack(engine, fresh.id)
    return stack


async def fresh_rows(engine: Engine, stack: StackRecord) -> Rows:
    """The stack's rows as stored: a rollback starts from the truth, not from memory."""
    return Rows(await engine.store.list_resources(stack.id))


async def migrate_stack(engine: Engine, name: str) -> StackRecord:
    """Move a legacy stack at rest onto the convergence path."""
    return await converge_api.migrate(engine, await load_stack(engine, name))


def _check_name(name: str) -> None:
    if not name or len(name) > 255 or not (name[0].isalpha()) or not all(
        c.isalnum() or c in "_-." for c in name
    ):
        raise InputError(
            f"invalid stack name {name!r}: it must start with a letter and contain only "
            "letters, digits, '_', '-' and '.' (at most 255 characters)")


def _check_timeout(timeout: int | None) -> None:
    if timeout is not None and timeout <= 0:
        raise InputError(f"--timeout must be a positive number of minutes, got {timeout}")


__all__ = [
    "CreateOptions",
    "PlannedChange",
    "RollbackMode",
    "UpdateOptions",
    "act_on_stack",
    "cancel_stack",
    "create_stack",
    "delete_stack",
    "inputs_of",
    "migrate_stack",
    "plan_create",
    "plan_update",
    "update_stack",
    "wait_stack",
]

"""Running one stack operation: timeout, cancellation, final state, rollback.

`run_operation` is called with the stack locked and already IN_PROGRESS. The
work runs inside one cancel scope whose deadline is the stack timeout; a small
watcher task turns a stored cancel request into a cancel of that scope. The
outcome decides the final state (`ACTION_COMPLETE` or `ACTION_FAILED` with the
root cause), then, when the policy says so, a rollback runs as its own
operation (`ROLLBACK_IN_PROGRESS` -> `ROLLBACK_COMPLETE|FAILED`). The lock is
released by the caller (`lifecycle.holding_lock`) after the final state is saved.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from storage import Action, StackRecord, Status
from supervisor.engine import Engine
from supervisor.legacy import Failure
from supervisor.lifecycle import set_state
from supervisor.operations import Journal, OperationScope

Work = Callable[[OperationScope], Awaitable[Failure | None]]
#: called with the COMPLETE stack, returns the stack to report
Finisher = Callable[[StackRecord], Awaitable[StackRecord]]


class Ending(enum.Enum):
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Result:
    ending: Ending
    failure: Failure | None = None
    #: for CANCELLED: whether the canceller asked for a rollback
    rollback_requested: bool = False

    def reason(self, action: Action) -> str:
        if self.ending is Ending.COMPLETED:
            return f"Stack {action.value} completed successfully"
        if self.ending is Ending.FAILED and self.failure is not None:
            return self.failure.describe(action)
        return "Timed out" if self.ending is Ending.TIMED_OUT else "cancelled"


@dataclass(frozen=True)
class RollbackPolicy:
    """Whether to roll back after a failure or timeout, and after a cancel."""

    on_failure: bool
    on_cancel: bool
    work: Work | None = None


NO_ROLLBACK = RollbackPolicy(on_failure=False, on_cancel=False)


async def run_operation(engine: Engine, stack: StackRecord, action: Action, work: Work,
                        rollback: RollbackPolicy = NO_ROLLBACK,
                        on_success: Finisher | None = None) -> StackRecord:
    """Run `work` for a locked, IN_PROGRESS stack and save how it ended."""
    result = await guarded(engine, stack, work)
    reason = result.reason(action)
    if result.ending is Ending.COMPLETED:
        stack = await set_state(engine, stack, action, Status.COMPLETE, reason)
        return stack if on_success is None else await on_success(stack)
    stack = await set_state(engine, stack, action, Status.FAILED, reason)
    if rollback.work is not None and _wants_rollback(result, rollback):
        stack = await _roll_back(engine, stack, rollback.work)
    return stack


def _wants_rollback(result: Result, policy: RollbackPolicy) -> bool:
    if result.ending is Ending.CANCELLED:
        return policy.on_cancel and result.rollback_requested
    return policy.on_failure


async def _roll_back(engine: Engine, stack: StackRecord, work: Work) -> StackRecord:
    stack = await set_state(engine, stack, Action.ROLLBACK, Status.IN_PROGRESS,
                            "Stack ROLLBACK started")
    result = await guarded(engine, stack, work)
    status = Status.COMPLETE if result.ending is Ending.COMPLETED else Status.FAILED
    return await set_state(engine, stack, Action.ROLLBACK, status, result.reason(Action.ROLLBACK))


async def guarded(engine: Engine, stack: StackRecord, work: Work) -> Result:
    """Run `work` under the stack timeout and the stack's cancel requests; what its journal
    holds is written before this returns, whatever happened."""
    journal = Journal(engine, stack.name)
    scope = OperationScope(engine, stack, persist=journal.record, journal=journal)
    requested: list[bool] = []
    failure: Failure | None = None
    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as work_scope:
            if stack.timeout_mins:
                scope.deadline = anyio.current_time() + stack.timeout_mins * 60
                work_scope.deadline = scope.deadline
            group.start_soon(_watch_cancel, engine, stack, work_scope, requested)
            try:
                failure = await work(scope)
            finally:
                with anyio.CancelScope(shield=True):
                    await journal.flush()
        group.cancel_scope.cancel()
    if work_scope.cancelled_caught:
        if requested:
            return Result(Ending.CANCELLED, rollback_requested=requested[0])
        return Result(Ending.TIMED_OUT)
    if failure is not None:
        return Result(Ending.FAILED, failure)
    return Result(Ending.COMPLETED)


async def _watch_cancel(engine: Engine, stack: StackRecord, work_scope: anyio.CancelScope,
                        requested: list[bool]) -> None:
    while True:
        await anyio.sleep(engine.config.poll_interval)
        rollback = await engine.store.take_cancel_request(stack.id)
        if rollback is not None:
            engine.log.info("stack.cancel.requested", stack=stack.name, rollback=rollback)
            requested.append(rollback)
            work_scope.cancel()
            return

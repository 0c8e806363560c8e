"""End-to-end stories over both engine paths, in trio virtual time on the memory store.

After each step: the stored state, the physical resources that exist (the
recording actor's log: no leaks, no duplicates) and the ordering guarantees of
DESIGN section 7 (`guarantees.py`). Stories that need two operations at once
(an update interrupting a create, a delete during a create, ...) exist only on
the convergence path: the legacy path refuses them with its stack lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from storage import Action, StackRecord, Status, Store, open_store
from supervisor import stacks
from supervisor.engine import Engine
from supervisor.rows import Rows
from tests.scenarios.guarantees import check_converged, check_log
from tests.support import CallLog, engine_on, hot, inputs, registry_with

PATHS = ["legacy", "convergence"]

Spec = Mapping[str, Mapping[str, Any]]


def template(spec: Spec) -> dict[str, Any]:
    """Recorder resources: `deps` become `inputs: [get_resource ...]` (real dependencies);
    `value` may be a literal or `("attr", dep)` to flow `get_attr [dep, value]` + a suffix."""
    resources: dict[str, Any] = {}
    for name, item in spec.items():
        deps = list(item.get("deps", ()))
        value = item.get("value", name)
        if isinstance(value, tuple):
            value = {"list_join": ["+", [{"get_attr": [value[1], "value"]}, name]]}
        props: dict[str, Any] = {"value": value,
                                 "inputs": [{"get_resource": d} for d in deps]}
        for knob in ("fixed", "fail", "delay"):
            if knob in item:
                props[knob] = item[knob]
        resources[name] = {"type": "Test::Recorder", "properties": props}
    return hot(resources)


def expected(spec: Spec, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {name: (values or {}).get(name, item.get("value", name))
            for name, item in spec.items()}


class Story:
    """One stack on one engine path, with its recorder log."""

    def __init__(self, engine: Engine, store: Store, log: CallLog, path: str) -> None:
        self.engine, self.store, self.log, self.path = engine, store, log, path
        self.name = "story"

    async def create(self, spec: Spec, rollback: bool = False) -> StackRecord:
        options = stacks.CreateOptions(convergence=self.path == "convergence",
                                       disable_rollback=not rollback)
        return await stacks.create_stack(self.engine, self.name, inputs(template(spec)), options)

    async def update(self, spec: Spec, rollback: bool | None = None) -> StackRecord:
        mode = stacks.RollbackMode.KEEP if rollback is None else (
            stacks.RollbackMode.ENABLED if rollback else stacks.RollbackMode.DISABLED)
        return await stacks.update_stack(self.engine, self.name, inputs(template(spec)),
                                         options=stacks.UpdateOptions(rollback=mode))

    async def rows(self, stack: StackRecord) -> Rows:
        return Rows(await self.store.list_resources(stack.id))

    async def assert_state(self, stack: StackRecord, state: str, spec: Spec) -> None:
        assert f"{stack.action.value}_{stack.status.value}" == state, stack.reason
        rows = await self.rows(stack)
        assert sorted(r.name for r in rows) == sorted(spec), "rows left behind"
        for row in rows:
            assert row.status is Status.COMPLETE, (row.name, row.action, row.reason)


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def story(path: str) -> AsyncIterator[Story]:
    log = CallLog()
    store = await open_store("memory://")
    async with engine_on(store, registry_with(log)) as engine:
        yield Story(engine, store, log, path)


async def reached_action(s: Story, action: Action) -> None:
    """Wait until the stack's current operation is `action`."""
    while True:
        stack = await s.store.get_stack(s.name)
        if stack is not None and stack.action is action:
            return
        await trio.sleep(0.01)


DIAMOND: Spec = {
    "base": {},
    "left": {"deps": ["base"], "value": ("attr", "base")},
    "right": {"deps": ["base"]},
    "top": {"deps": ["left", "right"], "value": ("attr", "left")},
}
DIAMOND_VALUES = {"left": "base+left", "top": "base+left+top"}


@pytest.mark.trio
async def test_create_and_delete(path: str, autojump_clock: object) -> None:
    async with story(path) as s:
        stack = await s.create(DIAMOND)
        await s.assert_state(stack, "CREATE_COMPLETE", DIAMOND)
        check_converged(s.log, expected(DIAMOND, DIAMOND_VALUES))
        final = await stacks.delete_stack(s.engine, s.name)
        assert (final.action, final.status) == (Action.DELETE, Status.COMPLETE)
        check_converged(s.log, {})
        assert await s.store.get_stack(s.name) is None


@pytest.mark.trio
async def test_update_adds_removes_replaces_and_inverts_a_dependency(
        path: str, autojump_clock: object) -> None:
    before: Spec = {"a": {}, "b": {"deps": ["a"]}, "gone": {"deps": ["b"]}, "keep": {}}
    after: Spec = {"a": {"deps": ["b"], "fixed": "v2"}, "b": {"value": "b2"}, "keep": {},
                   "new": {"deps": ["keep", "a"]}}
    async with story(path) as s:
        await s.create(before)
        stack = await s.update(after)
        await s.assert_state(stack, "UPDATE_COMPLETE", after)
        check_converged(s.log, expected(after))


@pytest.mark.trio
async def test_several_updates_in_a_row(path: str, autojump_clock: object) -> None:
    versions: list[Spec] = [
        {"a": {}, "b": {"deps": ["a"]}},
        {"a": {"value": "a2"}, "b": {"deps": ["a"], "fixed": "1"}, "c": {"deps": ["b"]}},
        {"c": {}, "b": {"deps": ["c"]}},
        {"a": {"deps": ["c"]}, "c": {"value": "c3", "fixed": "x"}},
        {},
    ]
    async with story(path) as s:
        await s.create(versions[0])
        for version in versions[1:]:
            stack = await s.update(version)
            await s.assert_state(stack, "UPDATE_COMPLETE", version)
            check_converged(s.log, expected(version))


@pytest.mark.trio
async def test_get_attr_flows_through_a_chain_of_replacements(
        path: str, autojump_clock: object) -> None:
    chain: Spec = {"a": {"value": "one"}, "b": {"deps": ["a"], "value": ("attr", "a")},
                   "c": {"deps": ["b"], "value": ("attr", "b")}}
    replaced: Spec = {"a": {"value": "two", "fixed": "new"},
                      "b": {"deps": ["a"], "value": ("attr", "a"), "fixed": "new"},
                      "c": {"deps": ["b"], "value": ("attr", "b")}}
    async with story(path) as s:
        await s.create(chain)
        check_converged(s.log, {"a": "one", "b": "one+b", "c": "one+b+c"})
        stack = await s.update(replaced)
        await s.assert_state(stack, "UPDATE_COMPLETE", replaced)
        check_converged(s.log, {"a": "two", "b": "two+b", "c": "two+b+c"})


@pytest.mark.trio
async def test_rollback_of_a_failed_create(path: str, autojump_clock: object) -> None:
    bad: Spec = {"a": {}, "b": {"deps": ["a"], "fail": ["create"]}, "c": {"deps": ["b"]}}
    async with story(path) as s:
        stack = await s.create(bad, rollback=True)
        await s.assert_state(stack, "ROLLBACK_COMPLETE", {})
        check_converged(s.log, {})


@pytest.mark.trio
async def test_rollback_of_a_failed_update(path: str, autojump_clock: object) -> None:
    good: Spec = {"a": {}, "b": {"deps": ["a"]}}
    bad: Spec = {"a": {"fixed": "2", "value": "a2"}, "b": {"deps": ["a"], "fail": ["update"]},
                 "c": {}}
    async with story(path) as s:
        await s.create(good)
        stack = await s.update(bad, rollback=True)
        await s.assert_state(stack, "ROLLBACK_COMPLETE", good)
        check_converged(s.log, expected(good))
        assert len([c for c in s.log.calls if c.operation == "create" and c.phase == "end"
                    and c.resource == "a"]) == 2  # the replacement; the original came back


@pytest.mark.trio
async def test_failure_without_rollback_then_an_update_that_fixes_it(
        path: str, autojump_clock: object) -> None:
    bad: Spec = {"a": {}, "b": {"deps": ["a"], "fail": ["create"]}}
    fixed: Spec = {"a": {}, "b": {"deps": ["a"]}}
    async with story(path) as s:
        stack = await s.create(bad)
        assert (stack.action, stack.status) == (Action.CREATE, Status.FAILED)
        assert "injected create failure" in stack.reason
        check_log(s.log)
        stack = await s.update(fixed)
        await s.assert_state(stack, "UPDATE_COMPLETE", fixed)
        check_converged(s.log, expected(fixed))


# -- convergence only: overlapping operations ------------------------------------------------

SLOW: Spec = {"a": {"delay": 10}, "b": {"deps": ["a"], "delay": 10},
              "c": {"deps": ["b"], "delay": 10}}


async def _collect(results: list[StackRecord], operation: Awaitable[StackRecord]) -> None:
    results.append(await operation)


@pytest.mark.trio
async def test_create_then_delete_during_create(autojump_clock: object) -> None:
    async with story("convergence") as s:
        results: list[StackRecord] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, results, s.create(SLOW))
            await s.log.reached("create", "b")
            nursery.start_soon(_collect, results, stacks.delete_stack(s.engine, s.name))
        assert all((r.action, r.status) == (Action.DELETE, Status.COMPLETE) for r in results)
        check_converged(s.log, {})
        assert await s.store.get_stack(s.name) is None


@pytest.mark.trio
async def test_update_interrupts_a_create(autojump_clock: object) -> None:
    after: Spec = {"a": {"value": "a2", "delay": 1}, "b": {"deps": ["a"], "fixed": "x"},
                   "d": {"deps": ["a"]}}
    async with story("convergence") as s:
        results: list[StackRecord] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, results, s.create(SLOW))
            await s.log.reached("create", "b")
            nursery.start_soon(_collect, results, s.update(after))
        for result in results:
            assert (result.action, result.status) == (Action.UPDATE, Status.COMPLETE)
        await s.assert_state(results[-1], "UPDATE_COMPLETE", after)
        check_converged(s.log, expected(after))


@pytest.mark.trio
async def test_update_interrupts_an_update(autojump_clock: object) -> None:
    first: Spec = {"a": {}, "b": {"deps": ["a"]}, "c": {"deps": ["b"]}}
    middle: Spec = {"a": {"value": "a2", "delay": 10, "fixed": "m"},
                    "b": {"deps": ["a"], "value": "b2", "delay": 10}, "c": {"deps": ["b"]}}
    last: Spec = {"a": {"value": "a3"}, "c": {"deps": ["a"], "fixed": "z"}}
    async with story("convergence") as s:
        await s.create(first)
        results: list[StackRecord] = []
        mark = s.log.mark()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, results, s.update(middle))
            await s.log.reached("create", "a", since=mark)
            nursery.start_soon(_collect, results, s.update(last))
        await s.assert_state(results[-1], "UPDATE_COMPLETE", last)
        check_converged(s.log, expected(last))


@pytest.mark.trio
async def test_rollback_interrupted_by_an_update(autojump_clock: object) -> None:
    good: Spec = {"a": {}, "b": {"deps": ["a"]}}
    bad: Spec = {"a": {"value": "x", "fixed": "2"},
                 "b": {"deps": ["a"], "fail": ["update"], "value": "y"}, "c": {"delay": 30}}
    final: Spec = {"a": {"value": "final"}, "b": {"deps": ["a"]}}
    async with story("convergence") as s:
        await s.create(good)
        results: list[StackRecord] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, results, s.update(bad, rollback=True))
            await reached_action(s, Action.ROLLBACK)
            nursery.start_soon(_collect, results, s.update(final))
        await s.assert_state(results[-1], "UPDATE_COMPLETE", final)
        check_converged(s.log, expected(final))


@pytest.mark.trio
async def test_cancel_rolls_back_the_update(path: str, autojump_clock: object) -> None:
    good: Spec = {"a": {}, "b": {"deps": ["a"]}}
    slow: Spec = {"a": {"value": "a2"}, "b": {"deps": ["a"], "value": "b2", "delay": 60}}
    async with story(path) as s:
        await s.create(good)
        results: list[StackRecord] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, results, s.update(slow))
            await s.log.reached("update", "b")
            await stacks.cancel_stack(s.engine, s.name)
        await s.assert_state(results[0], "ROLLBACK_COMPLETE", good)
        check_converged(s.log, expected(good))


@pytest.mark.trio
@pytest.mark.parametrize("rollback", [False, True])
async def test_a_timeout_fails_the_traversal(rollback: bool, autojump_clock: object) -> None:
    slow: Spec = {"a": {"delay": 90}, "b": {"deps": ["a"]}}
    async with story("convergence") as s:
        started = trio.current_time()
        stack = await stacks.create_stack(
            s.engine, s.name, inputs(template(slow)),
            stacks.CreateOptions(convergence=True, timeout_mins=1, disable_rollback=not rollback))
        if rollback:
            assert (stack.action, stack.status) == (Action.ROLLBACK, Status.COMPLETE)
            assert await s.store.list_resources(stack.id) == []
        else:
            assert trio.current_time() - started == pytest.approx(60, abs=1)
            assert (stack.action, stack.status, stack.reason) == (
                Action.CREATE, Status.FAILED, "Timed out")
            a = (await s.rows(stack)).current("a")
            assert a is not None and (a.status, a.reason) == (Status.FAILED, "timed out")
        assert ("create", "b") not in s.log.ops("start")
        check_converged(s.log, {})


@pytest.mark.trio
async def test_a_create_whose_process_died_before_its_traversal_is_started_by_wait(
        autojump_clock: object) -> None:
    spec: Spec = {"a": {}, "b": {"deps": ["a"]}}
    log = CallLog()
    store = await open_store("memory://")
    async with trio.open_nursery() as nursery:
        async def doomed_create() -> None:
            async with engine_on(store, registry_with(log)) as engine:
                await stacks.create_stack(engine, "orphan", inputs(template(spec)),
                                          stacks.CreateOptions(convergence=True))
        nursery.start_soon(doomed_create)
        while (stored := await store.get_stack("orphan")) is None:
            await trio.lowlevel.checkpoint()
        nursery.cancel_scope.cancel()  # the creating process dies here
    assert stored.traversal_id is None and stored.status is Status.IN_PROGRESS
    assert log.calls == []
    async with engine_on(store, registry_with(log)) as engine:
        final = await stacks.wait_stack(engine, "orphan")
    assert (final.action, final.status) == (Action.CREATE, Status.COMPLETE), final.reason
    check_converged(log, expected(spec))


@pytest.mark.trio
async def test_check_suspend_and_resume_walk_in_dependency_order(
        path: str, autojump_clock: object) -> None:
    spec: Spec = {"a": {}, "b": {"deps": ["a"]}, "c": {"deps": ["b"]}}
    async with story(path) as s:
        await s.create(spec)
        for action, order in [(Action.CHECK, None), (Action.SUSPEND, ["c", "b", "a"]),
                              (Action.RESUME, ["a", "b", "c"])]:
            mark = s.log.mark()
            stack = await stacks.act_on_stack(s.engine, s.name, action)
            assert (stack.action, stack.status) == (action, Status.COMPLETE), stack.reason
            done = [name for op, name in s.log.ops("end", mark) if op == action.value.lower()]
            if order is None:
                assert sorted(done) == ["a", "b", "c"]
            else:
                assert done == order
            for row in await s.rows(stack):
                assert (row.action, row.status) == (action, Status.COMPLETE)
        check_converged(s.log, expected(spec))

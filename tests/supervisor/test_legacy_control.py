"""Cancel, timeout, the stack lock and dead engines, in trio virtual time on the memory store."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import replace

import pytest
import trio

from storage import Action, EngineRecord, StackRecord, Status, open_store
from supervisor import stacks
from supervisor.errors import StateError
from supervisor.lifecycle import load_stack
from supervisor.rows import Rows
from tests.support import CallLog, engine_on, hot, inputs, rec, registry_with

SLOW = hot({"a": rec("1"), "b": rec("2", delay=60, depends_on="a"),
            "c": rec("3", depends_on="b")})


async def _collect(results: list[StackRecord], operation: Awaitable[StackRecord]) -> None:
    results.append(await operation)


@pytest.mark.trio
async def test_timeout_fails_the_create_with_the_in_flight_resource(autojump_clock: object) -> None:
    log = CallLog()
    store = await open_store("memory://")
    async with engine_on(store, registry_with(log)) as engine:
        started = trio.current_time()
        stack = await stacks.create_stack(engine, "slow", inputs(hot({
            "a": rec("1", delay=90), "b": rec("2", depends_on="a")})),
            stacks.CreateOptions(timeout_mins=1))
        assert trio.current_time() - started == pytest.approx(60, abs=1)
        assert (stack.action, stack.status, stack.reason) == (
            Action.CREATE, Status.FAILED, "Timed out")
        rows = Rows(await store.list_resources(stack.id))
        a = rows.current("a")
        assert a is not None and (a.status, a.reason) == (Status.FAILED, "timed out")
        assert rows.current("b") is None


@pytest.mark.trio
async def test_cancel_of_an_update_rolls_it_back(autojump_clock: object) -> None:
    log = CallLog()
    store = await open_store("memory://")
    v1 = hot({"a": rec("1"), "b": rec("2", depends_on="a")})
    async with engine_on(store, registry_with(log)) as engine:
        await stacks.create_stack(engine, "c", inputs(v1))
        results: list[StackRecord] = []
        async with trio.open_nursery() as nursery:
            async def run_update() -> None:
                results.append(await stacks.update_stack(engine, "c", inputs(SLOW)))
            nursery.start_soon(run_update)
            await log.reached("update", "b")
            await stacks.cancel_stack(engine, "c")
        final = results[0]
        assert (final.action, final.status) == (Action.ROLLBACK, Status.COMPLETE)
        update_events = [(e.resource_name, e.action, e.status, e.reason)
                         for e in await store.list_events(final.id)]
        assert ("c", Action.UPDATE, Status.FAILED, "cancelled") in update_events
        assert ("b", Action.UPDATE, Status.FAILED, "cancelled") in update_events
        assert ("create", "c") not in log.ops("start")
        rows = Rows(await store.list_resources(final.id))
        b = rows.current("b")
        assert b is not None and b.properties["value"] == "2" and b.status is Status.COMPLETE


@pytest.mark.trio
async def test_cancel_without_rollback_leaves_update_failed(autojump_clock: object) -> None:
    log = CallLog()
    store = await open_store("memory://")
    async with engine_on(store, registry_with(log)) as engine:
        await stacks.create_stack(engine, "c", inputs(hot({"a": rec("1"), "b": rec("x")})))
        results: list[StackRecord] = []
        async with trio.open_nursery() as nursery:
            async def run_update() -> None:
                results.append(await stacks.update_stack(engine, "c", inputs(SLOW)))
            nursery.start_soon(run_update)
            await log.reached("update", "b")
            await stacks.cancel_stack(engine, "c", rollback=False)
        assert (results[0].action, results[0].status, results[0].reason) == (
            Action.UPDATE, Status.FAILED, "cancelled")


@pytest.mark.trio
async def test_cancel_of_a_create_rolls_back_only_when_enabled(autojump_clock: object) -> None:
    for enabled, expected in ((False, Action.CREATE), (True, Action.ROLLBACK)):
        log = CallLog()
        store = await open_store("memory://")
        async with engine_on(store, registry_with(log)) as engine:
            results: list[StackRecord] = []
            options = stacks.CreateOptions(disable_rollback=not enabled)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_collect, results, stacks.create_stack(
                    engine, "c", inputs(SLOW), options))
                await log.reached("create", "b")
                await stacks.cancel_stack(engine, "c")
            final = results[0]
            assert final.action is expected
            assert final.status is (Status.COMPLETE if enabled else Status.FAILED)
            assert (log.live() == set()) is enabled


@pytest.mark.trio
async def test_the_stack_lock_refuses_a_second_operation(autojump_clock: object) -> None:
    log = CallLog()
    store = await open_store("memory://")
    async with engine_on(store, registry_with(log)) as engine:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stacks.create_stack, engine, "busy", inputs(SLOW))
            await log.reached("create", "b")
            for attempt in (
                stacks.update_stack(engine, "busy", inputs(SLOW)),
                stacks.delete_stack(engine, "busy"),
                stacks.act_on_stack(engine, "busy", Action.CHECK),
            ):
                with pytest.raises(StateError, match="CREATE_IN_PROGRESS"):
                    await attempt
        assert (await load_stack(engine, "busy")).status is Status.COMPLETE


@pytest.mark.trio
async def test_a_dead_engines_stack_is_reported_failed(autojump_clock: object) -> None:
    log = CallLog()
    store = await open_store("memory://")
    async with engine_on(store, registry_with(log)) as engine:
        await stacks.create_stack(engine, "orphan", inputs(hot({"a": rec("1")})))
        stack = await store.get_stack("orphan")
        assert stack is not None
        # an engine on another host that stopped heartbeating while it held the stack
        gone = EngineRecord(id="dead-engine", host="elsewhere", pid=1,
                            started_at=time.time() - 100, heartbeat_at=time.time() - 60)
        await store.register_engine(gone)
        await store.save_stack(replace(stack, action=Action.UPDATE, status=Status.IN_PROGRESS))
        assert await store.acquire_stack_lock(stack.id, "dead-engine")
        reaped = await load_stack(engine, "orphan")
        assert (reaped.action, reaped.status) == (Action.UPDATE, Status.FAILED)
        assert reaped.reason == "Engine went down during stack UPDATE"
        fresh = await store.get_stack("orphan")
        assert fresh is not None and fresh.engine_id is None
        # and the stack can be operated on again
        final = await stacks.update_stack(engine, "orphan", inputs(hot({"a": rec("2")})))
        assert final.status is Status.COMPLETE


@pytest.mark.trio
async def test_a_live_engines_stack_is_left_alone(autojump_clock: object) -> None:
    store = await open_store("memory://")
    async with engine_on(store, registry_with(CallLog())) as engine:
        await stacks.create_stack(engine, "held", inputs(hot({"a": rec("1")})))
        stack = await store.get_stack("held")
        assert stack is not None
        await store.register_engine(EngineRecord(id="alive", host="elsewhere", pid=1,
                                                 started_at=time.time(),
                                                 heartbeat_at=time.time()))
        await store.save_stack(replace(stack, status=Status.IN_PROGRESS))
        assert await store.acquire_stack_lock(stack.id, "alive")
        assert (await load_stack(engine, "held")).status is Status.IN_PROGRESS
        with pytest.raises(StateError):
            await stacks.delete_stack(engine, "held")

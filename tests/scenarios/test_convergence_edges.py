"""Edge cases a review of the convergence path found, each pinned by a story in virtual time.

* a delete-before-create replacement deletes the old resource once and leaves one row;
* a cancel that reaches the engine after the operation completed changes nothing;
* an engine that stops while its last unlock hands it another engine's parked node
  releases that claim, so the other engine's update finishes;
* a row locked and released by someone else between a node's read and its first
  write makes the node start over, locking first: nothing is done twice;
* an update that keeps every row never runs a cleanup node;
* of the nodes ready together, those on the critical path act first;
* of the nodes whose actions end together, the critical one's end and its successor's
  start are written before the ends of the nodes with slack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest
import trio

from actors import ActorContext, Created, Property, PropertyType, Replacement, ResourceActor
from actors.registry import Registry
from storage import (
    Action,
    EventRecord,
    MemoryStore,
    NodeKey,
    NodeState,
    Phase,
    ReadyNode,
    ResourceRecord,
    StackRecord,
    Status,
    open_store,
)
from supervisor import stacks
from supervisor.convergence import api as converge_api
from supervisor.convergence.worker import SLOW_ACTION_S, STEP_SHARE
from supervisor.engine import Engine
from tests.scenarios.test_scenarios import PATHS, template
from tests.support import CallLog, engine_on, hot, inputs, registry_with


def unique_registry(world: dict[str, str], calls: list[tuple[str, str]]) -> Registry:
    """An actor whose physical id is a unique name: it must be deleted before it is made
    again (the reason for delete-before-create)."""

    class Unique(ResourceActor):
        type_name = "Test::Unique"
        replacement = Replacement.DELETE_BEFORE_CREATE
        properties_schema: ClassVar[Mapping[str, Property]] = {
            "name": Property(PropertyType.STRING, required=True),
            "flavor": Property(PropertyType.STRING, default=""),  # a change replaces
        }

        async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
            calls.append(("create", props["name"]))
            assert props["name"] not in world, "name taken"
            world[props["name"]] = props["flavor"]
            return Created(props["name"], {})

        async def delete(self, ctx: ActorContext, physical_id: str,
                         props: Mapping[str, Any]) -> None:
            calls.append(("delete", physical_id))
            world.pop(physical_id, None)

    registry = registry_with(CallLog())
    registry.register(Unique)
    return registry


def unique(flavor: str) -> dict[str, Any]:
    return hot({"r": {"type": "Test::Unique", "properties": {"name": "n1", "flavor": flavor}}})


@pytest.mark.trio
@pytest.mark.parametrize("path", PATHS)
async def test_a_delete_first_replacement_deletes_the_old_resource_once(
        path: str, autojump_clock: object) -> None:
    world: dict[str, str] = {}
    calls: list[tuple[str, str]] = []
    store = await open_store("memory://")
    async with engine_on(store, unique_registry(world, calls)) as engine:
        await stacks.create_stack(engine, "s", inputs(unique("a")),
                                  stacks.CreateOptions(convergence=path == "convergence"))
        stack = await stacks.update_stack(engine, "s", inputs(unique("b")))
        rows = await store.list_resources(stack.id)
    assert (stack.action, stack.status) == (Action.UPDATE, Status.COMPLETE), stack.reason
    assert world == {"n1": "b"}
    assert calls == [("create", "n1"), ("delete", "n1"), ("create", "n1")]
    assert [(r.name, r.physical_id, r.status) for r in rows] == [("r", "n1", Status.COMPLETE)]


@pytest.mark.trio
@pytest.mark.parametrize("rollback", [False, True])
async def test_a_cancel_arriving_after_completion_changes_nothing(
        rollback: bool, autojump_clock: object) -> None:
    store = await open_store("memory://")
    async with engine_on(store, registry_with(CallLog())) as engine:
        await stacks.create_stack(engine, "s", inputs(template({"a": {}})),
                                  stacks.CreateOptions(convergence=True))
        seen: list[StackRecord] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stacks.update_stack, engine, "s",
                               inputs(template({"a": {"value": "a2"}})))
            while not seen:
                stack = await store.get_stack("s")
                if stack is not None and stack.action is Action.UPDATE \
                        and stack.status is Status.IN_PROGRESS:
                    seen.append(stack)
                await trio.lowlevel.checkpoint()
        # `stack cancel` read the stack while the update ran, and acts after it completed
        await converge_api.cancel(engine, seen[0], rollback=rollback)
        final = await stacks.wait_stack(engine, "s")
    assert (final.action, final.status) == (Action.UPDATE, Status.COMPLETE), final.reason


@pytest.mark.trio
async def test_an_engine_stopping_mid_node_releases_the_nodes_its_unlock_claimed(
        autojump_clock: object) -> None:
    log = CallLog()
    store = await open_store("memory://")
    results: list[StackRecord] = []
    async with engine_on(store, registry_with(log)) as second, trio.open_nursery() as nursery:
        first_process = trio.CancelScope()

        async def create_in_first_process() -> None:
            with first_process:
                async with engine_on(store, registry_with(log)) as first:
                    await stacks.create_stack(first, "s", inputs(template({"a": {"delay": 100}})),
                                              stacks.CreateOptions(convergence=True))

        async def update() -> None:
            results.append(await stacks.update_stack(second, "s",
                                                     inputs(template({"a": {"value": "a2"}}))))

        nursery.start_soon(create_in_first_process)
        await log.reached("create", "a")
        nursery.start_soon(update)
        stack = await store.get_stack("s")
        assert stack is not None
        while True:
            if any(e.parked_on for e in await store.list_ready(stack.id)):
                break
            await trio.sleep(0.01)
        first_process.cancel()  # Ctrl-C while `a` is locked and the update parked on it
    assert (results[0].action, results[0].status) == (Action.UPDATE, Status.COMPLETE)


@pytest.mark.trio
async def test_a_fan_out_wider_than_the_worker_limit_waits_its_turn_and_completes(
        autojump_clock: object) -> None:
    """A node that makes 40 nodes ready at once, on an engine allowed 1 action (so its worker
    runs at most 4 nodes at once): the others wait in the worker and all of them run."""
    from supervisor.convergence.worker import Worker
    from tests.support import test_config

    resources: dict[str, Any] = {"root": {"type": "OS::Heat::None"}}
    resources.update({f"leaf{i:02d}": {"type": "OS::Heat::None", "depends_on": "root"}
                      for i in range(40)})
    store = await open_store("memory://")
    config = test_config(max_concurrent_actions=1)
    async with engine_on(store, registry_with(CallLog()), config) as engine:
        assert Worker(engine).limit == 4
        stack = await stacks.create_stack(engine, "fan", inputs(hot(resources)),
                                          stacks.CreateOptions(convergence=True))
        assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE)
        rows = await store.list_resources(stack.id)
        assert len(rows) == 41
        assert {(r.action, r.status) for r in rows} == {(Action.CREATE, Status.COMPLETE)}
        assert await store.list_ready(stack.id) == []


class Meddling(MemoryStore):
    """A memory store on which another engine locks and unlocks each update node's row right
    after the node has read it, and which counts the first writes it then refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def get_node_state(self, traversal_id: str, node: NodeKey) -> NodeState | None:
        state = await super().get_node_state(traversal_id, node)
        if state is not None and state.rows and node.phase is Phase.UPDATE:
            row = state.rows[-1]
            if await super().lock_resource(row.id, "meddler", traversal_id) is not None:
                await self.unlock_resource(row.id, "meddler")
        return state

    async def lock_resource(self, resource_id: str, engine_id: str, traversal_id: str,
                            expected: str | None = None, requires: Sequence[str] = (), *,
                            version: int | None = None,
                            save: tuple[ResourceRecord, EventRecord] | None = None,
                            ) -> ResourceRecord | None:
        locked = await super().lock_resource(resource_id, engine_id, traversal_id, expected,
                                             requires, version=version, save=save)
        if locked is None and save is not None:
            self.refused += 1
        return locked


@pytest.mark.trio
async def test_a_row_changed_after_the_read_makes_the_node_lock_first_and_do_it_once(
        autojump_clock: object) -> None:
    log = CallLog()
    store = Meddling()
    spec = {"a": {}, "b": {"deps": ["a"]}, "c": {}}
    async with engine_on(store, registry_with(log)) as engine:
        stack = await stacks.create_stack(engine, "s", inputs(template(spec)),
                                          stacks.CreateOptions(convergence=True))
        rows = await store.list_resources(stack.id)
        events = await store.list_events(stack.id)
    assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE), stack.reason
    assert store.refused == 3  # each node's deferred lock, once
    assert sorted(log.ops()) == [("create", "a"), ("create", "b"), ("create", "c")]
    assert {(r.status, r.engine_id) for r in rows} == {(Status.COMPLETE, None)}
    assert sorted((e.resource_name, e.status) for e in events if e.resource_id) == sorted(
        (name, status) for name in spec for status in (Status.IN_PROGRESS, Status.COMPLETE))


class ReadyLog(MemoryStore):
    """A memory store that records every node made ready."""

    def __init__(self) -> None:
        super().__init__()
        self.made_ready: list[NodeKey] = []

    async def finish_node(self, *args: Any, **kwargs: Any) -> list[ReadyNode]:
        entries = await super().finish_node(*args, **kwargs)
        self.made_ready += [e.node for e in entries]
        return entries


@pytest.mark.trio
async def test_an_update_that_keeps_every_row_runs_no_cleanup_node(
        autojump_clock: object) -> None:
    log = CallLog()
    store = ReadyLog()
    async with engine_on(store, registry_with(log)) as engine:
        await stacks.create_stack(engine, "s", inputs(template({"a": {}, "b": {"deps": ["a"]}})),
                                  stacks.CreateOptions(convergence=True))
        before = await store.list_resources((await stacks.wait_stack(engine, "s")).id)
        store.made_ready.clear()
        spec = {"a": {"value": "a2"}, "b": {"deps": ["a"], "value": "b2"}}
        stack = await stacks.update_stack(engine, "s", inputs(template(spec)))
        after = await store.list_resources(stack.id)
    assert (stack.action, stack.status) == (Action.UPDATE, Status.COMPLETE), stack.reason
    assert [r.id for r in after] == [r.id for r in before]
    assert ("update", "a") in log.ops() and ("update", "b") in log.ops()
    assert {key.phase for key in store.made_ready} == {Phase.UPDATE, Phase.STACK}


@pytest.mark.trio
async def test_a_full_worker_claims_again_as_slots_free_not_at_the_next_poll(
        autojump_clock: object) -> None:
    """40 ready entries for a worker of 4 slots: each time half its slots are free it claims
    again at once, so the create takes no poll interval of (virtual) time."""
    from tests.support import test_config

    resources = {f"r{i:02d}": {"type": "OS::Heat::None"} for i in range(40)}
    store = await open_store("memory://")
    config = test_config(max_concurrent_actions=1)
    async with engine_on(store, registry_with(CallLog()), config) as engine:
        started = trio.current_time()
        stack = await stacks.create_stack(engine, "wide", inputs(hot(resources)),
                                          stacks.CreateOptions(convergence=True))
        took = trio.current_time() - started
    assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE), stack.reason
    assert took < config.poll_interval, took


@pytest.mark.trio
async def test_the_critical_root_acts_before_a_root_with_slack(autojump_clock: object) -> None:
    """Roots `a` (the head of a chain of three) and `lone` become ready together; `lone`
    has slack 2, so, once actions are known to take time, the worker starts it a round
    later, whichever order the event loop runs the two tasks in (trio picks either at
    random: six stacks make a fluke unlikely)."""
    log = CallLog()
    spec = {name: {**item, "delay": 0.01} for name, item in
            {"lone": {}, "a": {}, "b": {"deps": ["a"]}, "c": {"deps": ["b"]}}.items()}
    async with engine_on(await open_store("memory://"), registry_with(log)) as engine:
        await stacks.create_stack(engine, "warm-up", inputs(template({"w": {"delay": 0.05}})),
                                  stacks.CreateOptions(convergence=True))
        assert engine.action_seconds >= SLOW_ACTION_S
        for n in range(6):
            since = log.mark()
            stack = await stacks.create_stack(engine, f"s{n}", inputs(template(spec)),
                                              stacks.CreateOptions(convergence=True))
            assert stack.status is Status.COMPLETE, stack.reason
            starts = log.ops("start", since)
            assert starts.index(("create", "a")) < starts.index(("create", "lone")), starts


def _race() -> tuple[list[str], dict[str, Any]]:
    """Five roots with slack 2 and the chain `a` -> `b` -> `c`, every action 10 ms."""
    slack = [f"s{i}" for i in range(5)]
    spec = {name: {**item, "delay": 0.01} for name, item in
            {"a": {}, "b": {"deps": ["a"]}, "c": {"deps": ["b"]},
             **{name: {} for name in slack}}.items()}
    return slack, spec


@pytest.mark.trio
async def test_the_critical_successor_starts_before_the_ends_of_nodes_with_slack(
        autojump_clock: object) -> None:
    """`a` (the head of a chain of three) and five roots with slack 2 act at the same
    virtual moment and their actions end together. The event loop runs the six woken tasks
    in either order, yet `a`'s end and `b`'s start (its IN_PROGRESS state, then its actor
    call) come before the end of any of the five: they wait for their turn (`priority`)."""
    log = CallLog()
    slack, spec = _race()
    async with engine_on(await open_store("memory://"), registry_with(log)) as engine:
        await stacks.create_stack(engine, "warm-up", inputs(template({"w": {"delay": 0.05}})),
                                  stacks.CreateOptions(convergence=True))
        for n in range(3):
            since = log.mark()
            stack = await stacks.create_stack(engine, f"s{n}", inputs(template(spec)),
                                              stacks.CreateOptions(convergence=True))
            assert stack.status is Status.COMPLETE, stack.reason
            ends = _times(log, since, "end")
            assert len({ends[name] for name in ["a", *slack]}) == 1, ends  # together
            events = await _create_events(engine, stack.id)
            b_started = events.index(("b", Status.IN_PROGRESS))
            assert events.index(("a", Status.COMPLETE)) < b_started
            assert all(events.index((name, Status.COMPLETE)) > b_started for name in slack), \
                events


def _times(log: CallLog, since: int, phase: str) -> dict[str, float]:
    """When each resource's actor call reached `phase` ("start" or "end") after `since`."""
    return {call.resource: call.time for call in log.calls[since:] if call.phase == phase}


async def _create_events(engine: Engine, stack_id: str) -> list[tuple[str | None, Status]]:
    """The stack's CREATE events, in order, as (resource, status)."""
    return [(e.resource_name, e.status) for e in await engine.store.list_events(stack_id)
            if e.action is Action.CREATE]


class Sluggish(MemoryStore):
    """A memory store whose node writes take `write_s` each (4 ms: as a loaded engine's)."""

    def __init__(self, write_s: float = 0.004) -> None:
        super().__init__()
        self.write_s = write_s

    async def lock_resource(self, *args: Any, **kwargs: Any) -> ResourceRecord | None:
        await trio.sleep(self.write_s)
        return await super().lock_resource(*args, **kwargs)

    async def finish_node(self, *args: Any, **kwargs: Any) -> list[ReadyNode]:
        await trio.sleep(self.write_s)
        return await super().finish_node(*args, **kwargs)


@pytest.mark.trio
async def test_when_steps_take_a_large_share_of_an_action_nodes_with_slack_do_not_wait(
        autojump_clock: object) -> None:
    """The race of the test above on a store whose writes take 4 ms, against actions of
    10 ms: the critical steps take more than `STEP_SHARE` of an action, so the worker stops
    ordering (holding nodes back would only idle a loaded engine): the five nodes with slack
    start with `a`, not after its first write, and end while `b` is still starting."""
    log = CallLog()
    slack, spec = _race()
    chain = {f"w{i}": {"delay": 0.01, **({"deps": [f"w{i - 1}"]} if i else {})}
             for i in range(6)}
    async with engine_on(Sluggish(), registry_with(log)) as engine:
        await stacks.create_stack(engine, "warm-up", inputs(template(chain)),
                                  stacks.CreateOptions(convergence=True))
        for n in range(3):
            assert engine.step_seconds > STEP_SHARE * engine.action_seconds
            since = log.mark()
            stack = await stacks.create_stack(engine, f"s{n}", inputs(template(spec)),
                                              stacks.CreateOptions(convergence=True))
            assert stack.status is Status.COMPLETE, stack.reason
            starts = _times(log, since, "start")
            assert len({starts[name] for name in ["a", *slack]}) == 1, starts  # no waiting
            events = await _create_events(engine, stack.id)
            b_started = events.index(("b", Status.IN_PROGRESS))
            assert all(events.index((name, Status.COMPLETE)) < b_started for name in slack), \
                events


@pytest.mark.trio
async def test_a_cancel_while_an_ended_action_waits_for_its_turn_keeps_what_it_made(
        autojump_clock: object) -> None:
    """`s` (slack 1) ends its create together with `a`, then waits for its turn while `a`
    ends and `b` starts, the writes taking 0.2 s each here; the stack is cancelled during
    that wait. The wait is shielded like the write that follows it: `s`'s row records the
    resource its actor made."""
    log = CallLog()
    store = Sluggish(write_s=0.0)
    async with engine_on(store, registry_with(log)) as engine:
        warm_up = {f"w{i}": {"delay": 2.0} for i in range(10)}
        await stacks.create_stack(engine, "warm-up", inputs(template(warm_up)),
                                  stacks.CreateOptions(convergence=True))
        store.write_s = 0.2
        assert engine.step_seconds < STEP_SHARE * engine.action_seconds  # ordering by slack
        spec = {"a": {"delay": 2.0}, "b": {"deps": ["a"], "delay": 2.0}, "s": {"delay": 1.8}}
        since = log.mark()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stacks.create_stack, engine, "s", inputs(template(spec)),
                               stacks.CreateOptions(convergence=True))
            await log.reached("create", "s", "end", since)
            ended = trio.current_time()
            await trio.sleep(0.05)
            await stacks.cancel_stack(engine, "s", rollback=False)
        stack = await stacks.wait_stack(engine, "s")
        rows = {row.name: row for row in await store.list_resources(stack.id)}
    ends = {c.resource: (c.time, c.physical_id) for c in log.calls[since:] if c.phase == "end"}
    assert ends["a"][0] == ends["s"][0] == ended  # together, then `s` waits for `a`'s end
    assert (stack.status, stack.reason) == (Status.FAILED, "cancelled")
    assert (rows["s"].action, rows["s"].status, rows["s"].physical_id) == \
        (Action.CREATE, Status.COMPLETE, ends["s"][1])
    assert rows["b"].action is Action.INIT  # the cancelled traversal starts nothing new


@pytest.mark.trio
async def test_with_instant_actions_nodes_with_slack_start_at_once(
        autojump_clock: object) -> None:
    """The deferred start only pays when actions take time: instant ones keep the running
    mean under `SLOW_ACTION_S`, and the order of starts is left to the event loop."""
    log = CallLog()
    spec = {"lone": {}, "a": {}, "b": {"deps": ["a"]}, "c": {"deps": ["b"]}}
    async with engine_on(await open_store("memory://"), registry_with(log)) as engine:
        firsts = set()
        for n in range(20):
            since = log.mark()
            await stacks.create_stack(engine, f"s{n}", inputs(template(spec)),
                                      stacks.CreateOptions(convergence=True))
            firsts.add(log.ops("start", since)[0][1])
        assert engine.action_seconds < SLOW_ACTION_S
    assert firsts == {"a", "lone"}

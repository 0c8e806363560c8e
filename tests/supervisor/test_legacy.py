"""The legacy engine end to end on real stores (memory and SQLite) and both anyio backends.

Ordering is observed through the recording actor's call log; states through
the store; physical resources through `CallLog.live()` and real files.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from actors import ActorContext, Created, ResourceActor
from storage import (
    Action,
    EventRecord,
    NotFound,
    SQLiteStore,
    StackRecord,
    Status,
    Store,
    StoreError,
    evolve,
)
from supervisor import operations, stacks
from supervisor.engine import Engine
from supervisor.errors import StateError, TemplateError
from supervisor.lifecycle import load_stack
from supervisor.operations import HOLD_AT_MOST_S, Journal
from supervisor.rows import Rows
from supervisor.views import show_stack
from tests.support import (
    CallLog,
    engine_on,
    hot,
    inputs,
    make_store,
    rec,
    registry_with,
)
from tests.support import test_config as config_with

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    store = await make_store(request.param, tmp_path)
    yield store
    await store.close()


DIAMOND = hot({
    "base": rec("b"),
    "left": rec({"get_attr": ["base", "value"]}),
    "right": rec("r", depends_on="base"),
    "top": rec({"list_join": ["-", [{"get_attr": ["left", "value"]},
                                     {"get_resource": "right"}]]}),
}, outputs={"top": {"value": {"get_attr": ["top", "value"]}}})


def states(rows: Rows) -> dict[str, str]:
    return {r.name: f"{r.action.value}_{r.status.value}" for r in rows.current_rows()}


async def rows_of(store: Store, stack_id: str) -> Rows:
    return Rows(await store.list_resources(stack_id))


async def test_create_runs_in_dependency_order_and_delete_in_reverse(store: Store) -> None:
    log = CallLog()
    async with engine_on(store, registry_with(log)) as engine:
        stack = await stacks.create_stack(engine, "diamond", inputs(DIAMOND))
        assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE)
        created = [name for op, name in log.ops() if op == "create"]
        assert created.index("base") < created.index("left") < created.index("top")
        assert created.index("base") < created.index("right") < created.index("top")
        top = (await rows_of(store, stack.id)).current("top")
        assert top is not None and top.properties["value"] == "b-right-3"
        shown = await show_stack(engine, stack)
        assert shown["outputs"] == [{"output_key": "top", "output_value": "b-right-3",
                                     "description": ""}]

        final = await stacks.delete_stack(engine, "diamond")
        assert (final.action, final.status) == (Action.DELETE, Status.COMPLETE)
        deleted = [name for op, name in log.ops() if op == "delete"]
        assert deleted.index("top") < deleted.index("left") < deleted.index("base")
        assert deleted.index("top") < deleted.index("right") < deleted.index("base")
        assert log.live() == set()
        assert await store.get_stack("diamond") is None


async def test_update_adds_removes_updates_and_replaces_in_one_go(store: Store) -> None:
    log = CallLog()
    before = hot({
        "db": rec("v1", fixed="a"),
        "app": rec({"get_attr": ["db", "value"]}, inputs={"get_resource": "db"}),
        "gone": rec("old"),
        "keep": rec("same"),
    })
    after = hot({
        "db": rec("v1", fixed="b"),  # fixed changes: replace
        "app": rec({"get_attr": ["db", "value"]}, inputs={"get_resource": "db"}),
        "keep": rec("changed"),  # value is update_allowed: in place
        "fresh": rec("new", depends_on="keep"),
    })
    async with engine_on(store, registry_with(log)) as engine:
        stack = await stacks.create_stack(engine, "s", inputs(before))
        old_db = (await rows_of(store, stack.id)).current("db")
        assert old_db is not None
        mark = log.mark()
        stack = await stacks.update_stack(engine, "s", inputs(after))
        assert (stack.action, stack.status) == (Action.UPDATE, Status.COMPLETE)

        ops = log.ops(since=mark)
        assert ("create", "db") in ops and ("create", "fresh") in ops
        assert ("update", "keep") in ops and ("update", "app") in ops
        # the old db is deleted only after its dependent moved to the new one
        old_delete = [i for i, c in enumerate(log.calls) if c.operation == "delete"
                      and c.physical_id == old_db.physical_id and c.phase == "end"]
        app_update = log.index("update", "app", since=mark)
        assert old_delete and old_delete[0] > app_update
        assert log.index("create", "db", since=mark) < app_update
        assert log.index("delete", "gone", since=mark) > app_update

        rows = await rows_of(store, stack.id)
        assert sorted(r.name for r in rows) == ["app", "db", "fresh", "keep"]
        assert set(states(rows).values()) <= {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
        app = rows.current("app")
        db = rows.current("db")
        assert app is not None and db is not None
        assert app.properties["inputs"] == db.physical_id != old_db.physical_id
        assert len(log.live()) == 4


async def test_failed_create_rolls_back_to_nothing(store: Store) -> None:
    log = CallLog()
    template = hot({"a": rec("x"), "b": rec("y", depends_on="a", fail=["create"]),
                    "c": rec("z", depends_on="b")})
    async with engine_on(store, registry_with(log)) as engine:
        stack = await stacks.create_stack(engine, "rb", inputs(template),
                                          stacks.CreateOptions(disable_rollback=False))
        assert (stack.action, stack.status) == (Action.ROLLBACK, Status.COMPLETE)
        assert ("create", "c") not in log.ops("start")
        assert log.live() == set()
        assert len(await store.list_resources(stack.id)) == 0
        events = [(e.resource_name, e.action, e.status)
                  for e in await store.list_events(stack.id)]
        assert ("rb", Action.CREATE, Status.FAILED) in events
        assert events[-1] == ("rb", Action.ROLLBACK, Status.COMPLETE)


async def test_failed_create_without_rollback_stays_failed_with_root_cause(store: Store) -> None:
    log = CallLog()
    template = hot({"a": rec("x", fail=["create"])})
    async with engine_on(store, registry_with(log)) as engine:
        stack = await stacks.create_stack(engine, "nr", inputs(template))
        assert (stack.action, stack.status) == (Action.CREATE, Status.FAILED)
        assert stack.reason == "Resource CREATE failed: a: a: injected create failure"


async def test_failed_update_rolls_back_and_reclaims_the_replaced_resource(store: Store) -> None:
    log = CallLog()
    v1 = hot({"a": rec("one", fixed="1"), "b": rec({"get_attr": ["a", "value"]})})
    v2 = hot({"a": rec("two", fixed="2"),
              "b": rec({"get_attr": ["a", "value"]}, fail=["update"])})
    async with engine_on(store, registry_with(log)) as engine:
        created = await stacks.create_stack(engine, "up", inputs(v1))
        a_before = (await rows_of(store, created.id)).current("a")
        stack = await stacks.update_stack(
            engine, "up", inputs(v2),
            options=stacks.UpdateOptions(rollback=stacks.RollbackMode.ENABLED))
        assert (stack.action, stack.status) == (Action.ROLLBACK, Status.COMPLETE)
        rows = await rows_of(store, stack.id)
        a_after = rows.current("a")
        assert a_before is not None and a_after is not None
        assert a_after.id == a_before.id and a_after.physical_id == a_before.physical_id
        assert [r.name for r in rows] == ["a", "b"]
        assert len(log.live()) == 2
        creates = [name for op, name in log.ops() if op == "create"]
        assert creates.count("a") == 2  # original and the replacement, never a third
        shown = await show_stack(engine, stack)
        assert shown["stack_status"] == "ROLLBACK_COMPLETE"
        # the stack's template is the previous one again: an update to v1 changes nothing
        mark = log.mark()
        again = await stacks.update_stack(engine, "up", inputs(v1))
        assert again.status is Status.COMPLETE and log.ops("start", since=mark) == []


async def test_failure_with_rollback_disabled_then_an_update_fixes_it(store: Store) -> None:
    log = CallLog()
    bad = hot({"a": rec("x"), "b": rec("y", fail=["create"], depends_on="a")})
    good = hot({"a": rec("x"), "b": rec("y", depends_on="a")})
    async with engine_on(store, registry_with(log)) as engine:
        stack = await stacks.create_stack(engine, "fix", inputs(bad))
        assert stack.status is Status.FAILED
        stack = await stacks.update_stack(engine, "fix", inputs(good))
        assert (stack.action, stack.status) == (Action.UPDATE, Status.COMPLETE)
        rows = await rows_of(store, stack.id)
        assert states(rows) == {"a": "CREATE_COMPLETE", "b": "CREATE_COMPLETE"}
        assert len(list(rows)) == 2 and len(log.live()) == 2


async def test_deletion_policy_retain_keeps_the_physical_resource(store: Store) -> None:
    log = CallLog()
    async with engine_on(store, registry_with(log)) as engine:
        await stacks.create_stack(engine, "keep", inputs(hot({
            "kept": rec("k", policy="Retain"), "dropped": rec("d")})))
        await stacks.delete_stack(engine, "keep")
        assert [name for op, name in log.ops() if op == "delete"] == ["dropped"]
        assert {c.resource for c in log.calls if c.physical_id in log.live()} == {"kept"}


async def test_check_suspend_resume_walk_in_the_right_order(store: Store) -> None:
    log = CallLog()
    template = hot({"a": rec("1"), "b": rec("2", depends_on="a"), "c": rec("3", depends_on="b")})
    async with engine_on(store, registry_with(log)) as engine:
        await stacks.create_stack(engine, "walk", inputs(template))
        for action in (Action.CHECK, Action.SUSPEND, Action.RESUME):
            stack = await stacks.act_on_stack(engine, "walk", action)
            assert (stack.action, stack.status) == (action, Status.COMPLETE)
        assert [n for op, n in log.ops() if op == "suspend"] == ["c", "b", "a"]
        assert [n for op, n in log.ops() if op == "resume"] == ["a", "b", "c"]
        assert sorted(n for op, n in log.ops() if op == "check") == ["a", "b", "c"]


async def test_failed_check_marks_the_stack_failed(store: Store) -> None:
    log = CallLog()
    async with engine_on(store, registry_with(log)) as engine:
        await stacks.create_stack(engine, "chk", inputs(hot({"a": rec("1", fail=["check"])})))
        stack = await stacks.act_on_stack(engine, "chk", Action.CHECK)
        assert (stack.action, stack.status) == (Action.CHECK, Status.FAILED)
        assert "injected check failure" in stack.reason


async def test_invalid_template_stores_nothing(store: Store) -> None:
    async with engine_on(store, registry_with(CallLog())) as engine:
        with pytest.raises(TemplateError, match=r"resources\.a\.type: .*Nope::Nothing"):
            await stacks.create_stack(engine, "bad", inputs(hot({"a": {"type": "Nope::Nothing"}})))
        assert await store.list_stacks() == []


async def test_a_taken_name_is_a_state_error(store: Store) -> None:
    async with engine_on(store, registry_with(CallLog())) as engine:
        await stacks.create_stack(engine, "dup", inputs(hot({"a": rec("1")})))
        with pytest.raises(StateError, match="already exists"):
            await stacks.create_stack(engine, "dup", inputs(hot({"a": rec("1")})))


async def test_dry_run_lists_each_change_and_changes_nothing(store: Store) -> None:
    log = CallLog()
    async with engine_on(store, registry_with(log)) as engine:
        await stacks.create_stack(engine, "plan", inputs(hot({
            "same": rec("1"), "inplace": rec("1"), "swap": rec("1", fixed="a"),
            "gone": rec("1")})))
        mark = log.mark()
        plan = await stacks.plan_update(engine, "plan", inputs(hot({
            "same": rec("1"), "inplace": rec("2"), "swap": rec("1", fixed="b"),
            "new": rec("1")})))
        assert {(e.resource_name, e.action.value) for e in plan} == {
            ("same", "unchanged"), ("inplace", "update"), ("swap", "replace"),
            ("new", "create"), ("gone", "delete")}
        assert log.ops("start", since=mark) == []
        assert (await load_stack(engine, "plan")).action is Action.CREATE


#: no cancel-watcher polls nor heartbeats while statements are counted (they are reads and
#: writes of their own, more of them the slower the host)
QUIET = config_with(poll_interval=60.0, heartbeat_interval=60.0, engine_timeout=300.0)


class StoredBeforeReported:
    """An engine listener that looks, from a connection of its own, for each published
    resource event in the database: what it does not find yet was reported too early."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.unseen: list[tuple[str, str]] = []

    def __call__(self, event: EventRecord) -> None:
        if not event.resource_id:
            return
        found = self.db.execute(
            "SELECT count(*) FROM events WHERE resource_id = ? AND status = ? AND action = ?",
            (event.resource_id, event.status.value, event.action.value)).fetchone()[0]
        if not found:
            self.unseen.append((event.resource_name, event.status.value))

    def row_state(self, name: str) -> tuple[str, str, str] | None:
        """(action, status, attributes JSON) of the row of resource `name`, as committed."""
        row = self.db.execute("SELECT action, status, attributes FROM resources WHERE name = ?",
                              (name,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])


async def counted(store: SQLiteStore,
                  operation: Awaitable[StackRecord]) -> tuple[StackRecord, tuple[int, int]]:
    """The stack `operation` ends with, and the commits and statements it took."""
    commits, statements = store.commits, store.statements
    stack = await operation
    return stack, (store.commits - commits, store.statements - statements)


async def test_each_resource_costs_one_commit_and_events_are_stored_before_reported(
        tmp_path: Path) -> None:
    """The legacy walk's journal: a resource's final state goes with the next resource's
    IN_PROGRESS state, yet every event is in the database (seen from another connection)
    when it is published."""
    store = await SQLiteStore.open(tmp_path / "state.db")
    watcher = StoredBeforeReported(tmp_path / "state.db")
    names = [f"r{n:02d}" for n in range(20)]
    try:
        async with engine_on(store, registry_with(CallLog()), QUIET) as engine:
            engine.listeners.append(watcher)
            stack, (created_commits, created_statements) = await counted(
                store, stacks.create_stack(engine, "many", inputs(hot(
                    {name: rec(name) for name in names}))))
            gone, (deleted_commits, _) = await counted(
                store, stacks.delete_stack(engine, "many"))
    finally:
        watcher.db.close()
        await store.close()
    assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE)
    assert (gone.action, gone.status) == (Action.DELETE, Status.COMPLETE)
    assert watcher.unseen == []
    # one per resource, plus the stack's own writes (it was three per resource)
    assert created_commits <= len(names) + 6, created_commits
    assert deleted_commits <= len(names) + 6, deleted_commits
    # per resource: BEGIN, its row inserted as IN_PROGRESS, the previous one's final state,
    # two events, COMMIT (the row was inserted as INIT and then saved: seven)
    assert created_statements <= 6 * len(names) + 20, created_statements


async def test_inward_resources_share_commits_and_are_stored_before_reported(
        tmp_path: Path) -> None:
    """Actors with no outside effects (OS::Heat::None) need nothing durable before their
    call: a run of them is written in one commit, each row inserted in its final state and
    a deleted row never saved first; still no event is published before it is stored."""
    store = await SQLiteStore.open(tmp_path / "state.db")
    watcher = StoredBeforeReported(tmp_path / "state.db")
    names = [f"n{n:02d}" for n in range(40)]
    template = hot({name: {"type": "OS::Heat::None", "properties": {"v": name}}
                    for name in names})
    try:
        async with engine_on(store, registry_with(CallLog()), QUIET) as engine:
            engine.listeners.append(watcher)
            stack, created = await counted(
                store, stacks.create_stack(engine, "inward", inputs(template)))
            assert {watcher.row_state(name)[:2] for name in names} == {  # type: ignore[index]
                ("CREATE", "COMPLETE")}
            gone, deleted = await counted(store, stacks.delete_stack(engine, "inward"))
    finally:
        watcher.db.close()
        await store.close()
    assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE)
    assert (gone.action, gone.status) == (Action.DELETE, Status.COMPLETE)
    assert watcher.unseen == []
    # the stack's own writes and a handful of journal commits, not one per resource
    assert created[0] <= 8, created
    assert deleted[0] <= 8, deleted
    # per resource: its row inserted once, two events; for delete: two events, one DELETE
    assert created[1] <= 3 * len(names) + 30, created
    assert deleted[1] <= 3 * len(names) + 30, deleted


async def test_an_outside_actor_is_called_after_the_inward_state_it_uses_is_durable(
        tmp_path: Path) -> None:
    """A held inward state is committed with the next outside resource's IN_PROGRESS state,
    before that resource's actor is called: the password the recorder is given is already
    stored (seen from another connection) when its create starts."""
    store = await SQLiteStore.open(tmp_path / "state.db")
    watcher = StoredBeforeReported(tmp_path / "state.db")
    seen_at_start: list[Any] = []

    class Watching(CallLog):
        def append(self, call: Any) -> None:
            if (call.operation, call.phase) == ("create", "start"):
                seen_at_start.append((watcher.row_state("secret"), watcher.row_state("app"),
                                      call.props["value"]))
            super().append(call)

    template = hot({
        "pad": {"type": "OS::Heat::None"},
        "secret": {"type": "OS::Heat::RandomString", "depends_on": "pad"},
        "app": rec({"get_attr": ["secret", "value"]}),
    })
    try:
        async with engine_on(store, registry_with(Watching())) as engine:
            engine.listeners.append(watcher)
            stack = await stacks.create_stack(engine, "mixed", inputs(template))
    finally:
        watcher.db.close()
        await store.close()
    assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE)
    [(secret, app, password)] = seen_at_start
    assert secret[:2] == ("CREATE", "COMPLETE")
    assert password in secret[2] and len(password) == 32
    assert app[:2] == ("CREATE", "IN_PROGRESS")
    assert watcher.unseen == []


def inward_type(started: dict[str, float], delay: float = 0.0) -> type[ResourceActor]:
    """`Test::Inward`: an actor with no outside effects that notes when each create starts
    (event-loop time) and then waits `delay`."""

    class Inward(ResourceActor):
        type_name = "Test::Inward"
        outside_effects = False

        async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
            started[ctx.resource_name] = anyio.current_time()
            if delay:
                await anyio.sleep(delay)
            return Created(ctx.resource_name)

        async def delete(self, ctx: ActorContext, physical_id: str,
                         props: Mapping[str, Any]) -> None:
            return None

    return Inward


async def test_a_long_run_of_inward_resources_reports_as_it_goes(store: Store) -> None:
    """A held state waits at most HOLD_AT_MOST_S for its commit: the first resources of a run
    of slow inward ones are reported long before the last one is called."""
    published: dict[tuple[str, str], float] = {}
    started: dict[str, float] = {}

    def note(event: EventRecord) -> None:
        published.setdefault((event.resource_name, event.status.value), anyio.current_time())

    registry = registry_with(CallLog())
    registry.register(inward_type(started, delay=0.03))
    names = [f"s{n}" for n in range(8)]
    async with engine_on(store, registry) as engine:
        engine.listeners.append(note)
        stack = await stacks.create_stack(engine, "slow", inputs(hot(
            {name: {"type": "Test::Inward"} for name in names})))
        assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE)
        stored = {e.resource_name for e in await store.list_events(stack.id)
                  if e.status is Status.COMPLETE}
    assert stored >= set(names)
    assert published[("s0", "COMPLETE")] < started["s4"]
    assert published[("s0", "COMPLETE")] - started["s0"] < HOLD_AT_MOST_S + 0.1


async def test_a_flush_cancelled_before_its_write_keeps_everything_held_for_the_next() -> None:
    """A cancel (stack cancel, timeout) that reaches the journal's write before the store takes
    it must not lose what was held: the walk's closing flush writes it and reports it."""
    store = await make_store("memory", Path())
    reported: list[tuple[str, str]] = []
    try:
        async with engine_on(store, registry_with(CallLog())) as engine:
            stack = await stacks.create_stack(engine, "j", inputs(hot({})))
            engine.listeners.append(lambda e: reported.append((e.resource_name, e.status.value)))
            journal = Journal(engine, stack.name)
            row = operations.new_row(stack, "kept", "OS::Heat::None", None)
            journal.add(row)
            done = evolve(row, action=Action.CREATE, status=Status.COMPLETE, physical_id="p")
            await journal.record(done, operations.event_for(done), final=True)
            with anyio.CancelScope() as cancelled:
                cancelled.cancel()
                await journal.flush()
            assert cancelled.cancelled_caught
            assert await store.get_resource(row.id) is None and reported == []
            await journal.flush()
            stored = await store.get_resource(row.id)
    finally:
        await store.close()
    assert stored is not None and (stored.status, stored.physical_id) == (Status.COMPLETE, "p")
    assert reported == [("kept", "COMPLETE")]


async def test_a_run_of_inward_resources_lets_other_tasks_run(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Holding a state skips the write that was the walk's yield point: the walk still lets
    the event loop's other tasks run every YIELD_EVERY_S, not only at its commits. Held
    states wait up to a second here, so the whole walk is one hold."""
    monkeypatch.setattr(operations, "HOLD_AT_MOST_S", 1.0)
    ticks: list[float] = []
    started: dict[str, float] = {}
    walking = True

    async def tick() -> None:
        while walking:
            await anyio.lowlevel.checkpoint()
            ticks.append(anyio.current_time())

    registry = registry_with(CallLog())
    registry.register(inward_type(started))
    template = hot({f"n{n:04d}": {"type": "Test::Inward"} for n in range(5000)})
    async with engine_on(store, registry) as engine, anyio.create_task_group() as group:
        group.start_soon(tick)
        stack = await stacks.create_stack(engine, "busy", inputs(template))
        walking = False
    assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE)
    first, last = min(started.values()), max(started.values())
    during = [first, *(t for t in ticks if first < t < last), last]
    gaps = [b - a for a, b in itertools.pairwise(during)]
    # without the yields the walk is one gap; with them, dozens (a slow host stretches the
    # walk and its gaps alike, and a garbage collection may make one gap long)
    assert len(gaps) >= 10 and max(gaps) < (last - first) / 2, (len(gaps), max(gaps))


async def test_an_update_of_inward_resources_replaces_updates_removes_and_rolls_back(
        store: Store) -> None:
    """Held states across a whole update: a replaced RandomString (new row, old row deleted),
    a Value updated in place, a None removed and one added all land in the store; then a
    Value that fails to convert midway rolls the stack back to those rows."""
    v1 = hot({
        "secret": {"type": "OS::Heat::RandomString", "properties": {"length": 8}},
        "shown": {"type": "OS::Heat::Value",
                  "properties": {"value": {"get_attr": ["secret", "value"]}}},
        "gone": {"type": "OS::Heat::None"},
    })
    v2 = hot({
        "secret": {"type": "OS::Heat::RandomString", "properties": {"length": 12}},
        "shown": {"type": "OS::Heat::Value",
                  "properties": {"value": {"get_attr": ["secret", "value"]}}},
        "new": {"type": "OS::Heat::None"},
    })
    v3 = hot({
        "secret": {"type": "OS::Heat::RandomString", "properties": {"length": 12}},
        "shown": {"type": "OS::Heat::Value",
                  "properties": {"value": {"get_attr": ["secret", "value"]}}},
        "new": {"type": "OS::Heat::None"},
        "bad": {"type": "OS::Heat::Value",
                "properties": {"value": "not a number", "type": "number"}},
    })
    async with engine_on(store, registry_with(CallLog())) as engine:
        created = await stacks.create_stack(engine, "inward", inputs(v1))
        before = await rows_of(store, created.id)
        updated = await stacks.update_stack(engine, "inward", inputs(v2))
        after = await rows_of(store, created.id)
        failed = await stacks.update_stack(
            engine, "inward", inputs(v3),
            options=stacks.UpdateOptions(rollback=stacks.RollbackMode.ENABLED))
        rolled = await rows_of(store, created.id)
    assert (updated.action, updated.status) == (Action.UPDATE, Status.COMPLETE)
    old_secret, new_secret = before.current("secret"), after.current("secret")
    assert old_secret is not None and new_secret is not None
    assert new_secret.id != old_secret.id and len(new_secret.attributes["value"]) == 12
    assert old_secret.id not in {row.id for row in after}
    shown = after.current("shown")
    assert shown is not None and shown.action is Action.UPDATE
    assert shown.attributes["value"] == new_secret.attributes["value"]
    assert sorted(row.name for row in after) == ["new", "secret", "shown"]
    assert {row.status for row in after} == {Status.COMPLETE}
    assert (failed.action, failed.status) == (Action.ROLLBACK, Status.COMPLETE)
    assert sorted(row.name for row in rolled) == ["new", "secret", "shown"]
    kept = rolled.current("secret")
    assert kept is not None and kept.attributes == new_secret.attributes


@pytest.mark.parametrize("outside", [True, False], ids=["outside", "inward"])
async def test_a_cancel_that_lands_on_a_final_state_still_drops_the_deleted_row(
        tmp_path: Path, outside: bool) -> None:
    """A cancel that reaches the walk while an actor call will not stop for it (a thread, a
    shielded call) is delivered after the call's final state is recorded and acted on: the
    row the delete removed is gone, not left DELETE_COMPLETE with its physical id; and the
    next resource, whose delete the cancel stops, keeps its state."""
    store = await make_store("sqlite", tmp_path)
    deleting = anyio.Event()

    class Stubborn(ResourceActor):
        type_name = "Test::Stubborn"
        outside_effects = outside

        async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
            return Created(ctx.resource_name)

        async def delete(self, ctx: ActorContext, physical_id: str,
                         props: Mapping[str, Any]) -> None:
            deleting.set()
            with anyio.CancelScope(shield=True):  # the cancel (polled every 50 ms) lands in it
                await anyio.sleep(0.5)

    registry = registry_with(CallLog())
    registry.register(Stubborn)
    template = hot({"a": {"type": "Test::Stubborn"}, "b": {"type": "Test::Stubborn"}})
    try:
        async with engine_on(store, registry) as engine:
            stack = await stacks.create_stack(engine, "stub", inputs(template))
            ended: list[Any] = []
            async with anyio.create_task_group() as group:
                async def delete() -> None:
                    ended.append(await stacks.delete_stack(engine, "stub"))

                group.start_soon(delete)
                await deleting.wait()
                await stacks.cancel_stack(engine, "stub", rollback=False)
            rows = await store.list_resources(stack.id)
    finally:
        await store.close()
    states = [(row.action, row.status) for row in rows]
    if outside:  # the cancel lands on the next IN_PROGRESS state, which it takes back
        assert ended[0].status is Status.FAILED and ended[0].reason.endswith("cancelled")
        assert states == [(Action.CREATE, Status.COMPLETE)]
    else:  # nothing of an inward walk waits for a cancel but its writes
        assert (Action.DELETE, Status.COMPLETE) not in states
        assert set(states) <= {(Action.CREATE, Status.COMPLETE)}


@asynccontextmanager
async def the_only_slot_taken(engine: Engine, seconds: float) -> AsyncIterator[None]:
    """Within the block, another task holds the engine's only action slot for `seconds`
    (the engine runs with `max_concurrent_actions` 1)."""
    async with anyio.create_task_group() as group:
        holding = anyio.Event()

        async def hog() -> None:
            async with engine.limiter:
                holding.set()
                await anyio.sleep(seconds)

        group.start_soon(hog)
        await holding.wait()
        yield


async def test_held_states_are_written_before_the_walk_waits_for_an_action_slot(
        store: Store) -> None:
    """The engine's action slots are shared: while the walk waits for one, what it holds
    is written and reported, not kept until the slot frees."""
    started: dict[str, float] = {}
    published: dict[tuple[str, str], float] = {}
    registry = registry_with(CallLog())
    registry.register(inward_type(started))
    template = hot({"n1": {"type": "Test::Inward"}})
    async with engine_on(store, registry, config_with(max_concurrent_actions=1)) as engine:
        engine.listeners.append(
            lambda e: published.setdefault((e.resource_name, e.status.value),
                                           anyio.current_time()))
        async with the_only_slot_taken(engine, 0.3):
            begun = anyio.current_time()
            stack = await stacks.create_stack(engine, "slot", inputs(template))
    assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE)
    assert started["n1"] - begun >= 0.25  # the walk did wait for the slot
    assert published[("n1", "IN_PROGRESS")] - begun < 0.15


async def test_an_outside_final_state_waits_for_no_later_actor_call(store: Store) -> None:
    """An outside resource's final state (its physical id) is written before the next actor
    call, inward or not, as it always was: never held behind an inward resource's call."""
    started: dict[str, float] = {}
    returned: dict[str, float] = {}
    published: dict[tuple[str, str], float] = {}

    class Outside(ResourceActor):
        type_name = "Test::Outside"

        async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
            returned[ctx.resource_name] = anyio.current_time()
            return Created(ctx.resource_name)

        async def delete(self, ctx: ActorContext, physical_id: str,
                         props: Mapping[str, Any]) -> None:
            return None

    registry = registry_with(CallLog())
    registry.register(Outside)
    registry.register(inward_type(started, delay=0.3))
    template = hot({"o": {"type": "Test::Outside"},
                    "n": {"type": "Test::Inward", "depends_on": "o"}})
    async with engine_on(store, registry) as engine:
        engine.listeners.append(
            lambda e: published.setdefault((e.resource_name, e.status.value),
                                           anyio.current_time()))
        stack = await stacks.create_stack(engine, "order", inputs(template))
    assert (stack.action, stack.status) == (Action.CREATE, Status.COMPLETE)
    assert returned["o"] <= published[("o", "COMPLETE")] <= started["n"]


async def test_a_cancelled_run_of_inward_resources_leaves_no_state_unperformed(
        store: Store) -> None:
    """A stack cancel reaches a walk of inward resources within a few milliseconds (at the
    walk's yields), and what it leaves is what happened: every row that says
    CREATE_COMPLETE was created, none says IN_PROGRESS."""
    hundred = anyio.Event()

    class Counting(dict[str, float]):
        def __setitem__(self, name: str, when: float) -> None:
            super().__setitem__(name, when)
            if len(self) >= 100:
                hundred.set()

    started = Counting()
    registry = registry_with(CallLog())
    registry.register(inward_type(started))
    template = hot({f"n{n:04d}": {"type": "Test::Inward"} for n in range(5000)})
    async with engine_on(store, registry) as engine:
        ended: list[Any] = []
        async with anyio.create_task_group() as group:
            async def create() -> None:
                ended.append(await stacks.create_stack(engine, "stop", inputs(template)))

            group.start_soon(create)
            await hundred.wait()
            await stacks.cancel_stack(engine, "stop", rollback=False)
        rows = await store.list_resources(ended[0].id)
    assert ended[0].status is Status.FAILED and ended[0].reason.endswith("cancelled")
    assert len(started) < 5000
    done = {row.name for row in rows if row.status is Status.COMPLETE
            and row.action is Action.CREATE}
    assert done and done <= set(started)
    assert all(row.status is not Status.IN_PROGRESS for row in rows), \
        [(row.name, row.action, row.status) for row in rows if row.status is Status.IN_PROGRESS]


async def test_a_store_error_while_waiting_for_a_slot_is_the_stores_not_the_actors(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk writes what it holds before it waits for an action slot; if the store
    refuses that write, its error propagates as it is: it is not recorded as a failure of
    the resource whose actor was about to be called."""
    started: dict[str, float] = {}
    registry = registry_with(CallLog())
    registry.register(inward_type(started))
    original = store.write_resources
    failures = [StoreError("injected: disk full")]

    async def refuse_once(*args: Any) -> None:
        if failures:
            raise failures.pop()
        await original(*args)

    async with engine_on(store, registry, config_with(max_concurrent_actions=1)) as engine:
        monkeypatch.setattr(store, "write_resources", refuse_once)
        async with the_only_slot_taken(engine, 0.2):
            with pytest.raises(BaseExceptionGroup) as caught:  # from the walk's task group
                await stacks.create_stack(engine, "refused", inputs(hot(
                    {"n1": {"type": "Test::Inward"}})))
    assert caught.group_contains(StoreError, match="injected: disk full")
    assert not caught.group_contains(NotFound)
    assert started == {}

"""The `Store` conformance suite: every invariant of `storage.base`, run against every backend
(the `store` fixture) on every anyio backend."""

from __future__ import annotations

import dataclasses

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import (
    Action,
    NotFound,
    ResourceRecord,
    StackExists,
    StackRecord,
    Status,
    Store,
    StoreError,
)
from tests.storage.storage_samples import (
    AWKWARD,
    created,
    engine,
    event,
    new_id,
    resource,
    stack,
    template,
)

pytestmark = pytest.mark.anyio

CONCURRENT_CALLERS = 16


# stacks


async def test_stack_round_trips_awkward_fields(store: Store) -> None:
    written = await created(
        store,
        "ünïcødé-stack ✓",
        convergence=True,
        action=Action.UPDATE,
        status=Status.FAILED,
        reason="Resource CREATE failed: 'x'\nsecond line",
        parameters=AWKWARD,
        tags=("a", "ß", ""),
        timeout_mins=60,
        disable_rollback=False,
        updated_at=1_700_000_123.25,
        graph={"nodes": [["r1", "update"], ["r1", "cleanup"]], "edges": {}},
    )
    read = await store.get_stack(written.id)
    assert read == written
    assert read is not None
    assert type(read.tags) is tuple
    assert type(read.parameters) is dict
    assert type(read.action) is Action and type(read.status) is Status
    assert type(read.created_at) is float and type(read.updated_at) is float
    assert read.convergence is True and read.disable_rollback is False


async def test_stack_round_trips_empty_and_none_fields(store: Store) -> None:
    written = await created(store, prev_template_id=None, graph=None, tags=(), created_at=5.0)
    read = await store.get_stack(written.id)
    assert read == written
    assert read is not None
    assert read.graph is None and read.updated_at is None and read.timeout_mins is None
    assert read.tags == () and type(read.tags) is tuple


async def test_get_stack_by_id_or_name(store: Store) -> None:
    written = await created(store, "by-name")
    assert await store.get_stack(written.id) == written
    assert await store.get_stack("by-name") == written
    assert await store.get_stack("no-such-stack") is None


async def test_get_stack_prefers_an_id_match_over_a_name_match(store: Store) -> None:
    first = await created(store, "first")
    await created(store, first.id)  # a stack named like the first one's id
    found = await store.get_stack(first.id)
    assert found is not None and found.name == "first"


async def test_create_stack_stores_its_first_template(store: Store) -> None:
    written = await created(store)
    assert written.template_id is not None
    stored = await store.get_template(written.template_id)
    assert stored is not None and stored.stack_id == written.id


async def test_create_stack_refuses_a_taken_name_and_writes_nothing(store: Store) -> None:
    await created(store, "taken")
    again = stack("taken")
    again_template = template(again)
    with pytest.raises(StackExists) as caught:
        await store.create_stack(again, again_template)
    assert caught.value.name == "taken"
    assert await store.get_stack(again.id) is None
    assert await store.get_template(again_template.id) is None


async def test_create_stack_is_atomic_with_its_template(store: Store) -> None:
    first = await created(store, "first")
    second = stack("second")
    clashing = template(second, id=first.template_id)
    with pytest.raises(StoreError):
        await store.create_stack(second, clashing)
    assert await store.get_stack("second") is None


async def test_concurrent_creates_of_one_name_have_exactly_one_winner(store: Store) -> None:
    winners: list[StackRecord] = []
    losers: list[StackExists] = []

    async def try_create() -> None:
        candidate = stack("contested")
        try:
            await store.create_stack(candidate, template(candidate))
        except StackExists as exc:
            losers.append(exc)
        else:
            winners.append(candidate)

    async with anyio.create_task_group() as tg:
        for _ in range(CONCURRENT_CALLERS):
            tg.start_soon(try_create)

    assert len(winners) == 1
    assert len(losers) == CONCURRENT_CALLERS - 1
    assert await store.list_stacks() == winners


async def test_list_stacks_orders_by_created_at_then_name(store: Store) -> None:
    late = await created(store, "a-late", created_at=30.0)
    b = await created(store, "b", created_at=10.0)
    a = await created(store, "a", created_at=10.0)
    early = await created(store, "z-early", created_at=1.0)
    assert await store.list_stacks() == [early, a, b, late]


async def test_save_stack_overwrites_everything_but_the_lock_columns(store: Store) -> None:
    written = await created(store, traversal_id="t-1")
    assert await store.acquire_stack_lock(written.id, "engine-a")
    changed = dataclasses.replace(
        written,
        name="renamed",
        action=Action.UPDATE,
        status=Status.COMPLETE,
        reason="done",
        parameters={"flavor": "m1.small"},
        tags=("x",),
        updated_at=99.5,
        graph={"edges": [[1, 2]]},
        engine_id="someone-else",
        traversal_id="t-2",
    )
    await store.save_stack(changed)
    expected = dataclasses.replace(changed, engine_id="engine-a", traversal_id="t-1")
    assert await store.get_stack(written.id) == expected
    assert await store.get_stack("renamed") == expected
    assert await store.get_stack(written.name) is None


async def test_save_stack_appends_its_event(store: Store) -> None:
    written = await created(store)
    done = dataclasses.replace(written, status=Status.COMPLETE)
    await store.save_stack(done, event(written, status=Status.COMPLETE))
    (saved,) = await store.list_events(written.id)
    assert saved.status is Status.COMPLETE and saved.id > 0


async def test_save_stack_refuses_a_taken_name(store: Store) -> None:
    await created(store, "one")
    two = await created(store, "two")
    with pytest.raises(StackExists):
        await store.save_stack(dataclasses.replace(two, name="one"), event(two))
    assert await store.get_stack("two") == two
    assert await store.list_events(two.id) == []


async def test_save_of_a_missing_stack_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.save_stack(stack("ghost"))


async def test_delete_stack_removes_its_templates_resources_and_events(store: Store) -> None:
    doomed = await created(store, "doomed")
    kept = await created(store, "kept")
    for owner in (doomed, kept):
        await store.store_template(template(owner))
        await store.add_resource(resource(owner), event(owner, "server"))
        await store.append_event(event(owner))
    kept_state = (
        await store.list_resources(kept.id),
        await store.list_events(kept.id),
        await store.get_template(str(kept.template_id)),
    )

    await store.delete_stack(doomed.id)

    assert await store.get_stack(doomed.id) is None
    assert await store.get_template(str(doomed.template_id)) is None
    assert await store.list_resources(doomed.id) == []
    assert await store.list_events(doomed.id) == []
    assert kept_state == (
        await store.list_resources(kept.id),
        await store.list_events(kept.id),
        await store.get_template(str(kept.template_id)),
    )
    await created(store, "doomed")  # the name is free again


async def test_delete_of_a_missing_stack_is_a_no_op(store: Store) -> None:
    await store.delete_stack("no-such-stack")


# the stack lock


async def test_stack_lock_is_a_compare_and_set(store: Store) -> None:
    written = await created(store)
    assert await store.acquire_stack_lock(written.id, "a")
    assert not await store.acquire_stack_lock(written.id, "b")
    assert not await store.acquire_stack_lock(written.id, "a")  # not re-entrant
    assert not await store.acquire_stack_lock(written.id, "b", expected="c")
    assert await store.acquire_stack_lock(written.id, "b", expected="a")  # a steal
    locked = await store.get_stack(written.id)
    assert locked is not None and locked.engine_id == "b"


async def test_release_clears_the_lock_only_for_its_holder(store: Store) -> None:
    written = await created(store)
    assert await store.acquire_stack_lock(written.id, "a")
    await store.release_stack_lock(written.id, "b")
    assert not await store.acquire_stack_lock(written.id, "b")
    await store.release_stack_lock(written.id, "a")
    assert await store.acquire_stack_lock(written.id, "b")
    await store.release_stack_lock("no-such-stack", "a")


async def test_acquire_on_a_missing_stack_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.acquire_stack_lock("no-such-stack", "a")


async def test_concurrent_lock_attempts_have_exactly_one_winner(store: Store) -> None:
    written = await created(store)
    winners: list[str] = []

    async def try_lock(engine_id: str) -> None:
        if await store.acquire_stack_lock(written.id, engine_id):
            winners.append(engine_id)

    async with anyio.create_task_group() as tg:
        for n in range(CONCURRENT_CALLERS):
            tg.start_soon(try_lock, f"engine-{n}")

    assert len(winners) == 1
    locked = await store.get_stack(written.id)
    assert locked is not None and locked.engine_id == winners[0]


# templates


async def test_template_round_trips_and_deletes(store: Store) -> None:
    owner = await created(store)
    written = template(
        owner,
        template={"resources": AWKWARD, "outputs": {}},
        files={"ünï.yaml": "a: 1\n", "empty": ""},
        environment={"parameters": {"n": 3}, "resource_registry": {}},
    )
    await store.store_template(written)
    read = await store.get_template(written.id)
    assert read == written
    assert read is not None and type(read.files) is dict
    await store.delete_template(written.id)
    assert await store.get_template(written.id) is None
    await store.delete_template(written.id)


async def test_template_needs_its_stack_and_a_fresh_id(store: Store) -> None:
    owner = await created(store)
    with pytest.raises(NotFound):
        await store.store_template(template(stack("ghost")))
    with pytest.raises(StoreError):
        await store.store_template(template(owner, id=owner.template_id))


# resources


def awkward_resource(owner: StackRecord) -> ResourceRecord:
    return resource(
        owner,
        "ünï-server",
        physical_id="phys-✓",
        action=Action.CREATE,
        status=Status.FAILED,
        reason='Error: "quota"\nexceeded',
        properties=AWKWARD,
        attributes={"addresses": {"private": [{"addr": "10.0.0.3", "version": 4}]}},
        requires=(new_id(), new_id()),
        replaces=new_id(),
        updated_at=12.75,
        engine_id="engine-a",
        atomic_key=7,
    )


async def test_resource_round_trips(store: Store) -> None:
    owner = await created(store)
    plain = resource(owner, "plain", created_at=3.0)
    odd = awkward_resource(owner)
    await store.add_resource(plain)
    await store.add_resource(odd)
    assert await store.get_resource(plain.id) == plain
    read = await store.get_resource(odd.id)
    assert read == odd
    assert read is not None
    assert type(read.requires) is tuple and type(read.properties) is dict
    assert type(read.created_at) is float and read.atomic_key == 7
    assert await store.get_resource("no-such-resource") is None


async def test_add_resource_appends_its_event(store: Store) -> None:
    owner = await created(store)
    row = resource(owner)
    await store.add_resource(row, event(owner, row.name, resource_id=row.id))
    (appended,) = await store.list_events(owner.id)
    assert appended.resource_id == row.id


async def test_add_resource_needs_its_stack_and_a_fresh_id(store: Store) -> None:
    owner = await created(store)
    ghost = stack("ghost")
    with pytest.raises(NotFound):
        await store.add_resource(resource(ghost), event(ghost))
    row = resource(owner)
    await store.add_resource(row)
    with pytest.raises(StoreError):
        await store.add_resource(dataclasses.replace(row, name="other"), event(owner))
    assert await store.list_events(owner.id) == []


async def test_list_resources_orders_by_created_at_then_id(store: Store) -> None:
    owner = await created(store)
    other = await created(store, "other")
    rows = [
        resource(owner, "late", id="a", created_at=20.0),
        resource(owner, "tie-b", id="c", created_at=10.0),
        resource(owner, "tie-a", id="b", created_at=10.0),
        resource(owner, "early", id="d", created_at=1.0),
    ]
    for row in rows:
        await store.add_resource(row)
    await store.add_resource(resource(other, id="e"))
    listed = await store.list_resources(owner.id)
    assert [r.name for r in listed] == ["early", "tie-a", "tie-b", "late"]
    assert await store.list_resources("no-such-stack") == []


async def test_save_resource_never_touches_the_lock_columns(store: Store) -> None:
    owner = await created(store)
    row = resource(owner, engine_id="engine-a", atomic_key=3)
    await store.add_resource(row)
    changed = dataclasses.replace(awkward_resource(owner), id=row.id, engine_id=None, atomic_key=99)
    await store.save_resource(changed, event(owner, changed.name))
    expected = dataclasses.replace(changed, engine_id="engine-a", atomic_key=3)
    assert await store.get_resource(row.id) == expected
    assert len(await store.list_events(owner.id)) == 1


async def test_save_resource_keeps_the_stack_and_creation_time_it_was_added_with(
        store: Store) -> None:
    owner, other = await created(store), await created(store, "other")
    row = resource(owner, created_at=5.0)
    await store.add_resource(row)
    moved = dataclasses.replace(row, stack_id=other.id, created_at=9.0, reason="moved?")
    await store.save_resource(moved)
    assert await store.get_resource(row.id) == dataclasses.replace(row, reason="moved?")
    assert [r.id for r in await store.list_resources(owner.id)] == [row.id]
    assert await store.list_resources(other.id) == []


async def test_write_resources_adds_saves_drops_and_appends_in_one_step(store: Store) -> None:
    owner = await created(store)
    kept, gone = resource(owner, "kept", created_at=1.0), resource(owner, "gone", created_at=2.0)
    for row in (kept, gone):
        await store.add_resource(row)
    fresh = resource(owner, "fresh", created_at=3.0)
    started = dataclasses.replace(fresh, action=Action.CREATE, status=Status.IN_PROGRESS)
    done = dataclasses.replace(kept, reason="done")
    news = [event(owner, "kept", reason="done"), event(owner, "fresh")]
    await store.write_resources([fresh], [done, started], [gone.id], news)
    assert await store.list_resources(owner.id) == [done, started]
    assert [(e.resource_name, e.reason) for e in await store.list_events(owner.id)] == [
        ("kept", "done"), ("fresh", "state changed")]


async def test_write_resources_is_all_or_nothing(store: Store) -> None:
    owner = await created(store)
    kept = resource(owner, "kept")
    await store.add_resource(kept)
    changed = dataclasses.replace(kept, reason="changed")
    with pytest.raises(NotFound):
        await store.write_resources([resource(owner, "new")], [changed, resource(owner, "ghost")],
                                    [kept.id], [event(owner)])
    with pytest.raises(StoreError):
        await store.write_resources([resource(owner, "new"), kept], [changed], [], [event(owner)])
    assert await store.list_resources(owner.id) == [kept]
    assert await store.list_events(owner.id) == []


async def test_save_of_a_missing_resource_raises_and_drops_its_event(store: Store) -> None:
    owner = await created(store)
    with pytest.raises(NotFound):
        await store.save_resource(resource(owner), event(owner))
    assert await store.list_events(owner.id) == []


async def test_save_resources_writes_a_batch_and_its_events(store: Store) -> None:
    owner = await created(store)
    rows = [resource(owner, f"r{n}", created_at=float(n)) for n in range(50)]
    for row in rows:
        await store.add_resource(row)
    done = [dataclasses.replace(r, status=Status.COMPLETE, physical_id=r.name) for r in rows]
    events = [event(owner, r.name, status=Status.COMPLETE) for r in done]
    await store.save_resources(done, events)
    assert await store.list_resources(owner.id) == done
    listed = await store.list_events(owner.id)
    assert [e.resource_name for e in listed] == [r.name for r in done]


async def test_save_resources_is_all_or_nothing(store: Store) -> None:
    owner = await created(store)
    row = resource(owner)
    await store.add_resource(row)
    changed = dataclasses.replace(row, status=Status.FAILED)
    with pytest.raises(NotFound):
        await store.save_resources([changed, resource(owner, "ghost")], [event(owner)])
    assert await store.get_resource(row.id) == row
    assert await store.list_events(owner.id) == []
    await store.save_resources([], [])


async def test_delete_resource(store: Store) -> None:
    owner = await created(store)
    row = resource(owner)
    await store.add_resource(row)
    await store.delete_resource(row.id)
    assert await store.get_resource(row.id) is None
    assert await store.list_resources(owner.id) == []
    await store.delete_resource(row.id)


# events


async def test_append_event_assigns_increasing_ids(store: Store) -> None:
    one = await created(store, "one")
    two = await created(store, "two")
    appended = [await store.append_event(event(s)) for s in (one, two, one, two, one)]
    ids = [e.id for e in appended]
    assert ids == sorted(set(ids)) and ids[0] > 0
    assert appended[0] == dataclasses.replace(event(one), id=ids[0])
    assert await store.list_events(one.id) == appended[0::2]


async def test_event_round_trips(store: Store) -> None:
    owner = await created(store)
    full = event(
        owner,
        "ünï ✓",
        physical_id="p-1",
        action=Action.ROLLBACK,
        status=Status.FAILED,
        reason='line one\nline "two"',
        time=12.0,
        resource_id=new_id(),
        resource_type="OS::Nova::Server",
    )
    appended = await store.append_event(full)
    (read,) = await store.list_events(owner.id)
    assert read == appended == dataclasses.replace(full, id=appended.id)
    assert type(read.time) is float and type(read.action) is Action


async def test_list_events_after_and_by_resource(store: Store) -> None:
    owner = await created(store)
    names = ["a", "b", "a", "c", "a"]
    appended = [await store.append_event(event(owner, n)) for n in names]
    assert await store.list_events(owner.id, after=appended[1].id) == appended[2:]
    assert await store.list_events(owner.id, after=appended[-1].id) == []
    by_a = await store.list_events(owner.id, resource_name="a")
    assert by_a == [appended[0], appended[2], appended[4]]
    after_a = await store.list_events(owner.id, after=appended[2].id, resource_name="a")
    assert after_a == [appended[4]]
    assert await store.list_events("no-such-stack") == []


async def test_event_ids_keep_growing_after_deletes(store: Store) -> None:
    doomed = await created(store, "doomed")
    last = await store.append_event(event(doomed))
    await store.delete_stack(doomed.id)
    fresh = await created(store, "fresh")
    assert (await store.append_event(event(fresh))).id > last.id


async def test_append_event_needs_its_stack(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.append_event(event(stack("ghost")))


# engines


async def test_engines_register_heartbeat_list_and_remove(store: Store) -> None:
    late = engine(id="late", started_at=200.0, heartbeat_at=200.0)
    early = engine(id="early", host="ħøst", started_at=100.0, heartbeat_at=100.0)
    await store.register_engine(late)
    await store.register_engine(early)
    assert await store.list_engines() == [early, late]
    read = await store.get_engine("early")
    assert read == early and read is not None and type(read.started_at) is float

    await store.heartbeat("early", 150.5)
    beat = await store.get_engine("early")
    assert beat == dataclasses.replace(early, heartbeat_at=150.5)

    await store.remove_engine("early")
    await store.remove_engine("early")
    assert await store.get_engine("early") is None
    assert await store.list_engines() == [late]


async def test_heartbeat_of_a_removed_engine_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.heartbeat("gone", 1.0)


async def test_registering_an_engine_again_replaces_it(store: Store) -> None:
    first = engine(id="e1")
    await store.register_engine(first)
    restarted = dataclasses.replace(first, pid=7, started_at=500.0, heartbeat_at=500.0)
    await store.register_engine(restarted)
    assert await store.list_engines() == [restarted]


# payloads under Hypothesis

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(payload=st.dictionaries(st.text(), JSON, max_size=5), requires=st.lists(st.text()))
async def test_any_json_payload_round_trips(
    store: Store, payload: dict[str, object], requires: list[str]
) -> None:
    owner = await created(store, new_id(), parameters=payload, tags=tuple(requires))
    row = resource(owner, properties=payload, attributes=payload, requires=tuple(requires))
    await store.add_resource(row)
    assert await store.get_stack(owner.id) == owner
    assert await store.get_resource(row.id) == row

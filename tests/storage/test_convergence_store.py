"""The convergence half of the `Store` conformance suite: traversals, sync points, the ready
queue and resource locks (`storage.base`), run against every backend (the `store` fixture)
on every anyio backend."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import anyio
import pytest

from storage import (
    Action,
    Delivery,
    NodeKey,
    NotFound,
    Phase,
    ReadyNode,
    ResourceRecord,
    SQLiteStore,
    StackRecord,
    Status,
    Store,
    StoreError,
    TraversalBuilder,
    TraversalRecord,
    TraversalStart,
)
from tests.storage.storage_samples import (
    AWKWARD,
    created,
    event,
    locked,
    new_id,
    ready,
    resource,
    stack,
    started,
    sync_point,
    template,
    traversal,
    update,
)

pytestmark = pytest.mark.anyio

CONCURRENT_CALLERS = 16

A, B, C, D = update("a"), update("b"), update("c"), update("d")


def always(start: TraversalStart) -> TraversalBuilder:
    """A builder that returns `start`, whatever it is handed."""
    return lambda stored, rows: start


def claimed(walk: TraversalRecord, engine_id: str, *nodes: NodeKey) -> list[ReadyNode]:
    return [ready(walk, node, engine_id) for node in nodes]


async def lock_key(store: Store, resource_id: str, engine_id: str, traversal_id: str,
                   expected: str | None = None, requires: tuple[str, ...] = ()) -> int:
    """Lock the row, which must succeed; the locked row's `atomic_key`, checked against the
    stored row."""
    locked_row = await store.lock_resource(resource_id, engine_id, traversal_id, expected,
                                           requires)
    assert locked_row is not None
    assert await store.get_resource(resource_id) == locked_row
    return locked_row.atomic_key


async def current(store: Store, owner: StackRecord) -> StackRecord:
    found = await store.get_stack(owner.id)
    assert found is not None
    return found


async def snapshot(store: Store, owner: StackRecord) -> tuple[object, ...]:
    """What a start that writes nothing must leave as it was."""
    return (
        await current(store, owner),
        await store.list_ready(owner.id),
        await store.list_resources(owner.id),
        await store.list_events(owner.id),
    )


# start_traversal


async def test_start_traversal_writes_what_the_builder_returns(store: Store) -> None:
    owner = await created(store)
    assert await store.acquire_stack_lock(owner.id, "engine-a")
    target = template(owner, template={"resources": AWKWARD})
    changed = dataclasses.replace(
        owner,
        name="renamed",
        convergence=True,
        action=Action.UPDATE,
        reason="Stack UPDATE started",
        template_id=target.id,
        prev_template_id=owner.template_id,
        parameters=AWKWARD,
        graph={"nodes": [["a", "update"]]},
        engine_id="someone-else",
        traversal_id="ignored",
    )
    walk = traversal(changed, action=Action.UPDATE, previous_template_id=owner.template_id)
    rows = (
        resource(owner, "new-1", template_id=target.id),
        resource(owner, "new-2", engine_id="engine-b", atomic_key=2),
    )
    events = (event(owner, "new-1"), event(owner, reason="Stack UPDATE started"))
    start = TraversalStart(changed, walk, [sync_point(walk, A)], rows, events, target)

    assert await store.start_traversal(owner.id, always(start)) == start

    expected = dataclasses.replace(changed, engine_id="engine-a", traversal_id=walk.id)
    assert await store.get_stack("renamed") == expected
    assert await store.get_traversal(walk.id) == walk
    assert await store.get_template(target.id) == target
    assert [await store.get_resource(r.id) for r in rows] == list(rows)
    appended = await store.list_events(owner.id)
    assert [dataclasses.replace(e, id=0) for e in appended] == list(events)
    assert appended[0].id < appended[1].id


async def test_start_traversal_stores_sync_points_and_queues_the_complete_ones(
    store: Store,
) -> None:
    owner = await created(store)
    walk = traversal(owner)
    row = resource(owner, "old")
    cleanup = NodeKey(Phase.CLEANUP, row.id)
    stack_node = NodeKey(Phase.STACK, owner.id)
    points = [
        sync_point(walk, B, 1, stack_node),
        sync_point(walk, A, 0, B, cleanup, row_id=row.id),
        sync_point(walk, cleanup, 1, stack_node, row_id=row.id),
        sync_point(walk, C, 0, stack_node),
        sync_point(walk, stack_node, 2),
    ]
    assert await store.start_traversal(owner.id, always(TraversalStart(owner, walk, points, [row])))
    for point in points:
        assert await store.get_sync_point(walk.id, point.node) == point
    assert await store.get_sync_point(walk.id, D) is None
    assert await store.list_ready(owner.id) == [ready(walk, A), ready(walk, C)]


async def test_start_traversal_keeps_the_inputs_a_sync_point_starts_with(store: Store) -> None:
    owner = await created(store)
    walk = traversal(owner)
    given = (Delivery(A, {"id": "a-1"}), Delivery(B, {}))
    point = sync_point(walk, C, 1, inputs=given)
    assert await store.start_traversal(owner.id, always(TraversalStart(owner, walk, [point])))
    assert await store.get_sync_point(walk.id, C) == point
    assert await store.deliver(walk.id, A, [(C, {"id": "again"})]) == []
    assert await store.deliver(walk.id, D, [(C, {"id": "d-1"})]) == [ready(walk, C)]
    found = await store.get_sync_point(walk.id, C)
    assert found is not None
    assert found.inputs == (*given, Delivery(D, {"id": "d-1"}))


async def test_the_builder_gets_the_stored_stack_and_rows(store: Store) -> None:
    owner = await created(store)
    first = await started(store, owner)
    assert await store.acquire_stack_lock(owner.id, "engine-a")
    await store.add_resource(resource(owner, "server"))
    await locked(store, first, "engine-b")
    await store.add_resource(resource(await created(store, "other")))
    seen: list[tuple[StackRecord, list[ResourceRecord]]] = []

    def build(stored: StackRecord, rows: list[ResourceRecord]) -> None:
        seen.append((stored, rows))

    assert await store.start_traversal(owner.id, build) is None
    ((stored, rows),) = seen
    assert stored == await current(store, owner)
    assert (stored.traversal_id, stored.engine_id) == (first.id, "engine-a")
    stored_rows = await store.list_resources(owner.id)
    assert len(stored_rows) == 2
    assert sorted(rows, key=lambda r: r.id) == sorted(stored_rows, key=lambda r: r.id)


async def test_a_builder_that_declines_writes_nothing(store: Store) -> None:
    owner = await created(store)
    first = await started(store, owner, (A, 0))
    before = await snapshot(store, owner)
    assert await store.start_traversal(owner.id, lambda stored, rows: None) is None
    assert await snapshot(store, owner) == before
    assert await store.get_sync_point(first.id, A) is not None


async def test_a_builder_exception_propagates_and_writes_nothing(store: Store) -> None:
    owner = await created(store)
    first = await started(store, owner, (A, 0))
    before = await snapshot(store, owner)

    def build(stored: StackRecord, rows: list[ResourceRecord]) -> TraversalStart:
        raise LookupError("no such template")

    with pytest.raises(LookupError):
        await store.start_traversal(owner.id, build)
    assert await snapshot(store, owner) == before
    assert await store.get_sync_point(first.id, A) is not None


async def test_start_traversal_supersedes_the_current_traversal(store: Store) -> None:
    owner = await created(store)
    first = await started(store, owner, (A, 0), (B, 1))
    db = await locked(store, first, "engine-a")
    assert await store.claim_ready("engine-a", 1) == [ready(first, A, "engine-a")]

    second = await started(store, owner, (C, 0), expected=first.id)

    assert (await current(store, owner)).traversal_id == second.id
    assert await store.get_traversal(first.id) == first
    for node in (A, B):
        assert await store.get_sync_point(first.id, node) is None
    assert await store.list_ready(owner.id) == [ready(second, C)]
    assert await store.deliver(first.id, A, [(B, {})]) == []
    assert not await store.save_stack_in_traversal(owner, first.id)
    assert await store.lock_resource(db, "engine-b", first.id, expected="engine-a") is None
    assert await lock_key(store, db, "engine-b", second.id, expected="engine-a") == 2


async def test_start_traversal_of_a_missing_stack_raises_not_found(store: Store) -> None:
    ghost = stack("ghost")
    walk = traversal(ghost)
    with pytest.raises(NotFound):
        await store.start_traversal(ghost.id, always(TraversalStart(ghost, walk, [])))
    owner = await created(store, "by-name")
    with pytest.raises(NotFound):
        await store.start_traversal("by-name", always(TraversalStart(owner, walk, [])))
    assert await store.get_traversal(walk.id) is None


async def test_start_traversal_refuses_records_that_disagree(store: Store) -> None:
    owner = await created(store)
    other = await created(store, "other")
    first = await started(store, owner, (A, 0))
    before = await snapshot(store, owner)
    walk = traversal(owner)
    elsewhere = traversal(other)
    ghost = stack("ghost")
    disagreeing = [
        TraversalStart(owner, elsewhere, []),
        TraversalStart(other, elsewhere, []),
        TraversalStart(ghost, traversal(ghost), []),
        TraversalStart(owner, walk, [sync_point(elsewhere, B)]),
        TraversalStart(owner, walk, [sync_point(walk, B, stack_id=other.id)]),
        TraversalStart(owner, walk, [], new_resources=[resource(other)]),
        TraversalStart(owner, walk, [], events=[event(other)]),
        TraversalStart(owner, walk, [], template=template(other)),
    ]
    for start in disagreeing:
        with pytest.raises(StoreError):
            await store.start_traversal(owner.id, always(start))
        assert await store.get_traversal(start.traversal.id) is None
    assert await snapshot(store, owner) == before
    assert await store.get_sync_point(first.id, A) is not None
    assert await store.list_events(other.id) == []


@pytest.mark.parametrize("clash", ["traversal", "sync point", "template", "resource"])
async def test_start_traversal_refuses_a_stored_id_and_writes_nothing(
    store: Store, clash: str
) -> None:
    owner = await created(store)
    elsewhere = await started(store, await created(store, "other"))
    first = await started(store, owner, (A, 0))
    taken_row = resource(owner, "taken")
    await store.add_resource(taken_row)
    before = await snapshot(store, owner)

    walk = traversal(owner, id=elsewhere.id) if clash == "traversal" else traversal(owner)
    twice = [sync_point(walk, B, 1)] if clash == "sync point" else []
    target = template(owner, id=owner.template_id) if clash == "template" else template(owner)
    row = resource(owner, id=taken_row.id) if clash == "resource" else resource(owner)
    changed = dataclasses.replace(owner, status=Status.FAILED)
    start = TraversalStart(
        changed, walk, [sync_point(walk, B), *twice], [row], [event(owner)], target
    )
    with pytest.raises(StoreError):
        await store.start_traversal(owner.id, always(start))

    assert await snapshot(store, owner) == before
    assert await store.get_sync_point(first.id, A) is not None
    assert await store.get_traversal(elsewhere.id) == elsewhere
    if clash != "template":
        assert await store.get_template(target.id) is None


async def test_start_traversal_refuses_a_taken_name_and_writes_nothing(store: Store) -> None:
    await created(store, "taken")
    owner = await created(store)
    before = await snapshot(store, owner)
    walk = traversal(owner)
    renamed = dataclasses.replace(owner, name="taken")
    with pytest.raises(StoreError):
        await store.start_traversal(
            owner.id, always(TraversalStart(renamed, walk, [sync_point(walk, A)]))
        )
    assert await snapshot(store, owner) == before
    assert await store.get_traversal(walk.id) is None


async def test_concurrent_starts_over_one_traversal_have_exactly_one_winner(
    store: Store,
) -> None:
    owner = await created(store)
    winners: list[TraversalRecord] = []

    async def try_start() -> None:
        walk = traversal(owner)

        def build(stored: StackRecord, rows: list[ResourceRecord]) -> TraversalStart | None:
            if stored.traversal_id is not None:
                return None
            return TraversalStart(stored, walk, [sync_point(walk, A)])

        if await store.start_traversal(owner.id, build) is not None:
            winners.append(walk)

    async with anyio.create_task_group() as tg:
        for _ in range(CONCURRENT_CALLERS):
            tg.start_soon(try_start)

    (winner,) = winners
    assert (await current(store, owner)).traversal_id == winner.id
    assert await store.list_ready(owner.id) == [ready(winner, A)]


# save_stack_in_traversal


async def test_save_stack_in_traversal_saves_while_the_traversal_is_current(
    store: Store,
) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    assert await store.acquire_stack_lock(owner.id, "engine-a")
    done = dataclasses.replace(
        owner, status=Status.COMPLETE, reason="done", engine_id=None, traversal_id=None
    )
    assert await store.save_stack_in_traversal(done, walk.id, event(owner))
    expected = dataclasses.replace(done, engine_id="engine-a", traversal_id=walk.id)
    assert await current(store, owner) == expected
    assert len(await store.list_events(owner.id)) == 1
    # the traversal has ended: a late save (a cancel, a failure) changes nothing
    failed = dataclasses.replace(done, status=Status.FAILED, reason="late")
    assert not await store.save_stack_in_traversal(failed, walk.id, event(owner))
    assert await current(store, owner) == expected
    assert len(await store.list_events(owner.id)) == 1


async def test_save_stack_in_a_superseded_traversal_writes_nothing(store: Store) -> None:
    owner = await created(store)
    assert not await store.save_stack_in_traversal(owner, new_id(), event(owner))
    first = await started(store, owner)
    await started(store, owner, expected=first.id)
    before = await current(store, owner)
    done = dataclasses.replace(owner, status=Status.COMPLETE)
    assert not await store.save_stack_in_traversal(done, first.id, event(owner))
    assert await current(store, owner) == before
    assert await store.list_events(owner.id) == []


async def test_delete_stack_in_traversal_deletes_only_for_the_current_traversal(
    store: Store,
) -> None:
    owner = await created(store)
    first = await started(store, owner)
    second = await started(store, owner, expected=first.id)
    assert not await store.delete_stack_in_traversal(owner.id, first.id)
    assert await store.get_stack(owner.id) is not None
    assert await store.delete_stack_in_traversal(owner.id, second.id)
    assert await store.get_stack(owner.id) is None
    assert await store.list_resources(owner.id) == []
    assert not await store.delete_stack_in_traversal(owner.id, second.id)
    again = stack(owner.name)  # the name is free at once
    await store.create_stack(again, template(again))


async def test_delete_stack_in_an_ended_traversal_deletes_nothing(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    done = dataclasses.replace(owner, status=Status.COMPLETE, reason="done")
    assert await store.save_stack_in_traversal(done, walk.id)
    assert not await store.delete_stack_in_traversal(owner.id, walk.id)
    assert await store.get_stack(owner.id) is not None


async def test_save_stack_in_traversal_of_a_gone_stack_returns_false(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    await store.delete_stack(owner.id)
    assert not await store.save_stack_in_traversal(owner, walk.id)
    assert await store.get_stack(owner.id) is None


# traversals: read, cancel, purge, delete


async def test_traversal_round_trips(store: Store) -> None:
    owner = await created(store)
    walk = traversal(
        owner,
        action=Action.ROLLBACK,
        template_id=None,
        previous_template_id=owner.template_id,
        rollback_on_failure=False,
        deadline=1_700_003_600.5,
        created_at=12.25,
    )
    assert await store.start_traversal(owner.id, always(TraversalStart(owner, walk, [])))
    read = await store.get_traversal(walk.id)
    assert read == walk
    assert read is not None and read.cancelled is False
    assert type(read.action) is Action and type(read.deadline) is float
    assert await store.get_traversal("no-such-traversal") is None


async def test_cancel_traversal_sets_its_cancelled_flag(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0))
    other = await started(store, await created(store, "other"))
    await store.cancel_traversal(walk.id)
    assert await store.get_traversal(walk.id) == dataclasses.replace(walk, cancelled=True)
    assert await store.get_traversal(other.id) == other
    assert await store.list_ready(owner.id) == [ready(walk, A)]
    await store.cancel_traversal("no-such-traversal")


async def test_purge_traversal_keeps_the_record_but_drops_its_queue(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 1), (C, 0))
    kept = await started(store, await created(store, "other"), (A, 0))
    await store.deliver(walk.id, A, [(B, {"x": 1})])
    assert await store.claim_ready("engine-a", 1, owner.id) == [ready(walk, A, "engine-a")]
    await store.cancel_traversal(walk.id)

    await store.purge_traversal(walk.id)

    assert await store.get_traversal(walk.id) == dataclasses.replace(walk, cancelled=True)
    for node in (A, B, C):
        assert await store.get_sync_point(walk.id, node) is None
    assert await store.list_ready(owner.id) == []
    assert await store.claim_ready("engine-b", 10) == [ready(kept, A, "engine-b")]
    assert await store.release_claims("engine-a") == 0
    await store.purge_traversal(walk.id)


async def test_delete_stack_removes_its_traversals(store: Store) -> None:
    doomed = await created(store, "doomed")
    first = await started(store, doomed, (A, 0))
    second = await started(store, doomed, (A, 0), expected=first.id)
    kept = await started(store, await created(store, "kept"), (A, 0))
    await store.delete_stack(doomed.id)
    assert await store.get_traversal(first.id) is None
    assert await store.get_traversal(second.id) is None
    assert await store.get_sync_point(second.id, A) is None
    assert await store.list_ready(doomed.id) == []
    assert await store.get_traversal(kept.id) == kept
    assert await store.claim_ready("engine-a", 10) == [ready(kept, A, "engine-a")]


# deliver


async def test_deliver_counts_down_and_keeps_inputs_in_delivery_order(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (D, 3))
    nested = {"list": [1, [2, {"x": None}]], "ok": True}
    assert await store.deliver(walk.id, C, [(D, AWKWARD)]) == []
    assert await store.deliver(walk.id, A, [(D, nested)]) == []
    found = await store.get_sync_point(walk.id, D)
    assert found is not None
    assert found.remaining == 1
    assert found.inputs == (Delivery(C, AWKWARD), Delivery(A, nested))
    assert type(found.inputs[0].data) is dict
    assert await store.list_ready(owner.id) == []


async def test_a_repeated_delivery_from_one_sender_changes_nothing(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (C, 2))
    assert await store.deliver(walk.id, A, [(C, {"v": 1})]) == []
    assert await store.deliver(walk.id, A, [(C, {"v": 2})]) == []
    assert await store.deliver(walk.id, A, [(C, {"v": 3}), (C, {"v": 4})]) == []
    found = await store.get_sync_point(walk.id, C)
    assert found is not None
    assert (found.remaining, found.inputs) == (1, (Delivery(A, {"v": 1}),))
    assert await store.list_ready(owner.id) == []


async def test_the_last_delivery_makes_the_node_ready_and_unclaimed(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (C, 2))
    assert await store.deliver(walk.id, A, [(C, {})]) == []
    assert await store.deliver(walk.id, B, [(C, {})]) == [ready(walk, C)]
    found = await store.get_sync_point(walk.id, C)
    assert found is not None and found.remaining == 0
    assert await store.list_ready(owner.id) == [ready(walk, C)]
    assert await store.claim_ready("engine-b", 10) == [ready(walk, C, "engine-b")]


async def test_the_last_delivery_can_claim_the_node_for_its_claimant(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (C, 1))
    claimed = ready(walk, C, "engine-a")
    assert await store.deliver(walk.id, A, [(C, {})], claimant="engine-a") == [claimed]
    assert await store.list_ready(owner.id) == [claimed]
    assert await store.claim_ready("engine-b", 10) == []
    assert await store.release_claims("engine-a") == 1


async def test_deliver_returns_the_ready_entries_in_delivery_order(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (B, 2), (C, 1), (D, 1))
    made_ready = await store.deliver(walk.id, A, [(D, {"n": 1}), (B, {"n": 2}), (C, {"n": 3})])
    assert made_ready == [ready(walk, D), ready(walk, C)]
    assert await store.list_ready(owner.id) == made_ready
    assert await store.claim_ready("engine-a", 10) == claimed(walk, "engine-a", D, C)


async def test_deliver_skips_targets_without_a_sync_point(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (C, 1))
    purged = await started(store, await created(store, "other"), (C, 1))
    await store.purge_traversal(purged.id)
    assert await store.deliver(purged.id, A, [(C, {})]) == []
    assert await store.get_sync_point(purged.id, C) is None
    assert await store.deliver(walk.id, A, [(D, {}), (C, {"ok": True})]) == [ready(walk, C)]
    assert await store.get_sync_point(walk.id, D) is None
    assert await store.deliver("no-such-traversal", A, [(C, {})]) == []


async def test_a_fan_in_of_many_senders_completes_one_node(store: Store) -> None:
    senders = [update(f"r{n:03}") for n in range(300)]
    owner = await created(store)
    walk = await started(store, owner, (D, len(senders)))
    for n, sender in enumerate(senders[:-1]):
        assert await store.deliver(walk.id, sender, [(D, {"n": n})]) == []
    assert await store.list_ready(owner.id) == []
    last = senders[-1]
    assert await store.deliver(walk.id, last, [(D, {"n": 299})], "engine-a") == [
        ready(walk, D, "engine-a")
    ]
    found = await store.get_sync_point(walk.id, D)
    assert found is not None and found.remaining == 0
    assert found.inputs == tuple(Delivery(s, {"n": n}) for n, s in enumerate(senders))


# the ready queue


async def four_ready(store: Store) -> tuple[StackRecord, TraversalRecord]:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 0), (C, 1), (D, 0))
    await store.deliver(walk.id, B, [(C, {})])  # C is ready last
    return owner, walk


async def test_claim_ready_takes_the_oldest_first_up_to_the_limit(store: Store) -> None:
    _, walk = await four_ready(store)
    assert await store.claim_ready("engine-a", 0) == []
    assert await store.claim_ready("engine-a", -1) == []
    assert await store.claim_ready("engine-a", 2) == claimed(walk, "engine-a", A, B)
    assert await store.claim_ready("engine-b", 5) == claimed(walk, "engine-b", D, C)
    assert await store.claim_ready("engine-b", 5) == []


async def test_claim_ready_can_keep_to_one_stack(store: Store) -> None:
    one = await created(store, "one")
    two = await created(store, "two")
    first = await started(store, one, (A, 0), (B, 1))
    second = await started(store, two, (A, 1))
    for walk, node in ((second, A), (first, B)):
        await store.deliver(walk.id, C, [(node, {})])
    assert await store.claim_ready("engine-a", 10, one.id) == claimed(first, "engine-a", A, B)
    assert await store.claim_ready("engine-a", 10, one.id) == []
    assert await store.claim_ready("engine-a", 10, "no-such-stack") == []
    assert await store.claim_ready("engine-b", 10) == [ready(second, A, "engine-b")]


async def test_release_claims_requeues_entries_in_their_original_order(store: Store) -> None:
    owner, walk = await four_ready(store)
    assert len(await store.claim_ready("engine-b", 1)) == 1  # A
    assert len(await store.claim_ready("engine-a", 2)) == 2  # B, D
    assert await store.release_claims("engine-a") == 2
    assert await store.release_claims("engine-a") == 0
    assert await store.release_claims("engine-b") == 1
    everything = [ready(walk, n) for n in (A, B, D, C)]
    assert await store.list_ready(owner.id) == everything
    claimed = [dataclasses.replace(r, claimed_by="engine-c") for r in everything]
    assert await store.claim_ready("engine-c", 10) == claimed


async def test_release_claims_requeues_a_stack_in_its_original_order(store: Store) -> None:
    owner, walk = await four_ready(store)
    assert len(await store.claim_ready("engine-b", 1, owner.id)) == 1  # A
    assert len(await store.claim_ready("engine-a", 2, owner.id)) == 2  # B, D
    assert await store.release_claims("engine-b") == 1
    assert await store.release_claims("engine-a") == 2
    assert await store.claim_ready("engine-c", 3, owner.id) == claimed(walk, "engine-c", A, B, D)


async def test_sync_points_and_their_ready_entries_keep_their_slack(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 1), (C, 1), successors={A: (B, C)},
                         slack={A: 2, B: 3})
    for node, slack in ((A, 2), (B, 3), (C, 0)):
        found = await store.get_sync_point(walk.id, node)
        assert found is not None and found.slack == slack
        state = await store.get_node_state(walk.id, node)
        assert state is not None and state.sync_point == found
    assert await store.list_ready(owner.id) == [ready(walk, A, slack=2)]
    assert await store.deliver(walk.id, A, [(B, {}), (C, {})], "engine-a") == [
        ready(walk, B, "engine-a", slack=3), ready(walk, C, "engine-a")]


async def test_claim_ready_takes_the_least_slack_first_then_the_oldest(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 0), (C, 0), (D, 0),
                         slack={A: 2, B: 1, D: 1})
    assert await store.claim_ready("engine-a", 2) == [
        ready(walk, C, "engine-a"), ready(walk, B, "engine-a", slack=1)]
    assert await store.release_claims("engine-a") == 2
    assert await store.claim_ready("engine-b", 3, owner.id) == [
        ready(walk, C, "engine-b"), ready(walk, B, "engine-b", slack=1),
        ready(walk, D, "engine-b", slack=1)]
    assert await store.claim_ready("engine-b", 3) == [ready(walk, A, "engine-b", slack=2)]


async def test_concurrent_claims_take_each_entry_once(store: Store) -> None:
    owner = await created(store)
    nodes = [update(f"r{n}") for n in range(CONCURRENT_CALLERS * 2)]
    walk = await started(store, owner, *[(n, 0) for n in nodes])
    claimed: list[ReadyNode] = []

    async def claim(engine_id: str) -> None:
        claimed.extend(await store.claim_ready(engine_id, 3))

    async with anyio.create_task_group() as tg:
        for n in range(CONCURRENT_CALLERS):
            tg.start_soon(claim, f"engine-{n}")

    assert sorted(r.node.ref for r in claimed) == sorted(n.ref for n in nodes)
    assert {r.traversal_id for r in claimed} == {walk.id}
    assert await store.claim_ready("engine-z", 100) == []


async def test_finish_ready_removes_the_entry(store: Store) -> None:
    owner, walk = await four_ready(store)
    await store.claim_ready("engine-a", 1)  # A
    await store.finish_ready(walk.id, A)
    await store.finish_ready(walk.id, B)  # unclaimed
    await store.finish_ready(walk.id, A)
    await store.finish_ready("no-such-traversal", A)
    assert await store.list_ready(owner.id) == [ready(walk, D), ready(walk, C)]
    assert await store.release_claims("engine-a") == 0
    assert await store.claim_ready("engine-a", 10) == claimed(walk, "engine-a", D, C)


async def test_list_ready_lists_every_entry_of_the_stack_oldest_first(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 0), (C, 0), (D, 1))
    await started(store, await created(store, "other"), (A, 0))
    await store.deliver(walk.id, C, [(D, {})], claimant="engine-b")
    assert await store.claim_ready("engine-a", 1, owner.id) == [ready(walk, A, "engine-a")]
    db = await locked(store, walk, "engine-z")
    assert await store.park(walk.id, C, db)
    assert await store.list_ready(owner.id) == [
        ready(walk, A, "engine-a"),
        ready(walk, B),
        ready(walk, C, parked_on=db),
        ready(walk, D, "engine-b"),
    ]
    assert await store.list_ready("no-such-stack") == []


# parking on resource locks


async def test_a_parked_entry_waits_for_the_unlock(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0))
    db = await locked(store, walk, "engine-a")
    await store.claim_ready("engine-b", 1)
    assert await store.park(walk.id, A, db)
    assert await store.list_ready(owner.id) == [ready(walk, A, parked_on=db)]
    assert await store.claim_ready("engine-c", 10) == []
    assert await store.release_claims("engine-b") == 0
    assert await store.unlock_resource(db, "engine-a") == [ready(walk, A, "engine-a")]
    assert await store.list_ready(owner.id) == [ready(walk, A, "engine-a")]
    row = await store.get_resource(db)
    assert row is not None and row.engine_id is None


async def test_park_needs_the_resource_locked(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0))
    free = resource(owner)
    await store.add_resource(free)
    await store.claim_ready("engine-b", 1)
    assert not await store.park(walk.id, A, free.id)
    assert not await store.park(walk.id, A, "no-such-resource")
    assert await store.list_ready(owner.id) == [ready(walk, A, "engine-b")]
    assert await store.get_resource(free.id) == free


async def test_park_of_a_gone_entry_returns_false(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 0))
    db = await locked(store, walk, "engine-a")
    await store.finish_ready(walk.id, A)
    assert not await store.park(walk.id, A, db)
    assert not await store.park(walk.id, C, db)
    await store.purge_traversal(walk.id)
    assert not await store.park(walk.id, B, db)
    assert await store.list_ready(owner.id) == []
    assert await store.unlock_resource(db, "engine-a") == []


async def test_unlock_unparks_the_oldest_first_for_the_claimant(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 0), (C, 0), (D, 0))
    db = await locked(store, walk, "engine-a")
    for node in (C, A, B):
        assert await store.park(walk.id, node, db)
    unparked = await store.unlock_resource(db, "engine-a", claimant="engine-b")
    assert unparked == claimed(walk, "engine-b", A, B, C)
    assert await store.claim_ready("engine-c", 10) == [ready(walk, D, "engine-c")]
    assert await store.unlock_resource(db, "engine-a") == []


async def test_unlock_by_another_engine_changes_nothing(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0))
    db = await locked(store, walk, "engine-a")
    assert await store.park(walk.id, A, db)
    assert await store.unlock_resource(db, "engine-b") == []
    assert await store.unlock_resource(db, "engine-b", claimant="engine-b") == []
    assert await store.list_ready(owner.id) == [ready(walk, A, parked_on=db)]
    row = await store.get_resource(db)
    assert row is not None and (row.engine_id, row.atomic_key) == ("engine-a", 1)


async def test_unlock_of_a_deleted_resource_still_unparks(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0))
    db = await locked(store, walk, "dead-engine")
    assert await store.park(walk.id, A, db)
    await store.delete_resource(db)
    assert await store.unlock_resource(db, "engine-b") == [ready(walk, A, "engine-b")]
    assert await store.list_ready(owner.id) == [ready(walk, A, "engine-b")]


# get_node_state


async def test_node_state_is_stack_traversal_sync_point_and_the_rows_chain(store: Store) -> None:
    owner = await created(store)
    old = resource(owner, name="db")
    newer = resource(owner, name="db", replaces=old.id)
    newest = resource(owner, name="db", replaces=newer.id)
    for row in (old, newer, newest):
        await store.add_resource(row)
    await store.save_resources([dataclasses.replace(old, replaced_by=newer.id),
                                dataclasses.replace(newer, replaced_by=newest.id)], [])
    walk = traversal(owner)
    points = [sync_point(walk, A, 0, row_id=old.id), sync_point(walk, B, 1)]
    start = TraversalStart(dataclasses.replace(owner, traversal_id=walk.id), walk, points)
    assert await store.start_traversal(owner.id, always(start)) is not None
    await store.deliver(walk.id, A, [(B, {"row_id": "x"})])

    state = await store.get_node_state(walk.id, A)
    assert state is not None
    assert state.stack == await current(store, owner)
    assert state.traversal == walk
    assert state.sync_point == await store.get_sync_point(walk.id, A)
    assert [r.id for r in state.rows] == [old.id, newer.id, newest.id]
    assert state.rows[-1] == await store.get_resource(newest.id)

    other = await store.get_node_state(walk.id, B)
    assert other is not None and other.rows == ()
    assert other.sync_point.inputs == (Delivery(A, {"row_id": "x"}),)


async def test_node_state_of_a_single_row_with_many_inputs_keeps_them_in_order(
        store: Store) -> None:
    owner = await created(store)
    row = resource(owner, name="db", properties=AWKWARD)
    await store.add_resource(row)
    senders = [update(f"s{n:02d}") for n in range(30)]
    walk = traversal(owner)
    points = [sync_point(walk, A, len(senders), row_id=row.id)]
    start = TraversalStart(dataclasses.replace(owner, traversal_id=walk.id), walk, points)
    assert await store.start_traversal(owner.id, always(start)) is not None
    for n, sender in enumerate(reversed(senders)):
        await store.deliver(walk.id, sender, [(A, {"n": n, "payload": AWKWARD})])
    state = await store.get_node_state(walk.id, A)
    assert state is not None
    assert state.sync_point == await store.get_sync_point(walk.id, A)
    assert [d.data["n"] for d in state.sync_point.inputs] == list(range(30))
    assert state.sync_point.inputs[0].data["payload"] == AWKWARD
    assert state.rows == (row,)


async def test_node_state_is_none_once_the_traversal_is_purged(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0))
    assert await store.get_node_state(walk.id, A) is not None
    await store.purge_traversal(walk.id)
    assert await store.get_node_state(walk.id, A) is None
    assert await store.get_node_state("no-such-traversal", A) is None


async def test_node_state_stops_at_a_missing_replacement(store: Store) -> None:
    owner = await created(store)
    row = resource(owner, name="db", replaced_by="deleted-row")
    await store.add_resource(row)
    walk = traversal(owner)
    start = TraversalStart(dataclasses.replace(owner, traversal_id=walk.id), walk,
                           [sync_point(walk, A, 0, row_id=row.id)])
    await store.start_traversal(owner.id, always(start))
    state = await store.get_node_state(walk.id, A)
    assert state is not None and state.rows == (row,)


# resource locks


async def test_lock_resource_is_a_compare_and_set_that_bumps_atomic_key(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    row = resource(owner, atomic_key=4)
    await store.add_resource(row)
    assert await lock_key(store, row.id, "engine-a", walk.id) == 5
    assert await store.lock_resource(row.id, "engine-b", walk.id) is None
    assert await store.lock_resource(row.id, "engine-a", walk.id) is None  # not re-entrant
    assert await store.lock_resource(row.id, "engine-b", walk.id, expected="engine-c") is None
    assert await store.get_resource(row.id) == dataclasses.replace(
        row, engine_id="engine-a", atomic_key=5
    )
    assert await store.unlock_resource(row.id, "engine-a") == []
    assert await lock_key(store, row.id, "engine-b", walk.id) == 6


async def test_lock_resource_can_steal_from_a_dead_engine(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    db = await locked(store, walk, "dead-engine")
    assert await lock_key(store, db, "engine-b", walk.id, expected="dead-engine") == 2
    row = await store.get_resource(db)
    assert row is not None and (row.engine_id, row.atomic_key) == ("engine-b", 2)


async def test_lock_resource_only_for_the_current_traversal(store: Store) -> None:
    owner = await created(store)
    row = resource(owner, requires=("a-id",))
    await store.add_resource(row)
    assert await store.lock_resource(row.id, "engine-a", new_id()) is None  # no traversal yet
    first = await started(store, owner)
    second = await started(store, owner, expected=first.id)
    assert await store.lock_resource(row.id, "engine-a", first.id, requires=("b-id",)) is None
    assert await store.lock_resource(row.id, "engine-a", "no-such-traversal") is None
    assert await store.get_resource(row.id) == row
    assert await lock_key(store, row.id, "engine-a", second.id) == 1


async def test_lock_resource_adds_the_new_requires(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    row = resource(owner, requires=("b-id",))
    await store.add_resource(row)
    assert await lock_key(store, row.id, "engine-a", walk.id, requires=("c-id", "b-id")) == 1
    read = await store.get_resource(row.id)
    assert read is not None and sorted(read.requires) == ["b-id", "c-id"]
    assert type(read.requires) is tuple
    assert await store.lock_resource(row.id, "engine-b", walk.id, requires=("d-id",)) is None
    assert await store.get_resource(row.id) == read


async def test_lock_resource_without_requires_leaves_them_as_stored(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    row = resource(owner, requires=("z-id", "a-id"))
    await store.add_resource(row)
    assert await lock_key(store, row.id, "engine-a", walk.id) == 1
    read = await store.get_resource(row.id)
    assert read is not None and read.requires == ("z-id", "a-id")


async def test_lock_resource_with_a_version_locks_only_a_row_nothing_changed(
        store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    row = resource(owner, atomic_key=7)
    await store.add_resource(row)
    assert await store.lock_resource(row.id, "engine-a", walk.id, version=6) is None
    assert await store.get_resource(row.id) == row
    locked_row = await store.lock_resource(row.id, "engine-a", walk.id, version=7,
                                           requires=("b-id",))
    assert locked_row == dataclasses.replace(row, engine_id="engine-a", atomic_key=8,
                                             requires=("b-id",))
    assert await store.get_resource(row.id) == locked_row


async def test_lock_resource_can_save_the_row_and_its_event_as_it_locks(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    row = resource(owner, requires=("a-id",))
    await store.add_resource(row)
    started_row = dataclasses.replace(row, action=Action.CREATE, status=Status.IN_PROGRESS,
                                      properties={"size": 3}, requires=("b-id",))
    news = event(owner, resource_id=row.id, status=Status.IN_PROGRESS)
    locked_row = await store.lock_resource(row.id, "engine-a", walk.id, version=0,
                                           requires=("c-id",), save=(started_row, news))
    assert locked_row == dataclasses.replace(started_row, engine_id="engine-a", atomic_key=1,
                                             requires=("b-id", "c-id"))
    assert await store.get_resource(row.id) == locked_row
    assert [(e.resource_id, e.status) for e in await store.list_events(owner.id)] == [
        (row.id, Status.IN_PROGRESS)]


async def test_lock_resource_that_fails_saves_nothing(store: Store) -> None:
    owner = await created(store)
    first = await started(store, owner)
    row = resource(owner)
    await store.add_resource(row)
    changed = dataclasses.replace(row, status=Status.IN_PROGRESS)
    news = event(owner, resource_id=row.id)
    assert await store.lock_resource(row.id, "a", first.id, version=3,
                                     save=(changed, news)) is None
    assert await store.lock_resource(row.id, "a", first.id, expected="b",
                                     save=(changed, news)) is None
    second = await started(store, owner, expected=first.id)
    assert await store.lock_resource(row.id, "a", first.id, save=(changed, news)) is None
    assert await store.get_resource(row.id) == row
    assert await store.list_events(owner.id) == []
    with pytest.raises(StoreError):
        await store.lock_resource(row.id, "a", second.id, save=(resource(owner), news))
    assert await store.get_resource(row.id) == row


async def test_lock_of_a_missing_resource_returns_none(store: Store) -> None:
    walk = await started(store, await created(store))
    assert await store.lock_resource("no-such-resource", "engine-a", walk.id) is None
    assert await store.lock_resource("no-such-resource", "a", walk.id, requires=("x",)) is None


# replace_resource


async def test_replace_resource_adds_the_new_row_and_saves_the_old(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    old_id = await locked(store, walk, "engine-a", name="server")
    old = await store.get_resource(old_id)
    assert old is not None
    new = resource(owner, "server", replaces=old_id, engine_id="engine-a", atomic_key=0)
    saved = dataclasses.replace(old, replaced_by=new.id, engine_id=None, atomic_key=42)
    replaced = event(owner, "server", resource_id=new.id)
    assert await store.replace_resource(saved, new, walk.id, replaced)
    assert await store.get_resource(new.id) == new
    assert await store.get_resource(old_id) == dataclasses.replace(old, replaced_by=new.id)
    (appended,) = await store.list_events(owner.id)
    assert appended.resource_id == new.id


async def test_replace_resource_without_an_old_row_adds_the_new_one(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    new = resource(owner, "server")
    assert await store.replace_resource(None, new, walk.id)
    assert await store.list_resources(owner.id) == [new]


async def test_replace_resource_in_a_superseded_traversal_writes_nothing(store: Store) -> None:
    owner = await created(store)
    first = await started(store, owner)
    old = resource(owner, "server")
    await store.add_resource(old)
    await started(store, owner, expected=first.id)
    new = resource(owner, "server", replaces=old.id)
    saved = dataclasses.replace(old, replaced_by=new.id)
    assert not await store.replace_resource(saved, new, first.id, event(owner))
    assert not await store.replace_resource(None, new, "no-such-traversal")
    assert await store.list_resources(owner.id) == [old]
    assert await store.list_events(owner.id) == []
    await store.delete_stack(owner.id)
    assert not await store.replace_resource(None, new, first.id)
    assert await store.get_resource(new.id) is None


async def test_replace_resource_refuses_a_taken_new_id(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    old = resource(owner, "server")
    taken = resource(owner, "other")
    await store.add_resource(old)
    await store.add_resource(taken)
    new = dataclasses.replace(taken, name="server", replaces=old.id)
    with pytest.raises(StoreError):
        await store.replace_resource(
            dataclasses.replace(old, replaced_by=new.id), new, walk.id, event(owner)
        )
    assert await store.list_resources(owner.id) == sorted([old, taken], key=lambda r: r.id)
    assert await store.list_events(owner.id) == []


async def test_replace_resource_of_a_missing_old_row_writes_nothing(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner)
    new = resource(owner, "server")
    with pytest.raises(NotFound):
        await store.replace_resource(resource(owner, "ghost"), new, walk.id, event(owner))
    assert await store.get_resource(new.id) is None
    assert await store.list_events(owner.id) == []


# purge_templates


async def test_purge_templates_keeps_every_referenced_template(store: Store) -> None:
    owner = await created(store)
    other = await created(store, "other")
    ids = {n: new_id() for n in ("prev", "target", "source", "resource", "superseded")}
    unused = [template(owner) for _ in range(2)]
    others = [template(other)]
    for tmpl in [*unused, *others]:
        await store.store_template(tmpl)
    for name in ("prev", "source", "resource", "superseded"):
        await store.store_template(template(owner, id=ids[name]))
    await store.add_resource(resource(owner, template_id=ids["resource"]))
    first = traversal(owner, template_id=ids["superseded"])
    assert await store.start_traversal(owner.id, always(TraversalStart(owner, first, [])))
    moved = dataclasses.replace(owner, prev_template_id=ids["prev"])
    walk = traversal(owner, template_id=ids["target"], previous_template_id=ids["source"])
    target = template(owner, id=ids["target"])
    begun = TraversalStart(moved, walk, [], template=target)
    assert await store.start_traversal(owner.id, always(begun))

    assert await store.purge_templates(owner.id) == 3

    for tmpl in unused:
        assert await store.get_template(tmpl.id) is None
    assert await store.get_template(ids["superseded"]) is None
    for kept in (str(owner.template_id), ids["prev"], ids["target"], ids["source"]):
        assert await store.get_template(kept) is not None
    assert await store.get_template(ids["resource"]) is not None
    for tmpl_id in (str(other.template_id), others[0].id):
        assert await store.get_template(tmpl_id) is not None
    assert await store.purge_templates(owner.id) == 0
    assert await store.purge_templates("no-such-stack") == 0


async def test_purge_templates_ignores_references_that_are_none(store: Store) -> None:
    owner = await created(store)
    unused = template(owner)
    await store.store_template(unused)
    await store.add_resource(resource(owner, template_id=None))
    deleting = dataclasses.replace(owner, template_id=None, prev_template_id=None)
    walk = traversal(owner, action=Action.DELETE, template_id=None, previous_template_id=None)
    assert await store.start_traversal(owner.id, always(TraversalStart(deleting, walk, [])))
    assert await store.purge_templates(owner.id) == 2  # with the stack's first template
    assert await store.get_template(unused.id) is None


# durability (SQLite only)


async def test_sqlite_convergence_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = await SQLiteStore.open(path)
    try:
        owner = await created(store)
        walk = await started(store, owner, (A, 0), (D, 2))
        await store.deliver(walk.id, B, [(D, AWKWARD)])
        await store.cancel_traversal(walk.id)
        db = await locked(store, walk, "engine-a")
        assert await store.park(walk.id, A, db)
    finally:
        await store.close()

    reopened = await SQLiteStore.open(path)
    try:
        assert await reopened.get_traversal(walk.id) == dataclasses.replace(walk, cancelled=True)
        assert await reopened.list_ready(owner.id) == [ready(walk, A, parked_on=db)]
        point = await reopened.get_sync_point(walk.id, D)
        assert point is not None
        assert (point.remaining, point.inputs) == (1, (Delivery(B, AWKWARD),))
        assert await reopened.deliver(walk.id, C, [(D, {})]) == [ready(walk, D)]
        assert await reopened.unlock_resource(db, "engine-a") == [ready(walk, A, "engine-a")]
    finally:
        await reopened.close()


async def test_finish_node_saves_the_final_state_in_the_same_write(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 1))
    db = await locked(store, walk, "engine-a")
    assert await store.claim_ready("engine-a", 1) == [ready(walk, A, "engine-a")]
    row = await store.get_resource(db)
    assert row is not None
    done = dataclasses.replace(row, action=Action.CREATE, status=Status.COMPLETE,
                               physical_id="phys-1")
    final = event(owner, resource_id=db, status=Status.COMPLETE)
    claimed_now = await store.finish_node(walk.id, A, "engine-a", [db], [(B, {"row_id": db})],
                                          save=(done, final))
    assert claimed_now == [ready(walk, B, "engine-a")]
    assert await store.get_resource(db) == dataclasses.replace(done, engine_id=None)
    assert [(e.resource_id, e.status) for e in await store.list_events(owner.id)] == [
        (db, Status.COMPLETE)]


async def test_finish_node_with_a_missing_row_to_save_writes_nothing(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 1))
    db = await locked(store, walk, "engine-a")
    await store.claim_ready("engine-a", 1)
    ghost = resource(owner, name="ghost")
    with pytest.raises(NotFound):
        await store.finish_node(walk.id, A, "engine-a", [db], [(B, {})],
                                save=(ghost, event(owner)))
    point = await store.get_sync_point(walk.id, B)
    assert point is not None and point.remaining == 1
    locked_row = await store.get_resource(db)
    assert locked_row is not None and locked_row.engine_id == "engine-a"
    assert await store.list_events(owner.id) == []


async def test_finish_node_unlocks_delivers_and_removes_the_entry_at_once(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 0), (C, 1), (D, 2))
    db = await locked(store, walk, "engine-a")
    assert await store.claim_ready("engine-a", 1) == [ready(walk, A, "engine-a")]
    assert await store.park(walk.id, B, db)
    claimed_now = await store.finish_node(walk.id, A, "engine-a", [db],
                                          [(C, {"row_id": "r-a"}), (D, {})])
    assert claimed_now == [ready(walk, B, "engine-a"), ready(walk, C, "engine-a")]
    row = await store.get_resource(db)
    assert row is not None and row.engine_id is None
    point = await store.get_sync_point(walk.id, D)
    assert point is not None and point.remaining == 1
    c_point = await store.get_sync_point(walk.id, C)
    assert c_point is not None and [d.data for d in c_point.inputs] == [{"row_id": "r-a"}]
    assert await store.list_ready(owner.id) == [ready(walk, B, "engine-a"),
                                                ready(walk, C, "engine-a")]


async def test_finish_node_can_drop_the_row_it_saves(store: Store) -> None:
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 0), (C, 1))
    db = await locked(store, walk, "engine-a")
    assert await store.claim_ready("engine-a", 1) == [ready(walk, A, "engine-a")]
    assert await store.park(walk.id, B, db)
    row = await store.get_resource(db)
    assert row is not None
    gone = dataclasses.replace(row, action=Action.DELETE, status=Status.COMPLETE)
    final = event(owner, resource_id=db, action=Action.DELETE, status=Status.COMPLETE)
    claimed_now = await store.finish_node(walk.id, A, "engine-a", [db], [(C, {})],
                                          save=(gone, final), drop=True)
    assert claimed_now == [ready(walk, B, "engine-a"), ready(walk, C, "engine-a")]
    assert await store.get_resource(db) is None
    assert [(e.resource_id, e.action, e.status) for e in await store.list_events(owner.id)] \
        == [(db, Action.DELETE, Status.COMPLETE)]


async def test_finish_node_passes_a_node_with_nothing_to_do(store: Store) -> None:
    tidy, last = NodeKey(Phase.CLEANUP, "row-a"), NodeKey(Phase.STACK, "s")
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (B, 0), (tidy, 1), (C, 3), (last, 1),
                         successors={A: (tidy, C), tidy: (C, last)})
    assert await store.claim_ready("engine-a", 2) == claimed(walk, "engine-a", A, B)
    claimed_now = await store.finish_node(walk.id, A, "engine-a", [],
                                          [(tidy, {}), (C, {"row_id": "r-a"})], passes={tidy})
    # the pass delivered to C and the stack node: the stack node is ready, C waits for B
    assert claimed_now == [ready(walk, last, "engine-a")]
    assert await store.list_ready(owner.id) == claimed(walk, "engine-a", B, last)
    point = await store.get_sync_point(walk.id, C)
    assert point is not None and point.remaining == 1
    assert [(d.sender, d.data) for d in point.inputs] == [(A, {"row_id": "r-a"}), (tidy, {})]
    tidy_point = await store.get_sync_point(walk.id, tidy)
    assert tidy_point is not None and tidy_point.remaining == 0


async def test_a_pass_still_waiting_for_inputs_passes_once_they_arrive(store: Store) -> None:
    tidy = NodeKey(Phase.CLEANUP, "row-a")
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (tidy, 2), (C, 1), successors={tidy: (C,)})
    await store.claim_ready("engine-a", 1)
    assert await store.finish_node(walk.id, A, "engine-a", [], [(tidy, {})],
                                   passes={tidy}) == []
    assert await store.list_ready(owner.id) == []
    point = await store.get_sync_point(walk.id, C)
    assert point is not None and point.remaining == 1
    # its last input, from a node that does not know: it passes all the same, making C ready
    assert await store.deliver(walk.id, B, [(tidy, {})], "engine-b") == [
        ready(walk, C, "engine-b")]
    point = await store.get_sync_point(walk.id, C)
    assert point is not None and [d.sender for d in point.inputs] == [tidy]


async def test_a_long_chain_of_passing_nodes_passes_in_one_write(store: Store) -> None:
    chain = [NodeKey(Phase.CLEANUP, f"row-{n}") for n in range(3000)]
    last = NodeKey(Phase.STACK, "s")
    owner = await created(store)
    points = [(A, 0), *((node, 2) for node in chain), (last, 1)]
    successors = {node: (after,) for node, after in zip(chain, [*chain[1:], last], strict=True)}
    walk = await started(store, owner, *points, successors=successors)
    await store.claim_ready("engine-a", 1)
    # every node of the chain learns it passes; the first also gets its last input
    await store.finish_node(walk.id, A, "engine-a", [], [(node, {}) for node in chain],
                            passes=set(chain))
    assert await store.deliver(walk.id, B, [(chain[0], {})], "engine-b") == [
        ready(walk, last, "engine-b")]


async def test_a_node_not_passed_becomes_ready(store: Store) -> None:
    tidy = NodeKey(Phase.CLEANUP, "row-a")
    owner = await created(store)
    walk = await started(store, owner, (A, 0), (tidy, 2), (C, 1), successors={tidy: (C,)})
    await store.claim_ready("engine-a", 1)
    assert await store.finish_node(walk.id, A, "engine-a", [], [(tidy, {})]) == []
    assert await store.deliver(walk.id, B, [(tidy, {})], "engine-b") == [
        ready(walk, tidy, "engine-b")]

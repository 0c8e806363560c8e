"""OS::Heat::TestResource: Heat's knobs, timed in trio's virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from actors import ActorContext, Operation, PropertyError, ReplaceRequired, ResourceFailure
from actors.builtin import TestResource

MakeCtx = Callable[..., ActorContext]
Props = Callable[..., dict[str, Any]]


def test_schema_matches_heat(props: Props) -> None:
    schema = TestResource.properties_schema
    assert props(TestResource) == {
        "value": "test_string",
        "update_replace": False,
        "update_replace_value": None,
        "fail": False,
        "wait_secs": 0,
        "action_wait_secs": None,
        "client_name": "",
        "entity_name": "",
    }
    assert not schema["update_replace_value"].update_allowed
    assert all(p.update_allowed for n, p in schema.items() if n != "update_replace_value")
    with pytest.raises(PropertyError) as caught:
        props(TestResource, {"action_wait_secs": {"check": 1}})
    assert caught.value.path == "action_wait_secs.check"


@pytest.mark.trio
async def test_create_waits_wait_secs(
    autojump_clock: MockClock, make_ctx: MakeCtx, props: Props
) -> None:
    start = trio.current_time()
    created = await TestResource().create(make_ctx(), props(TestResource, {"wait_secs": 5}))
    assert trio.current_time() - start == pytest.approx(5)
    assert created.attributes == {"output": "test_string"}


@pytest.mark.trio
async def test_action_wait_secs_override_wait_secs_per_action(
    autojump_clock: MockClock, make_ctx: MakeCtx, props: Props
) -> None:
    actor = TestResource()
    values = props(
        TestResource, {"wait_secs": 10, "action_wait_secs": {"create": 2, "delete": 0.5}}
    )
    elapsed = []
    for call in (
        actor.create(make_ctx(), values),
        actor.update(make_ctx(Operation.UPDATE), "pid", values, values, frozenset()),
        actor.delete(make_ctx(Operation.DELETE), "pid", values),
    ):
        start = trio.current_time()
        await call
        elapsed.append(trio.current_time() - start)
    assert elapsed == pytest.approx([2, 10, 0.5])


@pytest.mark.trio
async def test_negative_wait_lasts_until_cancelled(
    autojump_clock: MockClock, make_ctx: MakeCtx, props: Props
) -> None:
    with trio.move_on_after(3600) as scope:
        await TestResource().create(make_ctx(), props(TestResource, {"wait_secs": -1}))
    assert scope.cancelled_caught
    assert trio.current_time() == pytest.approx(3600)


@pytest.mark.trio
async def test_fail_fails_create_and_update_after_their_wait(
    autojump_clock: MockClock, make_ctx: MakeCtx, props: Props
) -> None:
    actor = TestResource()
    values = props(TestResource, {"fail": True, "wait_secs": 3})
    start = trio.current_time()
    with pytest.raises(ResourceFailure, match=r"^Test Resource failed web$"):
        await actor.create(make_ctx(name="web"), values)
    assert trio.current_time() - start == pytest.approx(3)
    with pytest.raises(ResourceFailure, match=r"^Test Resource failed web$"):
        await actor.update(
            make_ctx(Operation.UPDATE, name="web"), "pid", values, values, frozenset({"fail"})
        )
    assert trio.current_time() - start == pytest.approx(6)


@pytest.mark.anyio
async def test_fail_spares_delete_check_suspend_and_resume(make_ctx: MakeCtx, props: Props) -> None:
    actor, values = TestResource(), props(TestResource, {"fail": True})
    await actor.delete(make_ctx(Operation.DELETE), "pid", values)
    await actor.check(make_ctx(Operation.CHECK), "pid", values)
    await actor.suspend(make_ctx(Operation.SUSPEND), "pid", values)
    await actor.resume(make_ctx(Operation.RESUME), "pid", values)


@pytest.mark.anyio
async def test_update_in_place_reports_the_new_output(make_ctx: MakeCtx, props: Props) -> None:
    actor = TestResource()
    old = props(TestResource, {"value": "one"})
    new = props(TestResource, {"value": "two", "client_name": "nova", "entity_name": "servers"})
    attrs = await actor.update(
        make_ctx(Operation.UPDATE),
        "pid",
        old,
        new,
        frozenset({"value", "client_name", "entity_name"}),
    )
    assert attrs == {"output": "two"}


@pytest.mark.trio
async def test_update_replace_asks_for_replacement_without_waiting(
    autojump_clock: MockClock, make_ctx: MakeCtx, props: Props
) -> None:
    old = props(TestResource, {"value": "one", "wait_secs": 9})
    new = props(TestResource, {"value": "two", "wait_secs": 9, "update_replace": True})
    with pytest.raises(ReplaceRequired):
        await TestResource().update(
            make_ctx(Operation.UPDATE), "pid", old, new, frozenset({"value", "update_replace"})
        )
    assert trio.current_time() == 0


@pytest.mark.anyio
async def test_physical_id_is_stable_for_one_idempotency_key(
    make_ctx: MakeCtx, props: Props
) -> None:
    actor, values = TestResource(), props(TestResource)
    first = await actor.create(make_ctx(key="a", stack="s", name="r"), values)
    again = await actor.create(make_ctx(key="a", stack="s", name="r"), values)
    other = await actor.create(make_ctx(key="b", stack="s", name="r"), values)
    assert first.physical_id == again.physical_id != other.physical_id
    assert first.physical_id.startswith("s-r-")

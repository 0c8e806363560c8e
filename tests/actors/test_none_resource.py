"""OS::Heat::None: accepts anything, does nothing, cheaply."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from actors import ActorContext, Operation
from actors.builtin import NoneResource

pytestmark = pytest.mark.anyio

MakeCtx = Callable[..., ActorContext]
Props = Callable[..., dict[str, Any]]


async def test_create_returns_a_fresh_uuid_and_no_attributes(make_ctx: MakeCtx) -> None:
    actor = NoneResource()
    first = await actor.create(make_ctx(), {})
    second = await actor.create(make_ctx(), {})
    assert uuid.UUID(first.physical_id)
    assert first.physical_id != second.physical_id
    assert first.attributes == {}


def test_accepts_any_property_and_any_attribute(props: Props) -> None:
    assert props(NoneResource, {"flavor": "m1.small", "n": 3}) == {"flavor": "m1.small", "n": 3}
    assert NoneResource.open_attributes


async def test_update_and_delete_do_nothing(make_ctx: MakeCtx) -> None:
    actor = NoneResource()
    attrs = await actor.update(
        make_ctx(Operation.UPDATE), "pid", {"a": 1}, {"a": 2}, frozenset({"a"})
    )
    assert attrs == {}
    await actor.delete(make_ctx(Operation.DELETE), "pid", {"a": 2})
    await actor.check(make_ctx(Operation.CHECK), "pid", {})


async def test_ten_thousand_creates(make_ctx: MakeCtx) -> None:
    actor, ctx = NoneResource(), make_ctx()
    ids = {(await actor.create(ctx, {})).physical_id for _ in range(10_000)}
    assert len(ids) == 10_000

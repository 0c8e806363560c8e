"""OS::Heat::Value: the value property, converted by type, as the value attribute."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from actors import ActorContext, Operation, PropertyError, ResourceFailure
from actors.builtin import Value

MakeCtx = Callable[..., ActorContext]
Props = Callable[..., dict[str, Any]]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("type_", "given", "expected"),
    [
        (None, {"a": [1, "b"]}, {"a": [1, "b"]}),
        ("string", "text", "text"),
        ("string", 5, "5"),
        ("number", "5", 5),
        ("number", "2.5", 2.5),
        ("number", 7, 7),
        ("boolean", "yes", True),
        ("boolean", "false", False),
        ("boolean", True, True),
        ("comma_delimited_list", "a,b,,c", ["a", "b", "", "c"]),
        ("comma_delimited_list", ["x", "y"], ["x", "y"]),
        ("json", '{"k": [1, 2]}', {"k": [1, 2]}),
        ("json", {"k": "v"}, {"k": "v"}),
        ("json", "[1, 2]", [1, 2]),
        ("json", [{"k": 1}], [{"k": 1}]),
    ],
)
async def test_value_is_converted_by_type(
    make_ctx: MakeCtx, props: Props, type_: str | None, given: Any, expected: Any
) -> None:
    values = {"value": given} if type_ is None else {"value": given, "type": type_}
    created = await Value().create(make_ctx(), props(Value, values))
    assert created.attributes == {"value": expected}
    assert type(created.attributes["value"]) is type(expected)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("type_", "given", "message"),
    [
        ("number", "many", 'value: expected a number, got "many" (type number)'),
        ("boolean", "maybe", 'value: expected a boolean, got "maybe" (type boolean)'),
        ("json", "not json", 'value: expected a map, got the string "not json" (type json)'),
        ("string", ["a"], "value: expected a string, got a list (type string)"),
    ],
)
async def test_value_that_does_not_convert_fails(
    make_ctx: MakeCtx, props: Props, type_: str, given: Any, message: str
) -> None:
    with pytest.raises(ResourceFailure) as caught:
        await Value().create(make_ctx(), props(Value, {"value": given, "type": type_}))
    assert str(caught.value) == message


def test_schema_requires_value_and_knows_the_types(props: Props) -> None:
    with pytest.raises(PropertyError, match="required"):
        props(Value, {})
    with pytest.raises(PropertyError) as caught:
        props(Value, {"value": 1, "type": "float"})
    assert caught.value.path == "type"
    assert all(p.update_allowed for p in Value.properties_schema.values())


@pytest.mark.anyio
async def test_update_returns_the_new_converted_value(make_ctx: MakeCtx, props: Props) -> None:
    actor = Value()
    old = props(Value, {"value": "1", "type": "string"})
    created = await actor.create(make_ctx(), old)
    new = props(Value, {"value": "1", "type": "number"})
    attrs = await actor.update(
        make_ctx(Operation.UPDATE), created.physical_id, old, new, frozenset({"type"})
    )
    assert attrs == {"value": 1}
    await actor.delete(make_ctx(Operation.DELETE), created.physical_id, new)


@pytest.mark.anyio
async def test_physical_id_is_stable_for_one_idempotency_key(make_ctx: MakeCtx) -> None:
    actor = Value()
    first = await actor.create(make_ctx(key="k1", stack="s", name="v"), {"value": 1, "type": None})
    again = await actor.create(make_ctx(key="k1", stack="s", name="v"), {"value": 1, "type": None})
    other = await actor.create(make_ctx(key="k2", stack="s", name="v"), {"value": 1, "type": None})
    assert first.physical_id == again.physical_id != other.physical_id
    assert first.physical_id.startswith("s-v-")

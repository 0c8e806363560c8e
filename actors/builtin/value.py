"""`OS::Heat::Value`: exposes its `value` property as the `value` attribute.

With `type` set, the value is converted the way a property of the matching
type is (`number` -> NUMBER, `boolean` -> BOOLEAN, `comma_delimited_list` ->
LIST, `json` -> MAP, `string` -> STRING), so `"5"` typed `number` comes out as
5. Unlike Heat, `json` also accepts a list (as a HOT `json` parameter does),
and `comma_delimited_list` splits a string on commas. A value that does not
convert fails the resource with the property path in the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from actors.base import ActorContext, Created, ResourceActor, ResourceFailure
from actors.builtin._names import physical_resource_name
from actors.schema import AllowedValues, Property, PropertyError, PropertyType, coerce

_TYPES: dict[str, PropertyType] = {
    "string": PropertyType.STRING,
    "number": PropertyType.NUMBER,
    "comma_delimited_list": PropertyType.LIST,
    "json": PropertyType.MAP,
    "boolean": PropertyType.BOOLEAN,
}


def convert(value: Any, type_name: str | None) -> Any:
    """Return `value` converted to the HOT parameter type `type_name` (None: as is)."""
    if type_name is None or value is None:
        return value
    if type_name == "json":
        decoded = _json_list(value)
        if decoded is not None:
            return decoded
    try:
        return coerce(Property(_TYPES[type_name]), value, "value")
    except PropertyError as err:
        raise ResourceFailure(f"{err} (type {type_name})") from None


def _json_list(value: Any) -> list[Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return None


class Value(ResourceActor):
    type_name = "OS::Heat::Value"
    description = "Exposes a value, optionally converted to a parameter type, as an attribute."
    outside_effects = False
    properties_schema = {
        "value": Property(
            PropertyType.ANY,
            'The expression to generate the "value" attribute.',
            required=True,
            update_allowed=True,
        ),
        "type": Property(
            PropertyType.STRING,
            'The type of the "value" property.',
            update_allowed=True,
            constraints=(AllowedValues(tuple(_TYPES)),),
        ),
    }
    attributes_schema = {"value": 'The "value" property, converted to "type".'}

    async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
        attributes = {"value": convert(props["value"], props.get("type"))}
        return Created(physical_resource_name(ctx), attributes)

    async def update(
        self,
        ctx: ActorContext,
        physical_id: str,
        old_props: Mapping[str, Any],
        new_props: Mapping[str, Any],
        changed: frozenset[str],
    ) -> Mapping[str, Any]:
        return {"value": convert(new_props["value"], new_props.get("type"))}

    async def delete(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        return None

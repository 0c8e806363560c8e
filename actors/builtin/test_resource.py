"""`OS::Heat::TestResource`: a resource with knobs for testing the engine.

Behaviour, following Heat's TestResource:

* create, update and delete first wait: `action_wait_secs[action]` if set,
  else `wait_secs`; a negative wait never ends (until the caller cancels).
* after the wait, create and update fail with "Test Resource failed NAME" when
  `fail` is true; delete never fails, so a failed resource can be cleaned up.
* an update whose new `update_replace` is true asks for a replacement.
* `update_replace_value` is not updatable: changing it replaces the resource.
* check, suspend and resume succeed at once, as in Heat.
* attribute `output` is `value`.

Deliberate differences: Heat replaces on `update_replace` only when `value`
changes too, and waits on update only when `value` changed; here the rules are
the simpler ones above.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from actors.base import ActorContext, Created, ReplaceRequired, ResourceActor, ResourceFailure
from actors.builtin._names import physical_resource_name
from actors.schema import Property, PropertyType

_WAIT_DOC = "Seconds to wait in {action}; defaults to wait_secs."


def _action_wait(action: str) -> Property:
    return Property(PropertyType.NUMBER, _WAIT_DOC.format(action=action), update_allowed=True)


async def wait(props: Mapping[str, Any], action: str) -> None:
    """Sleep for the configured time of `action`; negative means forever."""
    secs = (props.get("action_wait_secs") or {}).get(action)
    if secs is None:
        secs = props["wait_secs"]
    if secs < 0:
        await anyio.sleep_forever()
    await anyio.sleep(secs)


class TestResource(ResourceActor):
    __test__ = False  # not a pytest test class despite the name

    type_name = "OS::Heat::TestResource"
    description = "Stores a string; knobs make it slow, fail or ask for replacement."
    properties_schema = {
        "value": Property(
            PropertyType.STRING,
            "The input string to be stored.",
            default="test_string",
            update_allowed=True,
        ),
        "update_replace": Property(
            PropertyType.BOOLEAN,
            "When true, an update replaces the resource instead of changing it in place.",
            default=False,
            update_allowed=True,
        ),
        "update_replace_value": Property(
            PropertyType.STRING,
            "A value that can be stored but not updated: changing it replaces the resource.",
        ),
        "fail": Property(
            PropertyType.BOOLEAN,
            "When true, create and update fail (after their wait).",
            default=False,
            update_allowed=True,
        ),
        "wait_secs": Property(
            PropertyType.NUMBER,
            "Seconds create, update and delete wait (-1 is forever).",
            default=0,
            update_allowed=True,
        ),
        "action_wait_secs": Property(
            PropertyType.MAP,
            "Per-action waits overriding wait_secs.",
            update_allowed=True,
            schema={action: _action_wait(action) for action in ("create", "update", "delete")},
        ),
        "client_name": Property(
            PropertyType.STRING,
            "Accepted for Heat compatibility; unused.",
            default="",
            update_allowed=True,
        ),
        "entity_name": Property(
            PropertyType.STRING,
            "Accepted for Heat compatibility; unused.",
            default="",
            update_allowed=True,
        ),
    }
    attributes_schema = {"output": "The stored string (the value property)."}

    async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
        await wait(props, "create")
        self._maybe_fail(ctx, props)
        return Created(physical_resource_name(ctx), {"output": props["value"]})

    async def update(
        self,
        ctx: ActorContext,
        physical_id: str,
        old_props: Mapping[str, Any],
        new_props: Mapping[str, Any],
        changed: frozenset[str],
    ) -> Mapping[str, Any]:
        if new_props["update_replace"]:
            raise ReplaceRequired(f"{ctx.resource_name}: update_replace is set")
        await wait(new_props, "update")
        self._maybe_fail(ctx, new_props)
        return {"output": new_props["value"]}

    async def delete(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        await wait(props, "delete")

    @staticmethod
    def _maybe_fail(ctx: ActorContext, props: Mapping[str, Any]) -> None:
        if props["fail"]:
            raise ResourceFailure(f"Test Resource failed {ctx.resource_name}")

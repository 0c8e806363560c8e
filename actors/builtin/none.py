"""`OS::Heat::None`: a stand-in that accepts anything and does nothing.

Used through `resource_registry` to stub out another type. As in Heat it takes
any property, answers every attribute with null and is never replaced: all
changes are applied "in place", which does nothing. It must stay cheap because
benchmarks create tens of thousands of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from actors.base import ActorContext, Created, ResourceActor


class NoneResource(ResourceActor):
    type_name = "OS::Heat::None"
    description = "Does nothing; accepts any property and returns null for any attribute."
    open_properties = True
    open_attributes = True
    outside_effects = False

    async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
        return Created(str(uuid.uuid4()))

    async def update(
        self,
        ctx: ActorContext,
        physical_id: str,
        old_props: Mapping[str, Any],
        new_props: Mapping[str, Any],
        changed: frozenset[str],
    ) -> Mapping[str, Any]:
        return {}

    async def delete(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        return None

"""Fixtures for the actor tests: contexts and validated properties.

`anyio_backend` (trio and asyncio) comes from the suite-wide tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from actors import ActorContext, Operation, ResourceActor, validate_properties


def context(
    operation: Operation = Operation.CREATE,
    *,
    name: str = "res",
    key: str = "key-1",
    stack: str = "stk",
) -> ActorContext:
    return ActorContext(
        stack_name=stack,
        stack_id=f"{stack}-id",
        resource_name=name,
        resource_id=f"{name}-id",
        operation=operation,
        idempotency_key=key,
    )


@pytest.fixture
def make_ctx() -> Callable[..., ActorContext]:
    """`make_ctx(Operation.UPDATE, name=..., key=...)` builds an ActorContext."""
    return context


def props_for(
    actor: type[ResourceActor], values: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What the engine would hand the actor for these template values."""
    return validate_properties(
        actor.properties_schema, values or {}, allow_unknown=actor.open_properties
    )


@pytest.fixture
def props() -> Callable[..., dict[str, Any]]:
    """`props(ActorClass, {...})` validates template values as the engine does."""
    return props_for

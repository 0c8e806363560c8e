"""The resource actor plugin API.

A resource type is a subclass of `ResourceActor`. The engine owns scheduling,
state, retries, locks and persistence; an actor only talks to the outside world
and reports what it did. Contracts every actor must keep:

* `create` returns the physical id and the attribute values of what it made.
  It may be called again with the same `ActorContext.idempotency_key` after an
  engine crash; an actor that can detect its earlier work by that key should
  return it instead of making a second one.
* `update` is called only when every changed property is `update_allowed`; it
  may raise `ReplaceRequired` to ask for a replacement instead.
* `delete` of something already gone is success.
* `check`, `suspend` and `resume` are optional; the defaults succeed.
* Expected failures are signalled by raising `ResourceFailure` with a message
  for the user; any other exception is also recorded as a failure of the
  resource, with its type in the reason.

Actors are stateless: the engine may create one instance per type and call it
for many resources at once.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from actors.schema import Schema


class ResourceFailure(Exception):
    """The actor could not do what was asked; the message is shown to the user as the reason."""


class ReplaceRequired(Exception):
    """Raised by `update` when the change cannot be applied in place after all."""


class Replacement(enum.Enum):
    """How the engine replaces a resource of this type."""

    CREATE_BEFORE_DELETE = "create_before_delete"
    DELETE_BEFORE_CREATE = "delete_before_create"


class Operation(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    CHECK = "check"
    SUSPEND = "suspend"
    RESUME = "resume"


@dataclass(frozen=True)
class ActorContext:
    """What an actor may know about the call it is serving.

    `idempotency_key` is stable for one resource row and operation: a repeated
    call after an engine crash gets the same key.
    """

    stack_name: str
    stack_id: str
    resource_name: str
    resource_id: str
    operation: Operation
    idempotency_key: str
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Created:
    """The result of `create`: the physical id and the attributes of the new resource."""

    physical_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


class ResourceActor(ABC):
    """Base class of every resource type. Subclasses set the class attributes below."""

    type_name: ClassVar[str]
    description: ClassVar[str] = ""
    properties_schema: ClassVar[Schema] = {}
    #: attribute name -> one-line description
    attributes_schema: ClassVar[Mapping[str, str]] = {}
    replacement: ClassVar[Replacement] = Replacement.CREATE_BEFORE_DELETE
    #: accept properties not in the schema (passed through as given, updatable in place)
    open_properties: ClassVar[bool] = False
    #: accept `get_attr` of any attribute name (unknown ones resolve to null)
    open_attributes: ClassVar[bool] = False
    #: whether create, update and delete change anything outside the engine (a cloud
    #: resource, a file). False promises they do not: what they make lives only in the
    #: resource's row, so a crash that loses the row loses nothing else, and the legacy
    #: walk need not commit an IN_PROGRESS state before the call (it writes a run of such
    #: resources in one commit, still before reporting them)
    outside_effects: ClassVar[bool] = True

    @abstractmethod
    async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
        """Make the resource; return its physical id and attributes."""

    async def update(
        self,
        ctx: ActorContext,
        physical_id: str,
        old_props: Mapping[str, Any],
        new_props: Mapping[str, Any],
        changed: frozenset[str],
    ) -> Mapping[str, Any]:
        """Apply an in-place change; return the new attributes. Default: replace."""
        raise ReplaceRequired(f"{self.type_name} cannot be updated in place")

    @abstractmethod
    async def delete(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        """Remove the resource; deleting something already gone is success."""

    async def check(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        """Verify the resource still exists and is healthy; raise `ResourceFailure` if not."""
        return None

    async def suspend(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        """Pause the resource."""
        return None

    async def resume(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        """Undo `suspend`."""
        return None

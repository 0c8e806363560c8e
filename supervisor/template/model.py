"""The plain records a compiled template is made of.

Everything here is frozen: a `ResourceDefinition` or an `OutputDefinition`
holds the compiled function tree of its values (plain data where the value is
known at compile time, `Call` nodes where it depends on other resources), the
names it refers to, and nothing mutable. The engine reads these records; only
`CompiledTemplate` (in `compiled.py`) evaluates them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Sizes past which a template is refused; the engine's configuration sets them."""

    max_template_bytes: int = 10 * 1024 * 1024
    max_resources: int = 20_000
    #: nesting depth of data and function calls in a template value
    max_depth: int = 64
    #: characters of one yaql expression
    max_yaql_expression: int = 4096
    #: bytes of the JSON rendering of the data given to one yaql evaluation
    max_yaql_data: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class StackIdentity:
    """What the pseudo parameters `OS::stack_name`, `OS::stack_id`, `OS::project_id` give."""

    stack_name: str
    stack_id: str
    project_id: str = ""


@dataclass(frozen=True)
class ResourceData:
    """What `get_resource` and `get_attr` see of a resource that exists."""

    physical_id: str | None
    attributes: Mapping[str, Any]


#: resource name -> its data, or None if it is not (yet) created
ResourceLookup = Callable[[str], ResourceData | None]


class DeletionPolicy(enum.Enum):
    DELETE = "Delete"
    RETAIN = "Retain"


@dataclass(frozen=True)
class AttrRef:
    """One `get_attr` reference; `attribute` None is the all-attributes form."""

    resource: str
    attribute: str | None


@dataclass(frozen=True)
class ResourceDefinition:
    """One enabled resource of a compiled template.

    `properties` is the compiled function tree; resolve it with
    `CompiledTemplate.resolve_properties`.
    """

    name: str
    #: the type after environment resource_registry aliasing
    type: str
    #: the type as written in the template
    template_type: str
    properties: Any
    depends_on: tuple[str, ...]
    deletion_policy: DeletionPolicy
    metadata: Mapping[str, Any]
    condition: str | None
    attribute_refs: frozenset[AttrRef]
    resource_refs: frozenset[str]


@dataclass(frozen=True)
class OutputDefinition:
    """One output; `enabled` is False when its condition is false (its value is then null)."""

    key: str
    value: Any
    description: str
    condition: str | None
    enabled: bool
    attribute_refs: frozenset[AttrRef]
    resource_refs: frozenset[str]


@dataclass(frozen=True)
class ResolvedOutput:
    key: str
    value: Any
    description: str
    #: set when resolution failed; `value` is then None
    error: str | None = None

"""Resource actors: the plugin API, the registry and the built-in resource types."""

from actors.base import (
    ActorContext,
    Created,
    Operation,
    Replacement,
    ReplaceRequired,
    ResourceActor,
    ResourceFailure,
)
from actors.registry import ENTRY_POINT_GROUP, Registry, RegistryError, default_registry
from actors.schema import (
    AllowedPattern,
    AllowedValues,
    Length,
    Property,
    PropertyError,
    PropertyType,
    Range,
    Schema,
    validate_properties,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActorContext",
    "AllowedPattern",
    "AllowedValues",
    "Created",
    "Length",
    "Operation",
    "Property",
    "PropertyError",
    "PropertyType",
    "Range",
    "Registry",
    "RegistryError",
    "ReplaceRequired",
    "Replacement",
    "ResourceActor",
    "ResourceFailure",
    "Schema",
    "default_registry",
    "validate_properties",
]

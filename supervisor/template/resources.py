"""Compiling the resources section into `ResourceDefinition`s.

Each resource is checked for its keys, its type (after resource_registry
aliasing, looked up in the registry), its condition, and the literal parts of
its properties against the type's schema; values computed from other
resources are checked when they are resolved. A resource whose condition is
false is left out: only its keys, type name and condition are checked, as in
Heat, and `depends_on` naming it is dropped. References are checked once every
resource is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from actors.base import ResourceActor
from actors.registry import Registry
from actors.schema import PropertyError, coerce
from supervisor.errors import TemplateError
from supervisor.template.conditions import Conditions
from supervisor.template.environment import resolve_type
from supervisor.template.model import DeletionPolicy, ResourceDefinition
from supervisor.template.nodes import (
    REMOVED,
    Call,
    contains_call,
    iter_calls,
    key_path,
    kind_of,
    show,
)
from supervisor.template.references import (
    Reference,
    check_references,
    references_in,
    split_references,
)
from supervisor.template.values import ValueCompiler

_KEYS = ("type", "properties", "metadata", "depends_on", "deletion_policy", "update_policy")


@dataclass
class ResourceSet:
    """The outcome of compiling the resources section."""

    definitions: dict[str, ResourceDefinition] = field(default_factory=dict)
    classes: dict[str, type[ResourceActor]] = field(default_factory=dict)
    #: disabled resource -> a description of its condition, for messages
    disabled: dict[str, str] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)


class ResourceCompiler:
    def __init__(
        self,
        values: ValueCompiler,
        conditions: Conditions | None,
        registry: Registry,
        aliases: Mapping[str, str],
    ) -> None:
        self.values = values
        self.conditions = conditions
        self.registry = registry
        self.aliases = aliases
        self.keys = (*_KEYS, "condition") if conditions is not None else _KEYS

    def compile(self, section: Any) -> ResourceSet:
        if section is None:
            section = {}
        if not isinstance(section, dict):
            raise TemplateError("resources", f"expected a map of resources, got {kind_of(section)}")
        result = ResourceSet()
        for name, body in section.items():
            self._compile_one(name, body, result)
        for name, definition in list(result.definitions.items()):
            result.definitions[name] = self._with_depends(definition, result)
        check_references(result.references, result.classes, result.disabled)
        return result

    def _compile_one(self, name: str, body: Any, result: ResourceSet) -> None:
        path = f"resources.{name}"
        if not isinstance(body, dict):
            raise TemplateError(path, f"expected a map with a type, got {kind_of(body)}")
        for key in body:
            if key not in self.keys:
                raise TemplateError(
                    key_path(path, key),
                    f"unknown resource key; expected one of {', '.join(self.keys)}",
                )
        template_type = body.get("type")
        if not isinstance(template_type, str) or not template_type:
            got = "nothing" if template_type is None else kind_of(template_type)
            raise TemplateError(key_path(path, "type"), f"expected a resource type name, got {got}")
        condition = body.get("condition")
        if not self._enabled(condition, key_path(path, "condition")):
            named = f" {condition!r}" if isinstance(condition, str) else ""
            result.disabled[name] = f"its condition{named}"
            return
        final_type = resolve_type(template_type, self.aliases)
        cls = self.registry.actor_class(final_type)
        if cls is None:
            via = (
                f" (from {template_type!r} via resource_registry)"
                if final_type != template_type
                else ""
            )
            raise TemplateError(
                key_path(path, "type"), f"unknown resource type {final_type!r}{via}"
            )
        properties = self._properties(cls, body.get("properties"), key_path(path, "properties"))
        refs = references_in(properties)
        attribute_refs, resource_refs = split_references(refs)
        result.references.extend(refs)
        result.classes[name] = cls
        result.definitions[name] = ResourceDefinition(
            name=name,
            type=final_type,
            template_type=template_type,
            properties=properties,
            depends_on=_depends_on(body.get("depends_on"), key_path(path, "depends_on")),
            deletion_policy=self._policy(
                body.get("deletion_policy"), key_path(path, "deletion_policy")
            ),
            metadata=self._metadata(body.get("metadata"), key_path(path, "metadata")),
            condition=condition if isinstance(condition, str) else None,
            attribute_refs=attribute_refs,
            resource_refs=resource_refs,
        )
        self._map_or_none(body.get("update_policy"), key_path(path, "update_policy"))

    def _enabled(self, condition: Any, path: str) -> bool:
        if self.conditions is None or condition is None:
            return True
        return self.conditions.evaluate(condition, path, 0)

    def _properties(self, cls: type[ResourceActor], raw: Any, path: str) -> Any:
        properties = self.values.value(raw, path)
        if properties is REMOVED or properties is None:
            properties = {}
        if isinstance(properties, Call):
            return properties
        if not isinstance(properties, dict):
            raise TemplateError(path, f"expected a map of properties, got {kind_of(properties)}")
        check_literal_properties(cls, properties, path)
        return properties

    def _policy(self, raw: Any, path: str) -> DeletionPolicy:
        value = self.values.value(raw, path)
        if value is None or value is REMOVED:
            return DeletionPolicy.DELETE
        accepted = {"Delete": DeletionPolicy.DELETE, "Retain": DeletionPolicy.RETAIN}
        if self.values.version.lowercase_policies:
            accepted.update({"delete": DeletionPolicy.DELETE, "retain": DeletionPolicy.RETAIN})
        policy = accepted.get(value) if isinstance(value, str) else None
        if policy is None:
            raise TemplateError(
                path, f"unknown deletion policy {show(value)}; expected {' or '.join(accepted)}"
            )
        return policy

    def _metadata(self, raw: Any, path: str) -> Mapping[str, Any]:
        metadata = self._map_or_none(raw, path)
        calls = iter_calls(metadata)
        if calls:
            raise TemplateError(
                calls[0].path, "metadata cannot refer to resources: it is resolved when compiling"
            )
        return metadata

    def _map_or_none(self, raw: Any, path: str) -> dict[str, Any]:
        value = self.values.value(raw, path)
        if value is None or value is REMOVED:
            return {}
        if not isinstance(value, dict):
            raise TemplateError(path, f"expected a map, got {kind_of(value)}")
        return value

    def _with_depends(
        self, definition: ResourceDefinition, result: ResourceSet
    ) -> ResourceDefinition:
        path = f"resources.{definition.name}.depends_on"
        kept = []
        for target in definition.depends_on:
            if target in result.classes:
                kept.append(target)
            elif target not in result.disabled:
                raise TemplateError(path, f"unknown resource {target!r}")
        if len(kept) == len(definition.depends_on):
            return definition
        return replace(definition, depends_on=tuple(kept))


def _depends_on(raw: Any, path: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise TemplateError(path, f"expected a resource name or a list of names, got {show(raw)}")
    return tuple(dict.fromkeys(names))


def check_literal_properties(cls: type[ResourceActor], props: Mapping[str, Any], path: str) -> None:
    """Check what is known at compile time: names, required ones, and literal values."""
    schema = cls.properties_schema
    if not cls.open_properties:
        for key in props:
            if key not in schema:
                raise TemplateError(key_path(path, key), "unknown property")
    for name, prop in schema.items():
        value = props.get(name)
        if value is None:
            if prop.required and prop.default is None:
                raise TemplateError(key_path(path, name), "required property is missing")
            continue
        if contains_call(value):
            continue
        try:
            coerce(prop, value, name)
        except PropertyError as err:
            raise TemplateError(key_path(path, err.path), err.message) from None

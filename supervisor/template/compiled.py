"""`CompiledTemplate`: a checked template, ready for the engine.

Everything that can be known before any resource exists is already computed:
parameter values, conditions, `if` branches, functions of literal values, the
dependency graph and its order. What remains are the get_resource/get_attr
calls (and the functions over their results), evaluated per resource by
`resolve_properties` with the engine's view of existing resources. Resolving
one resource reads only that resource's definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from actors.base import ResourceActor
from actors.schema import PropertyError, validate_properties
from supervisor.errors import TemplateError
from supervisor.template.model import (
    Limits,
    OutputDefinition,
    ResolvedOutput,
    ResourceDefinition,
    ResourceLookup,
)
from supervisor.template.nodes import Evaluation, evaluate, key_path, kind_of


@dataclass(frozen=True)
class CompiledTemplate:
    #: normalised date form, e.g. "2018-08-31"
    version: str
    description: str
    #: final typed values of the declared parameters
    parameters: Mapping[str, Any]
    hidden_parameters: frozenset[str]
    #: enabled resources only, in template order
    resources: Mapping[str, ResourceDefinition]
    #: every output in template order; disabled ones have `enabled` False
    outputs: Mapping[str, OutputDefinition]
    #: resource -> the resources it depends on; acyclic, all present
    dependencies: Mapping[str, frozenset[str]]
    #: lint warnings, each "path: message"
    warnings: tuple[str, ...]
    parameter_groups: tuple[Any, ...] = ()
    #: the value of every named condition
    conditions: Mapping[str, bool] = field(default_factory=dict)
    _order: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _classes: Mapping[str, type[ResourceActor]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _evaluation: Evaluation = field(
        default_factory=lambda: Evaluation({}, {}, Limits()), repr=False, compare=False
    )

    def order(self) -> list[str]:
        """Resource names, dependencies first, ties broken by template order."""
        return list(self._order)

    def resolve_properties(self, name: str, lookup: ResourceLookup) -> dict[str, Any]:
        """The validated properties of one resource, with references resolved by `lookup`."""
        path = f"resources.{name}.properties"
        definition = self.resources.get(name)
        if definition is None:
            raise TemplateError(f"resources.{name}", "no such resource in the template")
        values = evaluate(definition.properties, replace(self._evaluation, lookup=lookup))
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise TemplateError(path, f"expected a map of properties, got {kind_of(values)}")
        cls = self._classes[name]
        try:
            return validate_properties(
                cls.properties_schema, values, allow_unknown=cls.open_properties
            )
        except PropertyError as err:
            raise TemplateError(key_path(path, err.path), err.message) from None

    def resolve_outputs(self, lookup: ResourceLookup) -> list[ResolvedOutput]:
        """Every output in template order; a failure is recorded in the output, not raised."""
        ev = replace(self._evaluation, lookup=lookup)
        resolved = []
        for key, output in self.outputs.items():
            if not output.enabled:
                resolved.append(ResolvedOutput(key, None, output.description))
                continue
            try:
                value = evaluate(output.value, ev)
            except TemplateError as err:
                resolved.append(ResolvedOutput(key, None, output.description, error=str(err)))
                continue
            resolved.append(ResolvedOutput(key, value, output.description))
        return resolved

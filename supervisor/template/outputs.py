"""Compiling the outputs section into `OutputDefinition`s.

An output has a `value` (required), an optional `description` and, from
2016-10-14, an optional `condition`. An output whose condition is false is
kept, disabled, with a null value; its value is not compiled, so it may refer
to resources that are disabled by the same condition.
"""

from __future__ import annotations

from typing import Any

from supervisor.errors import TemplateError
from supervisor.template.conditions import Conditions
from supervisor.template.model import OutputDefinition
from supervisor.template.nodes import REMOVED, key_path, kind_of
from supervisor.template.references import Reference, references_in, split_references
from supervisor.template.values import ValueCompiler


def compile_outputs(
    section: Any, values: ValueCompiler, conditions: Conditions | None
) -> tuple[dict[str, OutputDefinition], list[Reference]]:
    """The outputs in template order, and every reference their values make."""
    if section is None:
        return {}, []
    if not isinstance(section, dict):
        raise TemplateError("outputs", f"expected a map of outputs, got {kind_of(section)}")
    keys = (
        ("value", "description", "condition")
        if conditions is not None
        else ("value", "description")
    )
    outputs: dict[str, OutputDefinition] = {}
    all_refs: list[Reference] = []
    for name, body in section.items():
        path = f"outputs.{name}"
        if not isinstance(body, dict):
            raise TemplateError(path, f"expected a map with a value, got {kind_of(body)}")
        for key in body:
            if key not in keys:
                raise TemplateError(
                    key_path(path, key), f"unknown output key; expected one of {', '.join(keys)}"
                )
        if "value" not in body:
            raise TemplateError(key_path(path, "value"), "is required")
        description = body.get("description")
        text = "" if description is None else str(description)
        condition = body.get("condition")
        enabled = True
        if conditions is not None and condition is not None:
            enabled = conditions.evaluate(condition, key_path(path, "condition"), 0)
        value = values.value(body["value"], key_path(path, "value"), 0) if enabled else None
        if value is REMOVED:
            value = None
        refs = references_in(value)
        all_refs.extend(refs)
        attribute_refs, resource_refs = split_references(refs)
        outputs[name] = OutputDefinition(
            key=name,
            value=value,
            description=text,
            condition=condition if isinstance(condition, str) else None,
            enabled=enabled,
            attribute_refs=attribute_refs,
            resource_refs=resource_refs,
        )
    return outputs, all_refs

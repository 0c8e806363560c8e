"""`compile_template`: from a parsed template to a `CompiledTemplate`, or a TemplateError.

The order of work is the order of dependence: version and sections, limits,
parameters, conditions (which read parameters), resources (which read
conditions), outputs, and the graph. Every problem is found here, before the
engine stores or touches anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.registry import Registry
from supervisor.errors import TemplateError
from supervisor.template.compiled import CompiledTemplate
from supervisor.template.conditions import Conditions
from supervisor.template.environment import normalized
from supervisor.template.graph import dependencies_of, topological_order
from supervisor.template.model import DEFAULT_LIMITS, Limits, StackIdentity
from supervisor.template.nodes import Evaluation, kind_of
from supervisor.template.outputs import compile_outputs
from supervisor.template.parameters import parse_schemas, resolve_values
from supervisor.template.references import check_references
from supervisor.template.resources import ResourceCompiler
from supervisor.template.values import ValueCompiler
from supervisor.template.versions import TemplateVersion, version_of

_SECTIONS = (
    "heat_template_version",
    "description",
    "parameter_groups",
    "parameters",
    "resources",
    "outputs",
)


def compile_template(
    template: Mapping[str, Any],
    *,
    files: Mapping[str, str],
    environment: Mapping[str, Any],
    parameters: Mapping[str, str],
    identity: StackIdentity,
    registry: Registry,
    limits: Limits = DEFAULT_LIMITS,
) -> CompiledTemplate:
    """Check and compile a template; `parameters` (command line) override the environment's."""
    try:
        return _compile(template, files, environment, parameters, identity, registry, limits)
    except RecursionError:
        # Only reachable when Limits.max_depth is set beyond what Python's stack allows.
        raise TemplateError(
            "", f"the template nests too deeply to compile (max_depth is {limits.max_depth})"
        ) from None


def _compile(
    template: Mapping[str, Any],
    files: Mapping[str, str],
    environment: Mapping[str, Any],
    parameters: Mapping[str, str],
    identity: StackIdentity,
    registry: Registry,
    limits: Limits,
) -> CompiledTemplate:
    if not isinstance(template, Mapping):
        raise TemplateError("", f"the template must be a map of sections, got {kind_of(template)}")
    version = version_of(template.get("heat_template_version"))
    _check_sections(template, version)
    _check_resource_count(template.get("resources"), limits)
    env = normalized(environment)
    schemas = parse_schemas(template.get("parameters"), version)
    values = resolve_values(schemas, parameters, env["parameters"], env["parameter_defaults"])
    pseudo = {
        "OS::stack_name": identity.stack_name,
        "OS::stack_id": identity.stack_id,
        "OS::project_id": identity.project_id,
    }
    compiler = ValueCompiler(version, Evaluation({**values, **pseudo}, dict(files), limits))
    conditions = None
    condition_values: dict[str, bool] = {}
    if version.has_conditions:
        conditions = Conditions(_conditions_section(template.get("conditions")), compiler)
        compiler.conditions = conditions
        condition_values = conditions.evaluate_all()
    resources = ResourceCompiler(compiler, conditions, registry, env["resource_registry"]).compile(
        template.get("resources")
    )
    outputs, output_refs = compile_outputs(template.get("outputs"), compiler, conditions)
    check_references(output_refs, resources.classes, resources.disabled)
    dependencies = dependencies_of(resources.definitions)
    order = topological_order(list(resources.definitions), dependencies)
    return CompiledTemplate(
        version=version.name,
        description=_description(template.get("description")),
        parameters=values,
        hidden_parameters=frozenset(name for name, s in schemas.items() if s.hidden),
        resources=resources.definitions,
        outputs=outputs,
        dependencies=dependencies,
        warnings=tuple(compiler.warnings),
        parameter_groups=_parameter_groups(template.get("parameter_groups")),
        conditions=condition_values,
        _order=tuple(order),
        _classes=resources.classes,
        _evaluation=compiler.evaluation,
    )


def _check_sections(template: Mapping[str, Any], version: TemplateVersion) -> None:
    sections = (*_SECTIONS, "conditions") if version.has_conditions else _SECTIONS
    for name in template:
        if name not in sections:
            hint = (
                " (conditions need heat_template_version 2016-10-14 or later)"
                if name == "conditions"
                else ""
            )
            raise TemplateError(
                str(name), f"unknown section{hint}; expected one of {', '.join(sections)}"
            )


def _check_resource_count(resources: Any, limits: Limits) -> None:
    count = len(resources) if isinstance(resources, dict) else 0
    if count > limits.max_resources:
        raise TemplateError(
            "resources", f"template has {count} resources; the limit is {limits.max_resources}"
        )


def _conditions_section(section: Any) -> Mapping[str, Any]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise TemplateError("conditions", f"expected a map of conditions, got {kind_of(section)}")
    return section


def _description(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise TemplateError("description", f"expected a string, got {kind_of(value)}")
    return str(value)


def _parameter_groups(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TemplateError("parameter_groups", f"expected a list of groups, got {kind_of(value)}")
    return tuple(value)

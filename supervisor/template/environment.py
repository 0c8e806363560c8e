"""Environment files: parameters, parameter_defaults and resource type aliases.

An environment is a map of three sections, each a map. `merge_environments`
applies them in order, later ones overriding earlier ones key by key within a
section. `resource_registry` maps a type name to another (aliases may chain,
and `Prefix::*` maps every type with that prefix, as in Heat); template
resources (a type mapped to a template file) and per-resource entries are not
supported yet and are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from supervisor.errors import TemplateError
from supervisor.template.loader import check_keys, load_yaml
from supervisor.template.nodes import key_path, kind_of, show

SECTIONS = ("parameters", "parameter_defaults", "resource_registry")
_TEMPLATE_SUFFIXES = (".yaml", ".yml", ".template", ".json")


def parse_environment(text: str, *, source: str = "environment") -> dict[str, Any]:
    """The environment in `text`, with every section present."""
    document = load_yaml(text, source, "environment") if text.strip() else None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise TemplateError(
            "", f"an environment must be a map of sections, got {kind_of(document)}", source=source
        )
    check_keys(document, source)
    try:
        return normalized(document)
    except TemplateError as err:
        raise TemplateError(err.path, err.reason, source=source) from None


def normalized(environment: Mapping[str, Any]) -> dict[str, Any]:
    """The environment with all sections present and checked."""
    for name in environment:
        if name not in SECTIONS:
            raise TemplateError(
                str(name), f"unknown environment section; expected one of {', '.join(SECTIONS)}"
            )
    result: dict[str, Any] = {}
    for name in SECTIONS:
        section = environment.get(name)
        if section is None:
            section = {}
        if not isinstance(section, Mapping):
            raise TemplateError(name, f"expected a map, got {kind_of(section)}")
        result[name] = dict(section)
    _check_registry(result["resource_registry"])
    return result


def _check_registry(registry: Mapping[str, Any]) -> None:
    for alias, target in registry.items():
        path = key_path("resource_registry", alias)
        if alias == "resources" or isinstance(target, Mapping):
            raise TemplateError(path, "per-resource registry entries are not supported")
        if not isinstance(target, str):
            raise TemplateError(path, f"expected a resource type name, got {kind_of(target)}")
        if target.endswith(_TEMPLATE_SUFFIXES) or "/" in target:
            raise TemplateError(path, f"template resources ({show(target)}) are not supported yet")
        if alias.endswith("*") != target.endswith("*"):
            raise TemplateError(path, "a wildcard must map to a wildcard (Prefix::* -> Other::*)")


def merge_environments(envs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One environment from many: later ones override earlier ones, per key within a section."""
    merged: dict[str, Any] = {name: {} for name in SECTIONS}
    for env in envs:
        for name in SECTIONS:
            merged[name].update(env.get(name) or {})
    return merged


def resolve_type(type_name: str, registry: Mapping[str, str]) -> str:
    """The type an alias finally names, following chained and wildcard entries."""
    seen = [type_name]
    current = type_name
    while True:
        target = _lookup(current, registry)
        if target is None or target == current:
            return current
        if target in seen:
            loop = " -> ".join([*seen[seen.index(target) :], target])
            raise TemplateError("resource_registry", f"alias loop: {loop}")
        seen.append(target)
        current = target


def _lookup(type_name: str, registry: Mapping[str, str]) -> str | None:
    exact = registry.get(type_name)
    if exact is not None:
        return exact
    for alias, target in registry.items():
        if alias.endswith("*") and type_name.startswith(alias[:-1]):
            return target[:-1] + type_name[len(alias) - 1 :]
    return None

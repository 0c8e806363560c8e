"""Collection functions: repeat, map_merge, map_replace, list_concat, contains, filter, equals.

Null arguments count as empty collections where Heat says so (map_merge,
list_concat, repeat's for_each values). No function mutates its arguments: a
compiled tree may share one parameter value between many resources.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

from supervisor.errors import TemplateError
from supervisor.template.fn_strings import render
from supervisor.template.nodes import Call, Evaluation, FunctionSpec, kind_of

# repeat -----------------------------------------------------------------------------------------

_REPEAT_EXPECTED = "expected {for_each: {placeholder: list}, template: ...}"


def make_repeat(*, maps: bool, permutations: bool) -> FunctionSpec:
    """repeat; `maps` (2016-10-14+) iterates map keys, `permutations` (2017-09-01+) may zip."""
    allowed = "a list or a map" if maps else "a list"

    def check(args: Any, path: str, ev: Evaluation) -> None:
        if not isinstance(args, dict):
            raise TemplateError(path, f"{_REPEAT_EXPECTED}, got {kind_of(args)}")
        for key in ("for_each", "template"):
            if key not in args:
                raise TemplateError(path, f"{_REPEAT_EXPECTED}, missing {key!r}")
        for_each = args["for_each"]
        if isinstance(for_each, dict):
            if not for_each:
                raise TemplateError(path, "for_each must name at least one placeholder")
            for name, values in for_each.items():
                if not (
                    values is None
                    or isinstance(values, Call | list)
                    or (maps and isinstance(values, dict))
                ):
                    raise TemplateError(
                        path, f"for_each.{name} must be {allowed}, got {kind_of(values)}"
                    )
        elif not isinstance(for_each, Call):
            raise TemplateError(path, f"for_each must be a map, got {kind_of(for_each)}")
        nested = args.get("permutations", True) if permutations else True
        if not isinstance(nested, Call | bool):
            raise TemplateError(path, f"permutations must be a boolean, got {kind_of(nested)}")

    def apply(args: Any, path: str, ev: Evaluation) -> Any:
        check(args, path, ev)
        nested = args.get("permutations", True) if permutations else True
        placeholders = list(args["for_each"])
        lists: list[list[Any]] = []
        for name in placeholders:
            values = args["for_each"][name]
            if isinstance(values, dict) and not nested:
                raise TemplateError(
                    path, f"for_each.{name} must be a list when permutations is false"
                )
            lists.append([] if values is None else list(values))
        if not nested and len({len(values) for values in lists}) > 1:
            raise TemplateError(
                path, "for_each lists must have equal lengths when permutations is false"
            )
        combos = itertools.product(*lists) if nested else zip(*lists, strict=False)
        return [
            _replace(args["template"], list(zip(placeholders, combo, strict=True)), path)
            for combo in combos
        ]

    return FunctionSpec("repeat", check, apply)


def _replace(template: Any, pairs: list[tuple[str, Any]], path: str) -> Any:
    if isinstance(template, str):
        for placeholder, value in pairs:
            if placeholder in template:
                text = render(value, containers_as_json=False)
                if text is None or value is None:
                    raise TemplateError(
                        path, f"cannot substitute {kind_of(value)} for {placeholder!r}"
                    )
                template = template.replace(placeholder, text)
        return template
    if isinstance(template, list):
        return [_replace(item, pairs, path) for item in template]
    if isinstance(template, dict):
        return {_replace(k, pairs, path): _replace(v, pairs, path) for k, v in template.items()}
    return template


# map_merge, map_replace -------------------------------------------------------------------------


def _check_map_merge(args: Any, path: str, ev: Evaluation) -> None:
    if isinstance(args, Call):
        return
    if not isinstance(args, list):
        raise TemplateError(path, f"expected a list of maps, got {kind_of(args)}")
    for item in args:
        if not isinstance(item, Call | dict) and item is not None:
            raise TemplateError(
                path, f"expected a list of maps, got an item that is {kind_of(item)}"
            )


def _apply_map_merge(args: Any, path: str, ev: Evaluation) -> Any:
    _check_map_merge(args, path, ev)
    merged: dict[str, Any] = {}
    for item in args:
        merged.update(item or {})
    return merged


MAP_MERGE = FunctionSpec("map_merge", _check_map_merge, _apply_map_merge)

_MAP_REPLACE_EXPECTED = "expected [map, {keys: {...}, values: {...}}]"


def _check_map_replace(args: Any, path: str, ev: Evaluation) -> None:
    if isinstance(args, Call):
        return
    if not isinstance(args, list) or len(args) != 2:
        raise TemplateError(path, f"{_MAP_REPLACE_EXPECTED}, got {_count(args)}")
    for item in args:
        if not isinstance(item, Call | dict) and item is not None:
            raise TemplateError(
                path, f"{_MAP_REPLACE_EXPECTED}, got an item that is {kind_of(item)}"
            )
    replacements = args[1]
    if isinstance(replacements, dict):
        unknown = sorted(set(replacements) - {"keys", "values"})
        if unknown:
            raise TemplateError(path, f"{_MAP_REPLACE_EXPECTED}, got key(s) {', '.join(unknown)}")
        for key, value in replacements.items():
            if not isinstance(value, Call | dict) and value is not None:
                raise TemplateError(path, f"{key} must be a map, got {kind_of(value)}")


def _apply_map_replace(args: Any, path: str, ev: Evaluation) -> Any:
    _check_map_replace(args, path, ev)
    source: Mapping[str, Any] = args[0] or {}
    new_keys: Mapping[str, Any] = (args[1] or {}).get("keys") or {}
    new_values: Mapping[Any, Any] = (args[1] or {}).get("values") or {}
    result: dict[Any, Any] = {}
    for key, value in source.items():
        target = new_keys.get(key)
        if target is None:
            target = key
        elif target in source and target != key:
            raise TemplateError(
                path, f"key replacement {target!r} collides with a key in the input map"
            )
        elif target in result:
            raise TemplateError(
                path, f"key replacement {target!r} collides with a key in the output map"
            )
        try:
            result[target] = new_values.get(value, value)
        except TypeError:
            result[target] = value
    return result


MAP_REPLACE = FunctionSpec("map_replace", _check_map_replace, _apply_map_replace)


# list_concat ------------------------------------------------------------------------------------


def _identity(item: Any) -> Any:
    try:
        hash(item)
    except TypeError:
        return ("json", json.dumps(item, sort_keys=True, default=str))
    return item


def make_list_concat(unique: bool) -> FunctionSpec:
    name = "list_concat_unique" if unique else "list_concat"

    def check(args: Any, path: str, ev: Evaluation) -> None:
        if isinstance(args, Call):
            return
        if not isinstance(args, list):
            raise TemplateError(path, f"expected a list of lists, got {kind_of(args)}")
        for item in args:
            if not isinstance(item, Call | list) and item is not None:
                raise TemplateError(
                    path, f"items to concatenate must be lists, got {kind_of(item)}"
                )

    def apply(args: Any, path: str, ev: Evaluation) -> Any:
        check(args, path, ev)
        joined = [item for part in args for item in (part or ())]
        if not unique:
            return joined
        # Heat keeps the last occurrence of each repeated item.
        seen: set[Any] = set()
        kept: list[Any] = []
        for item in reversed(joined):
            identity = _identity(item)
            if identity not in seen:
                seen.add(identity)
                kept.append(item)
        kept.reverse()
        return kept

    return FunctionSpec(name, check, apply)


# contains, filter, equals -----------------------------------------------------------------------


def _pair_check(expected: str) -> Any:
    def check(args: Any, path: str, ev: Evaluation) -> None:
        if not isinstance(args, list) or len(args) != 2:
            raise TemplateError(path, f"expected {expected}, got {_count(args)}")

    return check


def _apply_contains(args: Any, path: str, ev: Evaluation) -> Any:
    value, sequence = args
    if isinstance(sequence, str):
        if not isinstance(value, str):
            raise TemplateError(path, f"cannot look for {kind_of(value)} in a string")
        return value in sequence
    if not isinstance(sequence, list):
        raise TemplateError(path, f"the second argument must be a list, got {kind_of(sequence)}")
    return value in sequence


CONTAINS = FunctionSpec("contains", _pair_check("[value, list]"), _apply_contains)


def _apply_filter(args: Any, path: str, ev: Evaluation) -> Any:
    values, sequence = args
    if not sequence:
        return sequence
    if not isinstance(sequence, list):
        raise TemplateError(path, f"filter only works on lists, got {kind_of(sequence)}")
    if not values:
        return list(sequence)
    if not isinstance(values, list):
        raise TemplateError(path, f"the values to filter out must be a list, got {kind_of(values)}")
    return [item for item in sequence if item not in values]


FILTER = FunctionSpec("filter", _pair_check("[values, list]"), _apply_filter)


def _apply_equals(args: Any, path: str, ev: Evaluation) -> Any:
    return args[0] == args[1]


EQUALS = FunctionSpec("equals", _pair_check("[value_1, value_2]"), _apply_equals)


def _count(args: Any) -> str:
    return f"{len(args)} argument(s)" if isinstance(args, list) else kind_of(args)

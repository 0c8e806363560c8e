"""Compiling template values: raw YAML data -> compiled tree (see `nodes`).

One pass over the value: a one-key map whose key is a function of the
template's version becomes a call; its arguments are compiled first; if none
of them depends on a resource and the function is not `get_resource` or
`get_attr`, it is applied right away. `if` is reduced here, and only the taken
branch is compiled, so untaken branches add no dependencies (as in Heat).

In condition mode (the conditions section, `equals` arguments, ...) only the
version's condition functions are calls; any other function is an error.

Invariants: the result never contains REMOVED except as the whole value (a
false two-argument `if` at the top); every other REMOVED is dropped from its
list or map. Nesting past `Limits.max_depth` is an error.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from supervisor.errors import TemplateError
from supervisor.template.nodes import (
    REMOVED,
    Call,
    Evaluation,
    FunctionSpec,
    contains_call,
    index_path,
    key_path,
    kind_of,
)
from supervisor.template.versions import ALL_FUNCTION_NAMES, LOGICAL, TemplateVersion

if TYPE_CHECKING:
    from supervisor.template.conditions import Conditions


class ValueCompiler:
    def __init__(self, version: TemplateVersion, evaluation: Evaluation) -> None:
        self.version = version
        self.evaluation = evaluation
        self.max_depth = evaluation.limits.max_depth
        self.conditions: Conditions | None = None
        self.warnings: list[str] = []

    def value(self, raw: Any, path: str, depth: int = 0, *, condition: bool = False) -> Any:
        """The compiled form of `raw`, found at `path` nested `depth` levels deep."""
        if depth > self.max_depth:
            raise TemplateError(
                path,
                f"values nest more than {self.max_depth} levels deep; "
                f"the limit is {self.max_depth}",
            )
        kind = type(raw)
        if kind is dict:
            if len(raw) == 1:
                compiled = self._maybe_call(raw, path, depth, condition)
                if compiled is not _NOT_A_CALL:
                    return compiled
            out: dict[str, Any] = {}
            for key, item in raw.items():
                item = self.value(item, key_path(path, key), depth + 1, condition=condition)
                if item is not REMOVED:
                    out[key] = item
            return out
        if kind is list:
            items = []
            for index, item in enumerate(raw):
                item = self.value(item, index_path(path, index), depth + 1, condition=condition)
                if item is not REMOVED:
                    items.append(item)
            return items
        if isinstance(raw, Mapping):
            return self.value(dict(raw), path, depth, condition=condition)
        if isinstance(raw, tuple):
            return self.value(list(raw), path, depth, condition=condition)
        return raw

    def _maybe_call(self, raw: dict[str, Any], path: str, depth: int, condition: bool) -> Any:
        ((name, args),) = raw.items()
        if condition:
            spec = self.version.condition_functions.get(name)
            if spec is None and name in self.version.functions:
                raise TemplateError(
                    key_path(path, name),
                    f"{name} is not allowed in a condition in "
                    f"heat_template_version {self.version.name}",
                )
            if spec is not None and name in LOGICAL:
                return self._conditions().evaluate(raw, path, depth)
        else:
            spec = self.version.functions.get(name)
        if spec is None:
            self._lint(name, path)
            return _NOT_A_CALL
        if spec.name == "if":
            return self._if(args, key_path(path, name), depth + 1, condition)
        return self._call(spec, args, key_path(path, name), depth + 1, condition)

    def _call(self, spec: FunctionSpec, raw: Any, path: str, depth: int, condition: bool) -> Any:
        args = self.value(raw, path, depth, condition=condition)
        if args is REMOVED:
            args = None
        spec.check(args, path, self.evaluation)
        if spec.runtime or contains_call(args):
            return Call(spec, args, path)
        return spec.apply(args, path, self.evaluation)

    def _if(self, raw: Any, path: str, depth: int, condition: bool) -> Any:
        counts = "2 or 3" if self.version.nullable_if else "3"
        form = (
            "[condition, value_if_true, (value_if_false)]"
            if self.version.nullable_if
            else ("[condition, value_if_true, value_if_false]")
        )
        if not isinstance(raw, list) or len(raw) not in (
            (2, 3) if self.version.nullable_if else (3,)
        ):
            got = f"{len(raw)} argument(s)" if isinstance(raw, list) else kind_of(raw)
            raise TemplateError(path, f"expected {form} ({counts} arguments), got {got}")
        enabled = self._conditions().evaluate(raw[0], index_path(path, 0), depth)
        if not enabled and len(raw) == 2:
            return REMOVED
        branch = 1 if enabled else 2
        return self.value(raw[branch], index_path(path, branch), depth, condition=condition)

    def _conditions(self) -> Conditions:
        assert self.conditions is not None, "a version with `if` has a conditions table"
        return self.conditions

    def _lint(self, name: str, path: str) -> None:
        message = lint_message(name, self.version.name)
        if message is not None:
            self.warnings.append(f"{path}: {message}")


_NOT_A_CALL: Any = object()


@functools.lru_cache(maxsize=4096)
def lint_message(name: str, version_name: str) -> str | None:
    """Why a one-key map with this key looks like a mistaken function call, if it does."""
    from supervisor.template.versions import VERSIONS

    version = VERSIONS[version_name]
    names = sorted({*version.functions, *version.condition_functions})
    shown = f"{{{name!r}: ...}} is a one-key map whose key is not a function of {version_name}"
    if name in ALL_FUNCTION_NAMES:
        return f"{shown}; treated as data"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.8)
    if close:
        return f"{shown} (did you mean {close[0]!r}?); treated as data"
    return None

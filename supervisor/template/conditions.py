"""The conditions section: named boolean conditions, evaluated once at compile time.

A condition is a boolean, the name of another condition, or a condition
function (`equals`, `not`, `and`, `or`, and from 2017-09-01 `contains` and
`yaql`; `get_param` may supply a boolean). Conditions depend only on
parameters, so every one is known before any resource exists. A condition that
refers to itself through others is an error naming the loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from supervisor.errors import TemplateError
from supervisor.template.nodes import index_path, key_path, kind_of
from supervisor.template.values import ValueCompiler


class Conditions:
    def __init__(self, definitions: Mapping[str, Any], compiler: ValueCompiler) -> None:
        self._definitions = definitions
        self._compiler = compiler
        self._resolved: dict[str, bool] = {}
        self._active: list[str] = []

    def evaluate_all(self) -> dict[str, bool]:
        return {name: self.is_enabled(name, f"conditions.{name}", 0) for name in self._definitions}

    def is_enabled(self, name: str, path: str, depth: int) -> bool:
        """The value of the named condition; `path` is where the name is used, `depth` how deep."""
        if name not in self._definitions:
            raise TemplateError(path, f"unknown condition {name!r}")
        known = self._resolved.get(name)
        if known is not None:
            return known
        if name in self._active:
            loop = [*self._active[self._active.index(name) :], name]
            raise TemplateError(f"conditions.{name}", f"circular definition: {' -> '.join(loop)}")
        self._active.append(name)
        try:
            result = self.evaluate(self._definitions[name], f"conditions.{name}", depth + 1)
        finally:
            self._active.pop()
        self._resolved[name] = result
        return result

    def evaluate(self, raw: Any, path: str, depth: int) -> bool:
        """A condition as written at `path`: a boolean, a condition name or a condition function."""
        limit = self._compiler.max_depth
        if depth > limit:
            raise TemplateError(
                path, f"conditions nest more than {limit} levels deep; the limit is {limit}"
            )
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            return self.is_enabled(raw, path, depth)
        functions = self._compiler.version.condition_functions
        if isinstance(raw, dict) and len(raw) == 1:
            ((name, args),) = raw.items()
            if name in functions:
                return self._function(name, args, raw, path, depth)
            if name in self._compiler.version.functions:
                raise TemplateError(
                    key_path(path, name),
                    f"{name} is not allowed in a condition in heat_template_version "
                    f"{self._compiler.version.name}",
                )
        names = ", ".join(sorted(functions))
        raise TemplateError(
            path,
            f"expected a condition name, a boolean or a condition function ({names}), "
            f"got {kind_of(raw)}",
        )

    def _function(self, name: str, args: Any, raw: Any, path: str, depth: int) -> bool:
        fpath = key_path(path, name)
        if name == "not":
            return not self.evaluate(args, fpath, depth + 1)
        if name in ("and", "or"):
            if not isinstance(args, list) or len(args) < 2:
                got = f"{len(args)} condition(s)" if isinstance(args, list) else kind_of(args)
                raise TemplateError(fpath, f"expected a list of at least 2 conditions, got {got}")
            results = [
                self.evaluate(item, index_path(fpath, index), depth + 2)
                for index, item in enumerate(args)
            ]
            return all(results) if name == "and" else any(results)
        result = self._compiler.value(raw, path, depth, condition=True)
        if not isinstance(result, bool):
            raise TemplateError(fpath, f"a condition must be a boolean, got {kind_of(result)}")
        return result

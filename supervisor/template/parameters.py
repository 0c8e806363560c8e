"""Template parameters: declarations, typed values and constraints.

A value comes, by precedence, from the command line, the environment's
`parameters`, its `parameter_defaults`, or the template's `default`. Values
are converted the way Heat converts them: a string parameter takes Python's
`str()` of what it is given (`true` -> "True"), a comma_delimited_list splits
on commas without trimming, a number becomes an int when it can and a float
otherwise. Every declared default is checked against the type and the
constraints, even when a value is given, as Heat does.

`custom_constraint` is refused rather than ignored: it names a check that
some plugin should run, and silently skipping it would accept values the
template's author meant to reject.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from supervisor.errors import TemplateError
from supervisor.template.nodes import index_path, key_path, kind_of, show
from supervisor.template.versions import TemplateVersion

TYPES = ("string", "number", "comma_delimited_list", "json", "boolean")
_KEYS = ("type", "label", "description", "default", "hidden", "constraints", "immutable")
_APPLIES = {
    "length": ("string", "comma_delimited_list", "json"),
    "range": ("number",),
    "modulo": ("number",),
    "allowed_values": ("string", "number", "comma_delimited_list", "boolean"),
    "allowed_pattern": ("string",),
}
_TRUE = frozenset({"t", "true", "on", "y", "yes", "1"})
_FALSE = frozenset({"f", "false", "off", "n", "no", "0"})


class _Invalid(ValueError):
    """A value that does not fit a parameter's type or a constraint."""


@dataclass(frozen=True)
class Constraint:
    kind: str
    spec: Any
    description: str | None

    def problem(self, value: Any, ptype: str, hidden: bool) -> str | None:
        """The generated complaint about `value`, or None if it satisfies the constraint."""
        shown = "the value" if hidden else show(value)
        if self.kind == "length":
            return _outside(f"length {len(value)}", len(value), self.spec)
        if self.kind == "range":
            return _outside("the value" if hidden else _num(value), value, self.spec)
        if self.kind == "modulo":
            step, offset = self.spec["step"], self.spec["offset"]
            if (value - offset) % step != 0:
                return f"{shown} is not a multiple of {_num(step)} with an offset of {_num(offset)}"
            return None
        if self.kind == "allowed_values":
            for item in value if ptype == "comma_delimited_list" else [value]:
                if item not in self.spec:
                    listed = ", ".join(show(a) for a in self.spec)
                    what = "the value" if hidden else show(item)
                    return f"{what} is not one of the allowed values: {listed}"
            return None
        match = re.match(self.spec, value)
        if match is None or match.end() != len(value):
            return f"{shown} does not match the pattern {self.spec!r}"
        return None


@dataclass(frozen=True)
class ParameterSchema:
    name: str
    type: str
    default: Any
    hidden: bool
    constraints: tuple[Constraint, ...]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _outside(what: str, value: float, bounds: Mapping[str, float]) -> str | None:
    low, high = bounds.get("min"), bounds.get("max")
    if (low is None or value >= low) and (high is None or value <= high):
        return None
    if low is not None and high is not None:
        return f"{what} is not between {_num(low)} and {_num(high)}"
    return (
        f"{what} is not at least {_num(low)}"
        if low is not None
        else (
            f"{what} is not at most {_num(high)}"  # type: ignore[arg-type]
        )
    )


def convert(ptype: str, value: Any) -> Any:
    """The typed value of a parameter; raises `_Invalid` with a message."""
    if ptype == "string":
        return str(value)
    if ptype == "number":
        return _to_number(value)
    if ptype == "boolean":
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower() if isinstance(value, str | int) else None
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise _Invalid(f"expected a boolean, got {show(value)}")
    if ptype == "json":
        return _to_json(value)
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, dict):
        raise _Invalid(f"expected a comma-delimited list, got {kind_of(value)}")
    text = str(value)
    return text.split(",") if text else []


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(f"expected a number, got {kind_of(value)}")
    number: int | float
    if isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                raise _Invalid(f"expected a number, got {show(value)}") from None
    else:
        number = value
    if isinstance(number, float) and not math.isfinite(number):
        raise _Invalid(f"expected a finite number, got {show(value)}")
    return number


def _to_json(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except ValueError as err:
            raise _Invalid(f"expected JSON, got invalid JSON: {err}") from None
    if not isinstance(value, dict | list):
        raise _Invalid(f"expected a JSON map or list, got {kind_of(value)}")
    return value


def parse_schemas(section: Any, version: TemplateVersion) -> dict[str, ParameterSchema]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise TemplateError("parameters", f"expected a map of parameters, got {kind_of(section)}")
    return {name: _schema(name, body, version) for name, body in section.items()}


def _schema(name: str, body: Any, version: TemplateVersion) -> ParameterSchema:
    path = f"parameters.{name}"
    if not isinstance(body, dict):
        raise TemplateError(path, f"expected a map with a type, got {kind_of(body)}")
    allowed = (*_KEYS, "tags") if version.parameter_tags else _KEYS
    for key in body:
        if key not in allowed:
            raise TemplateError(
                key_path(path, key), f"unknown parameter key; expected one of {', '.join(allowed)}"
            )
    ptype = body.get("type")
    if ptype is None:
        raise TemplateError(key_path(path, "type"), f"is required; one of {', '.join(TYPES)}")
    if ptype not in TYPES:
        raise TemplateError(
            key_path(path, "type"),
            f"unknown type {show(ptype)}; expected one of {', '.join(TYPES)}",
        )
    flags = {}
    for flag in ("hidden", "immutable"):
        try:
            flags[flag] = convert("boolean", body.get(flag, False))
        except _Invalid as err:
            raise TemplateError(key_path(path, flag), str(err)) from None
    constraints = _constraints(
        body.get("constraints"), ptype, key_path(path, "constraints"), version
    )
    return ParameterSchema(name, ptype, body.get("default"), flags["hidden"], constraints)


def _constraints(
    raw: Any, ptype: str, path: str, version: TemplateVersion
) -> tuple[Constraint, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TemplateError(path, f"expected a list of constraints, got {kind_of(raw)}")
    return tuple(
        _constraint(item, ptype, index_path(path, i), version) for i, item in enumerate(raw)
    )


def _constraint(raw: Any, ptype: str, path: str, version: TemplateVersion) -> Constraint:
    kinds = [*_APPLIES] if version.modulo else [k for k in _APPLIES if k != "modulo"]
    if not isinstance(raw, dict):
        raise TemplateError(path, f"expected a map like {{range: {{min: 1}}}}, got {kind_of(raw)}")
    if "custom_constraint" in raw:
        raise TemplateError(path, "custom_constraint is not supported: no plugin can check it")
    named = [key for key in raw if key != "description"]
    if len(named) != 1 or named[0] not in kinds:
        raise TemplateError(
            path, f"expected one constraint of {', '.join(kinds)}, got {', '.join(named) or 'none'}"
        )
    kind = named[0]
    if ptype not in _APPLIES[kind]:
        raise TemplateError(path, f"{kind} does not apply to a {ptype} parameter")
    spec = _constraint_spec(kind, raw[kind], key_path(path, kind))
    if kind == "allowed_values":
        try:
            spec = [convert(ptype, v) if ptype in ("number", "boolean") else str(v) for v in spec]
        except _Invalid as err:
            raise TemplateError(key_path(path, kind), str(err)) from None
    description = raw.get("description")
    return Constraint(kind, spec, None if description is None else str(description))


def _constraint_spec(kind: str, spec: Any, path: str) -> Any:
    if kind in ("length", "range", "modulo"):
        keys = ("step", "offset") if kind == "modulo" else ("min", "max")
        if not isinstance(spec, dict) or set(spec) - set(keys) or not spec:
            raise TemplateError(path, f"expected a map with {' and/or '.join(keys)}")
        try:
            bounds = {key: _to_number(value) for key, value in spec.items()}
        except _Invalid as err:
            raise TemplateError(path, str(err)) from None
        if kind == "modulo":
            if set(bounds) != set(keys):
                raise TemplateError(path, "expected a map with step and offset")
            if bounds["step"] == 0 or abs(bounds["offset"]) >= abs(bounds["step"]):
                raise TemplateError(path, "step must not be 0 and offset must be smaller than step")
        return bounds
    if kind == "allowed_values":
        if not isinstance(spec, list):
            raise TemplateError(path, f"expected a list of values, got {kind_of(spec)}")
        return spec
    if not isinstance(spec, str):
        raise TemplateError(path, f"expected a regular expression, got {kind_of(spec)}")
    try:
        re.compile(spec)
    except re.error as err:
        raise TemplateError(path, f"invalid regular expression: {err}") from None
    return spec


def typed_value(schema: ParameterSchema, raw: Any, path: str) -> Any:
    """The converted value of `raw`, checked against every constraint, or a TemplateError."""
    try:
        value = convert(schema.type, raw)
        for constraint in schema.constraints:
            problem = constraint.problem(value, schema.type, schema.hidden)
            if problem is not None:
                raise TemplateError(path, constraint.description or problem)
    except _Invalid as err:
        problem = f"the value is not a valid {schema.type}" if schema.hidden else str(err)
        raise TemplateError(path, problem) from None
    return value


def resolve_values(
    schemas: Mapping[str, ParameterSchema],
    given: Mapping[str, Any],
    env_parameters: Mapping[str, Any],
    env_defaults: Mapping[str, Any],
) -> dict[str, Any]:
    """The final value of every declared parameter."""
    for mapping in (given, env_parameters):
        for name in mapping:
            if name not in schemas:
                raise TemplateError(
                    f"parameters.{name}",
                    "a value is given but the template declares no such parameter",
                )
    values: dict[str, Any] = {}
    for name, schema in schemas.items():
        path = f"parameters.{name}"
        env_default = env_defaults.get(name)
        if env_default is None and schema.default is not None:
            typed_value(schema, schema.default, key_path(path, "default"))
        for source in (given, env_parameters):
            if source.get(name) is not None:
                values[name] = typed_value(schema, source[name], path)
                break
        else:
            default = schema.default if env_default is None else env_default
            if default is None:
                raise TemplateError(
                    path, "a value is required: none was given and there is no default"
                )
            values[name] = typed_value(schema, default, path)
    return values

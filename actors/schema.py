"""Property schemas: how a resource type declares and validates its inputs.

A schema maps property names to `Property` declarations. `validate_properties`
turns the resolved values a template supplies into the plain values an actor
receives: defaults filled in, values coerced the way Heat coerces them
(`"5"` -> 5 for an integer, `"true"` -> True for a boolean, 8 -> "8" for a
string), constraints checked. Every problem is a `PropertyError` that carries
the dotted path of the offending value relative to the properties map, so the
engine can prefix it with `resources.NAME.properties`.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class PropertyType(enum.Enum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    LIST = "list"
    MAP = "map"
    ANY = "any"


class PropertyError(ValueError):
    """A property value does not match its schema; `path` is relative to the properties map."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Range:
    """Inclusive numeric bounds; for strings, lists and maps see `Length`."""

    min: float | None = None
    max: float | None = None
    description: str | None = None


@dataclass(frozen=True)
class Length:
    min: int | None = None
    max: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class AllowedValues:
    values: tuple[Any, ...]
    description: str | None = None


@dataclass(frozen=True)
class AllowedPattern:
    pattern: str
    description: str | None = None


Constraint = Range | Length | AllowedValues | AllowedPattern


@dataclass(frozen=True)
class Property:
    """One property of a resource type.

    `update_allowed` says whether a change can be applied in place; a change to
    any other property makes the engine replace the resource.
    """

    type: PropertyType
    description: str = ""
    required: bool = False
    default: Any = None
    update_allowed: bool = False
    constraints: tuple[Constraint, ...] = ()
    schema: Mapping[str, Property] | None = field(default=None)


Schema = Mapping[str, Property]


def validate_properties(
    schema: Schema, values: Mapping[str, Any] | None, *, allow_unknown: bool = False
) -> dict[str, Any]:
    """Return the validated, defaulted and coerced property map, or raise `PropertyError`.

    With `allow_unknown`, names outside the schema are kept as given.
    """
    given = {} if values is None else values
    if not isinstance(given, Mapping):
        raise PropertyError("", f"expected a map of properties, got {_kind(given)}")
    result: dict[str, Any] = {}
    for name in given:
        if name not in schema:
            if not allow_unknown:
                raise PropertyError(str(name), "unknown property")
            result[str(name)] = given[name]
    for name, prop in schema.items():
        value = given.get(name)
        if value is None:
            if prop.required and prop.default is None:
                raise PropertyError(name, "required property is missing")
            value = prop.default
        result[name] = None if value is None else coerce(prop, value, name)
    return result


def coerce(prop: Property, value: Any, path: str) -> Any:
    """Coerce one value to its declared type and check its constraints."""
    converted = _convert(prop.type, value, path)
    if prop.type is PropertyType.MAP and prop.schema is not None:
        converted = validate_nested(prop.schema, converted, path)
    for constraint in prop.constraints:
        check_constraint(constraint, converted, path)
    return converted


def validate_nested(schema: Schema, value: Mapping[str, Any], path: str) -> dict[str, Any]:
    try:
        return validate_properties(schema, value)
    except PropertyError as err:
        raise PropertyError(f"{path}.{err.path}" if err.path else path, err.message) from None


def _convert(kind: PropertyType, value: Any, path: str) -> Any:
    if kind is PropertyType.ANY:
        return value
    if kind is PropertyType.STRING:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, str | int | float):
            return str(value)
        raise PropertyError(path, f"expected a string, got {_kind(value)}")
    if kind in (PropertyType.INTEGER, PropertyType.NUMBER):
        return _to_number(kind, value, path)
    if kind is PropertyType.BOOLEAN:
        return _to_bool(value, path)
    if kind is PropertyType.LIST:
        if isinstance(value, str):
            return value.split(",") if value else []
        if isinstance(value, Sequence):
            return list(value)
        raise PropertyError(path, f"expected a list, got {_kind(value)}")
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            return decoded
    raise PropertyError(path, f"expected a map, got {_kind(value)}")


def _to_number(kind: PropertyType, value: Any, path: str) -> int | float:
    noun = "an integer" if kind is PropertyType.INTEGER else "a number"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PropertyError(path, f"expected {noun}, got {_kind(value)}")
    number: int | float
    try:
        number = int(value) if isinstance(value, str) and value.strip().lstrip("+-").isdigit() \
            else float(value) if isinstance(value, str) else value
    except ValueError:
        raise PropertyError(path, f"expected {noun}, got {json.dumps(value)}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise PropertyError(path, f"expected {noun}, got {json.dumps(value)}")
    if kind is PropertyType.INTEGER:
        if isinstance(number, float) and not number.is_integer():
            raise PropertyError(path, f"expected an integer, got {json.dumps(value)}")
        return int(number)
    return number


_TRUE = {"true", "yes", "on", "1", "t", "y"}
_FALSE = {"false", "no", "off", "0", "f", "n"}


def _to_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise PropertyError(path, f"expected a boolean, got {json.dumps(value, default=str)}")


def check_constraint(constraint: Constraint, value: Any, path: str) -> None:
    """Raise `PropertyError` (with the constraint's description if it has one) on violation."""
    problem = _violation(constraint, value)
    if problem is not None:
        raise PropertyError(path, constraint.description or problem)


def _violation(constraint: Constraint, value: Any) -> str | None:
    if isinstance(constraint, AllowedValues):
        if value not in constraint.values:
            allowed = ", ".join(json.dumps(v) for v in constraint.values)
            return f"{json.dumps(value, default=str)} is not one of the allowed values [{allowed}]"
        return None
    if isinstance(constraint, AllowedPattern):
        if not isinstance(value, str) or re.fullmatch(constraint.pattern, value) is None:
            return f"{json.dumps(value, default=str)} does not match pattern {constraint.pattern!r}"
        return None
    if isinstance(constraint, Range):
        return _outside("value", value, constraint.min, constraint.max)
    return _outside("length", len(value), constraint.min, constraint.max)


def _outside(what: str, value: float, low: float | None, high: float | None) -> str | None:
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = " and ".join(
            part
            for part in (
                f"at least {low:g}" if low is not None else "",
                f"at most {high:g}" if high is not None else "",
            )
            if part
        )
        return f"{what} {value:g} is not {bounds}" if what == "value" else (
            f"length {value} must be {bounds}"
        )
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__

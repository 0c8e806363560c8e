"""The compiled function tree and its evaluation.

A compiled value is plain data (dict, list, str, number, bool, None) in which
some positions hold a `Call`: a function whose result depends on other
resources, so it can only be computed at resolve time. Every function whose
arguments are known at compile time has already been applied; `if` has been
reduced. Plain data inside the tree is never parsed again, so a parameter value
that looks like a function call stays data (as in Heat).

Invariants: a `Call`'s `args` are themselves a compiled value; `evaluate`
builds fresh containers, so callers may hand the result to an actor that
mutates it without touching the tree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from supervisor.errors import TemplateError
from supervisor.template.model import Limits, ResourceData, ResourceLookup


def _no_lookup(name: str) -> ResourceData | None:
    raise AssertionError(f"resource {name!r} looked up while compiling")


@dataclass(frozen=True)
class Evaluation:
    """What functions may read: parameters (pseudo ones included), files, limits, resources."""

    parameters: Mapping[str, Any]
    files: Mapping[str, str]
    limits: Limits
    lookup: ResourceLookup = _no_lookup


#: static check of a function's compiled arguments (which may still hold calls)
Check = Callable[[Any, str, "Evaluation"], None]
#: computes a function's result from its evaluated arguments
Apply = Callable[[Any, str, Evaluation], Any]


@dataclass(frozen=True, repr=False)
class FunctionSpec:
    """One intrinsic function as one template version defines it.

    `runtime` functions (get_resource, get_attr) are never applied at compile
    time, even when their arguments are literal.
    """

    name: str
    check: Check
    apply: Apply
    runtime: bool = False

    def __repr__(self) -> str:
        return f"<function {self.name}>"


@dataclass(frozen=True, slots=True)
class Call:
    spec: FunctionSpec
    args: Any
    #: template path of the call, e.g. "resources.a.properties.name.list_join"
    path: str


class _Removed:
    """The result of a false two-argument `if`: the enclosing item is dropped."""

    def __repr__(self) -> str:
        return "REMOVED"


REMOVED: Any = _Removed()


def evaluate(node: Any, ev: Evaluation) -> Any:
    """The value of a compiled tree; every call applied with `ev`."""
    kind = type(node)
    if kind is dict:
        return {key: evaluate(value, ev) for key, value in node.items()}
    if kind is list:
        return [evaluate(item, ev) for item in node]
    if kind is Call:
        return node.spec.apply(evaluate(node.args, ev), node.path, ev)
    return node


def iter_calls(node: Any) -> list[Call]:
    """Every call in a compiled tree, outer calls before the calls in their arguments."""
    found: list[Call] = []
    stack = [node]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(reversed(list(item.values())))
        elif kind is list:
            stack.extend(reversed(item))
        elif kind is Call:
            found.append(item)
            stack.append(item.args)
    return found


def contains_call(node: Any) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is Call:
            return True
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return False


def kind_of(value: Any) -> str:
    """A short description of a value's kind for messages ("a string", "a list", ...)."""
    if isinstance(value, Call):
        return f"a {value.spec.name} call"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def show(value: Any, limit: int = 60) -> str:
    """A value rendered for a message, shortened."""
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def index_path(path: str, index: int) -> str:
    return f"{path}[{index}]"


def fail(path: str, message: str) -> TemplateError:
    return TemplateError(path, message)

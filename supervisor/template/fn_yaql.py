"""The yaql function: a yaql expression evaluated over `$.data`, as Heat does it.

The engine is built once per process with Heat's default iterator and memory
quotas. Two more limits protect the engine: the length of an expression and
the JSON size of the data it is given (`Limits`). A literal expression is
parsed at compile time, so syntax errors are template errors before anything
runs. Results are converted to plain lists and dicts.
"""

from __future__ import annotations

import collections.abc  # yaql reads collections.abc without importing it
import functools
import json
from collections.abc import Mapping
from typing import Any

from supervisor.errors import TemplateError
from supervisor.template.nodes import Call, Evaluation, FunctionSpec, kind_of

#: Heat's defaults ([yaql] limit_iterators, memory_quota)
LIMIT_ITERATORS = 200
MEMORY_QUOTA = 10_000

_EXPECTED = "expected {expression: ..., data: {...}}"


@functools.cache
def _engine() -> Any:
    import yaql  # slow to import and build: only templates using yaql pay

    options = {"yaql.limitIterators": LIMIT_ITERATORS, "yaql.memoryQuota": MEMORY_QUOTA}
    return yaql.factory.YaqlFactory().create(options=options), yaql.create_context()


@functools.lru_cache(maxsize=1024)
def _parse(expression: str) -> Any:
    engine, _context = _engine()
    return engine(expression)


def _parsed(expression: Any, path: str, ev: Evaluation) -> Any:
    from yaql.language import exceptions

    if not isinstance(expression, str):
        raise TemplateError(path, f"the expression must be a string, got {kind_of(expression)}")
    limit = ev.limits.max_yaql_expression
    if len(expression) > limit:
        raise TemplateError(
            path, f"the expression has {len(expression)} characters; the limit is {limit}"
        )
    try:
        return _parse(expression)
    except exceptions.YaqlException as err:
        raise TemplateError(path, f"bad expression: {err}") from None


def _check(args: Any, path: str, ev: Evaluation) -> None:
    if not isinstance(args, dict):
        raise TemplateError(path, f"{_EXPECTED}, got {kind_of(args)}")
    if "expression" not in args:
        raise TemplateError(path, f"{_EXPECTED}, missing 'expression'")
    unknown = sorted(set(args) - {"expression", "data"})
    if unknown:
        raise TemplateError(path, f"{_EXPECTED}, got key(s) {', '.join(unknown)}")
    if not isinstance(args["expression"], Call):
        _parsed(args["expression"], path, ev)


def _apply(args: Any, path: str, ev: Evaluation) -> Any:
    from yaql.language import exceptions

    _check(args, path, ev)
    statement = _parsed(args["expression"], path, ev)
    data = args.get("data", {})
    size = len(json.dumps(data, default=str))
    if size > ev.limits.max_yaql_data:
        raise TemplateError(
            path, f"the data is {size} bytes of JSON; the limit is {ev.limits.max_yaql_data}"
        )
    context = _engine()[1]
    try:
        result = statement.evaluate(data={"data": data}, context=context.create_child_context())
    except exceptions.YaqlException as err:
        raise TemplateError(path, f"evaluation failed: {err}") from None
    except Exception as err:  # a user's expression may raise anything from the functions it calls
        raise TemplateError(path, f"evaluation failed: {type(err).__name__}: {err}") from None
    return plain(result)


def plain(value: Any) -> Any:
    """yaql's frozen dicts, tuples and sets as plain dicts and lists."""
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | collections.abc.Iterator):
        return [plain(item) for item in value]
    return value


YAQL = FunctionSpec("yaql", _check, _apply)

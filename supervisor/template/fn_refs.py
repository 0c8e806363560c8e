"""Reference functions: get_param, get_file, get_resource, get_attr, and CFN leftovers.

`get_resource` and `get_attr` are the only functions that read other resources;
their resource name (and get_attr's attribute name) must be known at compile
time so the dependency graph is exact. A path into a value that is not there
gives "" from get_param and null from get_attr, exactly as Heat does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from supervisor.errors import TemplateError
from supervisor.template.nodes import Call, Evaluation, FunctionSpec, kind_of

_MISSING = object()


def _check_get_param(args: Any, path: str, ev: Evaluation) -> None:
    if isinstance(args, Call | str):
        return
    if not isinstance(args, list) or not args:
        raise TemplateError(
            path, f"expected a parameter name or [name, path...], got {kind_of(args)}"
        )
    if not isinstance(args[0], Call | str):
        raise TemplateError(path, f"the parameter name must be a string, got {kind_of(args[0])}")


def _param_step(collection: Any, key: Any) -> Any:
    if not isinstance(collection, Mapping | Sequence) or not isinstance(key, str | int):
        return _MISSING
    if isinstance(collection, Sequence) and isinstance(key, str):
        try:
            key = int(key)
        except ValueError:
            return _MISSING
    try:
        return collection[key]
    except (KeyError, IndexError, TypeError):
        return _MISSING


def _apply_get_param(args: Any, path: str, ev: Evaluation) -> Any:
    if isinstance(args, list) and args:
        name, keys = args[0], args[1:]
    else:
        name, keys = args, []
    if not isinstance(name, str):
        raise TemplateError(path, f"the parameter name must be a string, got {kind_of(name)}")
    if name not in ev.parameters:
        raise TemplateError(path, f"unknown parameter {name!r}")
    value = ev.parameters[name]
    for key in keys:
        value = _param_step(value, key)
        if value is _MISSING:
            return ""
    return value


GET_PARAM = FunctionSpec("get_param", _check_get_param, _apply_get_param)


def _check_get_file(args: Any, path: str, ev: Evaluation) -> None:
    if not isinstance(args, Call | str):
        raise TemplateError(path, f"expected a file path, got {kind_of(args)}")


def _apply_get_file(args: Any, path: str, ev: Evaluation) -> Any:
    if not isinstance(args, str):
        raise TemplateError(path, f"expected a file path, got {kind_of(args)}")
    content = ev.files.get(args)
    if content is None:
        raise TemplateError(
            path, f"no content for file {args!r}: only get_file calls with a literal path are read"
        )
    return content


GET_FILE = FunctionSpec("get_file", _check_get_file, _apply_get_file)


def _check_get_resource(args: Any, path: str, ev: Evaluation) -> None:
    if isinstance(args, Call):
        raise TemplateError(
            path, f"the resource name must be known at compile time, got {kind_of(args)}"
        )
    if not isinstance(args, str):
        raise TemplateError(path, f"expected a resource name, got {kind_of(args)}")


def _apply_get_resource(args: Any, path: str, ev: Evaluation) -> Any:
    data = ev.lookup(args)
    return None if data is None else data.physical_id


GET_RESOURCE = FunctionSpec("get_resource", _check_get_resource, _apply_get_resource, runtime=True)


def _attr_step(collection: Any, key: Any) -> Any:
    if not isinstance(collection, Mapping | Sequence) or not isinstance(key, str | int):
        return _MISSING
    try:
        return collection[key]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return _MISSING


def _make_get_attr(all_attributes: bool) -> FunctionSpec:
    expected = (
        "expected [resource_name] or [resource_name, attribute, path...]"
        if all_attributes
        else "expected [resource_name, attribute, path...]"
    )

    def check(args: Any, path: str, ev: Evaluation) -> None:
        if not isinstance(args, list):
            raise TemplateError(path, f"{expected}, got {kind_of(args)}")
        if len(args) < (1 if all_attributes else 2):
            raise TemplateError(path, f"{expected}, got {len(args)} argument(s)")
        for what, item in zip(("resource name", "attribute name"), args[:2], strict=False):
            if isinstance(item, Call):
                raise TemplateError(
                    path, f"the {what} must be known at compile time, got {kind_of(item)}"
                )
            if not isinstance(item, str):
                raise TemplateError(path, f"the {what} must be a string, got {kind_of(item)}")

    def apply(args: Any, path: str, ev: Evaluation) -> Any:
        data = ev.lookup(args[0])
        if data is None:
            return None
        if len(args) == 1:
            return dict(data.attributes)
        value = data.attributes.get(args[1])
        for key in args[2:]:
            value = _attr_step(value, key)
            if value is _MISSING:
                return None
        return value

    return FunctionSpec("get_attr", check, apply, runtime=True)


GET_ATTR = _make_get_attr(all_attributes=False)
GET_ATTR_ALL = _make_get_attr(all_attributes=True)


def _check_select(args: Any, path: str, ev: Evaluation) -> None:
    if not isinstance(args, list) or len(args) != 2:
        raise TemplateError(path, f"expected [index, collection], got {kind_of(args)}")


def _apply_select(args: Any, path: str, ev: Evaluation) -> Any:
    index, collection = args
    if collection is None:
        return ""
    if isinstance(collection, Mapping):
        if not isinstance(index, str):
            raise TemplateError(
                path, f"the index into a map must be a string, got {kind_of(index)}"
            )
        return collection.get(index, "")
    if isinstance(collection, list):
        try:
            return collection[int(index)]
        except (ValueError, TypeError):
            raise TemplateError(
                path, f"the index must be an integer, got {kind_of(index)}"
            ) from None
        except IndexError:
            return ""
    raise TemplateError(path, f"can only select from a list or a map, got {kind_of(collection)}")


SELECT = FunctionSpec("Fn::Select", _check_select, _apply_select)


def _never(args: Any, path: str, ev: Evaluation) -> Any:
    raise AssertionError(f"{path}: a refused function was applied")


def refused(name: str, reason: str) -> FunctionSpec:
    """A name Heat treats as a function in this version but which is an error to use."""

    def check(args: Any, path: str, ev: Evaluation) -> None:
        raise TemplateError(path, reason)

    return FunctionSpec(name, check, _never)


def removed(name: str, version: str) -> FunctionSpec:
    return refused(name, f"{name} is not supported in heat_template_version {version}")


def cfn_unsupported(name: str) -> FunctionSpec:
    return refused(
        name,
        f"{name} is a CloudFormation function that convergent does not implement; "
        "use the HOT function instead",
    )


RESOURCE_FACADE = refused(
    "resource_facade", "resource_facade only works in provider templates, which convergent lacks"
)

"""Template versions: accepted names, and which functions each version has.

A function used in a version that lacks it is plain data plus a lint warning;
names Heat keeps as removed functions are errors.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from actors.registry import Registry
from supervisor.errors import TemplateError
from supervisor.template import CompiledTemplate, StackIdentity, compile_template

P = "resources.v.properties.value"

DATES = [
    "2013-05-23",
    "2014-10-16",
    "2015-04-30",
    "2015-10-15",
    "2016-04-08",
    "2016-10-14",
    "2017-02-24",
    "2017-09-01",
    "2018-03-02",
    "2018-08-31",
    "2021-04-16",
]


def compile_value(registry: Registry, expr: Any, version: Any) -> CompiledTemplate:
    template = {
        "heat_template_version": version,
        "resources": {"v": {"type": "Test::Value", "properties": {"value": expr}}},
    }
    return compile_template(
        template,
        files={},
        environment={},
        parameters={},
        identity=StackIdentity("s", "id"),
        registry=registry,
    )


def value(compiled: CompiledTemplate) -> Any:
    return compiled.resolve_properties("v", lambda name: None)["value"]


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        *((d, d) for d in DATES),
        ("newton", "2016-10-14"),
        ("ocata", "2017-02-24"),
        ("pike", "2017-09-01"),
        ("queens", "2018-03-02"),
        ("rocky", "2018-08-31"),
        ("wallaby", "2021-04-16"),
        (datetime.date(2018, 8, 31), "2018-08-31"),
    ],
)
def test_accepted_versions(registry: Registry, written: Any, normalised: str) -> None:
    assert compile_value(registry, 1, written).version == normalised


@pytest.mark.parametrize("bad", ["2019-01-01", "stein", "2013-05-22", 2018])
def test_unknown_version_lists_accepted_ones(registry: Registry, bad: Any) -> None:
    with pytest.raises(TemplateError) as info:
        compile_value(registry, 1, bad)
    assert info.value.path == "heat_template_version"
    assert info.value.reason.startswith(f"unknown version '{bad}'; accepted versions: 2013-05-23,")
    assert "2021-04-16" in info.value.reason and "wallaby" in info.value.reason


def test_missing_version(registry: Registry) -> None:
    with pytest.raises(TemplateError) as info:
        compile_template(
            {"resources": {}},
            files={},
            environment={},
            parameters={},
            identity=StackIdentity("s", "id"),
            registry=registry,
        )
    assert info.value.path == "heat_template_version"
    assert info.value.reason.startswith("is required; accepted versions:")


#: (expression, result where available, first version that has the function)
FUNCTIONS = [
    ({"digest": ["md5", ""]}, "d41d8cd98f00b204e9800998ecf8427e", "2015-04-30"),
    ({"repeat": {"for_each": {"x": ["a"]}, "template": "x"}}, ["a"], "2015-04-30"),
    ({"str_split": [",", "a,b"]}, ["a", "b"], "2015-10-15"),
    ({"map_merge": [{"a": 1}]}, {"a": 1}, "2016-04-08"),
    ({"map_replace": [{"a": 1}, {"keys": {"a": "b"}}]}, {"b": 1}, "2016-10-14"),
    ({"yaql": {"expression": "1 + 1"}}, 2, "2016-10-14"),
    ({"if": [True, "yes", "no"]}, "yes", "2016-10-14"),
    ({"filter": [[1], [1, 2]]}, [2], "2017-02-24"),
    ({"str_replace_strict": {"template": "a", "params": {"a": "b"}}}, "b", "2017-02-24"),
    ({"make_url": {"scheme": "http", "host": "h"}}, "http://h", "2017-09-01"),
    ({"list_concat": [[1], [2]]}, [1, 2], "2017-09-01"),
    ({"list_concat_unique": [[1], [1]]}, [1], "2017-09-01"),
    ({"contains": [1, [1]]}, True, "2017-09-01"),
    ({"str_replace_vstrict": {"template": "a", "params": {"a": "b"}}}, "b", "2017-09-01"),
]


@pytest.mark.parametrize(("expr", "result", "since"), FUNCTIONS)
@pytest.mark.parametrize("version", DATES)
def test_function_availability(
    registry: Registry, expr: Any, result: Any, since: str, version: str
) -> None:
    compiled = compile_value(registry, expr, version)
    if version >= since:
        assert value(compiled) == result
        assert compiled.warnings == ()
    else:
        (name,) = expr
        assert value(compiled) == expr
        assert compiled.warnings == (
            f"{P}: {{{name!r}: ...}} is a one-key map whose key is not a function of {version}; "
            "treated as data",
        )


@pytest.mark.parametrize(
    ("expr", "version", "message"),
    [
        (
            {"Fn::Select": [0, ["a"]]},
            "2015-10-15",
            "Fn::Select is not supported in heat_template_version 2015-10-15",
        ),
        (
            {"Fn::Join": [",", ["a"]]},
            "2014-10-16",
            "Fn::Join is not supported in heat_template_version 2014-10-16",
        ),
        ({"Ref": "x"}, "2021-04-16", "Ref is not supported in heat_template_version 2021-04-16"),
        (
            {"Fn::Join": [",", ["a"]]},
            "2013-05-23",
            "Fn::Join is a CloudFormation function that convergent does not implement",
        ),
        (
            {"resource_facade": "metadata"},
            "2018-08-31",
            "resource_facade only works in provider templates",
        ),
    ],
)
def test_removed_functions_are_errors(
    registry: Registry, expr: Any, version: str, message: str
) -> None:
    (name,) = expr
    with pytest.raises(TemplateError) as info:
        compile_value(registry, expr, version)
    assert info.value.path == f"{P}.{name}"
    assert message in info.value.reason


def test_select_is_a_function_until_2015_04_30(registry: Registry) -> None:
    assert value(compile_value(registry, {"Fn::Select": [0, ["a"]]}, "2015-04-30")) == "a"


@pytest.mark.parametrize(
    ("expr", "warning"),
    [
        (
            {"get_parm": "x"},
            "{'get_parm': ...} is a one-key map whose key is not a function of 2018-08-31 "
            "(did you mean 'get_param'?); treated as data",
        ),
        (
            {"equals": [1, 1]},
            "{'equals': ...} is a one-key map whose key is not a function of 2018-08-31; "
            "treated as data",
        ),
    ],
)
def test_lint_warnings(registry: Registry, expr: Any, warning: str) -> None:
    compiled = compile_value(registry, expr, "2018-08-31")
    assert value(compiled) == expr
    assert compiled.warnings == (f"{P}: {warning}",)


def test_ordinary_one_key_maps_are_not_warned_about(registry: Registry) -> None:
    compiled = compile_value(registry, {"name": "x", "nested": {"port": 80}}, "2018-08-31")
    assert compiled.warnings == ()


def test_get_attr_all_attributes_form_since_2015_10_15(registry: Registry) -> None:
    template = {
        "heat_template_version": "2015-10-15",
        "resources": {
            "net": {"type": "Test::Net"},
            "v": {"type": "Test::Value", "properties": {"value": {"get_attr": ["net"]}}},
        },
    }
    compiled = compile_template(
        template,
        files={},
        environment={},
        parameters={},
        identity=StackIdentity("s", "id"),
        registry=registry,
    )
    assert compiled.dependencies["v"] == frozenset({"net"})

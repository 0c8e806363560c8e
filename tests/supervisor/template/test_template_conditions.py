"""Conditions: every condition function, resource and output conditions, and `if`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from supervisor.errors import TemplateError
from supervisor.template import CompiledTemplate, ResourceData

CompileYaml = Callable[..., CompiledTemplate]
ValueOf = Callable[..., Any]

PARAMS = {
    "env": {"type": "string", "default": "prod"},
    "zones": {"type": "comma_delimited_list", "default": "a,b"},
    "flag": {"type": "boolean", "default": True},
    "size": {"type": "number", "default": 3},
}


@pytest.mark.parametrize(
    ("condition", "expected", "version"),
    [
        (True, True, "2016-10-14"),
        (False, False, "2016-10-14"),
        ({"equals": [{"get_param": "env"}, "prod"]}, True, "2016-10-14"),
        ({"equals": [{"get_param": "size"}, 4]}, False, "2016-10-14"),
        ({"equals": [{"get_param": "zones"}, ["a", "b"]]}, True, "2016-10-14"),
        ({"get_param": "flag"}, True, "2016-10-14"),
        ({"not": {"equals": [{"get_param": "env"}, "prod"]}}, False, "2016-10-14"),
        ({"not": "is_prod"}, False, "2016-10-14"),
        ({"and": ["is_prod", True]}, True, "2016-10-14"),
        ({"and": ["is_prod", {"equals": [1, 2]}]}, False, "2016-10-14"),
        ({"or": [False, {"not": "is_prod"}]}, False, "2016-10-14"),
        ({"or": [False, "is_prod", False]}, True, "2016-10-14"),
        ({"contains": ["b", {"get_param": "zones"}]}, True, "2017-09-01"),
        ({"contains": ["c", {"get_param": "zones"}]}, False, "2017-09-01"),
        (
            {"yaql": {"expression": "$.data.n > 2", "data": {"n": {"get_param": "size"}}}},
            True,
            "2017-09-01",
        ),
        ({"equals": [{"not": "is_prod"}, False]}, True, "2016-10-14"),
    ],
)
def test_condition_functions(
    value_of: ValueOf, condition: Any, expected: bool, version: str
) -> None:
    conditions = {"is_prod": {"equals": [{"get_param": "env"}, "prod"]}, "tested": condition}
    got = value_of(
        {"if": ["tested", "on", "off"]}, version, parameters=PARAMS, conditions=conditions
    )
    assert got == ("on" if expected else "off")


@pytest.mark.parametrize(
    ("condition", "path", "message", "version"),
    [
        ("nope", "conditions.tested", "unknown condition 'nope'", "2018-08-31"),
        (
            {"and": ["is_prod"]},
            "conditions.tested.and",
            "expected a list of at least 2 conditions, got 1 condition(s)",
            "2018-08-31",
        ),
        (
            {"or": "is_prod"},
            "conditions.tested.or",
            "expected a list of at least 2 conditions, got a string",
            "2018-08-31",
        ),
        (
            {"equals": ["a"]},
            "conditions.tested.equals",
            "expected [value_1, value_2], got 1 argument(s)",
            "2018-08-31",
        ),
        (
            {"get_param": "env"},
            "conditions.tested.get_param",
            "a condition must be a boolean, got a string",
            "2018-08-31",
        ),
        (
            5,
            "conditions.tested",
            "expected a condition name, a boolean or a condition function",
            "2018-08-31",
        ),
        (
            {"equals": [{"get_attr": ["net", "cidr"]}, "x"]},
            "conditions.tested.equals[0].get_attr",
            "get_attr is not allowed in a condition in heat_template_version 2018-08-31",
            "2018-08-31",
        ),
        (
            {"yaql": {"expression": "true"}},
            "conditions.tested.yaql",
            "yaql is not allowed in a condition in heat_template_version 2016-10-14",
            "2016-10-14",
        ),
        (
            {"contains": ["a", ["a"]]},
            "conditions.tested",
            "expected a condition name, a boolean or a condition function",
            "2016-10-14",
        ),
        (
            {"not": "loop_a"},
            "conditions.loop_a",
            "circular definition: loop_a -> loop_b -> loop_a",
            "2018-08-31",
        ),
    ],
)
def test_condition_errors(
    value_of: ValueOf, condition: Any, path: str, message: str, version: str
) -> None:
    conditions = {
        "is_prod": True,
        "tested": condition,
        "loop_a": {"not": "loop_b"},
        "loop_b": {"not": "loop_a"},
    }
    if condition != {"not": "loop_a"}:
        del conditions["loop_a"], conditions["loop_b"]
    with pytest.raises(TemplateError) as info:
        value_of(1, version, parameters=PARAMS, conditions=conditions)
    assert info.value.path == path
    assert message in info.value.reason


TEMPLATE = """
heat_template_version: {version}
parameters:
  env: {{type: string, default: dev}}
conditions:
  prod: {{equals: [{{get_param: env}}, prod]}}
  dev: {{not: prod}}
resources:
  net:
    type: Test::Net
    condition: prod
  backup:
    type: Test::Net
    condition: dev
  web:
    type: Test::Server
    depends_on: [net]
    properties:
      port: {{if: [prod, 443, 80]}}
      name: {{if: [prod, {{get_attr: [net, cidr]}}, {{get_attr: [backup, cidr]}}]}}
      networks: {{if: [dev, [{{get_resource: backup}}], [{{get_resource: net}}]]}}
outputs:
  net_cidr:
    value: {{get_attr: [net, cidr]}}
    condition: prod
    description: the prod network
  backup_cidr:
    value: {{get_attr: [backup, cidr]}}
    condition: {{not: prod}}
"""


def test_resource_and_output_conditions(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml(TEMPLATE.format(version="2018-08-31"))
    assert list(compiled.resources) == ["backup", "web"]
    assert compiled.resources["backup"].condition == "dev"
    assert compiled.resources["web"].condition is None
    assert compiled.conditions == {"prod": False, "dev": True}
    # depends_on naming a disabled resource is dropped; only taken branches count
    assert compiled.resources["web"].depends_on == ()
    assert compiled.dependencies == {"backup": frozenset(), "web": frozenset({"backup"})}
    created = {"backup": ResourceData("b-1", {"cidr": "10.1.0.0/16"})}
    props = compiled.resolve_properties("web", created.get)
    assert (props["port"], props["name"], props["networks"]) == (80, "10.1.0.0/16", ["b-1"])
    outputs = compiled.resolve_outputs(created.get)
    assert [(o.key, o.value, o.description, o.error) for o in outputs] == [
        ("net_cidr", None, "the prod network", None),
        ("backup_cidr", "10.1.0.0/16", "", None),
    ]
    assert not compiled.outputs["net_cidr"].enabled


def test_other_parameter_value_flips_everything(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml(TEMPLATE.format(version="2018-08-31"), parameters={"env": "prod"})
    assert list(compiled.resources) == ["net", "web"]
    assert compiled.dependencies["web"] == frozenset({"net"})
    assert compiled.resources["web"].depends_on == ("net",)


def test_reference_to_a_disabled_resource_is_an_error(compile_yaml: CompileYaml) -> None:
    text = TEMPLATE.format(version="2018-08-31").replace(
        "port: {if: [prod, 443, 80]}", "port: {get_attr: [net, cidr]}"
    )
    with pytest.raises(TemplateError) as info:
        compile_yaml(text)
    assert info.value.path == "resources.web.properties.port.get_attr"
    assert info.value.reason == "resource 'net' is not created: its condition 'prod' is false"


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("resource", "resources.net.condition"),
        ("output", "outputs.net_cidr.condition"),
        ("if", "resources.web.properties.port.if[0]"),
    ],
)
def test_unknown_condition_names(compile_yaml: CompileYaml, where: str, path: str) -> None:
    text = TEMPLATE.format(version="2018-08-31")
    if where == "resource":
        text = text.replace("    condition: prod\n  backup", "    condition: prd\n  backup")
    elif where == "output":
        text = text.replace(
            "    condition: prod\n    description", "    condition: prd\n    description"
        )
    else:
        text = text.replace("port: {if: [prod,", "port: {if: [prd,")
    with pytest.raises(TemplateError) as info:
        compile_yaml(text)
    assert (info.value.path, info.value.reason) == (path, "unknown condition 'prd'")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"if": ["yes", "a", "b"]}, "a"),
        ({"if": ["no", "a", "b"]}, "b"),
        ({"if": [True, "a", "b"]}, "a"),
        ({"if": [{"not": "yes"}, "a", "b"]}, "b"),
        ({"if": ["no", "a", {"if": ["yes", "c", "d"]}]}, "c"),
        ({"if": ["no", "a"]}, None),
        ({"if": ["yes", "a"]}, "a"),
        (["x", {"if": ["no", "y"]}, "z"], ["x", "z"]),
        ({"keep": 1, "drop": {"if": ["no", 2]}}, {"keep": 1}),
        ({"list_join": [",", ["a", {"if": ["no", "b"]}, "c"]]}, "a,c"),
    ],
)
def test_if(value_of: ValueOf, expr: Any, expected: Any) -> None:
    conditions = {"yes": True, "no": False}
    assert value_of(expr, "2021-04-16", conditions=conditions) == expected


def test_false_two_argument_if_removes_a_property(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml("""
heat_template_version: wallaby
conditions: {never: false}
resources:
  web:
    type: Test::Server
    properties:
      port: 80
      flavor: {if: [never, big]}
      name: {if: [never, {get_resource: missing_and_untaken}]}
""")
    assert compiled.resources["web"].properties == {"port": 80}
    assert compiled.resolve_properties("web", lambda n: None)["flavor"] == "small"


@pytest.mark.parametrize(
    ("expr", "version", "message"),
    [
        (
            {"if": ["yes", "a"]},
            "2018-08-31",
            "expected [condition, value_if_true, value_if_false] (3 arguments), got 2 argument(s)",
        ),
        (
            {"if": ["yes", "a", "b", "c"]},
            "2021-04-16",
            "expected [condition, value_if_true, (value_if_false)] (2 or 3 arguments), "
            "got 4 argument(s)",
        ),
        ({"if": "yes"}, "2018-08-31", "got a string"),
    ],
)
def test_if_errors(value_of: ValueOf, expr: Any, version: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        value_of(expr, version, conditions={"yes": True})
    assert info.value.path == "resources.v.properties.value.if"
    assert message in info.value.reason


def test_if_condition_must_be_known_at_compile_time(value_of: ValueOf) -> None:
    with pytest.raises(TemplateError) as info:
        value_of({"if": [{"get_attr": ["net", "cidr"]}, 1, 2]}, conditions={})
    assert info.value.path == "resources.v.properties.value.if[0].get_attr"
    assert info.value.reason == (
        "get_attr is not allowed in a condition in heat_template_version 2018-08-31"
    )


def test_conditions_section_needs_2016_10_14(compile_yaml: CompileYaml) -> None:
    with pytest.raises(TemplateError) as info:
        compile_yaml("heat_template_version: 2016-04-08\nconditions: {a: true}\n")
    assert info.value.path == "conditions"
    assert info.value.reason.startswith(
        "unknown section (conditions need heat_template_version 2016-10-14 or later)"
    )


def test_inline_resource_conditions(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml("""
heat_template_version: 2018-08-31
parameters:
  n: {type: number, default: 2}
resources:
  a: {type: Test::Net, condition: {equals: [{get_param: n}, 2]}}
  b: {type: Test::Net, condition: false}
""")
    assert list(compiled.resources) == ["a"]
    assert compiled.resources["a"].condition is None

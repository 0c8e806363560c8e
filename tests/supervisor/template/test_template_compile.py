"""Compiling whole templates: definitions, dependencies, order, resolution and limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from supervisor.errors import TemplateError
from supervisor.template import (
    AttrRef,
    CompiledTemplate,
    DeletionPolicy,
    Limits,
    ResourceData,
)

CompileYaml = Callable[..., CompiledTemplate]

STACK = """
heat_template_version: 2018-08-31
description: A web server on a network
parameter_groups:
  - label: main
    parameters: [port]
parameters:
  port: {type: number, default: 8080}
  policy: {type: string, default: Retain}
resources:
  web:
    type: Test::Server
    depends_on: db
    deletion_policy: {get_param: policy}
    metadata: {role: web, port: {get_param: port}}
    update_policy: {batch: 1}
    properties:
      port: {get_param: port}
      name: {list_join: ['-', [{get_param: OS::stack_name}, {get_attr: [net, cidr]}]]}
      networks: [{get_resource: net}, {get_attr: [net, subnets, 0]}]
      tags: {get_attr: [db]}
  net:
    type: Test::Net
    properties: {cidr: 10.0.0.0/24}
  db:
    type: OS::Heat::None
    depends_on: [net]
    properties: {anything: [1, 2], nested: {deep: true}}
outputs:
  url:
    description: where to go
    value: {make_url: {scheme: http, host: {get_attr: [web, first_address]},
                       port: {get_param: port}}}
  everything: {value: {get_attr: [db]}}
"""

CREATED = {
    "net": ResourceData("net-1", {"cidr": "10.0.0.0/24", "subnets": ["s-1", "s-2"]}),
    "db": ResourceData("db-1", {"x": 1}),
    "web": ResourceData("web-1", {"first_address": "192.0.2.7"}),
}


def test_definitions(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml(STACK)
    assert compiled.version == "2018-08-31"
    assert compiled.description == "A web server on a network"
    assert compiled.parameter_groups == ({"label": "main", "parameters": ["port"]},)
    assert list(compiled.resources) == ["web", "net", "db"]
    web = compiled.resources["web"]
    assert (web.name, web.type, web.template_type) == ("web", "Test::Server", "Test::Server")
    assert web.depends_on == ("db",)
    assert web.deletion_policy is DeletionPolicy.RETAIN
    assert web.metadata == {"role": "web", "port": 8080}
    assert web.condition is None
    assert web.attribute_refs == frozenset(
        {
            AttrRef("net", "cidr"),
            AttrRef("net", "subnets"),
            AttrRef("db", None),
        }
    )
    assert web.resource_refs == frozenset({"net"})
    assert compiled.resources["db"].deletion_policy is DeletionPolicy.DELETE
    assert compiled.warnings == ()


def test_dependencies_and_order(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml(STACK)
    assert compiled.dependencies == {
        "web": frozenset({"db", "net"}),
        "net": frozenset(),
        "db": frozenset({"net"}),
    }
    assert compiled.order() == ["net", "db", "web"]


def test_order_breaks_ties_by_template_order(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml("""
heat_template_version: 2018-08-31
resources:
  z: {type: Test::Net}
  a: {type: Test::Net, depends_on: [m]}
  m: {type: Test::Net}
  b: {type: Test::Net}
  c: {type: Test::Net, depends_on: [a, z]}
""")
    assert compiled.order() == ["z", "m", "a", "b", "c"]
    compiled.order().clear()
    assert compiled.order() == ["z", "m", "a", "b", "c"]


def test_resolve_properties(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml(STACK)
    props = compiled.resolve_properties("web", CREATED.get)
    assert props == {
        "port": 8080,
        "name": "teststack-10.0.0.0/24",
        "flavor": "small",
        "networks": ["net-1", "s-1"],
        "tags": {"x": 1},
        "enabled": None,
        "config": None,
        "user_data": None,
    }
    props["networks"].append("changed")
    assert compiled.resolve_properties("web", CREATED.get)["networks"] == ["net-1", "s-1"]
    assert compiled.resolve_properties("db", CREATED.get) == {
        "anything": [1, 2],
        "nested": {"deep": True},
    }


def test_resolve_properties_before_dependencies_exist(compile_yaml: CompileYaml) -> None:
    props = compile_yaml(STACK).resolve_properties("web", lambda name: None)
    assert (props["name"], props["networks"], props["tags"]) == ("teststack-", [None, None], None)


def test_computed_values_are_validated_at_resolve_time(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml("""
heat_template_version: 2018-08-31
resources:
  net: {type: Test::Net}
  web:
    type: Test::Server
    properties:
      port: {get_attr: [net, cidr]}
      config: {size: {get_attr: [net, subnets]}}
""")
    created = {"net": ResourceData("n", {"cidr": "eighty", "subnets": ["a"]})}
    with pytest.raises(TemplateError) as info:
        compiled.resolve_properties("web", created.get)
    assert (info.value.path, info.value.reason) == (
        "resources.web.properties.port",
        'expected an integer, got "eighty"',
    )
    created = {"net": ResourceData("n", {"cidr": "80", "subnets": ["a"]})}
    with pytest.raises(TemplateError) as info:
        compiled.resolve_properties("web", created.get)
    assert (info.value.path, info.value.reason) == (
        "resources.web.properties.config.size",
        "expected an integer, got a list",
    )
    with pytest.raises(TemplateError) as info:
        compiled.resolve_properties("web", lambda name: None)
    assert (info.value.path, info.value.reason) == (
        "resources.web.properties.port",
        "required property is missing",
    )


def test_resolve_outputs(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml(STACK)
    outputs = compiled.resolve_outputs(CREATED.get)
    assert [(o.key, o.value, o.description, o.error) for o in outputs] == [
        ("url", "http://192.0.2.7:8080", "where to go", None),
        ("everything", {"x": 1}, "", None),
    ]


def test_output_errors_are_recorded_not_raised(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml("""
heat_template_version: 2018-08-31
resources:
  net: {type: Test::Net}
outputs:
  bad: {value: {str_split: [',', {get_attr: [net, subnets]}]}}
  good: {value: ok}
""")
    created = {"net": ResourceData("n", {"subnets": ["a"]})}
    bad, good = compiled.resolve_outputs(created.get)
    assert bad.value is None
    assert bad.error == ("outputs.bad.value.str_split: expected a string to split, got a list")
    assert (good.value, good.error) == ("ok", None)


def test_parameter_data_that_looks_like_a_function_stays_data(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml("""
heat_template_version: 2018-08-31
parameters:
  j: {type: json, default: {get_resource: nothing}}
resources:
  v: {type: Test::Value, properties: {value: {get_param: j}}}
""")
    assert compiled.dependencies == {"v": frozenset()}
    assert compiled.resolve_properties("v", lambda n: None) == {
        "value": {"get_resource": "nothing"}
    }


@pytest.mark.parametrize(
    ("policy", "version", "expected"),
    [
        ("Delete", "2015-10-15", DeletionPolicy.DELETE),
        ("Retain", "2013-05-23", DeletionPolicy.RETAIN),
        ("retain", "2016-10-14", DeletionPolicy.RETAIN),
        ("delete", "2021-04-16", DeletionPolicy.DELETE),
    ],
)
def test_deletion_policies(
    compile_yaml: CompileYaml, policy: str, version: str, expected: DeletionPolicy
) -> None:
    compiled = compile_yaml(
        f"heat_template_version: {version}\n"
        f"resources: {{n: {{type: Test::Net, deletion_policy: {policy}}}}}\n"
    )
    assert compiled.resources["n"].deletion_policy is expected


@pytest.mark.parametrize(
    ("policy", "version", "message"),
    [
        ("Snapshot", "2018-08-31", 'unknown deletion policy "Snapshot"; expected Delete or Retain'),
        ("retain", "2015-10-15", 'unknown deletion policy "retain"; expected Delete or Retain'),
        ("[Delete]", "2018-08-31", 'unknown deletion policy ["Delete"]'),
    ],
)
def test_deletion_policy_errors(
    compile_yaml: CompileYaml, policy: str, version: str, message: str
) -> None:
    with pytest.raises(TemplateError) as info:
        compile_yaml(
            f"heat_template_version: {version}\n"
            f"resources: {{n: {{type: Test::Net, deletion_policy: {policy}}}}}\n"
        )
    assert info.value.path == "resources.n.deletion_policy"
    assert info.value.reason.startswith(message)


def test_metadata_cannot_refer_to_resources(compile_yaml: CompileYaml) -> None:
    with pytest.raises(TemplateError) as info:
        compile_yaml("""
heat_template_version: 2018-08-31
resources:
  net: {type: Test::Net}
  n: {type: Test::Net, metadata: {peer: {get_attr: [net, cidr]}}}
""")
    assert info.value.path == "resources.n.metadata.peer.get_attr"


def test_open_types_accept_any_property_and_attribute(compile_yaml: CompileYaml) -> None:
    compiled = compile_yaml("""
heat_template_version: 2018-08-31
resources:
  none: {type: OS::Heat::None, properties: {whatever: 1}}
  v: {type: Test::Value, properties: {value: {get_attr: [none, anything, deep]}}}
""")
    created = {"none": ResourceData("x", {"anything": {"deep": 5}})}
    assert compiled.resolve_properties("v", created.get) == {"value": 5}
    assert compiled.resolve_properties("none", created.get) == {"whatever": 1}


@pytest.mark.parametrize(
    ("resources", "cycle"),
    [
        ("a: {type: Test::Net, depends_on: a}", "a -> a"),
        ("a: {type: Test::Value, properties: {value: {get_attr: [a, value]}}}", "a -> a"),
        (
            "a: {type: Test::Net, depends_on: b}\n  b: {type: Test::Net, depends_on: a}",
            "a -> b -> a",
        ),
        (
            "x: {type: Test::Net, depends_on: a}\n"
            "  a: {type: Test::Net, depends_on: b}\n"
            "  b: {type: Test::Value, properties: {value: {get_resource: c}}}\n"
            "  c: {type: Test::Value, properties: {value: {get_attr: [a, cidr]}}}\n"
            "  y: {type: Test::Net}",
            "a -> b -> c -> a",
        ),
    ],
)
def test_cycles_are_named(compile_yaml: CompileYaml, resources: str, cycle: str) -> None:
    with pytest.raises(TemplateError) as info:
        compile_yaml(f"heat_template_version: 2018-08-31\nresources:\n  {resources}\n")
    assert (info.value.path, info.value.reason) == ("resources", f"dependency cycle: {cycle}")


def test_resource_limit(compile_yaml: CompileYaml) -> None:
    text = "heat_template_version: 2018-08-31\nresources:\n" + "".join(
        f"  r{i}: {{type: Test::Net}}\n" for i in range(6)
    )
    assert len(compile_yaml(text, limits=Limits(max_resources=6)).resources) == 6
    with pytest.raises(TemplateError) as info:
        compile_yaml(text, limits=Limits(max_resources=5))
    assert (info.value.path, info.value.reason) == (
        "resources",
        "template has 6 resources; the limit is 5",
    )


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_depth_limit(value_of: Callable[..., Any]) -> None:
    limits = Limits(max_depth=10)
    assert value_of(nested(9), limits=limits) == nested(9)
    with pytest.raises(TemplateError) as info:
        value_of(nested(10), limits=limits)
    assert info.value.path == "resources.v.properties.value" + "[0]" * 10
    assert info.value.reason == "values nest more than 10 levels deep; the limit is 10"


def test_compile_and_resolve_scale_linearly(compile_yaml: CompileYaml) -> None:
    def template(count: int) -> str:
        lines = [
            "heat_template_version: 2018-08-31",
            "resources:",
            "  r0: {type: Test::Server, properties: {port: 0}}",
        ]
        lines += [
            f"  r{i}: {{type: Test::Server, properties: {{port: {i}, "
            f"name: {{get_attr: [r{i - 1}, name]}}, networks: [{{get_resource: r{i - 1}}}]}}}}"
            for i in range(1, count)
        ]
        return "\n".join(lines) + "\n"

    def cost(count: int) -> float:
        text = template(count)
        start = time.perf_counter()
        compiled = compile_yaml(text)
        for name in compiled.order():
            compiled.resolve_properties(name, lambda n: None)
        return time.perf_counter() - start

    cost(200)
    small, large = cost(500), cost(4000)
    assert large < small * 8 * 3

"""Bad input: every kind of mistake is one TemplateError with the exact path.

Each case is labelled with the mistake it shows. Templates go through
`parse_template` (source "bad.yaml") and `compile_template`.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from supervisor.errors import TemplateError
from supervisor.template import Limits, collect_files, parse_template

HEAD = "heat_template_version: 2018-08-31\n"

#: label -> (template text, expected path, expected message start)
BAD_TEMPLATES: dict[str, tuple[str, str, str]] = {
    "malformed YAML": (
        HEAD + "resources:\n  a: {type: Test::Net\n",
        "",
        "invalid YAML at line 4, column 1: did not find expected ',' or '}'",
    ),
    "a template that is a list": (
        "- heat_template_version: 2018-08-31\n",
        "",
        "the template must be a map of sections, got a list",
    ),
    "an empty file": ("", "", "the template is empty"),
    "unknown version": (
        "heat_template_version: 2019-01-01\n",
        "heat_template_version",
        "unknown version '2019-01-01'; accepted versions: 2013-05-23, 2014-10-16",
    ),
    "missing version": ("resources: {}\n", "heat_template_version", "is required"),
    "unknown section": (
        HEAD + "resource:\n  a: {type: Test::Net}\n",
        "resource",
        "unknown section; expected one of heat_template_version, description",
    ),
    "resources not a map": (
        HEAD + "resources: [a]\n",
        "resources",
        "expected a map of resources, got a list",
    ),
    "resource not a map": (
        HEAD + "resources: {a: Test::Net}\n",
        "resources.a",
        "expected a map with a type, got a string",
    ),
    "unknown resource key": (
        HEAD + "resources: {a: {type: Test::Net, external_id: x}}\n",
        "resources.a.external_id",
        "unknown resource key; expected one of type, properties, metadata, depends_on",
    ),
    "missing resource type": (
        HEAD + "resources: {a: {properties: {}}}\n",
        "resources.a.type",
        "expected a resource type name, got nothing",
    ),
    "unknown resource type": (
        HEAD + "resources: {a: {type: 'X::Y'}}\n",
        "resources.a.type",
        "unknown resource type 'X::Y'",
    ),
    "unknown property": (
        HEAD + "resources: {a: {type: Test::Net, properties: {cidr: x, colour: red}}}\n",
        "resources.a.properties.colour",
        "unknown property",
    ),
    "wrong property type": (
        HEAD + "resources: {web: {type: Test::Server, properties: {port: eighty}}}\n",
        "resources.web.properties.port",
        'expected an integer, got "eighty"',
    ),
    "wrong nested property type": (
        HEAD + "resources: {web: {type: Test::Server, properties: {port: 1, config: {size: x}}}}\n",
        "resources.web.properties.config.size",
        'expected an integer, got "x"',
    ),
    "property violating its schema constraint": (
        HEAD + "resources: {web: {type: Test::Server, properties: {port: 1, flavor: huge}}}\n",
        "resources.web.properties.flavor",
        '"huge" is not one of the allowed values',
    ),
    "properties not a map": (
        HEAD + "resources: {a: {type: Test::Net, properties: [1]}}\n",
        "resources.a.properties",
        "expected a map of properties, got a list",
    ),
    "missing required property": (
        HEAD + "resources: {web: {type: Test::Server, properties: {name: x}}}\n",
        "resources.web.properties.port",
        "required property is missing",
    ),
    "get_attr of unknown attribute": (
        HEAD + "resources:\n  n: {type: Test::Net}\n"
        "  v: {type: Test::Value, properties: {value: {get_attr: [n, colour]}}}\n",
        "resources.v.properties.value.get_attr",
        "resource 'n' (Test::Net) has no attribute 'colour'; its attributes: cidr, subnets",
    ),
    "get_attr of unknown resource": (
        HEAD + "resources:\n  v: {type: Test::Value, properties: {value: {get_attr: [n, x]}}}\n",
        "resources.v.properties.value.get_attr",
        "unknown resource 'n'",
    ),
    "get_resource of unknown resource": (
        HEAD + "resources:\n  v: {type: Test::Value, properties: {value: [{get_resource: n}]}}\n",
        "resources.v.properties.value[0].get_resource",
        "unknown resource 'n'",
    ),
    "get_attr in an output of unknown attribute": (
        HEAD + "resources: {n: {type: Test::Net}}\noutputs: {o: {value: {get_attr: [n, x]}}}\n",
        "outputs.o.value.get_attr",
        "resource 'n' (Test::Net) has no attribute 'x'",
    ),
    "output without value": (
        HEAD + "outputs: {o: {description: x}}\n",
        "outputs.o.value",
        "is required",
    ),
    "unknown output key": (
        HEAD + "outputs: {o: {value: 1, condtion: c}}\n",
        "outputs.o.condtion",
        "unknown output key",
    ),
    "depends_on missing resource": (
        HEAD + "resources: {a: {type: Test::Net, depends_on: [b]}}\n",
        "resources.a.depends_on",
        "unknown resource 'b'",
    ),
    "depends_on not names": (
        HEAD + "resources: {a: {type: Test::Net, depends_on: {b: 1}}}\n",
        "resources.a.depends_on",
        "expected a resource name or a list",
    ),
    "dependency cycle": (
        HEAD + "resources:\n  a: {type: Test::Net, depends_on: c}\n"
        "  b: {type: Test::Net, depends_on: a}\n  c: {type: Test::Net, depends_on: b}\n",
        "resources",
        "dependency cycle: a -> c -> b -> a",
    ),
    "bad function arguments (list_join)": (
        HEAD + "resources: {a: {type: Test::Net, properties: {cidr: {list_join: abc}}}}\n",
        "resources.a.properties.cidr.list_join",
        "expected [delimiter, list], got a string",
    ),
    "bad function arguments (str_replace)": (
        HEAD + "resources: {a: {type: Test::Net, properties: {cidr: {str_replace: [a]}}}}\n",
        "resources.a.properties.cidr.str_replace",
        "expected {template: ..., params: {...}}, got a list",
    ),
    "bad function arguments (repeat)": (
        HEAD
        + "resources: {a: {type: Test::Value, properties: {value: {repeat: {template: x}}}}}\n",
        "resources.a.properties.value.repeat",
        "expected {for_each: {placeholder: list}, template",
    ),
    "bad function arguments nested in another function": (
        HEAD + "resources: {a: {type: Test::Net, properties: {cidr: "
        "{list_join: [',', [{str_split: [',']}]]}}}}\n",
        "resources.a.properties.cidr.list_join[1][0].str_split",
        "expected [delimiter, string, (index)], got 1 argument(s)",
    ),
    "parameter violating allowed_values": (
        HEAD + "parameters:\n  f: {type: string, default: huge,"
        " constraints: [{allowed_values: [small]}]}\n",
        "parameters.f.default",
        '"huge" is not one of the allowed values: "small"',
    ),
    "parameter violating range (with description)": (
        HEAD + "parameters:\n  n: {type: number, default: 99,"
        " constraints: [{range: {max: 10}, description: At most ten servers.}]}\n",
        "parameters.n.default",
        "At most ten servers.",
    ),
    "parameter violating length": (
        HEAD + "parameters:\n  s: {type: string, default: ab, constraints: [{length: {min: 3}}]}\n",
        "parameters.s.default",
        "length 2 is not at least 3",
    ),
    "parameter violating allowed_pattern": (
        HEAD + "parameters:\n  s: {type: string, default: ab,"
        " constraints: [{allowed_pattern: '[0-9]+'}]}\n",
        "parameters.s.default",
        "\"ab\" does not match the pattern '[0-9]+'",
    ),
    "parameter violating modulo": (
        HEAD + "parameters:\n  n: {type: number, default: 3,"
        " constraints: [{modulo: {step: 2, offset: 0}}]}\n",
        "parameters.n.default",
        "3 is not a multiple of 2 with an offset of 0",
    ),
    "missing parameter": (
        HEAD + "parameters:\n  key: {type: string}\n",
        "parameters.key",
        "a value is required",
    ),
    "unknown parameter in get_param": (
        HEAD + "resources: {a: {type: Test::Net, properties: {cidr: {get_param: cidr}}}}\n",
        "resources.a.properties.cidr.get_param",
        "unknown parameter 'cidr'",
    ),
    "unknown condition": (
        HEAD + "resources: {a: {type: Test::Net, condition: later}}\n",
        "resources.a.condition",
        "unknown condition 'later'",
    ),
    "conditions section in an old version": (
        "heat_template_version: 2016-04-08\nconditions: {}\n",
        "conditions",
        "unknown section",
    ),
    "parameter_groups not a list": (
        HEAD + "parameter_groups: {a: 1}\n",
        "parameter_groups",
        "expected a list of groups, got a map",
    ),
    "a key that is not a string": (
        HEAD + "resources:\n  1: {type: Test::Net}\n",
        "resources",
        "keys must be strings, got 1 (a number)",
    ),
}


@pytest.mark.parametrize(("text", "path", "message"), BAD_TEMPLATES.values(), ids=BAD_TEMPLATES)
def test_bad_template(compile_yaml: Any, text: str, path: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        compile_yaml(text)
    assert info.value.path == path
    assert info.value.reason.startswith(message), info.value.reason
    assert "Traceback" not in str(info.value)


def test_bad_input_template_over_the_size_limit() -> None:
    text = HEAD + "description: " + "x" * 2000 + "\n"
    with pytest.raises(TemplateError) as info:
        parse_template(text, source="bad.yaml", limits=Limits(max_template_bytes=1024))
    assert (info.value.path, info.value.reason) == (
        "",
        f"template is {len(text)} bytes; the limit is 1024 bytes",
    )
    assert str(info.value) == f"bad.yaml: template is {len(text)} bytes; the limit is 1024 bytes"


def test_bad_input_get_file_escaping_the_directory(tmp_path: pathlib.Path) -> None:
    (tmp_path / "t").mkdir()
    template = parse_template(
        HEAD + "resources:\n  f: {type: OS::Heat::None, properties: "
        "{content: {get_file: 'x/../../etc/passwd'}}}\n"
    )
    with pytest.raises(TemplateError) as info:
        collect_files(template, tmp_path / "t")
    assert str(info.value) == (
        "resources.f.properties.content.get_file: "
        "'x/../../etc/passwd' is outside the template's directory"
    )


def test_bad_input_errors_render_as_one_line(compile_yaml: Any) -> None:
    for text, _path, _message in BAD_TEMPLATES.values():
        with pytest.raises(TemplateError) as info:
            compile_yaml(text)
        assert "\n" not in str(info.value)

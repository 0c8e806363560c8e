"""Parameters: types, constraints, defaults, hidden ones and where values come from."""

from __future__ import annotations

from typing import Any

import pytest

from actors.registry import Registry
from supervisor.errors import TemplateError
from supervisor.template import CompiledTemplate, StackIdentity, compile_template


def compile_params(
    registry: Registry,
    section: dict[str, Any],
    *,
    given: dict[str, Any] | None = None,
    environment: dict[str, Any] | None = None,
    version: str = "2018-08-31",
) -> CompiledTemplate:
    template = {"heat_template_version": version, "parameters": section, "resources": {}}
    return compile_template(
        template,
        files={},
        environment=environment or {},
        parameters=given or {},
        identity=StackIdentity("s", "id"),
        registry=registry,
    )


def param_error(registry: Registry, section: dict[str, Any], **kwargs: Any) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        compile_params(registry, section, **kwargs)
    return info.value


@pytest.mark.parametrize(
    ("ptype", "given", "expected"),
    [
        ("string", "abc", "abc"),
        ("string", True, "True"),
        ("string", 8080, "8080"),
        ("string", 1.5, "1.5"),
        ("number", "5", 5),
        ("number", "0.25", 0.25),
        ("number", "1e3", 1000.0),
        ("number", 7, 7),
        ("boolean", "yes", True),
        ("boolean", "On", True),
        ("boolean", "t", True),
        ("boolean", "1", True),
        ("boolean", "n", False),
        ("boolean", "off", False),
        ("boolean", False, False),
        ("boolean", 0, False),
        ("json", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("json", "[1]", [1]),
        ("json", {"a": 1}, {"a": 1}),
        ("json", "", {}),
        ("comma_delimited_list", "one, two", ["one", " two"]),
        ("comma_delimited_list", "a,,b", ["a", "", "b"]),
        ("comma_delimited_list", "", []),
        ("comma_delimited_list", ["a", 1, True], ["a", "1", "True"]),
    ],
)
def test_types(registry: Registry, ptype: str, given: Any, expected: Any) -> None:
    compiled = compile_params(registry, {"p": {"type": ptype, "default": given}})
    assert compiled.parameters["p"] == expected
    assert type(compiled.parameters["p"]) is type(expected)


@pytest.mark.parametrize(
    ("ptype", "given", "message"),
    [
        ("number", "eighty", 'expected a number, got "eighty"'),
        ("number", True, "expected a number, got a boolean"),
        ("number", "nan", 'expected a finite number, got "nan"'),
        ("boolean", "maybe", 'expected a boolean, got "maybe"'),
        ("boolean", 2, "expected a boolean, got 2"),
        ("json", "{nope", "expected JSON, got invalid JSON"),
        ("json", "5", "expected a JSON map or list, got a number"),
        ("comma_delimited_list", {"a": 1}, "expected a comma-delimited list, got a map"),
    ],
)
def test_type_errors(registry: Registry, ptype: str, given: Any, message: str) -> None:
    err = param_error(registry, {"p": {"type": ptype}}, given={"p": given})
    assert err.path == "parameters.p"
    assert message in err.reason


def test_command_line_strings_are_converted(registry: Registry) -> None:
    section = {
        "n": {"type": "number"},
        "b": {"type": "boolean"},
        "l": {"type": "comma_delimited_list"},
    }
    compiled = compile_params(registry, section, given={"n": "3", "b": "false", "l": "x,y"})
    assert compiled.parameters == {"n": 3, "b": False, "l": ["x", "y"]}


#: (type, constraint, good value, bad value, generated message for the bad value)
CONSTRAINTS = [
    ("string", {"length": {"min": 2, "max": 4}}, "abc", "a", "length 1 is not between 2 and 4"),
    ("string", {"length": {"min": 2}}, "ab", "a", "length 1 is not at least 2"),
    ("string", {"length": {"max": 2}}, "ab", "abc", "length 3 is not at most 2"),
    ("comma_delimited_list", {"length": {"max": 1}}, "a", "a,b", "length 2 is not at most 1"),
    ("json", {"length": {"min": 1}}, '{"a": 1}', "{}", "length 0 is not at least 1"),
    ("number", {"range": {"min": 0, "max": 10}}, "10", "11", "11 is not between 0 and 10"),
    ("number", {"range": {"min": 0.5}}, "0.5", "0.25", "0.25 is not at least 0.5"),
    (
        "number",
        {"modulo": {"step": 2, "offset": 1}},
        "7",
        "8",
        "8 is not a multiple of 2 with an offset of 1",
    ),
    (
        "string",
        {"allowed_values": ["m1.small", "m1.large"]},
        "m1.small",
        "m1.tiny",
        '"m1.tiny" is not one of the allowed values: "m1.small", "m1.large"',
    ),
    ("number", {"allowed_values": [1, "2"]}, "2", "3", "3 is not one of the allowed values: 1, 2"),
    (
        "comma_delimited_list",
        {"allowed_values": ["a", "b"]},
        "a,b,a",
        "a,c",
        '"c" is not one of the allowed values: "a", "b"',
    ),
    (
        "boolean",
        {"allowed_values": [True]},
        "yes",
        "no",
        "false is not one of the allowed values: true",
    ),
    (
        "string",
        {"allowed_pattern": "[A-Z]+[a-z]*"},
        "Abc",
        "abc",
        "\"abc\" does not match the pattern '[A-Z]+[a-z]*'",
    ),
    ("string", {"allowed_pattern": "a|ab"}, "a", "ab", "\"ab\" does not match the pattern 'a|ab'"),
]


@pytest.mark.parametrize(("ptype", "constraint", "good", "bad", "message"), CONSTRAINTS)
def test_constraints(
    registry: Registry, ptype: str, constraint: dict[str, Any], good: str, bad: str, message: str
) -> None:
    section = {"p": {"type": ptype, "constraints": [constraint]}}
    compile_params(registry, section, given={"p": good})
    err = param_error(registry, section, given={"p": bad})
    assert (err.path, err.reason) == ("parameters.p", message)


@pytest.mark.parametrize(("ptype", "constraint", "good", "bad", "message"), CONSTRAINTS)
def test_constraint_descriptions_are_the_error_text(
    registry: Registry, ptype: str, constraint: dict[str, Any], good: str, bad: str, message: str
) -> None:
    section = {"p": {"type": ptype, "constraints": [{**constraint, "description": "Say why."}]}}
    err = param_error(registry, section, given={"p": bad})
    assert (err.path, err.reason) == ("parameters.p", "Say why.")


def test_hidden_parameters_are_listed_and_not_echoed(registry: Registry) -> None:
    section: dict[str, Any] = {
        "password": {
            "type": "string",
            "hidden": True,
            "default": "secret-1",
            "constraints": [{"length": {"min": 8}}],
        },
        "user": {"type": "string", "default": "me"},
    }
    compiled = compile_params(registry, section)
    assert compiled.hidden_parameters == frozenset({"password"})
    section["password"]["constraints"] = [{"allowed_pattern": "[a-z]+"}]
    err = param_error(registry, section)
    assert err.reason == "the value does not match the pattern '[a-z]+'"
    assert "secret" not in str(err)
    err = param_error(registry, {"pin": {"type": "number", "hidden": True}}, given={"pin": "x1"})
    assert (err.path, err.reason) == ("parameters.pin", "the value is not a valid number")


def test_precedence(registry: Registry) -> None:
    section = {name: {"type": "string", "default": "template"} for name in "abcd"}
    environment = {
        "parameters": {"a": "env", "b": "env"},
        "parameter_defaults": {"a": "defaults", "b": "defaults", "c": "defaults", "zz": "ignored"},
    }
    compiled = compile_params(registry, section, given={"a": "cli"}, environment=environment)
    assert compiled.parameters == {"a": "cli", "b": "env", "c": "defaults", "d": "template"}


@pytest.mark.parametrize("where", ["given", "environment"])
def test_undeclared_parameter_values_are_errors(registry: Registry, where: str) -> None:
    kwargs: dict[str, Any] = (
        {"given": {"nope": "1"}}
        if where == "given"
        else {"environment": {"parameters": {"nope": 1}}}
    )
    err = param_error(registry, {"p": {"type": "string", "default": "x"}}, **kwargs)
    assert err.path == "parameters.nope"
    assert err.reason == "a value is given but the template declares no such parameter"


def test_missing_value(registry: Registry) -> None:
    err = param_error(registry, {"p": {"type": "string"}})
    assert (err.path, err.reason) == (
        "parameters.p",
        "a value is required: none was given and there is no default",
    )


def test_bad_default_is_an_error_even_when_a_value_is_given(registry: Registry) -> None:
    section: dict[str, Any] = {"p": {"type": "number", "default": "lots"}}
    err = param_error(registry, section, given={"p": "3"})
    assert (err.path, err.reason) == ("parameters.p.default", 'expected a number, got "lots"')
    section = {"p": {"type": "number", "default": 50, "constraints": [{"range": {"max": 10}}]}}
    err = param_error(registry, section, given={"p": "3"})
    assert (err.path, err.reason) == ("parameters.p.default", "50 is not at most 10")


def test_parameter_defaults_replace_the_template_default(registry: Registry) -> None:
    section = {"p": {"type": "number", "default": "lots"}}
    compiled = compile_params(registry, section, environment={"parameter_defaults": {"p": 4}})
    assert compiled.parameters == {"p": 4}


@pytest.mark.parametrize(
    ("definition", "path", "message"),
    [
        ("string", "parameters.p", "expected a map with a type, got a string"),
        ({"default": 1}, "parameters.p.type", "is required"),
        ({"type": "integer"}, "parameters.p.type", 'unknown type "integer"'),
        ({"type": "string", "colour": 1}, "parameters.p.colour", "unknown parameter key"),
        ({"type": "string", "hidden": "perhaps"}, "parameters.p.hidden", "expected a boolean"),
        (
            {"type": "string", "constraints": {"length": {}}},
            "parameters.p.constraints",
            "expected a list of constraints, got a map",
        ),
        (
            {"type": "string", "constraints": [{"range": {"min": 1}}]},
            "parameters.p.constraints[0]",
            "range does not apply to a string parameter",
        ),
        (
            {"type": "string", "constraints": [{"length": {"min": 1}, "range": {"min": 1}}]},
            "parameters.p.constraints[0]",
            "expected one constraint of",
        ),
        (
            {"type": "string", "constraints": [{"length": {"least": 1}}]},
            "parameters.p.constraints[0].length",
            "expected a map with min and/or max",
        ),
        (
            {"type": "string", "constraints": [{"allowed_pattern": "("}]},
            "parameters.p.constraints[0].allowed_pattern",
            "invalid regular expression",
        ),
        (
            {"type": "number", "constraints": [{"allowed_values": ["x"]}]},
            "parameters.p.constraints[0].allowed_values",
            'expected a number, got "x"',
        ),
        (
            {"type": "string", "constraints": [{"custom_constraint": "nova.keypair"}]},
            "parameters.p.constraints[0]",
            "custom_constraint is not supported",
        ),
        (
            {"type": "number", "constraints": [{"modulo": {"step": 2}}]},
            "parameters.p.constraints[0].modulo",
            "expected a map with step and offset",
        ),
    ],
)
def test_bad_declarations(registry: Registry, definition: Any, path: str, message: str) -> None:
    err = param_error(registry, {"p": definition})
    assert err.path == path
    assert message in err.reason


def test_version_gated_parameter_features(registry: Registry) -> None:
    modulo = {
        "p": {"type": "number", "default": 1, "constraints": [{"modulo": {"step": 2, "offset": 1}}]}
    }
    compile_params(registry, modulo, version="2017-02-24")
    err = param_error(registry, modulo, version="2016-10-14")
    assert err.path == "parameters.p.constraints[0]"
    tags = {
        "p": {
            "type": "string",
            "default": "x",
            "tags": ["a"],
            "immutable": True,
            "label": "P",
            "description": "d",
        }
    }
    compile_params(registry, tags, version="2018-03-02")
    err = param_error(registry, tags, version="2017-09-01")
    assert err.path == "parameters.p.tags"

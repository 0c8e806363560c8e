"""Reading templates, environments and get_file files."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

from supervisor.errors import TemplateError
from supervisor.template import (
    CompiledTemplate,
    Limits,
    collect_files,
    merge_environments,
    parse_environment,
    parse_template,
)

CompileYaml = Callable[..., CompiledTemplate]


def test_yaml_1_1_scalars_and_string_versions() -> None:
    document = parse_template(
        "heat_template_version: 2018-08-31\n"
        "description: a\n"
        "resources:\n"
        "  r: {type: T, properties: {a: yes, b: off, c: '2018-08-31', d: 010, e: 1.5}}\n"
    )
    assert document["heat_template_version"] == "2018-08-31"
    assert document["resources"]["r"]["properties"] == {
        "a": True,
        "b": False,
        "c": "2018-08-31",
        "d": 8,
        "e": 1.5,
    }


def test_json_templates_parse() -> None:
    assert parse_template('{"heat_template_version": "2015-10-15", "resources": {}}') == {
        "heat_template_version": "2015-10-15",
        "resources": {},
    }


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("", "", "the template is empty"),
        ("   \n# only a comment\n", "", "the template is empty"),
        ("- a\n- b\n", "", "the template must be a map of sections, got a list"),
        ("just text", "", "the template must be a map of sections, got a string"),
        ("a: [1, 2\nb: 3\n", "", "invalid YAML at line 2, column 2:"),
        ("a:\n  b: 1\n c: 2\n", "", "invalid YAML at line 3, column 2:"),
        (
            "resources:\n  r:\n    properties: {80: http}\n",
            "resources.r.properties",
            "keys must be strings, got 80 (a number)",
        ),
        ("parameters:\n  - yes: 1\n", "parameters[0]", "keys must be strings, got true"),
    ],
)
def test_parse_template_errors(text: str, path: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse_template(text, source="stack.yaml")
    assert info.value.path == path
    assert info.value.source == "stack.yaml"
    assert info.value.reason.startswith(message)
    assert str(info.value).startswith("stack.yaml: ")


def test_template_size_limit() -> None:
    text = "description: " + "x" * 100 + "\n"
    parse_template(text, limits=Limits(max_template_bytes=len(text)))
    with pytest.raises(TemplateError) as info:
        parse_template(text, limits=Limits(max_template_bytes=100))
    assert info.value.reason == f"template is {len(text)} bytes; the limit is 100 bytes"


def test_deeply_nested_yaml_is_refused_not_crashing() -> None:
    with pytest.raises(TemplateError) as info:
        parse_template("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "invalid YAML" in info.value.reason or "nests too deeply" in info.value.reason


# environments ------------------------------------------------------------------------------------


def test_parse_environment() -> None:
    env = parse_environment(
        "parameters: {a: 1}\nparameter_defaults: {b: x}\n"
        "resource_registry: {'My::Server': 'Test::Server'}\n"
    )
    assert env == {
        "parameters": {"a": 1},
        "parameter_defaults": {"b": "x"},
        "resource_registry": {"My::Server": "Test::Server"},
    }
    assert parse_environment("") == {
        "parameters": {},
        "parameter_defaults": {},
        "resource_registry": {},
    }
    assert parse_environment("parameters:\n")["parameters"] == {}


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("encrypted_param_names: [a]\n", "encrypted_param_names", "unknown environment section"),
        ("parameters: [a]\n", "parameters", "expected a map, got a list"),
        ("- a\n", "", "an environment must be a map of sections, got a list"),
        ("parameters: {a: 1\n", "", "invalid YAML at line 2"),
        (
            "resource_registry: {'My::T': 5}\n",
            "resource_registry.My::T",
            "expected a resource type name, got a number",
        ),
        (
            "resource_registry: {'My::T': my_t.yaml}\n",
            "resource_registry.My::T",
            'template resources ("my_t.yaml") are not supported yet',
        ),
        (
            "resource_registry: {resources: {r: {}}}\n",
            "resource_registry.resources",
            "per-resource registry entries are not supported",
        ),
        (
            "resource_registry: {'My::*': 'Test::Server'}\n",
            "resource_registry.My::*",
            "a wildcard must map to a wildcard",
        ),
    ],
)
def test_parse_environment_errors(text: str, path: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse_environment(text, source="env.yaml")
    assert (info.value.path, info.value.source) == (path, "env.yaml")
    assert info.value.reason.startswith(message)


def test_merge_environments_later_wins_per_key() -> None:
    first = parse_environment("parameters: {a: 1, b: 1}\nresource_registry: {'X::A': 'T::A'}\n")
    second = parse_environment("parameters: {b: 2}\nparameter_defaults: {c: 3}\n")
    third = {"resource_registry": {"X::A": "T::B", "X::C": "T::C"}}
    assert merge_environments([first, second, third]) == {
        "parameters": {"a": 1, "b": 2},
        "parameter_defaults": {"c": 3},
        "resource_registry": {"X::A": "T::B", "X::C": "T::C"},
    }
    assert merge_environments([]) == {
        "parameters": {},
        "parameter_defaults": {},
        "resource_registry": {},
    }


REGISTRY_TEMPLATE = """
heat_template_version: 2018-08-31
resources:
  a: {type: My::Server, properties: {port: 1}}
  b: {type: Legacy::Net}
  c: {type: Test::Value}
"""


def test_resource_registry_aliases_chain_and_wildcards(compile_yaml: CompileYaml) -> None:
    env = {
        "resource_registry": {
            "My::Server": "Other::Server",
            "Other::Server": "Test::Server",
            "Legacy::*": "Test::*",
        }
    }
    compiled = compile_yaml(REGISTRY_TEMPLATE, environment=env)
    assert [(d.template_type, d.type) for d in compiled.resources.values()] == [
        ("My::Server", "Test::Server"),
        ("Legacy::Net", "Test::Net"),
        ("Test::Value", "Test::Value"),
    ]


@pytest.mark.parametrize(
    ("registry", "path", "message"),
    [
        (
            {"My::Server": "Nope::Server", "Legacy::*": "Test::*"},
            "resources.a.type",
            "unknown resource type 'Nope::Server' (from 'My::Server' via resource_registry)",
        ),
        (
            {"My::Server": "B::S", "B::S": "My::Server"},
            "resource_registry",
            "alias loop: My::Server -> B::S -> My::Server",
        ),
    ],
)
def test_resource_registry_errors(
    compile_yaml: CompileYaml, registry: dict[str, str], path: str, message: str
) -> None:
    with pytest.raises(TemplateError) as info:
        compile_yaml(REGISTRY_TEMPLATE, environment={"resource_registry": registry})
    assert (info.value.path, info.value.reason) == (path, message)


# get_file ----------------------------------------------------------------------------------------


def file_template(*paths: Any) -> dict[str, Any]:
    return {
        "heat_template_version": "2018-08-31",
        "resources": {
            f"f{i}": {"type": "OS::Heat::None", "properties": {"content": {"get_file": p}}}
            for i, p in enumerate(paths)
        },
        "outputs": {"o": {"value": {"list_join": ["", [{"get_file": "a.txt"}]]}}},
    }


def test_collect_files(tmp_path: pathlib.Path, compile_yaml: CompileYaml) -> None:
    (tmp_path / "a.txt").write_text("A\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.sh").write_text("#!/bin/sh\n")
    (tmp_path / "inside-link").symlink_to(tmp_path / "sub" / "b.sh")
    template = file_template("a.txt", "sub/b.sh", "sub/../a.txt", "inside-link", "a.txt")
    files = collect_files(template, tmp_path)
    assert files == {
        "a.txt": "A\n",
        "sub/b.sh": "#!/bin/sh\n",
        "sub/../a.txt": "A\n",
        "inside-link": "#!/bin/sh\n",
    }


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("x/../../etc/passwd", "'x/../../etc/passwd' is outside the template's directory"),
        ("../secret.txt", "'../secret.txt' is outside the template's directory"),
        (
            "/etc/passwd",
            "'/etc/passwd' is an absolute path; only paths relative to the "
            "template's directory are allowed",
        ),
        ("~/notes.txt", "'~/notes.txt' is an absolute path"),
        ("http://example.com/x", "'http://example.com/x' is a URL"),
        ("file:///etc/passwd", "'file:///etc/passwd' is a URL"),
        ("escape-link", "'escape-link' is outside the template's directory"),
        ("missing.txt", "'missing.txt' not found in the template's directory"),
        ("sub", "'sub' is a directory"),
        ("binary.bin", "'binary.bin' is not UTF-8 text"),
    ],
)
def test_collect_files_refuses(tmp_path: pathlib.Path, written: str, message: str) -> None:
    base = tmp_path / "tmpl"
    (base / "sub").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("secret")
    (base / "escape-link").symlink_to(tmp_path / "secret.txt")
    (base / "binary.bin").write_bytes(b"\xff\xfe\x00")
    template = {
        "resources": {
            "f": {"type": "OS::Heat::None", "properties": {"content": {"get_file": written}}}
        }
    }
    with pytest.raises(TemplateError) as info:
        collect_files(template, base)
    assert info.value.path == "resources.f.properties.content.get_file"
    assert info.value.reason.startswith(message)


def test_get_file_inside_lists_reports_the_index(tmp_path: pathlib.Path) -> None:
    template = {"outputs": {"o": {"value": ["x", {"get_file": "/abs"}]}}}
    with pytest.raises(TemplateError) as info:
        collect_files(template, tmp_path)
    assert info.value.path == "outputs.o.value[1].get_file"


def test_collected_files_feed_get_file(tmp_path: pathlib.Path, compile_yaml: CompileYaml) -> None:
    (tmp_path / "a.txt").write_text("A\n")
    text = (
        "heat_template_version: 2018-08-31\n"
        "resources:\n"
        "  f: {type: OS::Heat::None, properties: {content: {get_file: a.txt}}}\n"
    )
    files = collect_files(parse_template(text), tmp_path)
    compiled = compile_yaml(text, files=files)
    assert compiled.resources["f"].properties == {"content": "A\n"}
    assert os.path.exists(tmp_path / "a.txt")

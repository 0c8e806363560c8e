"""Fixtures for the template tests: a registry of small actors of our own.

The tests do not depend on the built-in actors: `Test::Server`, `Test::Net`,
`Test::Value` and an open `OS::Heat::None` cover typed, nested, list and map
properties, declared attributes and the open forms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from actors.base import ActorContext, Created, ResourceActor
from actors.registry import Registry
from actors.schema import AllowedValues, Property, PropertyType
from supervisor.template import (
    CompiledTemplate,
    Limits,
    ResourceData,
    StackIdentity,
    compile_template,
    parse_template,
)


class _Actor(ResourceActor):
    async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
        return Created(physical_id=ctx.resource_name)

    async def delete(self, ctx: ActorContext, physical_id: str, props: Mapping[str, Any]) -> None:
        return None


class Server(_Actor):
    type_name = "Test::Server"
    properties_schema = {
        "port": Property(PropertyType.INTEGER, required=True),
        "name": Property(PropertyType.STRING, update_allowed=True),
        "flavor": Property(
            PropertyType.STRING, default="small", constraints=(AllowedValues(("small", "big")),)
        ),
        "networks": Property(PropertyType.LIST),
        "tags": Property(PropertyType.MAP),
        "enabled": Property(PropertyType.BOOLEAN),
        "config": Property(
            PropertyType.MAP, schema={"size": Property(PropertyType.INTEGER, required=True)}
        ),
        "user_data": Property(PropertyType.STRING),
    }
    attributes_schema = {
        "first_address": "the first address",
        "networks": "a map of network name to addresses",
        "name": "the server's name",
    }


class Net(_Actor):
    type_name = "Test::Net"
    properties_schema = {"cidr": Property(PropertyType.STRING)}
    attributes_schema = {"cidr": "the CIDR", "subnets": "a list of subnets"}


class Value(_Actor):
    type_name = "Test::Value"
    properties_schema = {"value": Property(PropertyType.ANY)}
    attributes_schema = {"value": "the value given"}


class Open(_Actor):
    type_name = "OS::Heat::None"
    open_properties = True
    open_attributes = True


@pytest.fixture
def registry() -> Registry:
    return make_registry()


def make_registry() -> Registry:
    registry = Registry()
    for cls in (Server, Net, Value, Open):
        registry.register(cls)
    return registry


IDENTITY = StackIdentity(stack_name="teststack", stack_id="id-1234", project_id="proj-9")


def compile_text(
    text: str,
    *,
    files: Mapping[str, str] | None = None,
    environment: Mapping[str, Any] | None = None,
    parameters: Mapping[str, str] | None = None,
    limits: Limits | None = None,
) -> CompiledTemplate:
    """Parse and compile a template written in YAML."""
    limits = limits or Limits()
    return compile_template(
        parse_template(text, limits=limits),
        files=files or {},
        environment=environment or {},
        parameters=parameters or {},
        identity=IDENTITY,
        registry=make_registry(),
        limits=limits,
    )


def lookup_from(data: Mapping[str, ResourceData]) -> Callable[[str], ResourceData | None]:
    return data.get


#: what the `net` resource of `evaluate_value` templates looks like once created
NET_DATA = ResourceData("net-id", {"cidr": "10.0.0.0/24", "subnets": ["s1", "s2"]})


def evaluate_value(
    expression: Any,
    version: str = "2018-08-31",
    *,
    parameters: Mapping[str, Any] | None = None,
    values: Mapping[str, str] | None = None,
    conditions: Mapping[str, Any] | None = None,
    files: Mapping[str, str] | None = None,
    created: Mapping[str, ResourceData] | None = None,
    limits: Limits | None = None,
) -> Any:
    """The resolved value of `expression` as the `value` property of a Test::Value resource.

    The template also has a Test::Net resource `net`; `created` defaults to it existing.
    """
    template: dict[str, Any] = {
        "heat_template_version": version,
        "parameters": dict(parameters or {}),
        "resources": {
            "net": {"type": "Test::Net"},
            "v": {"type": "Test::Value", "properties": {"value": expression}},
        },
    }
    if conditions is not None:
        template["conditions"] = dict(conditions)
    compiled = compile_template(
        template,
        files=files or {},
        environment={},
        parameters=values or {},
        identity=IDENTITY,
        registry=make_registry(),
        limits=limits or Limits(),
    )
    existing = {"net": NET_DATA} if created is None else created
    return compiled.resolve_properties("v", lookup_from(existing))["value"]


@pytest.fixture
def compile_yaml() -> Callable[..., CompiledTemplate]:
    return compile_text


@pytest.fixture
def value_of() -> Callable[..., Any]:
    return evaluate_value

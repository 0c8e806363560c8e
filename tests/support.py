"""Test helpers: a recording resource actor, engines on real stores, template builders.

`Recorder` is a real resource actor (no mocks) whose calls are appended to a
`CallLog` with event-loop timestamps, so tests can assert the order of
operations. It can be told to fail or to take time per operation through its
properties, which is how tests inject failures and latency.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import anyio
import yaml

from actors import (
    ActorContext,
    Created,
    Property,
    PropertyType,
    Registry,
    ResourceActor,
    ResourceFailure,
    default_registry,
)
from storage import Store, open_store
from supervisor.config import Config
from supervisor.engine import Engine, running_engine
from supervisor.inputs import Inputs


@dataclass(frozen=True)
class Call:
    operation: str
    resource: str
    physical_id: str
    phase: str  # "start" or "end"
    time: float
    props: Mapping[str, Any] = field(default_factory=dict)


class CallLog:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._ids = itertools.count(1)
        self._waiters: dict[tuple[str, str, str], anyio.Event] = {}

    def append(self, call: Call) -> None:
        self.calls.append(call)
        waiter = self._waiters.get((call.operation, call.resource, call.phase))
        if waiter is not None:
            waiter.set()

    async def reached(self, operation: str, resource: str, phase: str = "start",
                      since: int = 0) -> None:
        """Wait until a call of `operation` on `resource` reaches `phase` (after `since`)."""
        key = (operation, resource, phase)
        while (operation, resource) not in self.ops(phase, since):
            waiter = self._waiters.get(key)
            if waiter is None or waiter.is_set():
                waiter = self._waiters[key] = anyio.Event()
            await waiter.wait()

    def next_id(self, name: str) -> str:
        return f"{name}-{next(self._ids)}"

    def mark(self) -> int:
        """A position to pass as `since` to look only at later calls."""
        return len(self.calls)

    def ops(self, phase: str = "end", since: int = 0) -> list[tuple[str, str]]:
        """(operation, resource) pairs of the calls that reached `phase`, in order."""
        return [(c.operation, c.resource) for c in self.calls[since:] if c.phase == phase]

    def index(self, operation: str, resource: str, phase: str = "end", since: int = 0) -> int:
        for i, call in enumerate(self.calls):
            if i < since:
                continue
            if (call.operation, call.resource, call.phase) == (operation, resource, phase):
                return i
        raise AssertionError(f"no {phase} of {operation} {resource} in {self.ops()}")

    def live(self) -> set[str]:
        """Physical ids created and not deleted."""
        alive: set[str] = set()
        for call in self.calls:
            if call.phase != "end":
                continue
            if call.operation == "create":
                assert call.physical_id not in alive, f"duplicate create {call.physical_id}"
                alive.add(call.physical_id)
            elif call.operation == "delete":
                alive.discard(call.physical_id)
        return alive


def recorder_type(log: CallLog, type_name: str = "Test::Recorder") -> type[ResourceActor]:
    """A recording actor class bound to `log`."""

    class Recorder(ResourceActor):
        __qualname__ = "Recorder"
        description = "records every call; knobs: value, fixed, fail, delay"
        properties_schema: ClassVar[Mapping[str, Property]] = {
            "value": Property(PropertyType.ANY, update_allowed=True),
            "fixed": Property(PropertyType.STRING, default=""),
            "fail": Property(PropertyType.LIST, default=[], update_allowed=True),
            "delay": Property(PropertyType.NUMBER, default=0, update_allowed=True),
            "inputs": Property(PropertyType.ANY, update_allowed=True),
        }
        attributes_schema: ClassVar[Mapping[str, str]] = {
            "value": "the value property",
            "name": "the resource name",
        }

        async def _act(self, op: str, ctx: ActorContext, pid: str,
                       props: Mapping[str, Any]) -> None:
            log.append(Call(op, ctx.resource_name, pid, "start", anyio.current_time(),
                            dict(props)))
            try:
                if props.get("delay"):
                    await anyio.sleep(float(props["delay"]))
                if op in (props.get("fail") or []):
                    raise ResourceFailure(f"{ctx.resource_name}: injected {op} failure")
            except BaseException:
                log.append(Call(op, ctx.resource_name, pid, "failed", anyio.current_time(),
                                dict(props)))
                raise
            log.append(Call(op, ctx.resource_name, pid, "end", anyio.current_time(),
                            dict(props)))

        async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
            pid = log.next_id(ctx.resource_name)
            await self._act("create", ctx, pid, props)
            return Created(pid, {"value": props.get("value"), "name": ctx.resource_name})

        async def update(self, ctx: ActorContext, physical_id: str,
                         old_props: Mapping[str, Any], new_props: Mapping[str, Any],
                         changed: frozenset[str]) -> Mapping[str, Any]:
            await self._act("update", ctx, physical_id, new_props)
            return {"value": new_props.get("value"), "name": ctx.resource_name}

        async def delete(self, ctx: ActorContext, physical_id: str,
                         props: Mapping[str, Any]) -> None:
            await self._act("delete", ctx, physical_id, props)

        async def check(self, ctx: ActorContext, physical_id: str,
                        props: Mapping[str, Any]) -> None:
            await self._act("check", ctx, physical_id, props)

        async def suspend(self, ctx: ActorContext, physical_id: str,
                          props: Mapping[str, Any]) -> None:
            await self._act("suspend", ctx, physical_id, props)

        async def resume(self, ctx: ActorContext, physical_id: str,
                         props: Mapping[str, Any]) -> None:
            await self._act("resume", ctx, physical_id, props)

    Recorder.type_name = type_name
    return Recorder


def registry_with(log: CallLog) -> Registry:
    registry = default_registry()
    registry.register(recorder_type(log))
    return registry


def test_config(**changes: Any) -> Config:
    base = {"heartbeat_interval": 1.0, "engine_timeout": 5.0, "poll_interval": 0.05}
    base.update(changes)
    return Config(**base)


async def make_store(kind: str, tmp_path: Path) -> Store:
    if kind == "memory":
        return await open_store("memory://")
    return await open_store(f"sqlite:///{tmp_path / 'state.db'}")


@asynccontextmanager
async def engine_on(store: Store, registry: Registry,
                    config: Config | None = None) -> AsyncIterator[Engine]:
    async with running_engine(store, registry, config or test_config()) as engine:
        yield engine


def inputs(template: str | Mapping[str, Any], **parameters: Any) -> Inputs:
    """Inputs from a YAML string or a dict; keyword arguments become parameters."""
    doc = yaml.safe_load(template) if isinstance(template, str) else dict(template)
    env = {"parameters": {k: str(v) for k, v in parameters.items()}} if parameters else {}
    return Inputs(template=doc, environment=env, source="test.yaml")


def hot(resources: Mapping[str, Any], outputs: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"heat_template_version": "2021-04-16", "resources": dict(resources)}
    if outputs:
        doc["outputs"] = dict(outputs)
    if parameters:
        doc["parameters"] = dict(parameters)
    return doc


def rec(value: Any = None, *, depends_on: Any = None, fixed: str = "", fail: Any = None,
        delay: float = 0, inputs: Any = None, policy: str | None = None) -> dict[str, Any]:
    """A Test::Recorder resource definition."""
    props: dict[str, Any] = {}
    if value is not None:
        props["value"] = value
    if fixed:
        props["fixed"] = fixed
    if fail:
        props["fail"] = list(fail)
    if delay:
        props["delay"] = delay
    if inputs is not None:
        props["inputs"] = inputs
    definition: dict[str, Any] = {"type": "Test::Recorder", "properties": props}
    if depends_on is not None:
        definition["depends_on"] = depends_on
    if policy is not None:
        definition["deletion_policy"] = policy
    return definition

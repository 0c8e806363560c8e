"""Driving the engine in-process: each run opens a fresh store and engine and applies every
operation to all of its stacks at once, timing each operation.

The engine runs with its default limits, except that stacks may be as large as
asked and, with a latency, the action limiter is raised to the number of
resources of all stacks together, so no waiting action holds up a ready one: the
wall time can then approach the critical-path bound. The engine sees the store through
a `StartClock`, which times traversal starts for the supersede operation. With a
latency, an `ActionClock` times each operation's first actor call (its start-up).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from actors import ActorContext, Created, Registry, default_registry
from actors.builtin import TestResource
from scripts.loadgen.graph import Graph, build_graph, critical_path_length
from scripts.loadgen.measure import (
    OperationResult,
    SupersedeFigures,
    completed,
    peak_rss_mib,
    statements_between,
    store_statements,
)
from scripts.loadgen.spec import STORES, LoadSpec
from scripts.loadgen.supersede import StartClock, Supersession
from scripts.loadgen.templates import ResourceKind, pick_replaced, stack_template
from storage import StackRecord, open_store
from supervisor import stacks
from supervisor.config import Config
from supervisor.engine import Engine, running_engine
from supervisor.inputs import Inputs
from supervisor.template import Limits

StackAction = Callable[[str], Awaitable[StackRecord]]

#: template generations: create applies 1, update 2, supersede's updates 3, 4, ...
CREATE_GENERATION = 1
UPDATE_GENERATION = 2


@dataclass(frozen=True)
class Workload:
    """What every stack of every run is made of."""

    graph: Graph
    kind: ResourceKind
    critical_path_length: int


def workload(spec: LoadSpec) -> Workload:
    graph = build_graph(spec.shape, spec.size, spec.shape_options)
    kind = ResourceKind(spec.latency, pick_replaced(spec.size, spec.replace, spec.seed),
                        spec.outside)
    return Workload(graph, kind, critical_path_length(graph))


class ActionClock:
    """When the first actor call since `reset` started (`time.perf_counter`), or None."""

    def __init__(self) -> None:
        self.first: float | None = None

    def reset(self) -> None:
        self.first = None

    def called(self) -> None:
        if self.first is None:
            self.first = time.perf_counter()


def timed_registry(clock: ActionClock) -> Registry:
    """The built-in actors, with OS::Heat::TestResource telling `clock` of every call."""

    class TimedTestResource(TestResource):
        async def create(self, ctx: ActorContext, props: Mapping[str, Any]) -> Created:
            clock.called()
            return await super().create(ctx, props)

        async def update(self, ctx: ActorContext, physical_id: str,
                         old_props: Mapping[str, Any], new_props: Mapping[str, Any],
                         changed: frozenset[str]) -> Mapping[str, Any]:
            clock.called()
            return await super().update(ctx, physical_id, old_props, new_props, changed)

        async def delete(self, ctx: ActorContext, physical_id: str,
                         props: Mapping[str, Any]) -> None:
            clock.called()
            await super().delete(ctx, physical_id, props)

    registry = default_registry()
    registry.register(TimedTestResource, replace=True)
    return registry


def engine_config(spec: LoadSpec, url: str) -> Config:
    """Defaults, except no stack too big and, when actions take time, none queued."""
    actions = Config.max_concurrent_actions
    if spec.latency > 0:
        actions = max(actions, spec.size * spec.stacks)
    return Config(db=url, max_resources_per_stack=max(spec.size, Limits.max_resources),
                  max_concurrent_actions=actions)


async def run_load(spec: LoadSpec, workdir: Path) -> list[OperationResult]:
    """Every run of `spec`, stopping after the first operation that does not complete."""
    work = workload(spec)
    results: list[OperationResult] = []
    for run in range(1, spec.repeat + 1):
        directory = workdir / f"run-{run}"
        directory.mkdir()
        results.extend(await run_once(spec, work, run, STORES[spec.store](directory)))
        if not all(result.ok for result in results):
            break
    return results


async def run_once(spec: LoadSpec, work: Workload, run: int, url: str) -> list[OperationResult]:
    store = await open_store(url)
    clock = StartClock(store)
    actions = ActionClock() if spec.latency > 0 else None
    registry = default_registry() if actions is None else timed_registry(actions)
    results: list[OperationResult] = []
    try:
        async with running_engine(clock.as_store(), registry,
                                  engine_config(spec, url)) as engine:
            for operation in spec.ops:
                result = await timed(engine, clock, actions, spec, work, run, operation)
                results.append(result)
                if not result.ok:
                    break
    finally:
        await store.close()
    return results


async def timed(engine: Engine, clock: StartClock, actions: ActionClock | None, spec: LoadSpec,
                work: Workload, run: int, operation: str) -> OperationResult:
    """Apply `operation` to every stack at once; the clock excludes building templates (and
    reading what superseded traversals left behind). `actions`, when given, times the
    start-up: the operation's first actor call."""
    supersession = None
    if operation == "supersede":
        supersession = superseding(engine, clock, spec, work)
        action: StackAction = supersession.update
    else:
        action = stack_action(engine, spec, work, operation)
    before = store_statements(engine.store)
    if actions is not None:
        actions.reset()
    started = time.perf_counter()
    records = await on_every_stack(spec.stack_names, action)
    wall = time.perf_counter() - started
    first_call = None if actions is None else actions.first
    statements = statements_between(before, store_statements(engine.store))
    figures: SupersedeFigures | None = None
    if supersession is not None:
        figures = await supersession.figures()
    statuses = {name: f"{record.action}_{record.status}" for name, record in records.items()}
    return OperationResult(
        run=run, operation=operation, wall_s=wall, resources=spec.size * spec.stacks,
        critical_path_length=work.critical_path_length, latency=spec.latency,
        statements=statements, peak_rss_mib=peak_rss_mib(), statuses=statuses,
        failures={name: records[name].reason for name, status in statuses.items()
                  if status != completed(operation)},
        supersede=figures,
        startup_s=None if first_call is None else first_call - started)


def stack_action(engine: Engine, spec: LoadSpec, work: Workload, operation: str) -> StackAction:
    """The call that applies `operation` to the stack it is given the name of."""
    if operation == "create":
        created = Inputs(stack_template(work.graph, work.kind, generation=CREATE_GENERATION))
        options = stacks.CreateOptions(convergence=spec.path == "convergence")
        return lambda name: stacks.create_stack(engine, name, created, options)
    if operation == "update":
        updated = Inputs(stack_template(work.graph, work.kind, generation=UPDATE_GENERATION))
        return lambda name: stacks.update_stack(engine, name, updated)
    if operation == "delete":
        return lambda name: stacks.delete_stack(engine, name)
    raise ValueError(f"unknown operation {operation!r}")


def superseding(engine: Engine, clock: StartClock, spec: LoadSpec,
                 work: Workload) -> Supersession:
    """The supersede operation: `spec.supersede` updates, each to a new generation (every
    resource changes each time), after the update operation's generation."""
    first = UPDATE_GENERATION + 1
    updates = [Inputs(stack_template(work.graph, work.kind, generation))
               for generation in range(first, first + spec.supersede)]
    return Supersession(engine, clock, updates, spec.supersede_interval)


async def on_every_stack(names: tuple[str, ...], action: StackAction) -> dict[str, StackRecord]:
    """Run `action` on all stacks concurrently; their final records, by name."""
    records: dict[str, StackRecord] = {}

    async def one(name: str) -> None:
        records[name] = await action(name)

    async with anyio.create_task_group() as group:
        for name in names:
            group.start_soon(one, name)
    return {name: records[name] for name in names}

"""Overlapping updates: each stack gets N updates, started an interval apart, each superseding
the one before it while that one is still running.

Starting a traversal purges the superseded one's sync points and ready entries, so
neither a start nor the last update should slow down as N grows. A start is timed
from calling `update_stack` until the store's `start_traversal` returns for that
call (the new traversal is then the stack's current one); `StartClock` wraps the
store to see that moment without touching the engine. Every update of a stack
returns once the stack settles, so all of them return when the last one does.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import anyio

from scripts.loadgen.measure import SupersedeFigures, start_window
from storage import NodeKey, StackRecord, Store, TraversalBuilder, TraversalStart
from supervisor import stacks
from supervisor.engine import Engine
from supervisor.inputs import Inputs

#: sync points of each superseded traversal looked up after the stacks settle
SAMPLED_NODES = 5

#: which update of which stack the current task is running: (stack name, update index)
_update: ContextVar[tuple[str, int] | None] = ContextVar("load_update", default=None)


@dataclass(frozen=True)
class Start:
    """An update's traversal, a few of its nodes, and when the store made it current."""

    traversal_id: str
    sampled: tuple[NodeKey, ...]
    at: float


class StartClock:
    """A store that notes when each timed update's traversal start returns; it forwards
    everything else to the store it wraps (a `statements` counter included)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.starts: dict[tuple[str, int], Start] = {}

    def as_store(self) -> Store:
        return cast(Store, self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def start_traversal(self, stack_id: str,
                              build: TraversalBuilder) -> TraversalStart | None:
        started = await self._store.start_traversal(stack_id, build)
        update = _update.get()
        if update is not None and started is not None:
            points = started.sync_points
            step = max(1, len(points) // SAMPLED_NODES)
            sampled = tuple(point.node for point in points[::step][:SAMPLED_NODES])
            self.starts[update] = Start(started.traversal.id, sampled, time.perf_counter())
        return started


@dataclass(frozen=True)
class StackUpdates:
    """When each update of one stack was called and returned, and what the last returned."""

    name: str
    called: tuple[float, ...]
    returned: tuple[float, ...]
    final: StackRecord

    @property
    def overlapped(self) -> int:
        """Updates called while the one before was still running (superseding it)."""
        return sum(1 for index in range(1, len(self.called))
                   if self.returned[index - 1] > self.called[index])

    @property
    def last_update_s(self) -> float:
        return self.returned[-1] - self.called[-1]


class Supersession:
    """The supersede operation: `update` runs one stack's updates; `figures` reads the
    store once every stack has settled."""

    def __init__(self, engine: Engine, clock: StartClock, updates: Sequence[Inputs],
                 interval: float) -> None:
        self._engine = engine
        self._clock = clock
        self._updates = updates
        self._interval = interval
        self._stacks: dict[str, StackUpdates] = {}

    async def update(self, name: str) -> StackRecord:
        """Call every update of the stack, `interval` apart; the record the last returned."""
        count = len(self._updates)
        called: list[float] = []
        returned = [0.0] * count
        records: list[StackRecord | None] = [None] * count

        async def one(index: int) -> None:
            _update.set((name, index))
            records[index] = await stacks.update_stack(self._engine, name, self._updates[index])
            returned[index] = time.perf_counter()

        async with anyio.create_task_group() as group:
            for index in range(count):
                if index:
                    await anyio.sleep(self._interval)
                called.append(time.perf_counter())
                group.start_soon(one, index)
        final = records[-1]
        assert final is not None
        self._stacks[name] = StackUpdates(name, tuple(called), tuple(returned), final)
        return final

    async def figures(self) -> SupersedeFigures:
        count = len(self._updates)
        window = start_window(count)
        first: list[float] = []
        last: list[float] = []
        leftover_ready = leftover_points = sampled = 0
        for name, updates in self._stacks.items():
            starts = [self._clock.starts[name, index] for index in range(count)]
            waits = [(start.at - at) * 1000 for start, at in zip(starts, updates.called,
                                                                   strict=True)]
            first.extend(waits[:window])
            last.extend(waits[-window:])
            store = self._engine.store
            # the final traversal purges its own entries just after the stack settles
            leftover_ready += sum(1 for ready in await store.list_ready(updates.final.id)
                                  if ready.traversal_id != updates.final.traversal_id)
            for start in starts:
                if start.traversal_id == updates.final.traversal_id:
                    continue
                for node in start.sampled:
                    sampled += 1
                    if await store.get_sync_point(start.traversal_id, node) is not None:
                        leftover_points += 1
        return SupersedeFigures(
            overlapped=sum(updates.overlapped for updates in self._stacks.values()),
            last_update_s=max(updates.last_update_s for updates in self._stacks.values()),
            window=window, first_starts_ms=statistics.fmean(first),
            last_starts_ms=statistics.fmean(last), leftover_ready=leftover_ready,
            leftover_sync_points=leftover_points, sampled_sync_points=sampled)

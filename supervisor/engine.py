"""An engine: one process's membership in a store, with its heartbeat and its limits.

`running_engine` registers the engine in the store, keeps its heartbeat fresh
from a task in its own task group, and unregisters it on exit. Other engines
judge it dead when its heartbeat is older than `Config.engine_timeout`, or at
once when it ran on this host and its process is gone.

The `limiter` bounds the actors' external work only; waiting for
dependencies, locks or the store is never limited.

While an engine runs, Python's cyclic garbage collector considers a full
collection a hundred times less often (`FULL_COLLECTION_EVERY`): an engine
holds many long-lived objects (records, compiled templates, one task per
running node), and at 10,000 resources repeated full collections of that heap
cost more than the engine's own work, growing faster than the stack. Young
objects are still collected as usual, and full collections still happen.
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import structlog

from actors import Registry
from storage import EngineRecord, EventRecord, Store
from supervisor.background import background
from supervisor.config import Config

#: the weight of the newest actor call in the running mean of their durations
ACTION_MEAN_WEIGHT = 0.1


def new_id() -> str:
    """A new id: 32 hex digits, the first 12 the time in milliseconds, the rest random (80
    bits), in the manner of UUIDv7. Ids made in different milliseconds sort in the order
    they were made (within one, at random), so the rows a traversal creates and then
    works through sit in neighbouring pages of the store's indexes; with random ids every
    access lands on a random page, and at 10,000 resources that made an SQLite update 7%
    slower per resource (docs/benchmarks.md, seventh pass)."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


@dataclass
class Engine:
    store: Store
    registry: Registry
    config: Config
    id: str = field(default_factory=new_id)
    host: str = field(default_factory=socket.gethostname)
    limiter: anyio.CapacityLimiter = field(init=False)
    #: called with every event this engine has persisted (in-process observers: the CLI)
    listeners: list[Callable[[EventRecord], None]] = field(default_factory=list)
    #: how long this engine's actor calls take, a running mean in seconds (`timed_action`)
    action_seconds: float = field(init=False, default=0.0)
    #: how long a critical node's steps between actions take (reads and writes, from its
    #: being made ready to its actor call, or from the call's return to its end), a running
    #: mean in seconds (`timed_steps`)
    step_seconds: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.limiter = anyio.CapacityLimiter(self.config.max_concurrent_actions)
        self.log = structlog.get_logger("convergent").bind(engine=self.id[:8])
        self._wall_anchor = time.time()
        self._loop_anchor: float | None = None

    def now(self) -> float:
        """Wall-clock time (epoch seconds) as the event loop's clock advances it.

        Anchored to `time.time()` when first read, so it agrees with other processes,
        and it follows virtual time in tests (trio's MockClock).
        """
        loop_now = anyio.current_time()
        if self._loop_anchor is None:
            self._wall_anchor, self._loop_anchor = time.time(), loop_now
        return self._wall_anchor + (loop_now - self._loop_anchor)

    def timed_action(self, seconds: float) -> None:
        """Fold the duration of one actor call into `action_seconds`."""
        self.action_seconds += (seconds - self.action_seconds) * ACTION_MEAN_WEIGHT

    def timed_steps(self, seconds: float) -> None:
        """Fold the duration of one critical node's steps into `step_seconds`."""
        self.step_seconds += (seconds - self.step_seconds) * ACTION_MEAN_WEIGHT

    def published(self, event: EventRecord) -> None:
        """Tell in-process listeners about an event that is already persisted."""
        for listener in self.listeners:
            listener(event)

    async def is_alive(self, engine_id: str) -> bool:
        """Whether the engine `engine_id` still runs (this engine always does)."""
        if engine_id == self.id:
            return True
        record = await self.store.get_engine(engine_id)
        if record is None:
            return False
        if record.host == self.host and not _process_exists(record.pid):
            return False
        return self.now() - record.heartbeat_at <= self.config.engine_timeout


#: gen-1 collections between two full collections while an engine runs (Python's default 10)
FULL_COLLECTION_EVERY = 1000
_engines_running = 0
_saved_thresholds: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def _fewer_full_collections() -> Iterator[None]:
    """Raise the full-collection threshold while any engine of this process runs."""
    global _engines_running, _saved_thresholds
    if _engines_running == 0:
        _saved_thresholds = gc.get_threshold()
        young, middle, _ = _saved_thresholds
        gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    _engines_running += 1
    try:
        yield
    finally:
        _engines_running -= 1
        if _engines_running == 0:
            gc.set_threshold(*_saved_thresholds)


@asynccontextmanager
async def running_engine(store: Store, registry: Registry, config: Config) -> AsyncIterator[Engine]:
    """Register an engine on `store` and keep it alive for the duration of the block."""
    engine = Engine(store=store, registry=registry, config=config)
    now = engine.now()
    await store.register_engine(
        EngineRecord(id=engine.id, host=engine.host, pid=os.getpid(), started_at=now,
                     heartbeat_at=now)
    )
    engine.log.debug("engine.start")
    try:
        with _fewer_full_collections():
            async with background() as group:
                group.start_soon(_beat, engine)
                yield engine
    finally:
        with anyio.CancelScope(shield=True):
            await store.remove_engine(engine.id)
        engine.log.debug("engine.stop")


async def _beat(engine: Engine) -> None:
    while True:
        await anyio.sleep(engine.config.heartbeat_interval)
        await engine.store.heartbeat(engine.id, engine.now())


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

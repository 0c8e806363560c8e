"""Following a stack's events from the store while something else waits.

Events written by any process sharing the store are printed in order as they
appear; polling the store (every `poll_interval`) is what makes this work
across processes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from storage import EventRecord, StackRecord
from supervisor.background import background
from supervisor.cli.output import print_event
from supervisor.engine import Engine

EventKey = tuple[object, ...]


class EventEcho:
    """Prints an operation's events as they happen: this process's at once (as a listener),
    and those other processes persist for the same stack (a convergence stack's nodes run
    by another engine, or a newer operation that took over) from the store, each once."""

    def __init__(self, engine: Engine, fmt: str) -> None:
        self.engine, self.fmt = engine, fmt
        self.stack_id: str | None = None
        self._after = 0
        self._printed: set[EventKey] = set()

    def show(self, event: EventRecord) -> None:
        if self.stack_id is None:
            self.stack_id = event.stack_id
        if event.stack_id != self.stack_id:
            return
        key = (event.resource_id, event.resource_name, event.action, event.status,
               event.reason, event.time)
        if key not in self._printed:
            self._printed.add(key)
            print_event(event, self.fmt)

    async def poll(self) -> None:
        """Print the stack's stored events not printed yet, every `poll_interval`."""
        while True:
            await anyio.sleep(self.engine.config.poll_interval)
            await self.flush()

    async def flush(self) -> None:
        """Print the stack's stored events not printed yet."""
        if self.stack_id is None:
            return
        for event in await self.engine.store.list_events(self.stack_id, after=self._after):
            self.show(event)
            self._after = event.id


async def echo_events(engine: Engine, fmt: str,
                      operation: Callable[[], Awaitable[StackRecord]]) -> StackRecord:
    """Run `operation`, printing the stack's events as they happen (see `EventEcho`)."""
    echo = EventEcho(engine, fmt)
    engine.listeners.append(echo.show)
    try:
        async with background() as group:
            group.start_soon(echo.poll)
            result = await operation()
        await echo.flush()
    finally:
        engine.listeners.remove(echo.show)
    return result


async def follow_events(engine: Engine, stack: StackRecord, fmt: str,
                        until: Callable[[], Awaitable[StackRecord]],
                        after: int = 0) -> StackRecord:
    """Print the stack's events (those with id > `after`) until `until()` returns."""
    seen = after
    result: list[StackRecord] = []

    async def poll() -> None:
        nonlocal seen
        while True:
            for event in await engine.store.list_events(stack.id, after=seen):
                print_event(event, fmt)
                seen = event.id
            await anyio.sleep(engine.config.poll_interval)

    async def wait() -> None:
        result.append(await until())
        group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(poll)
        group.start_soon(wait)
    for event in await engine.store.list_events(stack.id, after=seen):
        print_event(event, fmt)
    return result[0]

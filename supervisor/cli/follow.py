"""Following a stack's events from the store while something else waits.

Events written by any process sharing the store are printed in order as they
appear; polling the store (every `poll_interval`) is what makes this work
across processes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from storage import StackRecord
from supervisor.cli.output import print_event
from supervisor.engine import Engine


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

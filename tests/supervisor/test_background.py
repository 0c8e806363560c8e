"""`supervisor.background`: tasks serving a block end with it; the block's error is its own."""

from __future__ import annotations

import anyio
import pytest

from supervisor.background import background
from supervisor.errors import StateError

pytestmark = pytest.mark.anyio


async def test_background_tasks_are_cancelled_when_the_block_ends() -> None:
    ticks: list[int] = []

    async def tick() -> None:
        while True:
            ticks.append(1)
            await anyio.sleep(0.01)

    with anyio.fail_after(5):
        async with background() as group:
            group.start_soon(tick)
            await anyio.sleep(0.05)
    seen = len(ticks)
    await anyio.sleep(0.05)
    assert seen > 0 and len(ticks) == seen


async def test_the_blocks_error_is_raised_as_itself() -> None:
    async def forever() -> None:
        await anyio.sleep_forever()

    with pytest.raises(StateError, match="stack 'web' is busy"):
        async with background() as group:
            group.start_soon(forever)
            raise StateError("stack 'web' is busy", stack="web")


async def test_a_background_tasks_error_still_propagates() -> None:
    async def broken() -> None:
        raise KeyError("lost")

    with pytest.raises(ExceptionGroup) as caught:
        async with background() as group:
            group.start_soon(broken)
            await anyio.sleep(1)
    assert caught.group_contains(KeyError)

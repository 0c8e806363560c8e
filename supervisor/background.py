"""Background tasks for the duration of a block, without wrapping the block's own error.

`background()` opens a task group for tasks that serve a block (a heartbeat, a
worker, an event poller), cancels them when the block ends, and re-raises an
exception from the block as itself rather than inside an `ExceptionGroup`, so
callers can keep catching `ConvergentError` and friends. Errors of the
background tasks themselves still propagate (as an exception group).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskGroup


@asynccontextmanager
async def background() -> AsyncIterator[TaskGroup]:
    """A task group whose tasks are cancelled when the block ends; the block's own
    exception is re-raised unwrapped."""
    raised: Exception | None = None
    async with anyio.create_task_group() as group:
        try:
            yield group
        except Exception as err:
            raised = err
        finally:
            group.cancel_scope.cancel()
    if raised is not None:
        raise raised

"""Group commit: many concurrent writes share one transaction and one durable commit.

A store whose commit costs a disk flush (SQLite with `synchronous=FULL`) would
otherwise pay one flush per state change. Here each write is queued; one caller
at a time, the *leader*, takes every queued write (up to `max_batch`) as one
batch, which runs in order in one transaction and commits once. Writes that
arrive meanwhile wait for the next batch, whose leader is the first of them:
under load a batch holds everything that queued during the previous commit;
alone, a write is its own batch.

A batch runs right on the event loop's thread when the store's `run_inline`
says that cannot hold the loop up for long (for SQLite: the file's write lock
is free and its commits have been quick); otherwise the store's `run_batch`
runs it in the group's commit thread while the loop goes on.

Invariants:

* a write's caller gets its result only after the batch holding it committed,
  so nothing reported is less durable than with one transaction per write;
* writes commit in the order they were queued, and each sees every write
  queued before it;
* `run_batch` must give each write its own outcome: when one write fails, the
  others in its batch still commit or fail on their own (the SQLite store rolls
  the batch back and runs each write alone);
* `run_inline` either does what `run_batch` does or leaves no trace (nothing
  committed, no outcome set) and returns False; the batch then goes to the
  thread, so a write may be run twice, the first time rolled back;
* a caller cancelled before its write was taken drops the write; once taken, the
  write runs to its end and the caller gets its outcome (the cancellation is
  delivered at its next checkpoint), so a cancelled caller never misreads a
  committed write as not done.

Why inline first: the commit thread and the event loop share one GIL. With the
batch in the thread, the loop waits for the hand-off both ways (about 0.18 ms
per commit here, a legacy walk or a chain pays it per resource) and the two
threads trade the GIL at every SQLite call; on the loop, a commit costs its
statements and its fsync, nothing more (docs/benchmarks.md, sixth pass). The
commit thread is a thread of the group's own (`CommitThread`), not one of
anyio's worker threads: the hand-off is half as long.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import anyio
import anyio.lowlevel

C = TypeVar("C")
T = TypeVar("T")


@dataclasses.dataclass(eq=False)
class Write(Generic[C]):
    """One queued write: the function to run on the connection, then its outcome."""

    fn: Callable[[C], Any]
    result: Any = None
    error: Exception | None = None
    taken: bool = False
    done: bool = False
    lead: bool = False
    wake: anyio.Event = dataclasses.field(default_factory=anyio.Event)

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


#: runs the writes in order on the connection and sets each one's result or error
BatchRunner = Callable[[C, Sequence[Write[C]]], None]
#: runs the writes on the caller's thread as `BatchRunner` does and returns True, or, when
#: that could hold up the event loop, does nothing and returns False
InlineRunner = Callable[[C, Sequence[Write[C]]], bool]


class GroupCommit(Generic[C]):
    """Queue of writes to one connection, committed in batches by a leader caller."""

    def __init__(self, connection: C, run_batch: BatchRunner[C], max_batch: int = 1024,
                 run_inline: InlineRunner[C] | None = None) -> None:
        self._connection = connection
        self._run_batch = run_batch
        self._run_inline = run_inline
        self._max_batch = max_batch
        self._queue: deque[Write[C]] = deque()
        self._leading = False
        self._thread: CommitThread | None = None
        #: batches committed so far (for benchmarks)
        self.batches = 0

    async def write(self, fn: Callable[[C], T]) -> T:
        """Run `fn(connection)` in a committed transaction shared with other writes."""
        write: Write[C] = Write(fn)
        self._queue.append(write)
        if self._leading:
            await self._wait_turn(write)
            if write.done:
                return write.outcome()  # type: ignore[no-any-return]
        self._leading = True
        try:
            try:
                # one round of the event loop first: writes that the tasks run in this round
                # are about to queue join this batch rather than wait for the next
                await anyio.lowlevel.checkpoint()
            except BaseException:
                self._queue.remove(write)  # not taken: the cancelled caller drops it
                raise
            while not write.done:
                await self._commit_next()
        finally:
            self._pass_lead()
        return write.outcome()  # type: ignore[no-any-return]

    async def run(self, fn: Callable[[C], T]) -> T:
        """Run `fn(connection)` alone, between batches (opening, closing, migrating)."""
        with anyio.CancelScope(shield=True):
            result = await self._in_thread(fn, self._connection)
        return result

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            self._thread = CommitThread()
        return await self._thread.call(fn, *args)

    def close(self) -> None:
        """Let the commit thread end once the calls handed to it are done."""
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    async def _wait_turn(self, write: Write[C]) -> None:
        """Wait until `write` is done or its caller must lead the next batch."""
        try:
            await write.wake.wait()
        except anyio.get_cancelled_exc_class():
            if write.taken:  # a leader is committing it: report its real outcome
                with anyio.CancelScope(shield=True):
                    await write.wake.wait()
                return
            self._queue.remove(write)
            if write.lead:
                self._pass_lead()
            raise

    async def _commit_next(self) -> None:
        batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
        for write in batch:
            write.taken = True
        try:
            if self._run_inline is None or not self._run_inline(self._connection, batch):
                with anyio.CancelScope(shield=True):
                    await self._in_thread(self._run_batch, self._connection, batch)
        except Exception as exc:  # a fault of the runner itself: every write shares it
            for write in batch:
                write.error = exc
        finally:
            self.batches += 1
            for write in batch:
                write.done = True
                write.wake.set()

    def _pass_lead(self) -> None:
        """Make the first queued write's caller the next leader, or stop leading."""
        if self._queue:
            first = self._queue[0]
            first.lead = True
            first.wake.set()
        else:
            self._leading = False


def _call_soon() -> Callable[[Callable[[], object]], object]:
    """How another thread asks the running event loop to call a function (trio or asyncio)."""
    native = anyio.lowlevel.current_token().native_token
    if isinstance(native, asyncio.AbstractEventLoop):
        return native.call_soon_threadsafe
    return native.run_sync_soon  # type: ignore[attr-defined, no-any-return]


@dataclasses.dataclass(eq=False)
class _Call:
    """A function for the commit thread, and how to tell its caller's event loop it ended."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    call_soon: Callable[[Callable[[], object]], object]
    ended: anyio.Event = dataclasses.field(default_factory=anyio.Event)
    result: Any = None
    error: BaseException | None = None


class CommitThread:
    """A thread that runs the calls handed to it one at a time, in order, and wakes each
    caller's event loop when its call has ended (trio or asyncio)."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="convergent-commit",
                                        daemon=True)
        self._thread.start()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the thread; the caller must not be cancelled while it waits (the
        group's callers wait shielded: a call handed over always runs)."""
        call = _Call(fn, args, _call_soon())
        self._calls.put(call)
        await call.ended.wait()
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[no-any-return]

    def stop(self) -> None:
        self._calls.put(None)

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            try:
                call.result = call.fn(*call.args)
            except BaseException as exc:  # handed back to the caller, like anyio's threads do
                call.error = exc
            # a loop that has ended (trio's RunFinishedError is one) has nobody waiting
            with contextlib.suppress(RuntimeError):
                call.call_soon(call.ended.set)

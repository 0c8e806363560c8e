"""Group commit (`storage.group_commit`): batching, order, per-write outcomes, cancellation.

The generic part runs over a tiny in-test "connection" (a list that a batch
appends to, standing in for one transaction) whose runner can be held in the
middle of a batch; the SQLite tests check the same promises on a real file.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from storage import SQLiteStore, StackExists
from storage.group_commit import GroupCommit, Write
from tests.storage.storage_samples import stack, template

pytestmark = pytest.mark.anyio


class Journal:
    """A stand-in connection: committed batches, and a gate that can hold a batch open."""

    def __init__(self) -> None:
        self.batches: list[list[object]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def run_batch(self, _conn: Journal, writes: Sequence[Write[Journal]]) -> None:
        self.entered.set()
        self.gate.wait(10)
        batch: list[object] = []
        for write in writes:
            try:
                write.result = write.fn(self)
                batch.append(write.result)
            except Exception as exc:
                write.error = exc
        self.batches.append(batch)


def value(v: object) -> object:
    return lambda _journal: v


def fails(_journal: Journal) -> object:
    raise ValueError("bad write")


async def wait_for(event: threading.Event) -> None:
    assert await anyio.to_thread.run_sync(event.wait, 5)


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def commits(journal: Journal) -> Iterator[GroupCommit[Journal]]:
    group = GroupCommit(journal, journal.run_batch)
    yield group
    group.close()


async def test_writes_queued_during_a_commit_share_the_next_one(
        journal: Journal, commits: GroupCommit[Journal]) -> None:
    results: dict[int, object] = {}

    async def write(i: int) -> None:
        results[i] = await commits.write(value(i))

    journal.gate.clear()
    async with anyio.create_task_group() as group:
        group.start_soon(write, 0)
        await wait_for(journal.entered)
        for i in range(1, 20):
            group.start_soon(write, i)
        await anyio.sleep(0.05)
        journal.gate.set()
    assert results == {i: i for i in range(20)}
    assert journal.batches[0] == [0]
    assert sorted(journal.batches[1]) == list(range(1, 20))  # trio starts tasks in any order
    assert commits.batches == 2


async def test_writes_issued_in_one_round_of_the_loop_share_the_first_batch(
        journal: Journal, commits: GroupCommit[Journal]) -> None:
    results: dict[int, object] = {}

    async def write(i: int) -> None:
        results[i] = await commits.write(value(i))

    async with anyio.create_task_group() as group:
        for i in range(10):
            group.start_soon(write, i)
    assert results == {i: i for i in range(10)}
    assert len(journal.batches) == 1 and len(journal.batches[0]) == 10


async def test_a_leader_cancelled_before_its_first_batch_drops_its_write(
        journal: Journal, commits: GroupCommit[Journal]) -> None:
    with anyio.CancelScope() as scope:
        scope.cancel()
        await commits.write(value("dropped"))
    assert scope.cancelled_caught
    assert await commits.write(value("after")) == "after"
    assert journal.batches == [["after"]]


async def test_a_failing_write_fails_alone(
        journal: Journal, commits: GroupCommit[Journal]) -> None:
    outcomes: dict[str, object] = {}

    async def write(name: str, fn: object) -> None:
        try:
            outcomes[name] = await commits.write(fn)  # type: ignore[arg-type]
        except ValueError as err:
            outcomes[name] = str(err)

    journal.gate.clear()
    async with anyio.create_task_group() as group:
        group.start_soon(write, "first", value(1))
        await wait_for(journal.entered)
        group.start_soon(write, "ok", value(2))
        group.start_soon(write, "bad", fails)
        group.start_soon(write, "also ok", value(3))
        await anyio.sleep(0.05)
        journal.gate.set()
    assert outcomes == {"first": 1, "ok": 2, "bad": "bad write", "also ok": 3}


async def test_a_write_cancelled_before_it_is_taken_never_runs(
        journal: Journal, commits: GroupCommit[Journal]) -> None:
    journal.gate.clear()
    async with anyio.create_task_group() as group:
        group.start_soon(commits.write, value("held"))
        await wait_for(journal.entered)
        with anyio.move_on_after(0.05) as waited:
            await commits.write(value("dropped"))
        assert waited.cancelled_caught
        journal.gate.set()
    assert await commits.write(value("after")) == "after"
    assert journal.batches == [["held"], ["after"]]


async def test_a_write_taken_before_its_cancel_runs_to_its_end(
        journal: Journal, commits: GroupCommit[Journal]) -> None:
    journal.gate.clear()
    got: list[object] = []

    async def cancelled_writer(scope: anyio.CancelScope) -> None:
        with scope:
            got.append(await commits.write(value("taken")))
            await anyio.lowlevel.checkpoint()  # the cancellation lands here

    scope = anyio.CancelScope()
    async with anyio.create_task_group() as group:
        group.start_soon(cancelled_writer, scope)
        await wait_for(journal.entered)
        scope.cancel()
        await anyio.sleep(0.05)
        journal.gate.set()
    assert scope.cancelled_caught
    assert got == ["taken"]
    assert journal.batches == [["taken"]]


async def test_a_leader_cancelled_while_queued_passes_the_lead_on(
        journal: Journal, commits: GroupCommit[Journal]) -> None:
    journal.gate.clear()
    done: list[object] = []

    async def write(v: object) -> None:
        done.append(await commits.write(value(v)))

    async with anyio.create_task_group() as group:
        group.start_soon(write, "held")
        await wait_for(journal.entered)
        with anyio.move_on_after(0.02):
            await commits.write(value("gives up"))  # first in the queue: the next leader
        group.start_soon(write, "next")
        await anyio.sleep(0.02)
        journal.gate.set()
    assert sorted(map(str, done)) == ["held", "next"]
    assert journal.batches == [["held"], ["next"]]


async def test_every_batch_runs_in_one_thread_of_its_own_which_ends_at_close() -> None:
    threads: list[int] = []

    def run_batch(_conn: None, writes: Sequence[Write[None]]) -> None:
        threads.append(threading.get_ident())
        for write in writes:
            write.result = write.fn(None)

    commits: GroupCommit[None] = GroupCommit(None, run_batch)
    for i in range(3):
        assert await commits.write(lambda _conn, i=i: i) == i  # alone: a batch each
    assert await commits.run(lambda _conn: threading.get_ident()) == threads[0]
    assert len(threads) == 3 and len(set(threads)) == 1
    assert threads[0] != threading.get_ident()  # not the event loop's thread
    commits.close()
    for _ in range(500):
        if threads[0] not in {t.ident for t in threading.enumerate()}:
            break
        await anyio.sleep(0.01)
    else:
        pytest.fail("the commit thread is still running after close")


async def test_a_batch_runs_inline_unless_the_inline_runner_declines() -> None:
    """`run_inline` runs a batch on the event loop's thread; when it declines (returns False,
    having done nothing), the same batch runs in the commit thread."""
    loop_thread = threading.get_ident()
    declines = [False, True, False]
    ran: list[tuple[str, bool]] = []

    def run_batch(_conn: None, writes: Sequence[Write[None]]) -> None:
        for write in writes:
            write.result = write.fn(None)
            ran.append((write.result, threading.get_ident() == loop_thread))

    def run_inline(conn: None, writes: Sequence[Write[None]]) -> bool:
        if declines.pop(0):
            return False
        run_batch(conn, writes)
        return True

    commits: GroupCommit[None] = GroupCommit(None, run_batch, run_inline=run_inline)
    try:
        for name in ("first", "second", "third"):
            assert await commits.write(lambda _conn, name=name: name) == name
    finally:
        commits.close()
    assert ran == [("first", True), ("second", False), ("third", True)]


async def test_a_fault_of_the_batch_runner_fails_its_writes_and_the_thread_goes_on() -> None:
    def run_batch(_conn: None, writes: Sequence[Write[None]]) -> None:
        if any(write.fn(None) == "boom" for write in writes):
            raise RuntimeError("the runner broke")
        for write in writes:
            write.result = write.fn(None)

    commits: GroupCommit[None] = GroupCommit(None, run_batch)
    try:
        with pytest.raises(RuntimeError, match="the runner broke"):
            await commits.write(lambda _conn: "boom")
        assert await commits.write(lambda _conn: "fine") == "fine"
    finally:
        commits.close()


async def test_sqlite_commits_concurrent_writes_in_few_transactions(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "state.db")
    try:
        owners = [stack(f"s{i}") for i in range(40)]
        before = store.commits
        async with anyio.create_task_group() as group:
            for owner in owners:
                group.start_soon(store.create_stack, owner, template(owner))
        assert store.commits - before < len(owners)
        assert {s.name for s in await store.list_stacks()} == {s.name for s in owners}
    finally:
        await store.close()


async def test_sqlite_a_refused_write_leaves_its_batch_committed(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = await SQLiteStore.open(db)
    taken = stack("taken")
    await store.create_stack(taken, template(taken))
    refused: list[str] = []

    async def create(name: str) -> None:
        owner = stack(name)
        try:
            await store.create_stack(owner, template(owner))
        except StackExists:
            refused.append(name)

    try:
        async with anyio.create_task_group() as group:
            for name in ("a", "b", "taken", "c", "d"):
                group.start_soon(create, name)
    finally:
        await store.close()
    reopened = await SQLiteStore.open(db)
    try:
        assert refused == ["taken"]
        assert sorted(s.name for s in await reopened.list_stacks()) == \
            ["a", "b", "c", "d", "taken"]
    finally:
        await reopened.close()

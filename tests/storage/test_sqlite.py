"""SQLite-specific behaviour: the file and its journal, migrations, and sharing one file
between connections and between processes."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from storage import DEFAULT_DB_URL, SQLiteStore, StackExists, StoreError, open_store
from storage.sqlite import BUSY_TIMEOUT_S, INLINE_COMMIT_S, _statements, migrations
from tests.storage.storage_samples import created, event, resource, stack, template

pytestmark = pytest.mark.anyio

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parents[1]


def inspect(path: Path, query: str) -> list[tuple[object, ...]]:
    """Run `query` on its own connection, as another program would."""
    with sqlite3.connect(path) as conn:
        return conn.execute(query).fetchall()


async def test_default_url_creates_the_file_in_wal_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store(DEFAULT_DB_URL)
    try:
        assert isinstance(store, SQLiteStore)
        await created(store)
        db = tmp_path / ".convergent" / "state.db"
        assert await anyio.Path(db).is_file()
        assert await anyio.Path(f"{db}-wal").is_file()
        assert inspect(db, "PRAGMA journal_mode") == [("wal",)]
    finally:
        await store.close()


async def test_connection_is_durable_and_checks_foreign_keys(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "state.db")
    try:
        conn = store._conn
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        # it runs batches on the event loop, which must not wait for a lock: a batch that
        # finds the file locked waits in the commit thread
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 0
    finally:
        await store.close()


def where_it_ran(loop_thread: int) -> Callable[[sqlite3.Connection], tuple[bool, int]]:
    """A write that reports whether it ran on the event loop's thread and how long its
    connection waits for a lock (ms)."""
    def write(conn: sqlite3.Connection) -> tuple[bool, int]:
        waits = conn.execute("PRAGMA busy_timeout").fetchone()[0]
        return threading.get_ident() == loop_thread, waits
    return write


async def test_writes_commit_on_the_event_loop_while_commits_are_quick(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "state.db")
    try:
        write = where_it_ran(threading.get_ident())
        assert await store._write(write) == (True, 0)
        owner = await created(store)  # a real write, committed and readable
        assert await store.get_stack(owner.id) == owner
        assert store._conn.commit_s > 0  # its COMMIT was timed
    finally:
        await store.close()


async def test_a_write_that_finds_the_file_locked_waits_in_the_commit_thread(
        tmp_path: Path) -> None:
    """Another connection holds the write lock: the batch goes to the commit thread, which
    waits for it, while the event loop goes on; then the write commits."""
    db = tmp_path / "state.db"
    store = await SQLiteStore.open(db)
    blocker = sqlite3.connect(db, isolation_level=None)
    ticks = 0
    result: list[tuple[bool, int]] = []

    async def write() -> None:
        result.append(await store._write(where_it_ran(threading.get_ident())))

    try:
        blocker.execute("BEGIN IMMEDIATE")
        async with anyio.create_task_group() as group:
            group.start_soon(write)
            for _ in range(20):
                await anyio.sleep(0.01)
                ticks += 1
            assert result == []  # still waiting for the lock
            blocker.execute("ROLLBACK")
        assert ticks == 20
        assert result == [(False, int(BUSY_TIMEOUT_S * 1000))]
        assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 0  # loop: no wait
        owner = await created(store)
        assert await store.get_stack(owner.id) == owner
    finally:
        blocker.close()
        await store.close()


async def test_writes_go_to_the_commit_thread_while_commits_are_slow(tmp_path: Path) -> None:
    """A disk slow to sync must not hold up the event loop: batches go to the commit thread
    while the average COMMIT is over `INLINE_COMMIT_S`, and come back once it is under."""
    store = await SQLiteStore.open(tmp_path / "state.db")
    try:
        write = where_it_ran(threading.get_ident())
        store._conn.commit_s = 0.05  # as if each commit had taken 50 ms
        on_loop = [(await store._write(write))[0] for _ in range(100)]
        assert on_loop[0] is False
        back = on_loop.index(True)  # quick commits in the thread brought the average down
        assert all(on_loop[back:])
        assert store._conn.commit_s <= INLINE_COMMIT_S
    finally:
        await store.close()


async def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    await (await SQLiteStore.open(db)).close()
    recorded = inspect(db, "SELECT version, applied_at FROM schema_migrations ORDER BY version")
    assert [v for v, _ in recorded] == [v for v, _ in migrations()]
    await (await SQLiteStore.open(db)).close()
    assert inspect(db, "SELECT version, applied_at FROM schema_migrations") == recorded


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    await (await SQLiteStore.open(db)).close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (9999, 0.0)")
    with pytest.raises(StoreError, match="newer"):
        await SQLiteStore.open(db)


def test_migration_scripts_split_into_statements() -> None:
    script = textwrap.dedent(
        """\
        -- a comment; with a semicolon
        CREATE TABLE t (x TEXT DEFAULT ';');
        CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
            UPDATE t SET x = 'a;b';
            DELETE FROM t WHERE x IS NULL;
        END;
        -- trailing comment
        """
    )
    statements = list(_statements(script))
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(StoreError, match="incomplete"):
        list(_statements("CREATE TABLE u (x TEXT"))


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = await SQLiteStore.open(db)
    owner = await created(store)
    row = resource(owner)
    await store.add_resource(row)
    appended = await store.append_event(event(owner))
    await store.close()
    await store.close()  # closing twice is harmless

    reopened = await SQLiteStore.open(db)
    try:
        assert await reopened.get_stack(owner.id) == owner
        assert await reopened.list_resources(owner.id) == [row]
        assert await reopened.list_events(owner.id) == [appended]
        assert (await reopened.append_event(event(owner))).id > appended.id
    finally:
        await reopened.close()


async def test_two_connections_share_one_file(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    one = await SQLiteStore.open(db)
    two = await SQLiteStore.open(db)
    try:
        written = await created(one)
        assert await two.get_stack(written.id) == written
        await two.add_resource(resource(written))
        assert len(await one.list_resources(written.id)) == 1

        winners: list[str] = []

        async def try_lock(store: SQLiteStore, engine_id: str) -> None:
            if await store.acquire_stack_lock(written.id, engine_id):
                winners.append(engine_id)

        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(try_lock, (one, two)[n % 2], f"engine-{n}")
        assert len(winners) == 1
        locked = await one.get_stack(written.id)
        assert locked is not None and locked.engine_id == winners[0]
    finally:
        await one.close()
        await two.close()


async def test_two_connections_race_for_one_name(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    stores = [await SQLiteStore.open(db) for _ in range(2)]
    outcomes: list[str] = []

    async def try_create(store: SQLiteStore) -> None:
        candidate = stack("contested")
        try:
            await store.create_stack(candidate, template(candidate))
        except StackExists:
            outcomes.append("lost")
        else:
            outcomes.append("won")

    try:
        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(try_create, stores[n % 2])
    finally:
        for store in stores:
            await store.close()
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]


CHILD = """
import sys
root, tests, db = sys.argv[1:4]
sys.path[:0] = [root]
import anyio
from storage import SQLiteStore, StackExists
from tests.storage.storage_samples import stack, template

async def main():
    store = await SQLiteStore.open(db)
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        candidate = stack("raced")
        try:
            await store.create_stack(candidate, template(candidate))
        except StackExists:
            print("lost", flush=True)
        else:
            print("won", flush=True)
    finally:
        await store.close()

anyio.run(main, backend="trio")
"""


@pytest.mark.slow
async def test_processes_race_on_a_fresh_file(tmp_path: Path) -> None:
    """Several processes open a new file at once (migrations race), then all create
    the same stack name at once: exactly one wins."""
    db = tmp_path / "state.db"
    command = [sys.executable, "-c", CHILD, str(ROOT), str(TESTS_DIR), str(db)]
    with anyio.fail_after(60):
        async with contextlib.AsyncExitStack() as stack_:
            processes = [
                await stack_.enter_async_context(await anyio.open_process(command, stderr=None))
                for _ in range(4)
            ]
            lines = [BufferedByteReceiveStream(p.stdout) for p in processes if p.stdout]
            for line in lines:
                assert await line.receive_until(b"\n", 64) == b"ready"
            for process in processes:
                assert process.stdin is not None
                await process.stdin.send(b"go\n")
            outcomes = [await line.receive_until(b"\n", 64) for line in lines]
            assert [await p.wait() for p in processes] == [0] * len(processes)

    assert sorted(outcomes) == [b"lost"] * (len(processes) - 1) + [b"won"]
    assert inspect(db, "SELECT name FROM stacks") == [("raced",)]
    assert len(inspect(db, "SELECT version FROM schema_migrations")) == len(migrations())


async def test_a_read_that_finds_the_file_busy_is_retried_in_a_thread(tmp_path: Path) -> None:
    """The read connection never waits for a lock; when SQLite answers busy, the read is run
    again in a worker thread, on the connection that waits, and its answer is returned."""
    store = await SQLiteStore.open(tmp_path / "state.db")
    owner = await created(store)
    loop_thread = threading.get_ident()
    calls: list[tuple[bool, bool]] = []

    def read(conn: sqlite3.Connection) -> object:
        on_loop = threading.get_ident() == loop_thread
        calls.append((on_loop, conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0))
        if on_loop:
            busy = sqlite3.OperationalError("database is locked")
            busy.sqlite_errorname = "SQLITE_BUSY"
            raise busy
        return conn.execute("SELECT name FROM stacks WHERE id = ?", (owner.id,)).fetchone()

    try:
        assert await store._call(read) == (owner.name,)
        assert calls == [(True, False), (False, True)]

        def broken(conn: sqlite3.Connection) -> object:
            return conn.execute("SELECT no_such_column FROM stacks").fetchone()

        with pytest.raises(sqlite3.OperationalError, match="no_such_column"):
            await store._call(broken)  # any other error is not retried
    finally:
        await store.close()

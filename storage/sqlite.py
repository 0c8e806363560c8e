"""The embedded store: one SQLite file, shared safely by several local processes.

How it keeps the `Store` invariants of `storage.base`:

* reads run on the calling thread, on a read connection (`query_only`) that
  never waits for a lock: in WAL mode a read only finds the file busy in rare
  cases (another process resetting the WAL, an exclusive lock), and then it is
  run in a worker thread on a second read connection that waits up to
  `BUSY_TIMEOUT_S`. A read is a few statements on pages in the cache, cheaper
  than the hand-off to a thread that it would otherwise cost;
* writes go through `storage.group_commit`, on a write connection, one batch
  at a time: the writes queued while a commit is under way share the next
  transaction and its one fsync. A write's caller returns only after that
  commit, and a write once taken runs to its end even if its caller is
  cancelled, so a transaction always commits or rolls back as a whole;
* a batch runs right on the event loop's thread, on a write connection that
  never waits for a lock, while its commits are quick (`INLINE_COMMIT_S` on
  average, a few hundred microseconds on a local disk): that spares the
  hand-off to a thread and the two threads' contention for the GIL. When
  another process holds the write lock, or when the disk is slow to sync, the
  batch runs in the group's commit thread instead, which waits up to
  `BUSY_TIMEOUT_S` for the lock, so that neither a busy file nor a slow fsync
  holds up the event loop;
* each write method is one transaction's worth of statements. Writes run in
  `BEGIN IMMEDIATE`, which takes the file's write lock before reading, so a
  check-then-write (name taken? lock holder?) is atomic across processes;
  a write waits up to `BUSY_TIMEOUT_S` for another process's lock (in the
  commit thread). When a write of a batch fails, the batch is rolled back and
  each of its writes runs alone, so one write's error never undoes another's;
* WAL journal with `synchronous=FULL`: a commit is fsynced before any write
  method it holds returns, so a reported state survives a power loss, and
  readers never block the writer;
* foreign keys are on: children of a missing stack are refused (`NotFound`) and
  deleting a stack cascades to its templates, resources and events;
* the schema comes from the numbered files in `migrations/sqlite/`, applied at
  open in order, each in its own `BEGIN IMMEDIATE` transaction that re-checks
  `schema_migrations`, so processes opening a fresh file at once apply each
  migration exactly once;
* how records map to rows, and the fixed SQL text of every statement (prepared
  once by the connection's statement cache), live in `storage.sqlite_rows`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import os
import re
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

from storage import sqlite_rows as sql
from storage.base import (
    NotFound,
    StackExists,
    StoreError,
    TraversalBuilder,
    TraversalStart,
    check_traversal_start,
)
from storage.group_commit import GroupCommit, Write
from storage.records import (
    EngineRecord,
    EventRecord,
    NodeKey,
    NodeState,
    ReadyNode,
    ResourceRecord,
    StackRecord,
    SyncPoint,
    TemplateRecord,
    TraversalRecord,
    evolve,
)

T = TypeVar("T")

DEFAULT_PATH = Path(".convergent") / "state.db"
#: how long a call waits for another process's write transaction to finish
BUSY_TIMEOUT_S = 30.0
#: batches run on the event loop's thread while COMMIT (its WAL write and fsync) takes at
#: most this long on average; beyond, in the commit thread, so the loop goes on meanwhile
INLINE_COMMIT_S = 0.002
#: the weight of the latest COMMIT in that average
COMMIT_WEIGHT = 0.1



class Connection(sqlite3.Connection):
    """A connection that counts the statements it runs (a trace callback would cost more:
    it expands every statement with its values)."""

    statements = 0
    #: whether any ready entry is parked, once known in the current write transaction (which
    #: holds the write lock: only its own writes can change it)
    parked: bool | None = None

    #: a running average of this connection's COMMIT times, in seconds (`timed_commit`)
    commit_s = 0.0

    def timed_commit(self) -> None:
        """COMMIT, and fold how long it took into `commit_s`."""
        started = time.perf_counter()
        self.execute("COMMIT")
        self.commit_s += (time.perf_counter() - started - self.commit_s) * COMMIT_WEIGHT

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.statements += 1
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        rows = list(parameters)
        self.statements += len(rows)
        return super().executemany(sql, rows)


class SQLiteStore:
    """A `Store` in one SQLite file; open it with `await SQLiteStore.open(path)`."""

    def __init__(self, writer: Connection, reader: Connection, patient: Connection,
                 url: str) -> None:
        self.url = url
        self._conn = writer
        self._reader = reader
        self._patient = patient
        self._commits = GroupCommit(writer, _run_batch, run_inline=_run_batch_inline)
        self._read_limiter = anyio.CapacityLimiter(1)
        self._closed = False

    @classmethod
    async def open(cls, path: str | os.PathLike[str] = DEFAULT_PATH) -> SQLiteStore:
        """Open (creating it and its directory if needed) and migrate the database at `path`."""
        path = Path(path)
        opened: list[Connection] = []
        try:
            opened.append(await anyio.to_thread.run_sync(_connect, path))
            await anyio.to_thread.run_sync(_migrate, opened[0])
            opened.append(await anyio.to_thread.run_sync(_connect, path, 0.0))
            opened.append(await anyio.to_thread.run_sync(_connect, path, BUSY_TIMEOUT_S))
        except BaseException:
            for conn in opened:
                conn.close()
            raise
        writer, reader, patient = opened
        writer.execute("PRAGMA busy_timeout = 0")  # `_run_batch_inline` must not wait
        writer.commit_s = 0.0  # the migrations' commits say nothing of the ones to come
        return cls(writer, reader, patient, f"sqlite:///{path}")

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._commits.run(Connection.close)
            self._commits.close()
            self._reader.close()
            await anyio.to_thread.run_sync(self._patient.close, limiter=self._read_limiter)

    @property
    def statements(self) -> int:
        """SQL statements run so far on this store's connections (for benchmarks)."""
        return self._conn.statements + self._reader.statements + self._patient.statements

    @property
    def commits(self) -> int:
        """Write transactions committed so far, each holding one or more writes."""
        return self._commits.batches

    async def _call(self, fn: Callable[[Connection], T]) -> T:
        """Run the read `fn` right here on the read connection, which never waits for a lock;
        in the rare case SQLite is busy (a WAL reset by another process), run it in a worker
        thread on a connection that waits. (No full checkpoint: a read takes microseconds, and
        its callers yield at their writes.)"""
        await anyio.lowlevel.checkpoint_if_cancelled()
        try:
            return fn(self._reader)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        return await anyio.to_thread.run_sync(fn, self._patient, limiter=self._read_limiter)

    async def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn` in a `BEGIN IMMEDIATE` transaction, committed (and fsynced) with the
        writes queued beside it before this returns."""
        return await self._commits.write(fn)

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn` as one read transaction: its statements see one snapshot."""
        return await self._call(functools.partial(_in_transaction, fn, begin="BEGIN"))

    # stacks

    async def create_stack(self, stack: StackRecord, template: TemplateRecord) -> None:
        def create(conn: Connection) -> None:
            if conn.execute(sql.STACK_NAME_TAKEN, (stack.name,)).fetchone():
                raise StackExists(stack.name)
            with _constraints(f"stack id {stack.id!r} is already stored"):
                conn.execute(sql.INSERT_STACK, sql.stack_row(stack))
            with _constraints(f"template id {template.id!r} is already stored"):
                conn.execute(sql.INSERT_TEMPLATE, sql.template_row(template))

        await self._write(create)

    async def get_stack(self, name_or_id: str) -> StackRecord | None:
        row = await self._call(lambda c: c.execute(sql.GET_STACK, (name_or_id,)).fetchone())
        return None if row is None else sql.stack_from_row(row)

    async def list_stacks(self) -> list[StackRecord]:
        rows = await self._call(lambda c: c.execute(sql.LIST_STACKS).fetchall())
        return [sql.stack_from_row(row) for row in rows]

    async def save_stack(self, stack: StackRecord, event: EventRecord | None = None) -> None:
        def save(conn: Connection) -> None:
            if not _update_stack(conn, stack.name, sql.SAVE_STACK, sql.stack_save_row(stack)):
                raise NotFound(f"no stack {stack.id!r}")
            if event is not None:
                _insert_events(conn, [event])

        await self._write(save)

    async def delete_stack(self, stack_id: str) -> None:
        await self._write(lambda c: c.execute(sql.DELETE_STACK, (stack_id,)))

    async def acquire_stack_lock(
        self, stack_id: str, engine_id: str, expected: str | None = None
    ) -> bool:
        def acquire(conn: Connection) -> bool:
            if conn.execute(sql.ACQUIRE_STACK_LOCK, (engine_id, stack_id, expected)).rowcount:
                return True
            if conn.execute(sql.STACK_EXISTS, (stack_id,)).fetchone() is None:
                raise NotFound(f"no stack {stack_id!r}")
            return False

        return await self._write(acquire)

    async def release_stack_lock(self, stack_id: str, engine_id: str) -> None:
        await self._write(lambda c: c.execute(sql.RELEASE_STACK_LOCK, (stack_id, engine_id)))

    async def request_cancel(self, stack_id: str, rollback: bool) -> None:
        request = "rollback" if rollback else "no_rollback"

        def save(conn: Connection) -> None:
            if conn.execute(sql.REQUEST_CANCEL, (request, stack_id)).rowcount == 0:
                raise NotFound(f"no stack {stack_id!r}")

        await self._write(save)

    async def take_cancel_request(self, stack_id: str) -> bool | None:
        def peek(conn: Connection) -> Any:
            return conn.execute(sql.PEEK_CANCEL_REQUEST, (stack_id,)).fetchone()

        # A read first: the common answer is "no request", which needs no write lock.
        found = await self._call(peek)
        if found is None or found[0] is None:
            return None

        def take(conn: Connection) -> bool | None:
            row = conn.execute(sql.PEEK_CANCEL_REQUEST, (stack_id,)).fetchone()
            if row is None or row[0] is None:
                return None
            conn.execute(sql.REQUEST_CANCEL, (None, stack_id))
            return bool(row[0] == "rollback")

        return await self._write(take)

    # templates

    async def store_template(self, template: TemplateRecord) -> None:
        def store(conn: Connection) -> None:
            with _constraints(f"template id {template.id!r} is already stored"):
                conn.execute(sql.INSERT_TEMPLATE, sql.template_row(template))

        await self._write(store)

    async def get_template(self, template_id: str) -> TemplateRecord | None:
        row = await self._call(lambda c: c.execute(sql.GET_TEMPLATE, (template_id,)).fetchone())
        return None if row is None else sql.template_from_row(row)

    async def delete_template(self, template_id: str) -> None:
        await self._write(lambda c: c.execute(sql.DELETE_TEMPLATE, (template_id,)))

    # resources

    async def add_resource(
        self, resource: ResourceRecord, event: EventRecord | None = None
    ) -> None:
        def add(conn: Connection) -> None:
            with _constraints(f"resource id {resource.id!r} is already stored"):
                conn.execute(sql.INSERT_RESOURCE, sql.resource_row(resource))
            if event is not None:
                _insert_events(conn, [event])

        await self._write(add)

    async def save_resource(
        self, resource: ResourceRecord, event: EventRecord | None = None
    ) -> None:
        await self.save_resources([resource], [event] if event else [])

    async def save_resources(
        self, resources: Sequence[ResourceRecord], events: Sequence[EventRecord]
    ) -> None:
        await self._write(functools.partial(_save_resources, resources=resources, events=events))

    async def write_resources(
        self,
        added: Sequence[ResourceRecord],
        saved: Sequence[ResourceRecord],
        dropped: Sequence[str],
        events: Sequence[EventRecord],
    ) -> None:
        def write(conn: Connection) -> None:
            for resource in added:
                with _constraints(f"resource id {resource.id!r} is already stored"):
                    conn.execute(sql.INSERT_RESOURCE, sql.resource_row(resource))
            _save_resources(conn, saved, events)
            for resource_id in dropped:
                conn.execute(sql.DELETE_RESOURCE, (resource_id,))

        await self._write(write)

    async def get_resource(self, resource_id: str) -> ResourceRecord | None:
        row = await self._call(lambda c: c.execute(sql.GET_RESOURCE, (resource_id,)).fetchone())
        return None if row is None else sql.resource_from_row(row)

    async def list_resources(self, stack_id: str) -> list[ResourceRecord]:
        rows = await self._call(lambda c: c.execute(sql.LIST_RESOURCES, (stack_id,)).fetchall())
        return [sql.resource_from_row(row) for row in rows]

    async def delete_resource(self, resource_id: str) -> None:
        await self._write(lambda c: c.execute(sql.DELETE_RESOURCE, (resource_id,)))

    # events

    async def append_event(self, event: EventRecord) -> EventRecord:
        def append(conn: Connection) -> int:
            with _constraints("event ids are assigned by the store"):
                event_id = conn.execute(sql.INSERT_EVENT, sql.event_row(event)).lastrowid
            assert event_id is not None
            return event_id

        return evolve(event, id=await self._write(append))

    async def list_events(
        self, stack_id: str, after: int = 0, resource_name: str | None = None
    ) -> list[EventRecord]:
        args: tuple[object, ...]
        if resource_name is None:
            query, args = sql.LIST_EVENTS, (stack_id, after)
        else:
            query, args = sql.LIST_RESOURCE_EVENTS, (stack_id, after, resource_name)
        rows = await self._call(lambda c: c.execute(query, args).fetchall())
        return [sql.event_from_row(row) for row in rows]

    # engines

    async def register_engine(self, engine: EngineRecord) -> None:
        await self._write(lambda c: c.execute(sql.REGISTER_ENGINE, sql.engine_row(engine)))

    async def heartbeat(self, engine_id: str, now: float) -> None:
        def beat(conn: Connection) -> None:
            if conn.execute(sql.HEARTBEAT, (now, engine_id)).rowcount == 0:
                raise NotFound(f"no engine {engine_id!r}")

        await self._write(beat)

    async def get_engine(self, engine_id: str) -> EngineRecord | None:
        row = await self._call(lambda c: c.execute(sql.GET_ENGINE, (engine_id,)).fetchone())
        return None if row is None else EngineRecord(*row)

    async def list_engines(self) -> list[EngineRecord]:
        rows = await self._call(lambda c: c.execute(sql.LIST_ENGINES).fetchall())
        return [EngineRecord(*row) for row in rows]

    async def remove_engine(self, engine_id: str) -> None:
        await self._write(lambda c: c.execute(sql.REMOVE_ENGINE, (engine_id,)))

    # convergence: traversals, sync points, the ready queue, resource locks

    async def start_traversal(
        self, stack_id: str, build: TraversalBuilder
    ) -> TraversalStart | None:
        def start(conn: Connection) -> TraversalStart | None:
            found = conn.execute(sql.GET_STACK, (stack_id,)).fetchone()
            if found is None or found[0] != stack_id:
                raise NotFound(f"no stack {stack_id!r}")
            old = sql.stack_from_row(found)
            rows = conn.execute(sql.LIST_RESOURCES, (stack_id,)).fetchall()
            begun = build(old, [sql.resource_from_row(row) for row in rows])
            if begun is None:
                return None
            check_traversal_start(begun)
            if begun.stack.id != stack_id:
                raise StoreError(f"the traversal is not for stack {stack_id!r}")
            args = sql.start_stack_row(begun.stack, begun.traversal.id, old.traversal_id)
            if not _update_stack(conn, begun.stack.name, sql.START_TRAVERSAL, args):
                raise StoreError(f"stack {stack_id!r} changed during its own transaction")
            if old.traversal_id is not None:
                for statement in sql.PURGE_TRAVERSAL:
                    conn.execute(statement, (old.traversal_id,))
            with _constraints("a traversal, sync point, template or resource id is already stored"):
                if begun.template is not None:
                    conn.execute(sql.INSERT_TEMPLATE, sql.template_row(begun.template))
                _insert_traversal(conn, begun.traversal, begun.sync_points, begun.new_resources)
            _insert_events(conn, begun.events)
            return begun

        return await self._write(start)

    async def save_stack_in_traversal(
        self, stack: StackRecord, traversal_id: str, event: EventRecord | None = None
    ) -> bool:
        args = (*sql.stack_save_row(stack), traversal_id)

        def save(conn: Connection) -> bool:
            if not _update_stack(conn, stack.name, sql.SAVE_STACK_IN_TRAVERSAL, args):
                return False
            if event is not None:
                _insert_events(conn, [event])
            return True

        return await self._write(save)

    async def delete_stack_in_traversal(self, stack_id: str, traversal_id: str) -> bool:
        args = (stack_id, traversal_id)
        return bool(await self._write(
            lambda c: c.execute(sql.DELETE_STACK_IN_TRAVERSAL, args).rowcount))

    async def get_traversal(self, traversal_id: str) -> TraversalRecord | None:
        row = await self._call(lambda c: c.execute(sql.GET_TRAVERSAL, (traversal_id,)).fetchone())
        return None if row is None else sql.traversal_from_row(row)

    async def cancel_traversal(self, traversal_id: str) -> None:
        await self._write(lambda c: c.execute(sql.CANCEL_TRAVERSAL, (traversal_id,)))

    async def get_sync_point(self, traversal_id: str, node: NodeKey) -> SyncPoint | None:
        return await self._read(functools.partial(_sync_point, traversal_id, node))

    async def get_node_state(self, traversal_id: str, node: NodeKey) -> NodeState | None:
        return await self._call(functools.partial(_node_state, traversal_id, node))

    async def deliver(
        self,
        traversal_id: str,
        sender: NodeKey,
        deliveries: Sequence[tuple[NodeKey, Mapping[str, Any]]],
        claimant: str | None = None,
    ) -> list[ReadyNode]:
        return await self._write(
            functools.partial(_deliver, traversal_id, sender, deliveries, claimant)
        )

    async def claim_ready(
        self, engine_id: str, limit: int, stack_id: str | None = None
    ) -> list[ReadyNode]:
        limit = max(limit, 0)  # SQLite reads a negative LIMIT as no limit
        args: tuple[object, ...]
        peek_args: tuple[object, ...]
        if stack_id is None:
            peek, peek_args = sql.ANY_CLAIMABLE, ()
            query, args = sql.CLAIM_READY, (engine_id, limit)
        else:
            peek, peek_args = sql.ANY_STACK_CLAIMABLE, (stack_id,)
            query, args = sql.CLAIM_STACK_READY, (engine_id, limit, stack_id)
        if limit == 0 or not await self._call(lambda c: c.execute(peek, peek_args).fetchone()):
            return []
        rows = await self._write(lambda c: c.execute(query, args).fetchall())
        return sql.claimed_from_rows(rows)

    async def release_claims(self, engine_id: str) -> int:
        return await self._write(lambda c: c.execute(sql.RELEASE_CLAIMS, (engine_id,)).rowcount)

    async def finish_ready(self, traversal_id: str, node: NodeKey) -> None:
        key = (traversal_id, node.phase.value, node.ref)
        await self._write(lambda c: c.execute(sql.FINISH_READY, key))

    async def park(self, traversal_id: str, node: NodeKey, resource_id: str) -> bool:
        args = (resource_id, traversal_id, node.phase.value, node.ref)

        def park(conn: Connection) -> bool:
            parked = bool(conn.execute(sql.PARK, args).rowcount)
            if parked:
                conn.parked = True
            return parked

        return await self._write(park)

    async def lock_resource(
        self,
        resource_id: str,
        engine_id: str,
        traversal_id: str,
        expected: str | None = None,
        requires: Sequence[str] = (),
        *,
        version: int | None = None,
        save: tuple[ResourceRecord, EventRecord] | None = None,
    ) -> ResourceRecord | None:
        if save is not None and save[0].id != resource_id:
            raise StoreError(f"lock_resource of {resource_id!r} cannot save {save[0].id!r}")

        def lock(conn: Connection) -> ResourceRecord | None:
            if save is not None:
                row, event = save
                if requires:
                    row = evolve(
                        row, requires=tuple(sorted(set(row.requires) | set(requires))))
                args = sql.lock_save_row(row, engine_id, expected, version, traversal_id)
                with _constraints("a resource id cannot change"):
                    found = conn.execute(sql.LOCK_AND_SAVE_RESOURCE, args).fetchone()
                if found is None:
                    return None
                _insert_events(conn, [event])
                stack_id, created_at, atomic_key = found
                return evolve(row, stack_id=stack_id, created_at=created_at,
                              engine_id=engine_id, atomic_key=atomic_key)
            else:
                merged = None
                if requires:
                    stored = conn.execute(sql.RESOURCE_REQUIRES, (resource_id,)).fetchone()
                    if stored is None:
                        return None
                    merged = sql.requires_union(stored[0], requires)
                args = (engine_id, resource_id, expected, traversal_id, merged, version)
                found = conn.execute(sql.LOCK_RESOURCE, args).fetchone()
            return None if found is None else sql.resource_from_row(found)

        return await self._write(lock)

    async def unlock_resource(
        self, resource_id: str, engine_id: str, claimant: str | None = None
    ) -> list[ReadyNode]:
        return await self._write(
            functools.partial(_unlock, resource_id, engine_id, claimant or engine_id)
        )

    async def finish_node(
        self,
        traversal_id: str,
        node: NodeKey,
        engine_id: str,
        unlock: Sequence[str],
        deliveries: Sequence[tuple[NodeKey, Mapping[str, Any]]],
        save: tuple[ResourceRecord, EventRecord] | None = None,
        *,
        drop: bool = False,
        passes: Collection[NodeKey] = (),
    ) -> list[ReadyNode]:
        key = (traversal_id, node.phase.value, node.ref)

        def finish(conn: Connection) -> list[ReadyNode]:
            unlocked = None
            if save is not None:
                row, event = save
                if drop:  # its last state is told by the event alone; gone, it is unlocked
                    if not conn.execute(sql.DELETE_RESOURCE, (row.id,)).rowcount:
                        raise NotFound(f"no resource {row.id!r}")
                    _insert_events(conn, [event])
                    unlocked = row.id
                elif row.id in unlock and conn.execute(
                        sql.SAVE_AND_UNLOCK_RESOURCE, sql.save_unlock_row(row, engine_id)
                ).rowcount:
                    unlocked = row.id
                    _insert_events(conn, [event])
                else:
                    _save_resources(conn, [row], [event])
            entries = [e for r in unlock
                       for e in (_unpark(r, engine_id, conn) if r == unlocked
                                 else _unlock(r, engine_id, engine_id, conn))]
            entries += _deliver(traversal_id, node, deliveries, engine_id, conn, passes)
            conn.execute(sql.FINISH_READY, key)
            return entries

        return await self._write(finish)

    async def replace_resource(
        self,
        old: ResourceRecord | None,
        new: ResourceRecord,
        traversal_id: str,
        event: EventRecord | None = None,
    ) -> bool:
        def replace(conn: Connection) -> bool:
            current = conn.execute(sql.STACK_TRAVERSAL, (new.stack_id,)).fetchone()
            if current is None or current[0] != traversal_id:
                return False
            with _constraints(f"resource id {new.id!r} is already stored"):
                conn.execute(sql.INSERT_RESOURCE, sql.resource_row(new))
            if old is not None:
                with _constraints("a resource id cannot change"):
                    saved = conn.execute(sql.SAVE_RESOURCE, sql.resource_save_row(old)).rowcount
                if not saved:
                    raise NotFound(f"no resource {old.id!r}")
            if event is not None:
                _insert_events(conn, [event])
            return True

        return await self._write(replace)

    async def purge_traversal(self, traversal_id: str) -> None:
        def purge(conn: Connection) -> None:
            for statement in sql.PURGE_TRAVERSAL:
                conn.execute(statement, (traversal_id,))

        await self._write(purge)

    async def purge_templates(self, stack_id: str) -> int:
        return await self._write(lambda c: c.execute(sql.PURGE_TEMPLATES, (stack_id,)).rowcount)

    async def list_ready(self, stack_id: str) -> list[ReadyNode]:
        rows = await self._call(lambda c: c.execute(sql.LIST_READY, (stack_id,)).fetchall())
        return [sql.ready_from_row(row) for row in rows]


# connection and transactions (these run in worker threads)


def _connect(path: Path, read_timeout: float | None = None) -> Connection:
    """The write connection, or (with `read_timeout`) a read-only one waiting that long for
    a lock once opened. Opening waits up to `BUSY_TIMEOUT_S` either way: setting the
    journal mode may have to wait for another process (a fresh file, a WAL recovery)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: the store issues BEGIN/COMMIT itself.
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False,
        factory=Connection,
    )
    try:
        _configure(conn, path)
        if read_timeout is not None:
            conn.execute("PRAGMA query_only = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(read_timeout * 1000)}")
    except BaseException:
        conn.close()
        raise
    return conn


def _busy(exc: sqlite3.OperationalError) -> bool:
    return exc.sqlite_errorname.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _configure(conn: Connection, path: Path) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    mode = _wal_mode(conn)
    if mode != "wal":
        raise StoreError(f"cannot use WAL journaling for {path} (got {mode!r})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


def _wal_mode(conn: Connection) -> str:
    """Switch to WAL journaling; the journal mode it ends in.

    Switching may answer busy at once, whatever the busy timeout (SQLite does not wait
    where waiting could deadlock), while other processes open a fresh file at the same
    time: retry for up to `BUSY_TIMEOUT_S`.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return str(mode)
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _in_transaction(
    fn: Callable[[Connection], T], conn: Connection, begin: str = "BEGIN IMMEDIATE"
) -> T:
    conn.execute(begin)
    conn.parked = None
    try:
        result = fn(conn)
        conn.timed_commit()
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _run_batch_inline(conn: Connection, writes: Sequence[Write[Connection]]) -> bool:
    """Run a batch of writes as one transaction on the calling thread (the event loop's), if
    commits have been quick; False if not, or if the transaction failed: it was rolled back
    and `_run_batch` runs it in the commit thread, waiting for a lock another process holds
    (the write connection does not wait here) and running each write alone if one fails."""
    if conn.commit_s > INLINE_COMMIT_S:
        return False
    try:
        results = _in_transaction(lambda c: [write.fn(c) for write in writes], conn)
    except Exception:
        return False
    for write, result in zip(writes, results, strict=True):
        write.result = result
    return True


def _run_batch(conn: Connection, writes: Sequence[Write[Connection]]) -> None:
    """Run a batch of writes as one transaction, waiting up to `BUSY_TIMEOUT_S` for the
    write lock; if any of them fails, roll it back and run each write in a transaction of
    its own, so each gets its own outcome."""
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    try:
        _run_each(conn, writes)
    finally:
        conn.execute("PRAGMA busy_timeout = 0")


def _run_each(conn: Connection, writes: Sequence[Write[Connection]]) -> None:
    """The batch in one transaction, or, if that fails, each write in one of its own."""
    if len(writes) > 1:
        try:
            results = _in_transaction(lambda c: [write.fn(c) for write in writes], conn)
        except Exception:
            pass
        else:
            for write, result in zip(writes, results, strict=True):
                write.result = result
            return
    for write in writes:
        try:
            write.result = _in_transaction(write.fn, conn)
        except Exception as exc:
            write.error = exc


@contextlib.contextmanager
def _constraints(duplicate: str) -> Iterator[None]:
    """Translate constraint failures: a missing parent stack is `NotFound`; a duplicate
    key is a `StoreError` saying `duplicate`."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY":
            raise NotFound("the stack the record belongs to does not exist") from None
        if exc.sqlite_errorname in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"):
            raise StoreError(duplicate) from None
        raise


def _update_stack(conn: Connection, name: str, statement: str, args: sql.Row) -> bool:
    """Run a stack UPDATE; False if it matched no row, `StackExists` if `name` is taken."""
    try:
        return bool(conn.execute(statement, args).rowcount)
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE":
            raise StackExists(name) from None
        raise


def _insert_events(conn: Connection, events: Sequence[EventRecord]) -> None:
    with _constraints("event ids are assigned by the store"):
        if len(events) == 1:
            conn.execute(sql.INSERT_EVENT, sql.event_row(events[0]))
        elif events:
            conn.executemany(sql.INSERT_EVENT, map(sql.event_row, events))


def _unlock(resource_id: str, engine_id: str, claimant: str, conn: Connection) -> list[ReadyNode]:
    """`unlock_resource` within a transaction."""
    if not conn.execute(sql.UNLOCK_RESOURCE, (resource_id, engine_id)).rowcount:
        holder = conn.execute(sql.RESOURCE_LOCK_HOLDER, (resource_id,)).fetchone()
        if holder is not None and holder[0] is not None:
            return []  # another engine holds it: its entries stay parked
    return _unpark(resource_id, claimant, conn)


def _unpark(resource_id: str, claimant: str, conn: Connection) -> list[ReadyNode]:
    """Unpark (claimed for `claimant`) the entries parked on a resource just unlocked."""
    if conn.parked is None:
        conn.parked = conn.execute(sql.ANY_PARKED).fetchone() is not None
    if not conn.parked:
        return []
    return sql.ready_from_rows(conn.execute(sql.UNPARK, (claimant, resource_id)).fetchall())


def _sync_point(traversal_id: str, node: NodeKey, conn: Connection) -> SyncPoint | None:
    key = (traversal_id, node.phase.value, node.ref)
    row = conn.execute(sql.GET_SYNC_POINT, key).fetchone()
    if row is None:
        return None
    inputs = sql.deliveries_from_rows(conn.execute(sql.LIST_INPUTS, key).fetchall())
    return sql.sync_point_from_rows(traversal_id, node, row, inputs)


def _node_state(traversal_id: str, node: NodeKey, conn: Connection) -> NodeState | None:
    """`get_node_state` in one statement, which sees one snapshot; a node whose row was
    replaced follows the chain of rows in a read transaction (`_node_state_chained`)."""
    key = (traversal_id, node.phase.value, node.ref)
    found = conn.execute(sql.GET_NODE_WHOLE, key).fetchone()
    if found is None:
        return None
    stack_end = sql.TRAVERSAL_WIDTH + sql.STACK_WIDTH
    row_start = stack_end + sql.POINT_WIDTH + 1
    if found[row_start] is not None and found[row_start + sql.REPLACED_BY] is not None:
        return _in_transaction(functools.partial(_node_state_chained, traversal_id, node),
                               conn, begin="BEGIN")
    traversal = _parsed(sql.traversal_from_row, found[:sql.TRAVERSAL_WIDTH])
    stack = _parsed(sql.stack_from_row, found[sql.TRAVERSAL_WIDTH:stack_end])
    inputs = sql.deliveries_from_json(found[row_start - 1])
    sync = sql.sync_point_from_rows(traversal_id, node, found[stack_end:row_start - 1], inputs)
    rows = () if found[row_start] is None else (sql.resource_from_row(found[row_start:]),)
    return NodeState(stack, traversal, sync, rows)


#: records parsed from rows, by the row: every node of a traversal reads the same stack and
#: traversal rows (records are immutable, so sharing them is safe)
_PARSED: dict[tuple[Callable[[sql.Row], Any], sql.Row], Any] = {}
_PARSED_MAX = 256


def _parsed(parse: Callable[[sql.Row], T], row: sql.Row) -> T:
    key = (parse, row)
    found = _PARSED.get(key)
    if found is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        found = _PARSED[key] = parse(row)
    return found


def _node_state_chained(traversal_id: str, node: NodeKey,
                        conn: Connection) -> NodeState | None:
    """`get_node_state` within a read transaction."""
    key = (traversal_id, node.phase.value, node.ref)
    found = conn.execute(sql.GET_NODE, key).fetchone()
    if found is None:
        return None
    traversal = sql.traversal_from_row(found[:sql.TRAVERSAL_WIDTH])
    stack = sql.stack_from_row(found[sql.TRAVERSAL_WIDTH:sql.TRAVERSAL_WIDTH + sql.STACK_WIDTH])
    point = found[sql.TRAVERSAL_WIDTH + sql.STACK_WIDTH:]
    rows_in = conn.execute(sql.LIST_INPUTS, key).fetchall() if point[5] else []
    sync = sql.sync_point_from_rows(traversal_id, node, point,
                                    sql.deliveries_from_rows(rows_in))
    rows: list[ResourceRecord] = []
    next_id = sync.row_id
    while next_id is not None and all(r.id != next_id for r in rows):
        row = conn.execute(sql.GET_RESOURCE, (next_id,)).fetchone()
        if row is None:
            break
        rows.append(sql.resource_from_row(row))
        next_id = rows[-1].replaced_by
    return NodeState(stack, traversal, sync, tuple(rows))


def _deliver(
    traversal_id: str,
    sender: NodeKey,
    deliveries: Sequence[tuple[NodeKey, Mapping[str, Any]]],
    claimant: str | None,
    conn: Connection,
    passes: Collection[NodeKey] = (),
) -> list[ReadyNode]:
    """`deliver` within a transaction (and, for `passes`, see `Store.finish_node`). Passing
    nodes deliver from a work list, not by recursion: a chain of them can be long."""
    ready = []
    work: deque[tuple[NodeKey, Sequence[tuple[NodeKey, Mapping[str, Any]]]]] = deque(
        [(sender, deliveries)])
    while work:
        sender, deliveries = work.popleft()
        sent = (sender.phase.value, sender.ref)
        for target, data in deliveries:
            node = (target.phase.value, target.ref)
            args = (traversal_id, *node, *sent, int(target in passes))
            counted = conn.execute(sql.COUNT_DELIVERY, args).fetchone()
            if counted is None:
                continue  # no sync point, or this sender delivered to it already
            stack_id, remaining, seq, successors, passing, slack = counted
            conn.execute(sql.INSERT_INPUT,
                         sql.input_row(traversal_id, target, sender, data, seq))
            if remaining == 0:
                if passing:
                    work.append((target, [(s, {}) for s in sql.successors_from(successors)]))
                else:
                    conn.execute(sql.INSERT_READY,
                                 (traversal_id, stack_id, *node, claimant, slack))
                    ready.append(ReadyNode(traversal_id, stack_id, target, claimant, slack=slack))
    return ready


def _insert_traversal(
    conn: Connection,
    traversal: TraversalRecord,
    sync_points: Sequence[SyncPoint],
    new_resources: Sequence[ResourceRecord],
) -> None:
    """The rows `start_traversal` adds: the traversal, its sync points with any inputs they
    start with, a ready entry per sync point with nothing to wait for, the new resources."""
    conn.execute(sql.INSERT_TRAVERSAL, sql.traversal_row(traversal))
    conn.executemany(sql.INSERT_SYNC_POINT, map(sql.sync_point_row, sync_points))
    inputs = [row for p in sync_points if p.inputs for row in sql.sync_point_input_rows(p)]
    conn.executemany(sql.INSERT_INPUT, inputs)
    ready = [sql.start_ready_row(p) for p in sync_points if p.remaining == 0]
    conn.executemany(sql.INSERT_READY, ready)
    conn.executemany(sql.INSERT_RESOURCE, map(sql.resource_row, new_resources))


def _save_resources(
    conn: Connection, resources: Sequence[ResourceRecord], events: Sequence[EventRecord]
) -> None:
    with _constraints("a resource id cannot change"):
        if len(resources) == 1:
            updated = conn.execute(sql.SAVE_RESOURCE, sql.resource_save_row(resources[0])).rowcount
        else:
            rows = map(sql.resource_save_row, resources)
            updated = conn.executemany(sql.SAVE_RESOURCE, rows).rowcount
    if updated != len(resources):
        raise NotFound(f"no resource {_first_missing(conn, resources)!r}")
    _insert_events(conn, events)


def _first_missing(conn: Connection, resources: Sequence[ResourceRecord]) -> str:
    for resource in resources:
        if conn.execute(sql.RESOURCE_EXISTS, (resource.id,)).fetchone() is None:
            return resource.id
    raise AssertionError("every resource exists, yet an update matched no row")


# migrations

_MIGRATION_FILE = re.compile(r"(\d{4})_\w+\.sql")
_CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at REAL NOT NULL
) STRICT"""


@functools.cache
def migrations() -> tuple[tuple[int, str], ...]:
    """The numbered migrations shipped with the package, as (version, SQL script), in order."""
    folder = importlib.resources.files("storage").joinpath("migrations", "sqlite")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.fullmatch(entry.name)
        if match:
            found.append((int(match[1]), entry.read_text(encoding="utf-8")))
    return tuple(sorted(found))


def _migrate(conn: Connection) -> None:
    applied = _applied_versions(conn)
    newest = migrations()[-1][0]
    if applied and max(applied) > newest:
        raise StoreError(
            f"the database schema is at version {max(applied)}, newer than this "
            f"program knows ({newest}); upgrade convergent"
        )
    for version, script in migrations():
        if version not in applied:
            _in_transaction(functools.partial(_apply_migration, version, script), conn)


def _applied_versions(conn: Connection) -> set[int]:
    """Versions already applied, read without taking the write lock."""
    known = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if known is None:
        return set()
    return {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}


def _apply_migration(version: int, script: str, conn: Connection) -> None:
    conn.execute(_CREATE_MIGRATIONS_TABLE)
    done = conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,))
    if done.fetchone() is not None:
        return  # another process applied it while we waited for the lock
    for statement in _statements(script):
        conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))


def _statements(script: str) -> Iterator[str]:
    """Split a script into statements, each ending at the end of a line.

    Not `executescript`: it would commit the migration's transaction first.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    leftover = [
        ln for ln in pending.splitlines() if ln.strip() and not ln.lstrip().startswith("--")
    ]
    if leftover:
        raise StoreError(f"a migration ends with an incomplete statement: {leftover[0]!r}")

"""The worker: runs ready nodes as actors in one task group, and recovers abandoned work.

Ready nodes reach a worker two ways: nodes this engine makes ready itself
(deliveries and unlocks claim them for it) are started at once; any other
ready node is claimed from the store (`claim_ready`, least slack first), woken by
`wake()` or by the poll interval. While actions take time (`SLOW_ACTION_S`), the
nodes of a traversal take the steps between their actions (reads, writes)
least slack first: each holds a turn at its traversal's gate (`priority`), so
the critical path's steps are not queued behind a whole level's; unless the
engine is loaded (`STEP_SHARE`), when the waits would only idle it. A worker
started for one stack (the CLI) claims only that stack's nodes; `convergent
engine` claims every stack's.

Every `poll_interval` the worker also cancels the in-flight actors of a
cancelled traversal. Less often (every heartbeat interval, and at least every
`RECOVERY_EVERY` polls: an engine cannot be found dead faster than heartbeats
age) it fails the traversals whose deadline passed and recovers work from dead
engines: their claims are released, resources they locked and that nodes are
parked on are unlocked, and an IN_PROGRESS traversal left with no ready node at
all (an engine died while handling a failure) is failed with a reason that
says so. A process running a hundred stacks runs a hundred workers, so this
scan must stay rare.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskGroup

from storage import Action, NodeKey, ReadyNode, StackRecord, Status
from supervisor.background import background
from supervisor.compiling import compile_stored
from supervisor.convergence import traversal as traversals
from supervisor.convergence.node import run_node
from supervisor.convergence.priority import NO_TURN, Gate, Turn
from supervisor.engine import Engine
from supervisor.template import CompiledTemplate

RunKey = tuple[str, NodeKey]
CLAIM_BATCH = 256
RECOVERY_EVERY = 10
#: an idle worker polls the ready queue at most this many poll intervals apart
IDLE_POLLS = 10
#: actor calls this slow on average (`Engine.action_seconds`) make the critical path worth
#: ordering nodes by slack (`priority`); with instant actions there is no path to shorten,
#: and the waits and extra rounds of the event loop would only cost throughput
SLOW_ACTION_S = 0.001
#: the critical nodes' steps taking more than this share of an action on average, the
#: engine is loaded: its throughput, not the critical paths, bounds the traversals, and
#: holding nodes with slack back would only idle it (`priority`)
STEP_SHARE = 0.2


@dataclasses.dataclass
class Worker:
    engine: Engine
    #: only this stack's nodes are claimed from the store (None: every stack)
    stack_id: str | None = None

    def __post_init__(self) -> None:
        self._group: TaskGroup | None = None
        #: the cancel scope of each node running here, by traversal (a cancel is per traversal)
        self._running: dict[str, dict[NodeKey, anyio.CancelScope]] = {}
        self._busy = 0
        #: nodes running at once at most: node tasks beyond it wait in `_queued`
        self.limit = max(1, self.engine.config.max_concurrent_actions * 4)
        self._queued: deque[ReadyNode] = deque()
        config = self.engine.config
        self._recovery_every = max(RECOVERY_EVERY,
                                   round(config.heartbeat_interval / config.poll_interval))
        #: entries claimed for us again while their previous run was still ending
        self._again: dict[RunKey, ReadyNode] = {}
        self._wake = anyio.Event()
        #: the claim loop waits because every slot was taken: free slots wake it
        self._full = False
        self._ended = anyio.Event()
        #: traversals ended (completed or failed) here, signalled once none of their nodes runs
        self._ending: set[str] = set()
        self._compiled: dict[str, CompiledTemplate] = {}
        self._compiling: dict[str, anyio.Lock] = {}
        self._suspect_stalled: set[str] = set()
        #: by traversal: orders the steps of its nodes running here by slack while actions
        #: take time (slack is measured against a traversal's own critical path)
        self._gates: dict[str, Gate] = {}

    async def compiled(self, stack: StackRecord, template_id: str) -> CompiledTemplate:
        """The stored template, compiled once per worker however many nodes ask at once."""
        cached = self._compiled.get(template_id)
        if cached is not None:
            return cached
        lock = self._compiling.setdefault(template_id, anyio.Lock())
        async with lock:
            cached = self._compiled.get(template_id)
            if cached is None:
                cached = await compile_stored(self.engine, stack, template_id)
                self._compiled[template_id] = cached
        return cached

    def remember(self, template_id: str, compiled: CompiledTemplate) -> None:
        """Cache a template the caller compiled already (from the same stored template)."""
        self._compiled.setdefault(template_id, compiled)

    def adopt(self, entries: Sequence[ReadyNode]) -> None:
        """Run entries claimed for this engine; beyond `limit` running nodes they wait here, in
        order (a fan-out can make ten thousand ready at once, each task costing memory)."""
        for entry in entries:
            if self._busy < self.limit:
                self._spawn(entry)
            else:
                self._queued.append(entry)

    def wake(self) -> None:
        self._wake.set()

    def _ordering(self) -> bool:
        """Whether the nodes with slack wait for the critical ones: while the critical steps
        take a small share of an action (`priority`)."""
        engine = self.engine
        return engine.step_seconds < STEP_SHARE * engine.action_seconds

    def traversal_ended(self) -> anyio.Event:
        """An event set the next time a traversal that this worker completed or failed has no
        node running here any more (so every interrupted node has recorded why)."""
        return self._ended

    def ended(self, traversal_id: str) -> None:
        """This worker has just completed or failed `traversal_id`."""
        self._ending.add(traversal_id)
        self._signal_ended()

    def _signal_ended(self) -> None:
        settled = {t for t in self._ending if t not in self._running}
        if settled:
            self._ending -= settled
            self._ended.set()
            self._ended = anyio.Event()

    @property
    def busy(self) -> int:
        """Nodes running or waiting here to run."""
        return self._busy + len(self._queued)

    def _spawn(self, entry: ReadyNode) -> None:
        key = (entry.traversal_id, entry.node)
        if self._group is None:
            return
        running = self._running.setdefault(entry.traversal_id, {})
        if entry.node in running:
            # e.g. a node that has just parked, unparked by an unlock before its run ended:
            # the entry is claimed for us, so run it again once that run is over
            self._again[key] = entry
            return
        scope = anyio.CancelScope()
        running[entry.node] = scope
        self._busy += 1
        # held from now: the nodes made ready with this one are ordered as they are made ready
        turn = NO_TURN
        if self.engine.action_seconds >= SLOW_ACTION_S:
            gate = self._gates.get(entry.traversal_id)
            if gate is None:
                gate = self._gates[entry.traversal_id] = Gate(self.engine.timed_steps,
                                                              self._ordering)
            turn = gate.turn(entry.slack)
        self._group.start_soon(self._run, entry, scope, turn)

    async def _run(self, entry: ReadyNode, scope: anyio.CancelScope, turn: Turn) -> None:
        try:
            with scope:
                await turn.take()
                await run_node(self, entry, scope, turn)
            if scope.cancelled_caught:
                with anyio.CancelScope(shield=True):
                    await self._interrupted(entry)
        finally:
            turn.release()
            running = self._running[entry.traversal_id]
            del running[entry.node]
            if not running:  # and so no turn is held at its gate
                del self._running[entry.traversal_id]
                self._gates.pop(entry.traversal_id, None)
                self._signal_ended()
            self._busy -= 1
            again = self._again.pop((entry.traversal_id, entry.node), None)
            if again is not None:
                self._spawn(again)
            while self._queued and self._busy < self.limit:
                self._spawn(self._queued.popleft())
            if self._full and self.busy <= self.limit // 2:
                # half the slots are free: claim again now rather than at the next poll
                self._full = False
                self.wake()

    async def _interrupted(self, entry: ReadyNode) -> None:
        """A node's actor was cancelled: by the traversal's deadline or by a stack cancel."""
        store = self.engine.store
        traversal = await store.get_traversal(entry.traversal_id)
        stack = await store.get_stack(entry.stack_id)
        if traversal is not None and stack is not None and traversal.deadline is not None \
                and self.engine.now() >= traversal.deadline:
            await traversals.fail(self.engine, stack, traversal, "Timed out")
            self.ended(traversal.id)
        await store.finish_ready(entry.traversal_id, entry.node)

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                    ) -> None:
        """Claim and run ready nodes until cancelled."""
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self._watch)
                task_status.started()
                await self._claim_loop()
        finally:
            # only once every node task has ended: their last unlocks may have claimed
            # unparked entries for this engine, which other engines must be able to run
            self._group = None
            with anyio.CancelScope(shield=True):
                await self.engine.store.release_claims(self.engine.id)

    async def _claim_loop(self) -> None:
        """Claim whenever woken, and poll: every `poll_interval` while claims find work, less
        often (up to `IDLE_POLLS` intervals apart) while they find none. Nodes this process
        makes ready never wait for a poll: they are adopted, or `wake()` is called."""
        idle = 0
        while True:
            claimed: list[ReadyNode] = []
            free = self.limit - self.busy
            if free > 0:
                claimed = await self.engine.store.claim_ready(
                    self.engine.id, min(free, CLAIM_BATCH), self.stack_id)
                self.adopt(claimed)
            idle = 0 if claimed else min(idle + 1, IDLE_POLLS)
            if len(claimed) < min(free, CLAIM_BATCH) or free <= 0:
                self._full = self.busy >= self.limit
                with anyio.move_on_after(self.engine.config.poll_interval * max(1, idle)):
                    await self._wake.wait()
                self._wake = anyio.Event()

    async def _watch(self) -> None:
        rounds = 0
        while True:
            await anyio.sleep(self.engine.config.poll_interval)
            await self._cancel_requested()
            rounds += 1
            if rounds % self._recovery_every == 0:
                await self.recover()

    async def _cancel_requested(self) -> None:
        for traversal_id in list(self._running):
            traversal = await self.engine.store.get_traversal(traversal_id)
            if traversal is not None and traversal.cancelled:
                for scope in list(self._running.get(traversal_id, {}).values()):
                    scope.cancel()

    async def recover(self) -> None:
        """Take over what dead engines left, and end timed-out or stalled traversals."""
        store = self.engine.store
        for engine in await store.list_engines():
            if not await self.engine.is_alive(engine.id) and await store.release_claims(engine.id):
                self.wake()
        for stack in await self._stacks_in_progress():
            await self._recover_stack(stack)

    async def _stacks_in_progress(self) -> list[StackRecord]:
        store = self.engine.store
        if self.stack_id is not None:
            stack = await store.get_stack(self.stack_id)
            candidates = [] if stack is None else [stack]
        else:
            candidates = await store.list_stacks()
        return [s for s in candidates if s.convergence and s.status is Status.IN_PROGRESS]

    async def _recover_stack(self, stack: StackRecord) -> None:
        store = self.engine.store
        if stack.traversal_id is None:
            await self._start_orphaned_create(stack)
            return
        traversal = await store.get_traversal(stack.traversal_id)
        if traversal is None:
            return
        if traversal.deadline is not None and self.engine.now() >= traversal.deadline:
            await store.cancel_traversal(traversal.id)
            await traversals.fail(self.engine, stack, traversal, "Timed out")
            self.ended(traversal.id)
            return
        ready = await store.list_ready(stack.id)
        for entry in ready:
            if entry.parked_on is not None:
                await self._unpark_if_orphaned(entry.parked_on)
        for claimant in {e.claimed_by for e in ready if e.claimed_by is not None}:
            # also engines no longer registered (one that stopped while claiming)
            if not await self.engine.is_alive(claimant) \
                    and await store.release_claims(claimant):
                self.wake()
        current = [e for e in ready if e.traversal_id == traversal.id]
        if current:
            self._suspect_stalled.discard(traversal.id)
        elif traversal.id in self._suspect_stalled:
            await traversals.fail(self.engine, stack, traversal,
                                  f"Engine went down during stack {stack.action.value}")
            self.ended(traversal.id)
        else:
            self._suspect_stalled.add(traversal.id)

    async def _start_orphaned_create(self, stack: StackRecord) -> None:
        """Start the create traversal of a stack whose creator died right after storing it
        (the creator starts it within moments; after `engine_timeout` it is gone)."""
        if stack.action is not Action.CREATE or stack.template_id is None \
                or self.engine.now() - stack.created_at < self.engine.config.engine_timeout:
            return
        plan = traversals.create_plan(stack, stack.template_id,
                                      await self.compiled(stack, stack.template_id))
        if await traversals.begin(self.engine, stack, plan, self.wake, traversals.not_started):
            self.engine.log.info("traversal.create.resumed", stack=stack.name)

    async def _unpark_if_orphaned(self, resource_id: str) -> None:
        row = await self.engine.store.get_resource(resource_id)
        holder = None if row is None else row.engine_id
        if holder is not None and not await self.engine.is_alive(holder):
            self.adopt(await self.engine.store.unlock_resource(resource_id, holder,
                                                               claimant=self.engine.id))


@asynccontextmanager
async def working(engine: Engine, stack_id: str | None = None) -> AsyncIterator[Worker]:
    """Run a worker in the background for the duration of the block."""
    worker = Worker(engine, stack_id)
    async with background() as group:
        await group.start(worker.serve)
        yield worker

"""Critical path first: nodes with less slack take their steps before nodes with more.

A node's slack (`graph.slacks`) is how many steps shorter the longest path
through it is than its traversal's longest path: 0 on the critical path. A
traversal ends no sooner than its critical path allows only if each critical
node starts its action as soon as its predecessors' actions end. Between the two
it has steps that take the event loop's time and the commit thread's: its
predecessor's final write, its own state read and its first write. When a level
of the graph ends 20 or 30 actions at once, those steps of every node of the
level are worked through one after another, in whatever order the event loop
picks, and the critical node waits for most of them.

So while actions take time (see `worker.SLOW_ACTION_S`), a worker gives each
node a `Turn` at its `Gate`. A node *holds* its turn while it does such steps:
from the moment it is made ready until its actor is called, and from its
actor's return until its end is written. Before taking those steps, a node waits
until no node with less slack holds a turn. Nodes of equal slack do not wait
for each other, and a node lets go of its turn while its actor works, so a
node waits at most for the steps of the nodes ahead of it, a few milliseconds
a level; what it gives up is taken from its slack, not from the traversal.

A node holds its turn from the moment it is registered (made ready, or its
actor returned), before it waits: the nodes woken in the same round of the
event loop are then ordered as they register, whatever order the loop runs
them in. A turn never waits on a node with more slack, so turns cannot
deadlock; and every turn is let go when its node's run ends, however it ends.

Waiting is not free: the critical writes commit in batches of their own, and
while a critical node waits for its commit the nodes held back do nothing. When
the engine is loaded (many stacks at once), a critical node's steps take a good
share of an action's time whatever the order, the traversals are bound by the
engine's throughput rather than by their critical paths, and the waits only
cost. So the gate times how long critical turns are held and asks its owner
(`ordering`) whether to order at all; the worker orders while the critical
steps take under `worker.STEP_SHARE` of an action. Turns are held and timed
either way, so the measure stays current.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio
import anyio.lowlevel


class Gate:
    """The turns of one worker's nodes: how many are held at each slack, and who waits."""

    def __init__(self, timed: Callable[[float], None] = lambda seconds: None,
                 ordering: Callable[[], bool] = lambda: True) -> None:
        #: told how long each critical turn (slack 0) was held, in seconds
        self.timed = timed
        #: whether turns with slack wait now (checked each time one is taken)
        self.ordering = ordering
        #: turns held, by slack
        self._held: dict[int, int] = {}
        #: one event per slack some node waits at, set once no turn of less slack is held
        self._waiting: dict[int, anyio.Event] = {}

    def turn(self, slack: int) -> Turn:
        """A new turn for a node of `slack`, held at once."""
        turn = Turn(self, slack)
        turn.hold()
        return turn

    def hold(self, slack: int) -> None:
        """One more turn held at `slack` (through a `Turn`)."""
        self._held[slack] = self._held.get(slack, 0) + 1

    def release(self, slack: int) -> None:
        """One turn at `slack` let go; wakes the nodes no turn of less slack holds up now."""
        left = self._held[slack] - 1
        if left:
            self._held[slack] = left
            return
        del self._held[slack]
        lowest = self._lowest()
        for level in [level for level in self._waiting if level <= lowest]:
            self._waiting.pop(level).set()

    def _lowest(self) -> float:
        return min(self._held, default=math.inf)

    async def give_way(self, slack: int) -> None:
        """Wait until no turn of less slack than `slack` is held."""
        while self._lowest() < slack:
            event = self._waiting.get(slack)
            if event is None:
                event = self._waiting[slack] = anyio.Event()
            await event.wait()

    @property
    def held(self) -> dict[int, int]:
        """Turns held now, by slack (for tests and diagnostics)."""
        return dict(self._held)


class Turn:
    """One node's turn at its worker's gate. `NO_TURN` is the turn of a node whose worker
    does not order nodes (actions are instant): every call on it returns at once."""

    def __init__(self, gate: Gate | None, slack: int) -> None:
        self._gate = gate
        self.slack = slack
        self._holding = False
        self._since = 0.0

    def hold(self) -> None:
        """Hold the turn (at once: nodes with more slack wait from now on)."""
        if self._gate is not None and not self._holding:
            self._holding = True
            self._since = anyio.current_time()
            self._gate.hold(self.slack)

    async def take(self) -> None:
        """Hold the turn, then wait until no node with less slack holds one. A node with
        slack first lets the nodes woken in the same round of the event loop register."""
        if self._gate is None:
            return
        self.hold()
        if self.slack and self._gate.ordering():
            await anyio.lowlevel.checkpoint()
            await self._gate.give_way(self.slack)

    def release(self) -> None:
        """Let go of the turn (the node's actor is about to work, or the node has ended)."""
        if self._holding:
            self._holding = False
            assert self._gate is not None
            self._gate.release(self.slack)
            if not self.slack:
                self._gate.timed(anyio.current_time() - self._since)


NO_TURN = Turn(None, 0)

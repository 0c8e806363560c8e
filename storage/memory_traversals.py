"""The memory store's convergence state: traversals, their sync points, the ready queue.

`MemoryStore` owns one `TraversalState` and calls it after its checkpoint; the
methods here never await, so each runs atomically. `check_*` methods raise before
anything changes. Invariants:

* every ready entry has a `seq` from one counter, so creation order is `seq` order;
* an entry is in `_claimable` and in its stack's `_claimable_by_stack` queue exactly
  while it is neither claimed nor parked; a queue keeps one dict per slack, each in
  `seq` order (new entries have the highest `seq`; `release_claims` re-sorts), and
  gives the least slack first;
* an entry is in `_parked[resource_id]` exactly while it is parked on that resource;
* a sync point's inputs are a dict by sender, so insertion order is delivery order and
  a sender delivers once. Delivery data is kept by reference.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from storage.base import StoreError
from storage.records import Delivery, NodeKey, ReadyNode, SyncPoint, TraversalRecord, evolve

_Key = tuple[str, NodeKey]  # (traversal id, node)


@dataclasses.dataclass(slots=True)
class _Inbox:
    stack_id: str
    remaining: int
    successors: tuple[NodeKey, ...]
    row_id: str | None
    inputs: dict[NodeKey, Mapping[str, Any]]
    slack: int = 0
    passing: bool = False


@dataclasses.dataclass(slots=True)
class _Entry:
    seq: int
    stack_id: str
    claimed_by: str | None = None
    parked_on: str | None = None
    slack: int = 0


class _Queue:
    """Claimable entries: least slack first, then in `seq` order."""

    def __init__(self) -> None:
        self._levels: dict[int, dict[_Key, None]] = {}

    def __bool__(self) -> bool:
        return bool(self._levels)

    def add(self, key: _Key, slack: int) -> None:
        self._levels.setdefault(slack, {})[key] = None

    def remove(self, key: _Key, slack: int) -> None:
        _discard(self._levels, slack, key)

    def first(self, limit: int) -> list[_Key]:
        found: list[_Key] = []
        for slack in sorted(self._levels):
            found.extend(itertools.islice(self._levels[slack], limit - len(found)))
            if len(found) >= limit:
                break
        return found

    def resort(self, seq: Callable[[_Key], int]) -> None:
        for slack, keys in self._levels.items():
            self._levels[slack] = dict.fromkeys(sorted(keys, key=seq))


class TraversalState:
    """Traversals, sync points and ready entries, with the indexes the queue needs."""

    def __init__(self) -> None:
        self._traversals: dict[str, TraversalRecord] = {}
        self._inboxes: dict[str, dict[NodeKey, _Inbox]] = {}
        self._ready: dict[str, dict[NodeKey, _Entry]] = {}
        self._claimable = _Queue()
        self._claimable_by_stack: dict[str, _Queue] = {}
        self._parked: dict[str, dict[_Key, None]] = {}
        self._last_seq = 0

    # traversals

    def check_new(self, traversal: TraversalRecord, sync_points: Sequence[SyncPoint]) -> None:
        if traversal.id in self._traversals:
            raise StoreError(f"traversal id {traversal.id!r} is already stored")
        if len({p.node for p in sync_points}) != len(sync_points):
            raise StoreError("a sync point is listed twice")
        for point in sync_points:
            if len({d.sender for d in point.inputs}) != len(point.inputs):
                raise StoreError(f"sync point {point.node} lists a sender twice")

    def add(self, traversal: TraversalRecord, sync_points: Sequence[SyncPoint]) -> None:
        self._traversals[traversal.id] = traversal
        self._inboxes[traversal.id] = {
            p.node: _Inbox(
                p.stack_id,
                p.remaining,
                p.successors,
                p.row_id,
                {d.sender: d.data for d in p.inputs},
                p.slack,
            )
            for p in sync_points
        }
        self._ready[traversal.id] = {}
        for point in sync_points:
            if point.remaining == 0:
                self._make_ready(traversal.id, point.node, point.stack_id, None, point.slack)

    def get(self, traversal_id: str) -> TraversalRecord | None:
        return self._traversals.get(traversal_id)

    def cancel(self, traversal_id: str) -> None:
        found = self._traversals.get(traversal_id)
        if found is not None:
            self._traversals[traversal_id] = evolve(found, cancelled=True)

    def purge(self, traversal_id: str) -> None:
        """Drop the traversal's sync points and ready entries; its record stays."""
        self._inboxes.pop(traversal_id, None)
        for node, entry in self._ready.pop(traversal_id, {}).items():
            self._unindex((traversal_id, node), entry)

    def purge_stack(self, stack_id: str) -> None:
        for traversal_id in self._stack_traversals(stack_id):
            self.purge(traversal_id)
            del self._traversals[traversal_id]

    # sync points

    def sync_point(self, traversal_id: str, node: NodeKey) -> SyncPoint | None:
        inbox = self._inboxes.get(traversal_id, {}).get(node)
        if inbox is None:
            return None
        return SyncPoint(
            traversal_id, inbox.stack_id, node, inbox.remaining, inbox.successors,
            inbox.row_id, tuple(Delivery(s, d) for s, d in inbox.inputs.items()), inbox.slack,
        )  # fmt: skip

    def deliver(
        self,
        traversal_id: str,
        sender: NodeKey,
        deliveries: Iterable[tuple[NodeKey, Mapping[str, Any]]],
        claimant: str | None,
        passes: Collection[NodeKey] = (),
    ) -> list[ReadyNode]:
        """See `Store.deliver` and, for `passes`, `Store.finish_node` (passing nodes deliver
        from a work list: a chain of them can be long)."""
        inboxes = self._inboxes.get(traversal_id, {})
        ready = []
        work: deque[tuple[NodeKey, Iterable[tuple[NodeKey, Mapping[str, Any]]]]] = deque(
            [(sender, deliveries)])
        while work:
            sender, deliveries = work.popleft()
            for target, data in deliveries:
                inbox = inboxes.get(target)
                if inbox is None or sender in inbox.inputs:
                    continue
                inbox.inputs[sender] = data
                inbox.remaining -= 1
                inbox.passing = inbox.passing or target in passes
                if inbox.remaining == 0:
                    if inbox.passing:
                        work.append((target, [(s, {}) for s in inbox.successors]))
                    else:
                        ready.append(self._make_ready(traversal_id, target, inbox.stack_id,
                                                     claimant, inbox.slack))
        return ready

    # the ready queue

    def claim(self, engine_id: str, limit: int, stack_id: str | None) -> list[ReadyNode]:
        queue = self._claimable if stack_id is None else self._claimable_by_stack.get(stack_id)
        if not queue:
            return []
        claimed = []
        for key in queue.first(max(limit, 0)):
            entry = self._entry(key)
            self._unindex(key, entry)
            entry.claimed_by = engine_id
            claimed.append(_ready(key, entry))
        return claimed

    def release(self, engine_id: str) -> int:
        released = [(key, entry) for key, entry in self._entries() if entry.claimed_by == engine_id]
        for key, entry in released:
            entry.claimed_by = None
            self._index(key, entry)
        if released:
            self._claimable.resort(self._seq)
            for stack_id in {entry.stack_id for _, entry in released}:
                self._claimable_by_stack[stack_id].resort(self._seq)
        return len(released)

    def finish(self, traversal_id: str, node: NodeKey) -> None:
        entry = self._ready.get(traversal_id, {}).pop(node, None)
        if entry is not None:
            self._unindex((traversal_id, node), entry)

    def park(self, traversal_id: str, node: NodeKey, resource_id: str) -> bool:
        """Park the entry (the caller checked that the resource is locked)."""
        entry = self._ready.get(traversal_id, {}).get(node)
        if entry is None:
            return False
        key = (traversal_id, node)
        self._unindex(key, entry)
        entry.claimed_by, entry.parked_on = None, resource_id
        self._index(key, entry)
        return True

    def unpark(self, resource_id: str, engine_id: str) -> list[ReadyNode]:
        parked = self._parked.pop(resource_id, {})
        unparked = []
        for key in parked:
            entry = self._entry(key)
            entry.claimed_by, entry.parked_on = engine_id, None
            unparked.append((entry.seq, _ready(key, entry)))
        return [node for _, node in sorted(unparked, key=lambda pair: pair[0])]

    def list_ready(self, stack_id: str) -> list[ReadyNode]:
        found = [
            (entry.seq, _ready((traversal_id, node), entry))
            for traversal_id in self._stack_traversals(stack_id)
            for node, entry in self._ready.get(traversal_id, {}).items()
        ]
        return [node for _, node in sorted(found, key=lambda pair: pair[0])]

    # helpers

    def _make_ready(
        self, traversal_id: str, node: NodeKey, stack_id: str, claimant: str | None, slack: int
    ) -> ReadyNode:
        self._last_seq += 1
        entry = _Entry(self._last_seq, stack_id, claimant, slack=slack)
        self._ready[traversal_id][node] = entry
        self._index((traversal_id, node), entry)
        return _ready((traversal_id, node), entry)

    def _index(self, key: _Key, entry: _Entry) -> None:
        if entry.parked_on is not None:
            self._parked.setdefault(entry.parked_on, {})[key] = None
        elif entry.claimed_by is None:
            self._claimable.add(key, entry.slack)
            self._claimable_by_stack.setdefault(entry.stack_id, _Queue()).add(key, entry.slack)

    def _unindex(self, key: _Key, entry: _Entry) -> None:
        if entry.parked_on is not None:
            _discard(self._parked, entry.parked_on, key)
        elif entry.claimed_by is None:
            self._claimable.remove(key, entry.slack)
            queue = self._claimable_by_stack[entry.stack_id]
            queue.remove(key, entry.slack)
            if not queue:
                del self._claimable_by_stack[entry.stack_id]

    def _entry(self, key: _Key) -> _Entry:
        return self._ready[key[0]][key[1]]

    def _entries(self) -> Iterable[tuple[_Key, _Entry]]:
        for traversal_id, entries in self._ready.items():
            for node, entry in entries.items():
                yield (traversal_id, node), entry

    def _seq(self, key: _Key) -> int:
        return self._entry(key).seq

    def _stack_traversals(self, stack_id: str) -> list[str]:
        return [t.id for t in self._traversals.values() if t.stack_id == stack_id]


def _ready(key: _Key, entry: _Entry) -> ReadyNode:
    return ReadyNode(key[0], entry.stack_id, key[1], entry.claimed_by, entry.parked_on,
                     entry.slack)


def _discard(index: dict[Any, dict[_Key, None]], name: Any, key: _Key) -> None:
    """Remove `key` from `index[name]`, and `name` once nothing is left under it."""
    keys = index[name]
    del keys[key]
    if not keys:
        del index[name]

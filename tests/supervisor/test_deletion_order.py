"""`legacy.deletion_order`: dependents first, replacements before what they replaced, the
stored order kept within a round, cycles broken at the first row left (its cost is
measured by the load tool's chain shape, not here)."""

from __future__ import annotations

import dataclasses
import random

from storage import Action, ResourceRecord, Status
from supervisor.legacy import deletion_order


def row(rid: str, requires: tuple[str, ...] = (), replaces: str | None = None) -> ResourceRecord:
    return ResourceRecord(
        id=rid, stack_id="s", name=rid, type="OS::Heat::None", physical_id=None,
        action=Action.CREATE, status=Status.COMPLETE, reason="", properties={},
        attributes={}, template_id=None, requires=requires, replaces=replaces,
        replaced_by=None, created_at=0.0, updated_at=None,
    )


def by_rounds(doomed: list[ResourceRecord]) -> list[str]:
    """The rule spelled out the slow way: repeated scans of what is left."""
    ids = {r.id for r in doomed}
    waits: dict[str, set[str]] = {r.id: set() for r in doomed}
    for r in doomed:
        for req in r.requires:
            if req in ids and req != r.id:
                waits[req].add(r.id)
        if r.replaces in ids:
            waits[r.replaces].add(r.id)
    done: list[str] = []
    pending = [r.id for r in doomed]
    while pending:
        ready = [rid for rid in pending if waits[rid] <= set(done)] or pending[:1]
        done += ready
        pending = [rid for rid in pending if rid not in ready]
    return done


def test_dependents_and_replacements_come_first() -> None:
    doomed = [row("db"), row("app", ("db",)), row("web", ("app", "db")),
              row("db2", replaces="db")]
    assert [r.id for r in deletion_order(doomed)] == ["web", "db2", "app", "db"]


def test_a_cycle_is_broken_at_the_first_row_left() -> None:
    doomed = [row("a", ("b",)), row("b", ("a",)), row("c", ("a",))]
    assert [r.id for r in deletion_order(doomed)] == ["c", "a", "b"]


def test_random_graphs_match_the_rule() -> None:
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(1, 25)
        doomed = []
        for i in range(n):
            requires = tuple(f"r{rng.randrange(n)}" for _ in range(rng.randint(0, 3)))
            replaces = f"r{rng.randrange(n)}" if rng.random() < 0.1 else None
            doomed.append(row(f"r{i}", requires, replaces))
        rng.shuffle(doomed)
        assert [r.id for r in deletion_order(doomed)] == by_rounds(doomed)


def test_rows_keep_their_identity() -> None:
    doomed = [row("a"), dataclasses.replace(row("b", ("a",)), reason="x")]
    assert deletion_order(doomed)[0] is doomed[1]

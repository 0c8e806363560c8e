"""The legacy path: one supervisor coroutine walks the graph, one resource at a time.

`converge` moves a stack's resources to a target template in two phases:

1. *update*: every resource of the target, in topological order (dependencies
   first), is created, updated in place, replaced (create-before-delete unless
   the type asks otherwise) or left alone;
2. *cleanup*: every row no longer current (removed, replaced, left over from a
   failed operation) is deleted, dependents before what they depended on.

Create is `converge` from no rows, delete is `converge` to the empty template,
rollback is `converge` back to the previous template, so one walk serves all
three. The walk stops at the first failure and reports it as a value. Progress
lives in memory (`Rows`); every state change is also saved, so `show` and
`list` work and a crashed engine's stack can be reported truthfully.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from actors import Replacement
from storage import Action, ResourceRecord, Status, evolve
from supervisor import operations
from supervisor.diff import ChangeKind, classify
from supervisor.errors import TemplateError
from supervisor.operations import Journal, OperationScope, Outcome
from supervisor.rows import Rows
from supervisor.template import CompiledTemplate, DeletionPolicy

#: decides the deletion policy of a row from the template it was applied with
PolicyOf = Callable[[ResourceRecord], DeletionPolicy]


@dataclass(frozen=True)
class Failure:
    """Why a walk stopped: the resource that failed and its reason."""

    resource: str
    reason: str

    def describe(self, action: Action) -> str:
        return f"Resource {action.value} failed: {self.resource}: {self.reason}"


def _journal(scope: OperationScope) -> Journal:
    assert scope.journal is not None, "the legacy walk runs with a journal (runner.guarded)"
    return scope.journal


async def converge(
    scope: OperationScope, rows: Rows, target: CompiledTemplate, template_id: str | None,
    policy_of: PolicyOf,
) -> Failure | None:
    """Bring `rows` to `target`; returns the first failure, or None when every step succeeded."""
    for name in target.order():
        failure = await _update_one(scope, rows, target, template_id, name, policy_of)
        if failure is not None:
            return failure
    await _record_requirements(scope, rows, target, template_id)
    return await cleanup(scope, rows, rows.retired(target.resources.keys()), policy_of)


async def cleanup(scope: OperationScope, rows: Rows, doomed: Sequence[ResourceRecord],
                  policy_of: PolicyOf) -> Failure | None:
    """Delete `doomed` rows, each only after every doomed row that required it."""
    for row in deletion_order(doomed):
        retain = policy_of(row) is DeletionPolicy.RETAIN
        outcome = await operations.delete(scope, row, retain=retain)
        if outcome.failed:
            rows.put(outcome.row)
            return Failure(row.name, outcome.row.reason)
        _journal(scope).drop(row.id)
        rows.drop(row)
    return None


def deletion_order(doomed: Sequence[ResourceRecord]) -> list[ResourceRecord]:
    """Dependents first: a row comes before every row it requires, and a replacement before
    the row it replaced."""
    by_id = {row.id: row for row in doomed}
    waits_for: dict[str, set[str]] = {row.id: set() for row in doomed}
    for row in doomed:
        for required in row.requires:
            if required in by_id and required != row.id:
                waits_for[required].add(row.id)
        if row.replaces in by_id:
            waits_for[row.replaces].add(row.id)
    return [by_id[rid] for rid in _rounds(list(by_id), waits_for)]


def _rounds(ids: list[str], waits_for: dict[str, set[str]]) -> list[str]:
    """`ids` in rounds: each round, in the order of `ids`, the ids whose `waits_for` are all in
    earlier rounds; when none is (a cycle), the first id left. O(ids + edges) for any shape
    (a long chain is as many rounds as rows)."""
    position = {rid: i for i, rid in enumerate(ids)}
    blocked = {rid: len(waits_for[rid]) for rid in ids}
    unblocks: dict[str, list[str]] = {rid: [] for rid in ids}
    for rid in ids:
        for earlier in waits_for[rid]:
            unblocks[earlier].append(rid)
    ordered: list[str] = []
    done: set[str] = set()
    first_left = 0
    ready = [rid for rid in ids if blocked[rid] == 0]
    while len(done) < len(ids):
        if not ready:
            while ids[first_left] in done:
                first_left += 1
            ready = [ids[first_left]]
        unblocked = []
        for rid in ready:
            ordered.append(rid)
            done.add(rid)
            for later in unblocks[rid]:
                blocked[later] -= 1
                if blocked[later] == 0 and later not in done:
                    unblocked.append(later)
        ready = sorted(unblocked, key=position.__getitem__)
    return ordered


async def _update_one(scope: OperationScope, rows: Rows, target: CompiledTemplate,
                      template_id: str | None, name: str, policy_of: PolicyOf) -> Failure | None:
    definition = target.resources[name]
    requires = rows.ids_of(target.dependencies[name])
    try:
        props = target.resolve_properties(name, rows.lookup)
    except TemplateError as err:
        return await _fail_unresolvable(scope, rows, name, definition.type, template_id, err)
    current = rows.current(name)
    older = rows.reclaimable(name, definition.type, props)
    if older is not None and current is not None:
        current = await _reclaim(scope, rows, current, older)
    actor = scope.engine.registry.actor_class(definition.type)
    if actor is None:
        return Failure(name, f"resource type {definition.type} is not registered")
    change = classify(actor, current, definition.type, props)
    if change.kind is ChangeKind.UNCHANGED:
        return None
    if change.kind is ChangeKind.UPDATE and current is not None:
        outcome = await operations.update(scope, current, props, change.changed, requires)
        if not outcome.replace:
            return _settle(rows, outcome)
    fresh = operations.new_row(scope.stack, name, definition.type, template_id,
                               replaces=current.id if current is not None else None)
    if current is not None:
        await _retire(scope, rows, current, fresh)
        if actor.replacement is Replacement.DELETE_BEFORE_CREATE:
            failure = await cleanup(scope, rows, [rows.get_row(current.id)], policy_of)
            if failure is not None:
                return failure
    _journal(scope).add(fresh)
    rows.put(fresh)
    return _settle(rows, await operations.create(scope, fresh, props, requires))


async def _retire(scope: OperationScope, rows: Rows, current: ResourceRecord,
                  fresh: ResourceRecord) -> None:
    retired = evolve(current, replaced_by=fresh.id)
    _journal(scope).save(retired)
    rows.put(retired)


async def _reclaim(scope: OperationScope, rows: Rows, current: ResourceRecord,
                   older: ResourceRecord) -> ResourceRecord:
    """Make an older row that already matches the target current again (rollback after a
    replacement): no new physical resource, and `current` goes to cleanup."""
    back = evolve(older, replaced_by=None)
    rows.put(back)
    await _retire(scope, rows, current, back)
    _journal(scope).save(back)
    return back


def _settle(rows: Rows, outcome: Outcome) -> Failure | None:
    rows.put(outcome.row)
    if outcome.failed:
        return Failure(outcome.row.name, outcome.row.reason)
    return None


async def _fail_unresolvable(scope: OperationScope, rows: Rows, name: str, type_name: str,
                             template_id: str | None, err: TemplateError) -> Failure:
    """A property that only fails once resolved (e.g. a get_attr value of the wrong type)."""
    current = rows.current(name)
    if current is None:
        current = operations.new_row(scope.stack, name, type_name, template_id)
        _journal(scope).add(current)
    action = Action.CREATE if current.physical_id is None else Action.UPDATE
    failed = await operations.transition(scope, current, action, Status.FAILED, str(err))
    rows.put(failed)
    return Failure(name, str(err))


async def _record_requirements(scope: OperationScope, rows: Rows, target: CompiledTemplate,
                               template_id: str | None) -> None:
    """Remember, for unchanged rows too, what each row now requires and its template."""
    changed: list[ResourceRecord] = []
    for name in target.resources:
        row = rows.current(name)
        if row is None:
            continue
        requires = rows.ids_of(target.dependencies[name])
        if row.requires != requires or row.template_id != template_id:
            updated = evolve(row, requires=requires, template_id=template_id)
            rows.put(updated)
            changed.append(updated)
    for row in changed:
        _journal(scope).save(row)


async def walk_each(scope: OperationScope, rows: Rows, names: Iterable[str],
                    action: Action) -> Failure | None:
    """Check, suspend or resume the current row of each name, in the given order."""
    for name in names:
        row = rows.current(name)
        if row is None:
            continue
        outcome = await operations.simple(scope, row, action)
        if (failure := _settle(rows, outcome)) is not None:
            return failure
    return None


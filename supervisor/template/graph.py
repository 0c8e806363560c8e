"""The dependency graph of a template's resources.

A resource depends on what it names in `depends_on` and on every resource its
properties reference with get_resource or get_attr (in taken `if` branches
only, since `if` is reduced before this). The graph must be acyclic; a cycle
is reported by naming it: "a -> b -> a" means a depends on b, which depends on a.
Order is topological, dependencies first, ties broken by template order.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from supervisor.errors import TemplateError
from supervisor.template.model import ResourceDefinition


def dependencies_of(definitions: Mapping[str, ResourceDefinition]) -> dict[str, frozenset[str]]:
    return {
        name: frozenset(
            (
                *definition.depends_on,
                *definition.resource_refs,
                *(ref.resource for ref in definition.attribute_refs),
            )
        )
        for name, definition in definitions.items()
    }


def topological_order(names: list[str], dependencies: Mapping[str, frozenset[str]]) -> list[str]:
    """Dependencies first, ties by position in `names`; a TemplateError naming a cycle if any."""
    position = {name: index for index, name in enumerate(names)}
    waiting = {name: len(dependencies[name]) for name in names}
    dependents: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for target in dependencies[name]:
            dependents[target].append(name)
    ready = [position[name] for name in names if waiting[name] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, position[dependent])
    if len(order) != len(names):
        cycle = find_cycle([n for n in names if waiting[n] > 0], dependencies)
        raise TemplateError("resources", f"dependency cycle: {' -> '.join(cycle)}")
    return order


def find_cycle(names: list[str], dependencies: Mapping[str, frozenset[str]]) -> list[str]:
    """One cycle among `names` (each of which is on or behind a cycle), first node repeated."""
    position = {name: index for index, name in enumerate(names)}
    candidates = set(names)
    done: set[str] = set()
    for start in names:
        if start in done:
            continue
        path = [start]
        on_path = {start: 0}
        stack = [iter(_sorted_deps(start, dependencies, candidates, position))]
        while stack:
            target = next(stack[-1], None)
            if target is None:
                stack.pop()
                finished = path.pop()
                del on_path[finished]
                done.add(finished)
                continue
            if target in on_path:
                return [*path[on_path[target] :], target]
            if target in done:
                continue
            on_path[target] = len(path)
            path.append(target)
            stack.append(iter(_sorted_deps(target, dependencies, candidates, position)))
    raise AssertionError("no cycle among nodes left over by a topological sort")


def _sorted_deps(
    name: str,
    dependencies: Mapping[str, frozenset[str]],
    candidates: set[str],
    position: Mapping[str, int],
) -> list[str]:
    return sorted((d for d in dependencies[name] if d in candidates), key=position.__getitem__)

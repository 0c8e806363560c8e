"""Dependency graphs of generated stacks: one pure function per shape, plus the critical path.

A `Graph` holds, for each resource index, the indices it depends on. Every
generator numbers resources in a topological order: a resource only depends on
resources with a lower index, so every graph is acyclic by construction (and
`Graph` refuses anything else). Generation is O(size + edges).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Graph:
    """`deps[i]` are the resources resource `i` depends on, each lower than `i`."""

    deps: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        for index, targets in enumerate(self.deps):
            if any(not 0 <= target < index for target in targets):
                raise ValueError(f"resource {index} depends on {targets}: not all lower")
            if len(set(targets)) != len(targets):
                raise ValueError(f"resource {index} lists a dependency twice: {targets}")

    @property
    def size(self) -> int:
        return len(self.deps)

    @property
    def edges(self) -> int:
        return sum(len(targets) for targets in self.deps)


@dataclass(frozen=True)
class ShapeOptions:
    """Knobs only some shapes read: `branching` (tree), `density` and `seed` (random)."""

    branching: int = 2
    density: float = 2.0
    seed: int = 1


def flat(size: int, options: ShapeOptions) -> Graph:
    return Graph(tuple(() for _ in range(size)))


def chain(size: int, options: ShapeOptions) -> Graph:
    return Graph(tuple(() if i == 0 else (i - 1,) for i in range(size)))


def diamond(size: int, options: ShapeOptions) -> Graph:
    """Root 0, middle 1..size-2 on the root, sink size-1 on the middle (on the root if none)."""
    if size <= 1:
        return flat(size, options)
    middle = tuple(range(1, size - 1))
    return Graph(((), *(((0,),) * len(middle)), middle or (0,)))


def fanin(size: int, options: ShapeOptions) -> Graph:
    """size-1 independent resources and a sink depending on all of them."""
    if size == 0:
        return Graph(())
    return Graph((*((),) * (size - 1), tuple(range(size - 1))))


def fanout(size: int, options: ShapeOptions) -> Graph:
    """Root 0 and size-1 resources depending on it."""
    return Graph(tuple(() if i == 0 else (0,) for i in range(size)))


def tree(size: int, options: ShapeOptions) -> Graph:
    """Resource i depends on its parent (i-1)//branching: a complete B-ary tree."""
    branching = options.branching
    return Graph(tuple(() if i == 0 else ((i - 1) // branching,) for i in range(size)))


def random_dag(size: int, options: ShapeOptions) -> Graph:
    """Resource i depends on `density` resources on average, drawn uniformly below i.

    Each resource takes floor(density) dependencies, plus one with probability
    frac(density), capped at i; so the graph has about density*size edges (the
    cap drops ~density**2/2 of them) and is built in O(size * density).
    """
    rng = random.Random(options.seed)
    whole = int(options.density)
    fraction = options.density - whole
    deps: list[tuple[int, ...]] = []
    for i in range(size):
        count = min(i, whole + (1 if rng.random() < fraction else 0))
        deps.append(tuple(sorted(rng.sample(range(i), count))))
    return Graph(tuple(deps))


SHAPES: dict[str, Callable[[int, ShapeOptions], Graph]] = {
    "flat": flat,
    "chain": chain,
    "diamond": diamond,
    "fanin": fanin,
    "fanout": fanout,
    "tree": tree,
    "random": random_dag,
}


def build_graph(shape: str, size: int, options: ShapeOptions = ShapeOptions()) -> Graph:
    try:
        generator = SHAPES[shape]
    except KeyError:
        raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}") from None
    return generator(size, options)


def critical_path(graph: Graph) -> tuple[int, ...]:
    """One longest dependency path, root first, as resource indices.

    A delete walks the same path from its last resource back to the root, so its
    length also bounds the delete.
    """
    depth: list[int] = []
    via: list[int | None] = []
    for targets in graph.deps:
        deepest = max(targets, key=depth.__getitem__, default=None)
        depth.append(1 if deepest is None else depth[deepest] + 1)
        via.append(deepest)
    if not depth:
        return ()
    node: int | None = max(range(graph.size), key=depth.__getitem__)
    path: list[int] = []
    while node is not None:
        path.append(node)
        node = via[node]
    return tuple(reversed(path))


def critical_path_length(graph: Graph) -> int:
    """Resources on the longest dependency path (0 for an empty graph)."""
    return len(critical_path(graph))

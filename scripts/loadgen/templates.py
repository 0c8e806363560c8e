"""HOT templates of generated stacks: one resource per graph node, `depends_on` for each edge.

Resources are named `r00000`, `r00001`, ... (wider past 99,999). Generation 1 is
the create template, generation 2 the update template, 3 and on the supersede
operation's updates: every resource changes a property from one to the next.
Without latency, replacements or outside effects asked for, the resources are
`OS::Heat::None` (the cheapest actor, updated in place, with no outside effects);
otherwise `OS::Heat::TestResource`, which stands in for a resource of the outside
world: it waits `wait_secs` in create, update and delete, updates `value` in place
and is replaced when `update_replace_value` changes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from scripts.loadgen.graph import Graph

HOT_VERSION = "2021-04-16"
NONE_TYPE = "OS::Heat::None"
TEST_TYPE = "OS::Heat::TestResource"


@dataclass(frozen=True)
class ResourceKind:
    """What each resource does: its simulated latency, which ones an update replaces, and
    whether its actor has outside effects (`ResourceActor.outside_effects`)."""

    latency: float = 0.0
    replaced: frozenset[int] = frozenset()
    outside: bool = False

    @property
    def type_name(self) -> str:
        plain = self.latency == 0 and not self.replaced and not self.outside
        return NONE_TYPE if plain else TEST_TYPE


def pick_replaced(size: int, fraction: float, seed: int) -> frozenset[int]:
    """round(fraction * size) resources chosen uniformly, the same ones for the same seed."""
    rng = random.Random(f"replace-{seed}")
    return frozenset(rng.sample(range(size), round(fraction * size)))


def resource_name(index: int) -> str:
    return f"r{index:05d}"


def stack_template(graph: Graph, kind: ResourceKind, generation: int) -> dict[str, Any]:
    """The template of `graph` at `generation` (1 to create, 2 and on to update)."""
    resources: dict[str, Any] = {}
    for index, targets in enumerate(graph.deps):
        definition: dict[str, Any] = {"type": kind.type_name,
                                      "properties": _properties(kind, index, generation)}
        if targets:
            definition["depends_on"] = [resource_name(target) for target in targets]
        resources[resource_name(index)] = definition
    return {"heat_template_version": HOT_VERSION, "resources": resources}


def _properties(kind: ResourceKind, index: int, generation: int) -> dict[str, Any]:
    if kind.type_name == NONE_TYPE:
        return {"generation": generation}
    replacement = generation if index in kind.replaced else 1
    return {"value": f"g{generation}", "wait_secs": kind.latency,
            "update_replace_value": f"g{replacement}"}

"""The traversal graph: update and cleanup nodes and the edges between them.

For a target template and the stack's existing rows (DESIGN section 7):

* `update(name)` for each resource of the target, bound to the name's current
  row (a new row is made for a new name);
* `cleanup(row)` for each existing row;
* the stack's own node, which waits for every root (a node nothing waits for).

Edges, "B waits for A" written A -> B:

* update(s) -> update(r) when r depends on s in the target;
* cleanup(x) -> cleanup(y) when row x required row y when it was last applied
  (dependents are deleted first);
* cleanup(x) -> cleanup(y) when x replaced y;
* update(x.name) -> cleanup(x) for every row whose name is in the target.

Check, suspend and resume traversals have update nodes only: no edges for
check, dependencies first for resume, dependents first for suspend.

Each node's *slack* (`slacks`) is how many steps shorter the longest path
through it is than the graph's longest path, every resource node counting one
step (`Node.step`) except the cleanup node of a row its update node is bound
to: unless the update replaces the row, that node has nothing to do and is
passed within the update node's end. The nodes of a critical path have no
slack. Ready nodes are claimed and run least slack first (critical-path list
scheduling, see `priority`), so the nodes that bound the traversal's makespan
do not queue behind the others.

`build_graph` is a pure function; `render` gives a stable text form for tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from storage import NodeKey, Phase, ResourceRecord
from supervisor.template import CompiledTemplate


@dataclass
class Node:
    key: NodeKey
    row_id: str | None = None
    #: steps the node is expected to take on a path: 0 for the stack node and for the
    #: cleanup node of a row the target keeps, else 1 (an action)
    step: int = 1
    predecessors: set[NodeKey] = field(default_factory=set)
    successors: set[NodeKey] = field(default_factory=set)


@dataclass
class Graph:
    stack_node: NodeKey
    nodes: dict[NodeKey, Node] = field(default_factory=dict)

    def add(self, key: NodeKey, row_id: str | None = None, step: int = 1) -> Node:
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = Node(key, row_id, step)
        return node

    def edge(self, before: NodeKey, after: NodeKey) -> None:
        if before == after:
            return
        self.nodes[before].successors.add(after)
        self.nodes[after].predecessors.add(before)

    def close(self) -> None:
        """Make the stack node wait for every root."""
        stack = self.add(self.stack_node, step=0)
        for node in list(self.nodes.values()):
            if node is not stack and not node.successors:
                self.edge(node.key, stack.key)


def update_key(name: str) -> NodeKey:
    return NodeKey(Phase.UPDATE, name)


def cleanup_key(row_id: str) -> NodeKey:
    return NodeKey(Phase.CLEANUP, row_id)


def build_graph(stack_id: str, target: CompiledTemplate | None,
                current: Mapping[str, ResourceRecord], rows: Iterable[ResourceRecord]) -> Graph:
    """The graph of an update (or delete, with `target` None) over the existing `rows`.

    `current` maps each target resource name to the row its update node is
    bound to (existing or new).
    """
    graph = Graph(NodeKey(Phase.STACK, stack_id))
    resources = {} if target is None else target.resources
    updates = {name: update_key(name) for name in resources}
    for name, key in updates.items():
        row = current.get(name)
        graph.add(key, None if row is None else row.id)
    existing = list(rows)
    cleanups = {row.id: cleanup_key(row.id) for row in existing}
    for row in existing:
        kept = current.get(row.name) is not None and current[row.name].id == row.id
        graph.add(cleanups[row.id], row.id, step=0 if kept else 1)
    if target is not None:
        for name, deps in target.dependencies.items():
            for dep in deps:
                graph.edge(updates[dep], updates[name])
    for row in existing:
        key = cleanups[row.id]
        for required in row.requires:
            if required in cleanups:
                graph.edge(key, cleanups[required])
        if row.replaces in cleanups:
            graph.edge(key, cleanups[row.replaces])
        if row.name in resources:
            graph.edge(updates[row.name], key)
    graph.close()
    return graph


def build_walk(stack_id: str, target: CompiledTemplate, current: Mapping[str, ResourceRecord],
               direction: int) -> Graph:
    """A check (direction 0), resume (1) or suspend (-1) graph over the current rows."""
    graph = Graph(NodeKey(Phase.STACK, stack_id))
    names = [name for name in target.resources if name in current]
    for name in names:
        graph.add(update_key(name), current[name].id)
    if direction:
        for name in names:
            for dep in target.dependencies[name]:
                if dep in current:
                    before, after = (dep, name) if direction > 0 else (name, dep)
                    graph.edge(update_key(before), update_key(after))
    graph.close()
    return graph


def slacks(graph: Graph) -> dict[NodeKey, int]:
    """Every node's slack, in O(nodes + edges), counting each node's `step`."""
    order = _topological(graph)
    if len(order) != len(graph.nodes):  # a cycle: no node is critical, none waits
        return dict.fromkeys(graph.nodes, 0)
    step = {key: graph.nodes[key].step for key in order}
    longest_to: dict[NodeKey, int] = {}  # the longest path ending with the node
    for key in order:
        before = graph.nodes[key].predecessors
        longest_to[key] = step[key] + max((longest_to[p] for p in before), default=0)
    longest_from: dict[NodeKey, int] = {}  # the longest path starting with it
    for key in reversed(order):
        after = graph.nodes[key].successors
        longest_from[key] = step[key] + max((longest_from[s] for s in after), default=0)
    longest = max(longest_to.values(), default=0)
    return {key: longest - (longest_to[key] + longest_from[key] - step[key]) for key in order}


def _topological(graph: Graph) -> list[NodeKey]:
    waiting = {key: len(node.predecessors) for key, node in graph.nodes.items()}
    order = [key for key, count in waiting.items() if count == 0]
    for key in order:  # grows while it is walked
        for successor in graph.nodes[key].successors:
            waiting[successor] -= 1
            if waiting[successor] == 0:
                order.append(successor)
    return order


def render(graph: Graph, names: Mapping[str, str] | None = None) -> str:
    """One line per node, `key <- predecessors`, sorted; row ids shown via `names`."""
    label = names or {}

    def show(key: NodeKey) -> str:
        if key.phase is Phase.STACK:
            return "stack"
        return f"{key.phase.value}({label.get(key.ref, key.ref)})"

    lines = []
    for node in graph.nodes.values():
        preds = sorted(show(p) for p in node.predecessors)
        lines.append(f"{show(node.key)} <- {', '.join(preds)}" if preds else show(node.key))
    return "\n".join(sorted(lines))

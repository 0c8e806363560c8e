"""The traversal graph's slack: how far each node is from the critical path."""

from __future__ import annotations

from storage import NodeKey, Phase
from supervisor.convergence.graph import Graph, cleanup_key, slacks, update_key


def graph_of(edges: dict[str, list[str]]) -> Graph:
    """Update nodes named by the keys, each waiting for the nodes listed."""
    graph = Graph(NodeKey(Phase.STACK, "stack"))
    for name in edges:
        graph.add(update_key(name))
    for name, before in edges.items():
        for dep in before:
            graph.edge(update_key(dep), update_key(name))
    graph.close()
    return graph


def by_name(graph: Graph) -> dict[str, int]:
    return {key.ref: slack for key, slack in slacks(graph).items()}


def test_a_chain_has_no_slack_and_a_lone_node_the_difference() -> None:
    graph = graph_of({"a": [], "b": ["a"], "c": ["b"], "lone": []})
    assert by_name(graph) == {"a": 0, "b": 0, "c": 0, "lone": 2, "stack": 0}


def test_the_shorter_branch_of_a_diamond_has_the_slack() -> None:
    graph = graph_of({"top": [], "long1": ["top"], "long2": ["long1"], "short": ["top"],
                      "bottom": ["long2", "short"]})
    assert by_name(graph) == {"top": 0, "long1": 0, "long2": 0, "short": 1, "bottom": 0,
                              "stack": 0}


def test_cleanup_nodes_count_as_steps_of_the_path() -> None:
    graph = graph_of({"a": [], "b": []})
    graph.add(cleanup_key("row-a"), "row-a")
    graph.edge(update_key("a"), cleanup_key("row-a"))
    graph.nodes[update_key("a")].successors.discard(NodeKey(Phase.STACK, "stack"))
    graph.nodes[NodeKey(Phase.STACK, "stack")].predecessors.discard(update_key("a"))
    graph.close()
    assert by_name(graph) == {"a": 0, "row-a": 0, "b": 1, "stack": 0}


def test_a_graph_with_a_cycle_gives_every_node_no_slack() -> None:
    graph = graph_of({"a": ["b"], "b": ["a"], "c": []})
    assert set(by_name(graph).values()) == {0}

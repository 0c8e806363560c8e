"""The traversal graph's slack: how far each node is from the critical path."""

from __future__ import annotations

from actors import default_registry
from storage import NodeKey, Phase, StackRecord
from supervisor.convergence.graph import Graph, build_graph, cleanup_key, slacks, update_key
from supervisor.template import CompiledTemplate, StackIdentity, compile_template
from tests.storage.storage_samples import resource, stack
from tests.support import hot


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


def chain_then_lone() -> CompiledTemplate:
    """`a` <- `b` <- `c`, and `lone` on its own."""
    def none(*deps: str) -> dict[str, object]:
        return {"type": "OS::Heat::None", "depends_on": list(deps)}

    return compile_template(hot({"a": none(), "b": none("a"), "c": none("b"), "lone": none()}),
                            files={}, environment={}, parameters={},
                            identity=StackIdentity("s", "id"), registry=default_registry())


def test_an_update_keeping_every_row_counts_only_its_update_nodes() -> None:
    """The cleanup node of a kept row is passed within its update node's end: it adds no
    step, so the update's slack is the template's (a chain of cleanups back up the graph
    would otherwise make every node look critical)."""
    owner: StackRecord = stack()
    rows = {name: resource(owner, name) for name in ["a", "b", "c", "lone"]}
    rows["b"] = resource(owner, "b", requires=(rows["a"].id,))
    rows["c"] = resource(owner, "c", requires=(rows["b"].id,))
    graph = build_graph(owner.id, chain_then_lone(), rows, rows.values())
    slack = slacks(graph)
    assert [slack[update_key(name)] for name in ["a", "b", "c", "lone"]] == [0, 0, 0, 2]
    assert slack[cleanup_key(rows["a"].id)] == 0  # after c's and b's cleanups: a path's end


def test_a_removed_rows_cleanup_is_a_step() -> None:
    """A row whose resource left the template is deleted by its cleanup node: an action."""
    owner: StackRecord = stack()
    kept = {name: resource(owner, name) for name in ["a", "b", "c", "lone"]}
    gone = resource(owner, "gone")
    graph = build_graph(owner.id, chain_then_lone(), kept, [*kept.values(), gone])
    assert graph.nodes[cleanup_key(gone.id)].step == 1
    assert graph.nodes[cleanup_key(kept["a"].id)].step == 0
    assert slacks(graph)[cleanup_key(gone.id)] == 2

"""The load tool: generated graph shapes, their critical paths, templates, figures, and the script
itself."""

from __future__ import annotations

import graphlib
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from scripts.loadgen import (
    SHAPES,
    Graph,
    OperationResult,
    ResourceKind,
    ShapeOptions,
    SupersedeFigures,
    build_graph,
    critical_path,
    critical_path_length,
    pick_replaced,
    stack_template,
    start_window,
)
from scripts.loadgen.cli import main
from scripts.loadgen.host import measure_host

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "load.py"


def _longest_by_brute_force(graph: Graph) -> int:
    """Longest path in nodes, from an order graphlib computes (independent of the generators)."""
    sorter = graphlib.TopologicalSorter({i: set(deps) for i, deps in enumerate(graph.deps)})
    depth: dict[int, int] = {}
    for node in sorter.static_order():
        depth[node] = 1 + max((depth[d] for d in graph.deps[node]), default=0)
    return max(depth.values(), default=0)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("size", [1, 2, 3, 50, 257])
def test_every_shape_is_an_acyclic_graph_of_the_right_size(shape: str, size: int) -> None:
    graph = build_graph(shape, size, ShapeOptions(branching=3, density=2.5, seed=7))

    assert graph.size == size
    assert all(d < i for i, deps in enumerate(graph.deps) for d in deps)
    graphlib.TopologicalSorter({i: set(deps) for i, deps in enumerate(graph.deps)}).prepare()
    assert critical_path_length(graph) == _longest_by_brute_force(graph)


def test_flat_and_chain_edges() -> None:
    assert build_graph("flat", 5).deps == ((),) * 5
    assert build_graph("chain", 4).deps == ((), (0,), (1,), (2,))


def test_diamond_has_one_root_a_middle_on_it_and_one_sink_on_the_middle() -> None:
    graph = build_graph("diamond", 6)

    assert graph.deps == ((), (0,), (0,), (0,), (0,), (1, 2, 3, 4))
    assert build_graph("diamond", 2).deps == ((), (0,))


def test_fanin_sink_depends_on_every_other_resource() -> None:
    graph = build_graph("fanin", 10_000)

    assert graph.deps[:-1] == ((),) * 9_999
    assert graph.deps[-1] == tuple(range(9_999))
    assert graph.edges == 9_999


def test_fanout_hangs_everything_on_the_root() -> None:
    assert build_graph("fanout", 4).deps == ((), (0,), (0,), (0,))


@pytest.mark.parametrize("branching", [1, 2, 3])
def test_tree_resource_depends_on_its_parent(branching: int) -> None:
    graph = build_graph("tree", 40, ShapeOptions(branching=branching))

    assert graph.deps[0] == ()
    assert all(graph.deps[i] == ((i - 1) // branching,) for i in range(1, 40))


def test_random_dag_is_seeded_and_has_about_density_times_size_backward_edges() -> None:
    options = ShapeOptions(density=3.0, seed=42)
    graph = build_graph("random", 2_000, options)

    assert graph == build_graph("random", 2_000, options)
    assert graph != build_graph("random", 2_000, ShapeOptions(density=3.0, seed=43))
    assert 0.97 * 6_000 <= graph.edges <= 6_000
    assert all(d < i for i, deps in enumerate(graph.deps) for d in deps)


def test_random_dag_honours_a_fractional_density() -> None:
    graph = build_graph("random", 4_000, ShapeOptions(density=0.5, seed=1))

    assert 0.9 * 2_000 <= graph.edges <= 1.1 * 2_000


@pytest.mark.parametrize(("shape", "size", "expected"), [
    ("flat", 100, 1), ("chain", 100, 100), ("diamond", 100, 3), ("fanin", 100, 2),
    ("fanout", 100, 2), ("tree", 15, 4), ("tree", 16, 5), ("chain", 0, 0),
])
def test_critical_path_length_per_shape(shape: str, size: int, expected: int) -> None:
    assert critical_path_length(build_graph(shape, size)) == expected


def test_tree_critical_path_is_its_depth_for_any_branching() -> None:
    # a complete 3-ary tree holds 1 + 3 + 9 + 27 = 40 resources in 4 levels; the 41st opens a 5th
    assert critical_path_length(build_graph("tree", 40, ShapeOptions(branching=3))) == 4
    assert critical_path_length(build_graph("tree", 41, ShapeOptions(branching=3))) == 5


def test_critical_path_follows_edges_from_a_root() -> None:
    graph = build_graph("random", 500, ShapeOptions(density=2.0, seed=3))
    path = critical_path(graph)

    assert graph.deps[path[0]] == ()
    assert all(earlier in graph.deps[later] for earlier, later in itertools.pairwise(path))


def test_graph_refuses_forward_or_repeated_dependencies() -> None:
    with pytest.raises(ValueError, match="not all lower"):
        Graph(((1,), ()))
    with pytest.raises(ValueError, match="twice"):
        Graph(((), (0, 0)))


def test_template_names_resources_and_lists_dependencies() -> None:
    template = stack_template(build_graph("diamond", 4), ResourceKind(), generation=1)
    resources = template["resources"]

    assert list(resources) == ["r00000", "r00001", "r00002", "r00003"]
    assert "depends_on" not in resources["r00000"]
    assert resources["r00001"]["depends_on"] == ["r00000"]
    assert resources["r00003"]["depends_on"] == ["r00001", "r00002"]
    assert {r["type"] for r in resources.values()} == {"OS::Heat::None"}
    outside = stack_template(build_graph("flat", 2), ResourceKind(outside=True), generation=1)
    assert {r["type"] for r in outside["resources"].values()} == {"OS::Heat::TestResource"}
    assert {r["properties"]["wait_secs"] for r in outside["resources"].values()} == {0}


def test_update_changes_the_replacement_value_of_the_replaced_resources_only() -> None:
    replaced = pick_replaced(10, 0.3, seed=1)
    kind = ResourceKind(latency=0.5, replaced=replaced)
    graph = build_graph("flat", 10)
    before = stack_template(graph, kind, generation=1)["resources"]
    after = stack_template(graph, kind, generation=2)["resources"]

    assert len(replaced) == 3 and replaced == pick_replaced(10, 0.3, seed=1)
    assert {r["type"] for r in after.values()} == {"OS::Heat::TestResource"}
    assert all(r["properties"]["wait_secs"] == 0.5 for r in after.values())
    changed = {int(name[1:]) for name in after
               if after[name]["properties"]["update_replace_value"]
               != before[name]["properties"]["update_replace_value"]}
    assert changed == replaced
    assert all(after[n]["properties"]["value"] != before[n]["properties"]["value"] for n in after)


def test_figures_subtract_the_critical_path_and_spread_it_over_resources() -> None:
    result = OperationResult(run=1, operation="create", wall_s=2.0, resources=100,
                             critical_path_length=10, latency=0.1, statements=450,
                             peak_rss_mib=50.0, statuses={"load-000": "CREATE_COMPLETE"},
                             startup_s=0.25)
    figures = result.figures()

    assert figures["critical_path_s"] == 1.0
    assert figures["engine_ms_per_resource"] == 10.0
    assert figures["makespan_ratio"] == 2.0
    assert figures["startup_s"] == 0.25 and figures["after_startup_ratio"] == 1.75
    assert figures["statements_per_resource"] == 4.5
    assert figures["ok"] is True


def test_figures_without_latency_or_statement_count_are_null() -> None:
    result = OperationResult(run=1, operation="update", wall_s=1.0, resources=10,
                             critical_path_length=3, latency=0.0, statements=None,
                             peak_rss_mib=50.0, statuses={"load-000": "UPDATE_FAILED"},
                             failures={"load-000": "boom"})
    figures = result.figures()

    assert figures["makespan_ratio"] is None
    assert figures["startup_s"] is None and figures["after_startup_ratio"] is None
    assert figures["statements_per_resource"] is None
    assert figures["ok"] is False
    assert figures["last_update_s"] is None and figures["leftover_ready"] is None


def test_supersede_completes_as_an_update_and_reports_its_own_figures() -> None:
    supersede = SupersedeFigures(overlapped=4, last_update_s=0.12345, window=2,
                                 first_starts_ms=1.5, last_starts_ms=1.25, leftover_ready=0,
                                 leftover_sync_points=0, sampled_sync_points=20)
    result = OperationResult(run=1, operation="supersede", wall_s=1.0, resources=10,
                             critical_path_length=1, latency=0.05, statements=None,
                             peak_rss_mib=50.0, statuses={"load-000": "UPDATE_COMPLETE"},
                             supersede=supersede)
    figures = result.figures()

    assert result.ok
    assert figures["last_update_s"] == 0.1235
    assert (figures["first_starts_ms"], figures["last_starts_ms"]) == (1.5, 1.25)
    assert (figures["starts_window"], figures["overlapped"]) == (2, 4)


@pytest.mark.parametrize(("updates", "window"), [(1, 1), (2, 1), (5, 2), (9, 4), (10, 5), (50, 5)])
def test_start_window_keeps_first_and_last_starts_apart(updates: int, window: int) -> None:
    assert start_window(updates) == window


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """`scripts/load.py ... | head -1`: the pipe closes before the results are printed."""
    with subprocess.Popen([sys.executable, str(SCRIPT), "--size", "5", "--json"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_script_runs_a_diamond_on_sqlite_through_convergence() -> None:
    result = _run_script("--size", "20", "--shape", "diamond", "--store", "sqlite",
                         "--path", "convergence", "--json")

    assert result.returncode == 0, result.stderr
    lines = _json_lines(result.stdout)
    assert [line["operation"] for line in lines] == ["create", "update", "delete"]
    for line in lines:
        assert line["statuses"] == {"load-000": f"{line['operation'].upper()}_COMPLETE"}
        assert (line["shape"], line["size"], line["stacks"]) == ("diamond", 20, 1)
        assert (line["path"], line["store"], line["backend"]) == ("convergence", "sqlite", "trio")
        assert line["critical_path_length"] == 3
        assert line["critical_path_s"] == 0 and line["makespan_ratio"] is None
        assert line["resources_per_second"] > 0 and line["peak_rss_mib"] > 0
        assert line["statements_per_resource"] is None or line["statements_per_resource"] > 0
        assert {"seed", "density", "latency", "replace", "wall_s",
                "engine_ms_per_resource"} <= set(line)


def test_script_outside_effects_cost_the_legacy_walk_a_commit_per_resource() -> None:
    """--outside swaps OS::Heat::None for OS::Heat::TestResource, whose IN_PROGRESS states
    the legacy walk commits one by one: more statements per resource than a run of None."""
    figures = {}
    for extra in ((), ("--outside",)):
        result = _run_script("--size", "30", "--store", "sqlite", "--path", "legacy",
                             "--ops", "create", "--json", *extra)
        assert result.returncode == 0, result.stderr
        [line] = _json_lines(result.stdout)
        assert line["statuses"] == {"load-000": "CREATE_COMPLETE"}
        figures[line["outside"]] = line["statements_per_resource"]
    assert figures[True] > figures[False] + 1, figures


def test_script_runs_concurrent_stacks_with_latency_on_memory() -> None:
    result = _run_script("--stacks", "3", "--latency", "0.01", "--size", "10", "--shape", "chain",
                         "--store", "memory", "--json")

    assert result.returncode == 0, result.stderr
    lines = _json_lines(result.stdout)
    assert len(lines) == 3
    for line in lines:
        assert set(line["statuses"]) == {"load-000", "load-001", "load-002"}
        assert set(line["statuses"].values()) == {f"{line['operation'].upper()}_COMPLETE"}
        assert line["resources"] == 30
        assert line["critical_path_s"] == pytest.approx(0.1)
        assert line["makespan_ratio"] >= 1.0
        # the start-up ends at the first actor call: before the critical path's work
        assert 0 < line["startup_s"] < line["wall_s"] - line["critical_path_s"]
        assert line["after_startup_ratio"] == pytest.approx(
            (line["wall_s"] - line["startup_s"]) / line["critical_path_s"], abs=0.002)
        assert line["statements_per_resource"] is None


def test_script_supersedes_overlapping_updates_and_leaves_nothing_behind() -> None:
    result = _run_script("--size", "20", "--path", "convergence", "--store", "memory",
                         "--ops", "create,supersede,delete", "--supersede", "5",
                         "--latency", "0.02", "--json")

    assert result.returncode == 0, result.stderr
    lines = _json_lines(result.stdout)
    assert [line["operation"] for line in lines] == ["create", "supersede", "delete"]
    create, supersede, delete = lines
    assert supersede["statuses"] == {"load-000": "UPDATE_COMPLETE"}
    assert (supersede["supersede"], supersede["supersede_interval"]) == (5, 0.02)
    assert supersede["leftover_ready"] == 0
    assert supersede["leftover_sync_points"] == 0 and supersede["sampled_sync_points"] > 0
    assert supersede["starts_window"] == 2
    assert 0 < supersede["last_update_s"] < supersede["wall_s"]
    assert supersede["first_starts_ms"] > 0 and supersede["last_starts_ms"] > 0
    assert 0 <= supersede["overlapped"] <= 4
    for other in (create, delete):
        assert other["last_update_s"] is None and other["leftover_ready"] is None


def test_script_refuses_supersede_on_the_legacy_path_in_one_line() -> None:
    result = _run_script("--ops", "create,supersede", "--path", "legacy")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("load.py: error: --ops supersede needs --path convergence")


def test_script_rejects_a_bad_argument_in_one_line() -> None:
    result = _run_script("--size", "0")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("load.py: error: argument --size:")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [
    ["--replace", "2"], ["--replace", "-0.1"], ["--latency", "nan"], ["--stacks", "0"],
    ["--ops", "update,delete"], ["--ops", "create,frobnicate"], ["--shape", "ring"],
    ["--branching", "0"], ["--density", "-1"], ["--ops", "create,supersede"],
    ["--ops", "supersede,delete", "--path", "convergence"], ["--supersede", "0"],
    ["--supersede-interval", "-0.5"],
])
def test_bad_arguments_exit_2_with_one_line(argv: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("load.py: error:")


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in ("--shape", "--size", "--stacks", "--latency", "--replace", "--ops", "--path",
                   "--store", "--backend", "--repeat", "--seed", "--density", "--branching",
                   "--json", "max_concurrent_actions", "statements", "--supersede",
                   "--supersede-interval", "last_update_s", "leftover_ready"):
        assert option in out


def test_summary_compares_time_per_resource_at_both_sizes(tmp_path: Path) -> None:
    from scripts.loadgen import summary

    def line(size: int, wall: float, **changes: object) -> str:
        base = {"store": "sqlite", "path": "convergence", "shape": "flat", "operation": "create",
                "size": size, "stacks": 1, "latency": 0.0, "wall_s": wall,
                "statements_per_resource": 17.0, "peak_rss_mib": 80.0,
                "critical_path_s": 0.0, "makespan_ratio": None, "status": "CREATE_COMPLETE"}
        return json.dumps({**base, **changes})

    results = tmp_path / "runs.jsonl"
    results.write_text("\n".join([line(1000, 1.0), line(1000, 3.0), line(1000, 2.0),
                                  line(10000, 30.0),
                                  line(500, 1.2, latency=0.05, critical_path_s=1.0,
                                       makespan_ratio=1.2),
                                  line(500, 1.3, latency=0.05, critical_path_s=1.0,
                                       makespan_ratio=1.3, startup_s=0.1,
                                       after_startup_ratio=1.2),
                                  line(1000, 9.0, outside=True),
                                  line(1000, 0.5, path="legacy")]) + "\n")
    rows = list(summary.scaling_rows(summary.read([str(results)])))
    # the run with outside effects is not one of the 1,000 runs compared
    assert rows[2] == "| sqlite | convergence | flat | create | 2.000 | 3.000 | 1.50 (over) " \
                      "| 17.0 | 80 MiB |"
    headline = list(summary.headline_rows(summary.read([str(results)])))
    assert headline[2:] == [
        "| convergence | OS::Heat::None | 2.000 (1.000-3.000) | - | - | 3 |",
        "| convergence | TestResource (outside effects) | 9.000 (9.000-9.000) | - | - | 1 |",
        "| legacy | OS::Heat::None | 0.500 (0.500-0.500) | - | - | 1 |"]
    others = list(summary.other_rows(summary.read([str(results)])))
    assert len(others) == 4
    assert "| 1.20 | - | - |" in others[2]  # a line from before start-ups were timed
    assert "| 1.30 | 0.100 | 1.20 |" in others[3]


def test_summary_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    for args, expected in (([], "give one or more files"),
                           ([str(tmp_path / "missing.jsonl")], "cannot read"),
                           ([str(garbage)], "not load.py --json lines")):
        done = subprocess.run([sys.executable, "-m", "scripts.loadgen.summary", *args],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        assert done.returncode == 1
        assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr


def test_script_reports_the_hosts_speed_on_every_line_and_under_the_table() -> None:
    as_json = _run_script("--size", "5", "--store", "sqlite", "--json")
    on_memory = _run_script("--size", "5", "--store", "memory", "--json")
    as_table = _run_script("--size", "5", "--store", "memory")

    assert as_json.returncode == 0 and on_memory.returncode == 0, as_json.stderr + on_memory.stderr
    sqlite_lines, memory_lines = _json_lines(as_json.stdout), _json_lines(on_memory.stdout)
    for line in sqlite_lines + memory_lines:
        assert line["host_python_ms"] > 0 and line["host_write_ms"] > 0
    assert len({line["host_write_ms"] for line in sqlite_lines}) == 1  # measured once
    # a durable SQLite commit (an fsync) costs far more than a dict update in memory
    assert sqlite_lines[0]["host_write_ms"] > 5 * memory_lines[0]["host_write_ms"]
    assert as_table.returncode == 0, as_table.stderr
    assert re.search(r"^host: reference Python workload [\d.]+ ms \(best of 5\), one durable "
                     r"store write [\d.]+ ms \(median of 200\)$", as_table.stdout, re.MULTILINE)


def test_measure_host_leaves_its_scratch_store_closed_and_apart(tmp_path: Path) -> None:
    scratch = tmp_path / "host"
    figures = anyio.run(measure_host, f"sqlite:///{scratch / 'probe.db'}")

    assert figures.python_ms > 0 and figures.write_ms > 0
    assert set(figures.figures()) == {"host_python_ms", "host_write_ms"}
    assert [p.name for p in tmp_path.iterdir()] == ["host"]
    # closed: SQLite removes the WAL and shared-memory files with the last connection
    assert sorted(p.name for p in scratch.iterdir()) == ["probe.db"]


def test_summary_prints_the_median_host_figures_per_store(tmp_path: Path) -> None:
    from scripts.loadgen import summary

    lines = [{"store": store, "host_python_ms": python, "host_write_ms": write}
             for store, python, write in (("sqlite", 60.0, 0.5), ("sqlite", 70.0, 0.3),
                                          ("sqlite", 80.0, 0.4), ("memory", 50.0, 0.01))]
    assert summary.host_line(lines) == (
        "Host, median over 4 lines: reference Python workload 65.0 ms; one durable store "
        "write: memory 0.010 ms, sqlite 0.400 ms.")
    assert summary.host_line([{"store": "sqlite", "wall_s": 1.0}]) is None

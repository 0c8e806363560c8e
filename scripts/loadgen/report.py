"""Printing results: a rich table for people, or JSON lines (one object per operation).

Each JSON object holds the figures of `OperationResult.figures` plus the run's
parameters and the host's figures (`host`), so lines from different runs can be
concatenated and compared. The supersede operation's own figures and the host's
go on lines under the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console
from rich.table import Table

from scripts.loadgen.host import HostFigures
from scripts.loadgen.measure import OperationResult
from scripts.loadgen.spec import LoadSpec

#: (column header, figure key, format) of the table, in order
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("wall s", "wall_s", "{:.3f}"),
    ("res/s", "resources_per_second", "{:.1f}"),
    ("crit. path s", "critical_path_s", "{:.3f}"),
    ("engine ms/res", "engine_ms_per_resource", "{:.3f}"),
    ("wall / crit.", "makespan_ratio", "{:.2f}"),
    ("start s", "startup_s", "{:.3f}"),
    ("rest / crit.", "after_startup_ratio", "{:.2f}"),
    ("peak MiB", "peak_rss_mib", "{:.0f}"),
    ("stmts/res", "statements_per_resource", "{:.1f}"),
)


def record(result: OperationResult, spec: LoadSpec, host: HostFigures) -> dict[str, Any]:
    """One JSON object: the run's parameters, the operation, its figures and the host's."""
    return {**spec.parameters(), "run": result.run, "operation": result.operation,
            **result.figures(), **host.figures()}


def json_lines(results: Iterable[OperationResult], spec: LoadSpec,
               host: HostFigures) -> Iterator[str]:
    for result in results:
        yield json.dumps(record(result, spec, host))


def table(results: Iterable[OperationResult], spec: LoadSpec) -> Table:
    view = Table(title=title(spec), title_justify="left")
    view.add_column("run", justify="right")
    view.add_column("op")
    for header, _, _ in COLUMNS:
        view.add_column(header, justify="right")
    view.add_column("status")
    for result in results:
        figures = result.figures()
        cells = [_cell(figures[key], form) for _, key, form in COLUMNS]
        style = None if result.ok else "bold red"
        view.add_row(str(result.run), result.operation, *cells, figures["status"], style=style)
    return view


def title(spec: LoadSpec) -> str:
    shape = spec.shape
    if spec.shape == "tree":
        shape += f" (branching {spec.branching})"
    elif spec.shape == "random":
        shape += f" (density {spec.density:g}, seed {spec.seed})"
    outside = ", outside effects" if spec.outside else ""
    return (f"{spec.stacks} x {shape} stack of {spec.size}, latency {spec.latency:g} s, "
            f"replace {spec.replace:g}{outside}; {spec.path} path, {spec.store} store, "
            f"{spec.backend}")


def _cell(value: Any, form: str) -> str:
    return "-" if value is None else form.format(value)


def supersede_lines(results: Iterable[OperationResult], spec: LoadSpec) -> Iterator[str]:
    """One line per supersede operation with the figures the table has no columns for."""
    for result in results:
        figures = result.supersede
        if figures is None:
            continue
        window = figures.window
        yield (f"run {result.run} supersede: {spec.supersede} updates per stack "
               f"{spec.supersede_interval:g} s apart, {figures.overlapped} overlapped; "
               f"last update {figures.last_update_s:.3f} s; starts "
               f"{figures.first_starts_ms:.2f} ms (first {window}) vs "
               f"{figures.last_starts_ms:.2f} ms (last {window}); leftover "
               f"{figures.leftover_ready} ready, {figures.leftover_sync_points}/"
               f"{figures.sampled_sync_points} sampled sync points")


def failure_lines(results: Iterable[OperationResult], limit: int = 5) -> Iterator[str]:
    """One line per stack that did not complete, the first `limit` of them."""
    failed = [(result, name, reason) for result in results
              for name, reason in result.failures.items()]
    for result, name, reason in failed[:limit]:
        yield (f"run {result.run} {result.operation}: stack {name} ended "
               f"{result.statuses[name]}: {reason}")
    if len(failed) > limit:
        yield f"... and {len(failed) - limit} more stacks did not complete"


def show(results: list[OperationResult], spec: LoadSpec, host: HostFigures, *,
         as_json: bool) -> None:
    if as_json:
        for line in json_lines(results, spec, host):
            print(line)
        return
    console = Console(width=None if Console().is_terminal else 160)
    console.print(table(results, spec))
    console.print(host.line(), highlight=False, soft_wrap=True)
    for line in supersede_lines(results, spec):
        console.print(line, highlight=False, soft_wrap=True)

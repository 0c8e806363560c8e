"""Load generation for `scripts/load.py`: generated stack graphs, their templates, timed runs.

The graph and critical-path functions are pure and imported by the tests; the
runner drives an in-process engine; `cli.main` is the script's entry point.
"""

from scripts.loadgen.graph import (
    SHAPES,
    Graph,
    ShapeOptions,
    build_graph,
    critical_path,
    critical_path_length,
)
from scripts.loadgen.measure import OperationResult, SupersedeFigures, start_window
from scripts.loadgen.spec import LoadSpec
from scripts.loadgen.templates import ResourceKind, pick_replaced, resource_name, stack_template

__all__ = [
    "SHAPES",
    "Graph",
    "LoadSpec",
    "OperationResult",
    "ResourceKind",
    "ShapeOptions",
    "SupersedeFigures",
    "build_graph",
    "critical_path",
    "critical_path_length",
    "pick_replaced",
    "resource_name",
    "stack_template",
    "start_window",
]

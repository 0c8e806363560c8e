"""Rendering command results: `-f table|json|yaml`, and events as they happen.

JSON and YAML go to stdout and nothing else does, so scripts can parse them;
in those formats the event stream goes to stderr. Tables are drawn with rich.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import yaml
from rich.console import Console
from rich.table import Table

from storage import EventRecord, status_text
from supervisor.views import iso

FORMATS = ("table", "json", "yaml")


def emit(data: Any, fmt: str, *, columns: Sequence[str] | None = None) -> None:
    """Print a result: a mapping (field/value table) or a list of mappings (one row each)."""
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif fmt == "yaml":
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    elif isinstance(data, Mapping):
        _field_table(data)
    else:
        _row_table(data, columns)
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=False,
                   width=None if sys.stdout.isatty() else 200)


def _field_table(data: Mapping[str, Any]) -> None:
    table = Table("Field", "Value", show_lines=False)
    for key, value in data.items():
        if key == "outputs" and isinstance(value, list):
            value = {o["output_key"]: o["output_value"] for o in value}
        table.add_row(key, _cell(value))
    _console().print(table)


def _row_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None) -> None:
    names = list(columns) if columns else (list(rows[0].keys()) if rows else [])
    table = Table(*names)
    for row in rows:
        table.add_row(*(_cell(row.get(name)) for name in names))
    _console().print(table)


def event_line(event: EventRecord) -> str:
    """One event as Heat's CLI prints it while waiting."""
    state = status_text(event.action, event.status)
    reason = f"  {event.reason}" if event.reason else ""
    return f"{iso(event.time)} [{event.resource_name}]: {state}{reason}"


def event_stream(fmt: str) -> TextIO:
    return sys.stdout if fmt == "table" else sys.stderr


def print_event(event: EventRecord, fmt: str) -> None:
    stream = event_stream(fmt)
    stream.write(event_line(event) + "\n")
    stream.flush()

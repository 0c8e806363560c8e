"""Plain records the stores persist: stacks, templates, resources, events, engines.

Records are frozen dataclasses with JSON-compatible payload fields; they carry
no behaviour. Times are UNIX epoch seconds (UTC) as floats. Ids are strings the
engine generates (uuid4 hex), except event ids, which the store assigns in
append order.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Action(enum.StrEnum):
    INIT = "INIT"
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    ROLLBACK = "ROLLBACK"
    CHECK = "CHECK"
    SUSPEND = "SUSPEND"
    RESUME = "RESUME"


class Status(enum.StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


def status_text(action: Action, status: Status) -> str:
    """Heat's rendering of a state: `CREATE_COMPLETE`."""
    return f"{action.value}_{status.value}"


@dataclass(frozen=True)
class TemplateRecord:
    """A template as submitted: the parsed document, the files `get_file` reads, the environment."""

    id: str
    stack_id: str
    template: Mapping[str, Any]
    files: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StackRecord:
    id: str
    name: str
    convergence: bool
    action: Action
    status: Status
    reason: str
    template_id: str | None
    prev_template_id: str | None
    parameters: Mapping[str, Any]
    disable_rollback: bool
    timeout_mins: int | None
    tags: tuple[str, ...]
    created_at: float
    updated_at: float | None
    #: engine holding the legacy stack lock (None when free)
    engine_id: str | None = None
    #: convergence only: the current traversal and its graph
    traversal_id: str | None = None
    graph: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ResourceRecord:
    id: str
    stack_id: str
    name: str
    type: str
    physical_id: str | None
    action: Action
    status: Status
    reason: str
    properties: Mapping[str, Any]
    attributes: Mapping[str, Any]
    template_id: str | None
    requires: tuple[str, ...]
    replaces: str | None
    replaced_by: str | None
    created_at: float
    updated_at: float | None
    #: the resource lock: owning engine and a counter bumped on every lock
    engine_id: str | None = None
    atomic_key: int = 0


@dataclass(frozen=True)
class EventRecord:
    """One transition of a stack or resource; `id` is assigned by the store, in append order."""

    stack_id: str
    resource_name: str
    physical_id: str | None
    action: Action
    status: Status
    reason: str
    time: float
    resource_id: str | None = None
    resource_type: str | None = None
    id: int = 0


@dataclass(frozen=True)
class EngineRecord:
    id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float

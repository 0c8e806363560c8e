"""Plain records the stores persist: stacks, templates, resources, events, engines.

Records are frozen dataclasses with JSON-compatible payload fields; they carry
no behaviour. Times are UNIX epoch seconds (UTC) as floats. Ids are strings the
engine generates (32 hex digits, time-ordered: `supervisor.engine.new_id`), except
event ids, which the store assigns in append order.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

R = TypeVar("R")


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


class Phase(enum.StrEnum):
    """The kind of a traversal graph node."""

    #: bring one resource (by name) to its definition in the traversal's template
    UPDATE = "update"
    #: delete one resource row if the traversal no longer uses it, else pass through
    CLEANUP = "cleanup"
    #: the stack's own sync point: complete when every root of the graph has reported
    STACK = "stack"


class NodeKey(NamedTuple):
    """A graph node: `ref` is the resource name (UPDATE), the resource row id (CLEANUP) or the
    stack id (STACK).

    A named tuple, not a frozen dataclass, for its hashing and equality in C: building
    a traversal's graph looks keys up some ten times per edge, and with a dataclass's
    `__hash__` and `__eq__` in Python that was a third of the build (docs/benchmarks.md).
    Compare keys only with keys."""

    phase: Phase
    ref: str


@dataclass(frozen=True)
class TraversalRecord:
    """One convergence operation on a stack: its target and how it ends.

    `template_id` None means the empty template (delete). `deadline` is the
    wall-clock time (epoch seconds) after which the traversal times out.
    """

    id: str
    stack_id: str
    action: Action
    template_id: str | None
    previous_template_id: str | None
    rollback_on_failure: bool
    deadline: float | None
    created_at: float
    #: set by `cancel_traversal`: engines cancel the traversal's in-flight actors
    cancelled: bool = False


@dataclass(frozen=True)
class Delivery:
    """A dependency-satisfied message: who sent it and the data its receiver needs."""

    sender: NodeKey
    data: Mapping[str, Any]


@dataclass(frozen=True)
class SyncPoint:
    """A node's durable inbox in one traversal.

    `remaining` counts predecessors that have not delivered yet; the node is
    ready when it reaches 0. `row_id` is the resource row the node was bound
    to when the traversal started (None for a new resource or the stack node).
    `slack` is how many nodes longer than the longest path through this node the
    traversal's longest path is: 0 on a critical path (its ready entry inherits it).
    """

    traversal_id: str
    stack_id: str
    node: NodeKey
    remaining: int
    successors: tuple[NodeKey, ...]
    row_id: str | None = None
    inputs: tuple[Delivery, ...] = ()
    slack: int = 0


@dataclass(frozen=True)
class NodeState:
    """What a node actor reads before it acts, read in one snapshot (`Store.get_node_state`).

    `rows` is the row its sync point names followed by the rows that replaced
    it, oldest first (empty when the sync point names none or it is gone).
    """

    stack: StackRecord
    traversal: TraversalRecord
    sync_point: SyncPoint
    rows: tuple[ResourceRecord, ...] = ()


@dataclass(frozen=True)
class ReadyNode:
    """A node whose sync point is complete, waiting to be run (claimed) or parked on a lock;
    `slack` is its sync point's (claims take the least first)."""

    traversal_id: str
    stack_id: str
    node: NodeKey
    claimed_by: str | None = None
    parked_on: str | None = None
    slack: int = 0


_FIELDS: dict[type, frozenset[str]] = {}


def evolve(record: R, **changes: Any) -> R:
    """`dataclasses.replace` for a record, without running its `__init__` again (records
    validate nothing): a few times faster, and the engine copies a record on every state
    change."""
    cls = type(record)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    if not names.issuperset(changes):
        raise TypeError(f"{cls.__name__} has no field {sorted(set(changes) - names)[0]!r}")
    copy = object.__new__(cls)
    copy.__dict__.update(record.__dict__)
    copy.__dict__.update(changes)
    return copy

"""How records map to SQLite rows: one fixed column order per record, JSON payloads,
and the fixed SQL text of every statement the SQLite store runs.

Every statement is a constant so the connection's statement cache prepares it once.
Payload mappings are written as compact JSON (any `Mapping` is written as an object)
and read back as dicts; tuple fields are JSON arrays read back as tuples; enums are
their values; booleans are integers. The lock columns (`stacks.engine_id`,
`stacks.traversal_id`, `resources.engine_id`, `resources.atomic_key`) appear only in
the INSERTs and the lock statements, never in the `SAVE_*` updates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from storage.records import (
    Action,
    EngineRecord,
    EventRecord,
    ResourceRecord,
    StackRecord,
    Status,
    TemplateRecord,
)

Row = tuple[Any, ...]


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_plain)


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _load_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


_STACK_COLUMNS = (
    "id, name, convergence, action, status, reason, template_id, prev_template_id,"
    " parameters, disable_rollback, timeout_mins, tags, created_at, updated_at,"
    " engine_id, traversal_id, graph"
)


def _stack_fields(s: StackRecord) -> Row:
    """The columns from `name` to `updated_at`."""
    return (
        s.name, s.convergence, s.action.value, s.status.value, s.reason, s.template_id,
        s.prev_template_id, _dump(s.parameters), s.disable_rollback, s.timeout_mins,
        _dump(s.tags), s.created_at, s.updated_at,
    )  # fmt: skip


def stack_row(s: StackRecord) -> Row:
    return (s.id, *_stack_fields(s), s.engine_id, s.traversal_id, _graph(s))


def stack_save_row(s: StackRecord) -> Row:
    """What `save_stack` writes, then the id: the lock columns stay out."""
    return (*_stack_fields(s), _graph(s), s.id)


def _graph(s: StackRecord) -> str | None:
    return None if s.graph is None else _dump(s.graph)


def stack_from_row(r: Row) -> StackRecord:
    return StackRecord(
        id=r[0], name=r[1], convergence=bool(r[2]), action=Action(r[3]), status=Status(r[4]),
        reason=r[5], template_id=r[6], prev_template_id=r[7], parameters=json.loads(r[8]),
        disable_rollback=bool(r[9]), timeout_mins=r[10], tags=tuple(json.loads(r[11])),
        created_at=r[12], updated_at=r[13], engine_id=r[14], traversal_id=r[15],
        graph=_load_or_none(r[16]),
    )  # fmt: skip


INSERT_STACK = f"INSERT INTO stacks ({_STACK_COLUMNS}) VALUES ({', '.join('?' * 17)})"
SAVE_STACK = """
UPDATE stacks SET name = ?, convergence = ?, action = ?, status = ?, reason = ?,
    template_id = ?, prev_template_id = ?, parameters = ?, disable_rollback = ?,
    timeout_mins = ?, tags = ?, created_at = ?, updated_at = ?, graph = ?
WHERE id = ?"""
STACK_NAME_TAKEN = "SELECT 1 FROM stacks WHERE name = ?"
STACK_EXISTS = "SELECT 1 FROM stacks WHERE id = ?"
# An id match wins over a name match.
GET_STACK = (
    f"SELECT {_STACK_COLUMNS} FROM stacks WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1"
)
LIST_STACKS = f"SELECT {_STACK_COLUMNS} FROM stacks ORDER BY created_at, name"
DELETE_STACK = "DELETE FROM stacks WHERE id = ?"
ACQUIRE_STACK_LOCK = (
    "UPDATE stacks SET engine_id = ?, cancel_request = NULL WHERE id = ? AND engine_id IS ?"
)
REQUEST_CANCEL = "UPDATE stacks SET cancel_request = ? WHERE id = ?"
PEEK_CANCEL_REQUEST = "SELECT cancel_request FROM stacks WHERE id = ?"
RELEASE_STACK_LOCK = "UPDATE stacks SET engine_id = NULL WHERE id = ? AND engine_id = ?"


def template_row(t: TemplateRecord) -> Row:
    return (t.id, t.stack_id, _dump(t.template), _dump(t.files), _dump(t.environment))


def template_from_row(r: Row) -> TemplateRecord:
    return TemplateRecord(r[0], r[1], json.loads(r[2]), json.loads(r[3]), json.loads(r[4]))


INSERT_TEMPLATE = (
    "INSERT INTO raw_templates (id, stack_id, template, files, environment) VALUES (?, ?, ?, ?, ?)"
)
GET_TEMPLATE = "SELECT id, stack_id, template, files, environment FROM raw_templates WHERE id = ?"
DELETE_TEMPLATE = "DELETE FROM raw_templates WHERE id = ?"

_RESOURCE_COLUMNS = (
    "id, stack_id, name, type, physical_id, action, status, reason, properties, attributes,"
    " template_id, requires, replaces, replaced_by, created_at, updated_at, engine_id, atomic_key"
)


def _resource_fields(r: ResourceRecord) -> Row:
    """The columns from `stack_id` to `updated_at`."""
    return (
        r.stack_id, r.name, r.type, r.physical_id, r.action.value, r.status.value, r.reason,
        _dump(r.properties), _dump(r.attributes), r.template_id, _dump(r.requires), r.replaces,
        r.replaced_by, r.created_at, r.updated_at,
    )  # fmt: skip


def resource_row(r: ResourceRecord) -> Row:
    return (r.id, *_resource_fields(r), r.engine_id, r.atomic_key)


def resource_save_row(r: ResourceRecord) -> Row:
    """What `save_resource` writes, then the id: the lock columns stay out."""
    return (*_resource_fields(r), r.id)


def resource_from_row(r: Row) -> ResourceRecord:
    return ResourceRecord(
        id=r[0], stack_id=r[1], name=r[2], type=r[3], physical_id=r[4], action=Action(r[5]),
        status=Status(r[6]), reason=r[7], properties=json.loads(r[8]),
        attributes=json.loads(r[9]), template_id=r[10], requires=tuple(json.loads(r[11])),
        replaces=r[12], replaced_by=r[13], created_at=r[14], updated_at=r[15],
        engine_id=r[16], atomic_key=r[17],
    )  # fmt: skip


INSERT_RESOURCE = f"INSERT INTO resources ({_RESOURCE_COLUMNS}) VALUES ({', '.join('?' * 18)})"
SAVE_RESOURCE = """
UPDATE resources SET stack_id = ?, name = ?, type = ?, physical_id = ?, action = ?,
    status = ?, reason = ?, properties = ?, attributes = ?, template_id = ?, requires = ?,
    replaces = ?, replaced_by = ?, created_at = ?, updated_at = ?
WHERE id = ?"""
RESOURCE_EXISTS = "SELECT 1 FROM resources WHERE id = ?"
GET_RESOURCE = f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE id = ?"
LIST_RESOURCES = (
    f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE stack_id = ? ORDER BY created_at, id"
)
DELETE_RESOURCE = "DELETE FROM resources WHERE id = ?"

_EVENT_COLUMNS = (
    "stack_id, resource_name, physical_id, action, status, reason, time,"
    " resource_id, resource_type, id"
)


def event_row(e: EventRecord) -> Row:
    return (
        e.stack_id, e.resource_name, e.physical_id, e.action.value, e.status.value, e.reason,
        e.time, e.resource_id, e.resource_type,
    )  # fmt: skip


def event_from_row(r: Row) -> EventRecord:
    return EventRecord(
        stack_id=r[0], resource_name=r[1], physical_id=r[2], action=Action(r[3]),
        status=Status(r[4]), reason=r[5], time=r[6], resource_id=r[7], resource_type=r[8],
        id=r[9],
    )  # fmt: skip


INSERT_EVENT = (
    f"INSERT INTO events ({_EVENT_COLUMNS.removesuffix(', id')}) VALUES ({', '.join('?' * 9)})"
)
LIST_EVENTS = f"SELECT {_EVENT_COLUMNS} FROM events WHERE stack_id = ? AND id > ? ORDER BY id"
LIST_RESOURCE_EVENTS = (
    f"SELECT {_EVENT_COLUMNS} FROM events"
    " WHERE stack_id = ? AND id > ? AND resource_name = ? ORDER BY id"
)

_ENGINE_COLUMNS = "id, host, pid, started_at, heartbeat_at"


def engine_row(e: EngineRecord) -> Row:
    return (e.id, e.host, e.pid, e.started_at, e.heartbeat_at)


# Registering an id again replaces its row: an engine restarted with the same id.
REGISTER_ENGINE = f"INSERT OR REPLACE INTO engines ({_ENGINE_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
HEARTBEAT = "UPDATE engines SET heartbeat_at = ? WHERE id = ?"
GET_ENGINE = f"SELECT {_ENGINE_COLUMNS} FROM engines WHERE id = ?"
LIST_ENGINES = f"SELECT {_ENGINE_COLUMNS} FROM engines ORDER BY started_at, id"
REMOVE_ENGINE = "DELETE FROM engines WHERE id = ?"

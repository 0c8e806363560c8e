"""How records map to SQLite rows: one fixed column order per record, JSON payloads,
and the fixed SQL text of every statement the SQLite store runs.

Every statement is a constant so the connection's statement cache prepares it once.
Payload mappings are written as compact JSON (any `Mapping` is written as an object)
and read back as dicts; tuple fields are JSON arrays read back as tuples; enums are
their values; booleans are integers. The lock columns (`stacks.engine_id`,
`stacks.traversal_id`, `resources.engine_id`, `resources.atomic_key`) appear only in
the INSERTs and the lock statements (`START_TRAVERSAL` sets `traversal_id`), never in
the `SAVE_*` updates.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from storage.records import (
    Action,
    Delivery,
    EngineRecord,
    EventRecord,
    NodeKey,
    Phase,
    ReadyNode,
    ResourceRecord,
    StackRecord,
    Status,
    SyncPoint,
    TemplateRecord,
    TraversalRecord,
)

Row = tuple[Any, ...]


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# one encoder for every value: `json.dumps` with options builds a new one per call
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_plain).encode


def _dump(value: Any) -> str:
    if not value:  # the common empty payloads, without the encoder
        if isinstance(value, dict):
            return "{}"
        if isinstance(value, (tuple, list)):
            return "[]"
    return _ENCODE(value)


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
#: the position of `replaced_by` in a row of `_RESOURCE_COLUMNS`
REPLACED_BY = 13


def _resource_fields(r: ResourceRecord) -> Row:
    """The columns from `stack_id` to `updated_at`."""
    return (
        r.stack_id, r.name, r.type, r.physical_id, r.action.value, r.status.value, r.reason,
        _dump(r.properties), _dump(r.attributes), r.template_id, _dump(r.requires), r.replaces,
        r.replaced_by, r.created_at, r.updated_at,
    )  # fmt: skip


def resource_row(r: ResourceRecord) -> Row:
    return (r.id, *_resource_fields(r), r.engine_id, r.atomic_key)


def _saved_fields(r: ResourceRecord) -> Row:
    """What a save writes: every column but the fixed ones (id, stack_id, created_at) and the
    lock columns."""
    return (
        r.name, r.type, r.physical_id, r.action.value, r.status.value, r.reason,
        _dump(r.properties), _dump(r.attributes), r.template_id, _dump(r.requires), r.replaces,
        r.replaced_by, r.updated_at,
    )  # fmt: skip


def resource_save_row(r: ResourceRecord) -> Row:
    """What `save_resource` writes, then the id."""
    return (*_saved_fields(r), r.id)


def resource_from_row(r: Row) -> ResourceRecord:
    return ResourceRecord(
        id=r[0], stack_id=r[1], name=r[2], type=r[3], physical_id=r[4], action=Action(r[5]),
        status=Status(r[6]), reason=r[7], properties=json.loads(r[8]),
        attributes=json.loads(r[9]), template_id=r[10], requires=tuple(json.loads(r[11])),
        replaces=r[12], replaced_by=r[13], created_at=r[14], updated_at=r[15],
        engine_id=r[16], atomic_key=r[17],
    )  # fmt: skip


INSERT_RESOURCE = f"INSERT INTO resources ({_RESOURCE_COLUMNS}) VALUES ({', '.join('?' * 18)})"
# A row's stack and creation time are fixed when it is added (and the stack column is
# indexed and a foreign key: leaving it out of the update spares both).
_SAVED = """name = ?, type = ?, physical_id = ?, action = ?, status = ?, reason = ?,
    properties = ?, attributes = ?, template_id = ?, requires = ?, replaces = ?,
    replaced_by = ?, updated_at = ?"""
SAVE_RESOURCE = f"UPDATE resources SET {_SAVED} WHERE id = ?"
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


# convergence: a node key is two columns (phase, ref); successors are JSON [phase, ref] pairs

_TRAVERSAL_COLUMNS = (
    "id, stack_id, action, template_id, previous_template_id, rollback_on_failure, deadline,"
    " created_at, cancelled"
)


def traversal_row(t: TraversalRecord) -> Row:
    return (
        t.id, t.stack_id, t.action.value, t.template_id, t.previous_template_id,
        t.rollback_on_failure, t.deadline, t.created_at, t.cancelled,
    )  # fmt: skip


def traversal_from_row(r: Row) -> TraversalRecord:
    return TraversalRecord(
        id=r[0], stack_id=r[1], action=Action(r[2]), template_id=r[3],
        previous_template_id=r[4], rollback_on_failure=bool(r[5]), deadline=r[6],
        created_at=r[7], cancelled=bool(r[8]),
    )  # fmt: skip


def start_stack_row(s: StackRecord, traversal_id: str, expected_traversal: str | None) -> Row:
    """What `start_traversal` writes to the stack, then the compare-and-set arguments."""
    return (*_stack_fields(s), _graph(s), traversal_id, s.id, expected_traversal)


def sync_point_row(p: SyncPoint) -> Row:
    successors = _dump(p.successors)  # keys are (phase, ref) tuples: [[phase, ref], ...]
    return (
        p.traversal_id, p.node.phase.value, p.node.ref, p.stack_id, p.remaining, successors,
        p.row_id, len(p.inputs), p.slack,
    )  # fmt: skip


def start_ready_row(p: SyncPoint) -> Row:
    """The unclaimed ready entry of a sync point that starts complete."""
    return (p.traversal_id, p.stack_id, p.node.phase.value, p.node.ref, None, p.slack)


def sync_point_input_rows(p: SyncPoint) -> list[Row]:
    """The inputs a sync point starts with, numbered in order from 1."""
    return [
        input_row(p.traversal_id, p.node, d.sender, d.data, seq)
        for seq, d in enumerate(p.inputs, start=1)
    ]


def input_row(
    traversal_id: str, node: NodeKey, sender: NodeKey, data: Mapping[str, Any], seq: int
) -> Row:
    return (
        traversal_id, node.phase.value, node.ref, sender.phase.value, sender.ref, _dump(data),
        seq,
    )  # fmt: skip


def deliveries_from_rows(rows: list[Row]) -> tuple[Delivery, ...]:
    """`LIST_INPUTS` rows (phase, ref, data) as deliveries."""
    return tuple(Delivery(NodeKey(Phase(i[0]), i[1]), json.loads(i[2])) for i in rows)


def deliveries_from_json(column: str | None) -> tuple[Delivery, ...]:
    """The inputs column of `GET_NODE_WHOLE` as deliveries, in delivery order."""
    if column is None:
        return ()
    found = sorted(json.loads(column), key=lambda item: item[0])
    return tuple(Delivery(NodeKey(Phase(phase), ref), data) for _, phase, ref, data in found)


def sync_point_from_rows(traversal_id: str, node: NodeKey, r: Row,
                         inputs: tuple[Delivery, ...]) -> SyncPoint:
    """`r` is (stack_id, remaining, successors, row_id, slack)."""
    return SyncPoint(
        traversal_id=traversal_id, stack_id=r[0], node=node, remaining=r[1],
        successors=successors_from(r[2]), row_id=r[3], inputs=inputs, slack=r[4],
    )  # fmt: skip


def ready_from_row(r: Row) -> ReadyNode:
    """`r` is (traversal_id, stack_id, phase, ref, claimed_by, parked_on, seq, slack)."""
    return ReadyNode(r[0], r[1], NodeKey(Phase(r[2]), r[3]), r[4], r[5], r[7])


def ready_from_rows(rows: list[Row]) -> list[ReadyNode]:
    """Entries from `_READY_COLUMNS` rows, in seq order (RETURNING gives no order)."""
    return [ready_from_row(r) for r in sorted(rows, key=lambda r: r[6])]


def claimed_from_rows(rows: list[Row]) -> list[ReadyNode]:
    """Claimed entries from `_READY_COLUMNS` rows, least slack first, then in seq order."""
    return [ready_from_row(r) for r in sorted(rows, key=lambda r: (r[7], r[6]))]


START_TRAVERSAL = """
UPDATE stacks SET name = ?, convergence = ?, action = ?, status = ?, reason = ?,
    template_id = ?, prev_template_id = ?, parameters = ?, disable_rollback = ?,
    timeout_mins = ?, tags = ?, created_at = ?, updated_at = ?, graph = ?, traversal_id = ?
WHERE id = ? AND traversal_id IS ?"""
SAVE_STACK_IN_TRAVERSAL = SAVE_STACK + " AND traversal_id = ? AND status = 'IN_PROGRESS'"
DELETE_STACK_IN_TRAVERSAL = DELETE_STACK + " AND traversal_id = ? AND status = 'IN_PROGRESS'"
INSERT_TRAVERSAL = f"INSERT INTO traversals ({_TRAVERSAL_COLUMNS}) VALUES ({', '.join('?' * 9)})"
GET_TRAVERSAL = f"SELECT {_TRAVERSAL_COLUMNS} FROM traversals WHERE id = ?"
CANCEL_TRAVERSAL = "UPDATE traversals SET cancelled = 1 WHERE id = ?"
# The traversal row stays (watchers read its `cancelled` flag); it goes with its stack.
PURGE_TRAVERSAL = (
    "DELETE FROM ready_nodes WHERE traversal_id = ?",
    "DELETE FROM sync_inputs WHERE traversal_id = ?",
    "DELETE FROM sync_points WHERE traversal_id = ?",
)
PURGE_TEMPLATES = """
DELETE FROM raw_templates WHERE stack_id = ?1 AND id NOT IN (
    SELECT template_id FROM stacks WHERE id = ?1 AND template_id IS NOT NULL
    UNION SELECT prev_template_id FROM stacks WHERE id = ?1 AND prev_template_id IS NOT NULL
    UNION SELECT t.template_id FROM traversals t JOIN stacks s ON t.id = s.traversal_id
        WHERE s.id = ?1 AND t.template_id IS NOT NULL
    UNION SELECT t.previous_template_id FROM traversals t JOIN stacks s ON t.id = s.traversal_id
        WHERE s.id = ?1 AND t.previous_template_id IS NOT NULL
    UNION SELECT template_id FROM resources WHERE stack_id = ?1 AND template_id IS NOT NULL)"""

INSERT_SYNC_POINT = """
INSERT INTO sync_points
    (traversal_id, phase, ref, stack_id, remaining, successors, row_id, delivered, slack)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""
# A node's traversal, stack and sync point in one statement (get_node_state); `delivered`
# says whether its inputs need reading at all.
GET_NODE = f"""
SELECT {', '.join('t.' + c.strip() for c in _TRAVERSAL_COLUMNS.split(','))},
    {', '.join('s.' + c.strip() for c in _STACK_COLUMNS.split(','))},
    p.stack_id, p.remaining, p.successors, p.row_id, p.slack, p.delivered
FROM sync_points p
JOIN traversals t ON t.id = p.traversal_id
JOIN stacks s ON s.id = p.stack_id
WHERE p.traversal_id = ? AND p.phase = ? AND p.ref = ?"""
TRAVERSAL_WIDTH = len(_TRAVERSAL_COLUMNS.split(","))
STACK_WIDTH = len(_STACK_COLUMNS.split(","))
POINT_WIDTH = 6
# The same with the node's inputs (a JSON list of [seq, phase, ref, data]) and its row, so
# that one statement (one snapshot) reads all a node needs unless its row was replaced.
GET_NODE_WHOLE = f"""
SELECT {', '.join('t.' + c.strip() for c in _TRAVERSAL_COLUMNS.split(','))},
    {', '.join('s.' + c.strip() for c in _STACK_COLUMNS.split(','))},
    p.stack_id, p.remaining, p.successors, p.row_id, p.slack, p.delivered,
    CASE WHEN p.delivered > 0 THEN (
        SELECT json_group_array(json_array(i.seq, i.sender_phase, i.sender_ref, json(i.data)))
        FROM sync_inputs i
        WHERE i.traversal_id = p.traversal_id AND i.phase = p.phase AND i.ref = p.ref) END,
    {', '.join('r.' + c.strip() for c in _RESOURCE_COLUMNS.split(','))}
FROM sync_points p
JOIN traversals t ON t.id = p.traversal_id
JOIN stacks s ON s.id = p.stack_id
LEFT JOIN resources r ON r.id = p.row_id
WHERE p.traversal_id = ? AND p.phase = ? AND p.ref = ?"""
GET_SYNC_POINT = """
SELECT stack_id, remaining, successors, row_id, slack FROM sync_points
WHERE traversal_id = ? AND phase = ? AND ref = ?"""
INSERT_INPUT = """
INSERT INTO sync_inputs (traversal_id, phase, ref, sender_phase, sender_ref, data, seq)
VALUES (?, ?, ?, ?, ?, ?, ?)"""
LIST_INPUTS = """
SELECT sender_phase, sender_ref, data FROM sync_inputs
WHERE traversal_id = ? AND phase = ? AND ref = ? ORDER BY seq"""
# Counts a delivery only if this sender has not delivered to the node yet: the input row
# is inserted afterwards, numbered with the returned `delivered`.
# ?6 is 1 to mark the node passing (see `Store.finish_node`), else 0.
COUNT_DELIVERY = """
UPDATE sync_points SET remaining = remaining - 1, delivered = delivered + 1,
    passing = max(passing, ?6)
WHERE traversal_id = ?1 AND phase = ?2 AND ref = ?3 AND NOT EXISTS (
    SELECT 1 FROM sync_inputs
    WHERE traversal_id = ?1 AND phase = ?2 AND ref = ?3 AND sender_phase = ?4
        AND sender_ref = ?5)
RETURNING stack_id, remaining, delivered, successors, passing, slack"""

_READY_COLUMNS = "traversal_id, stack_id, phase, ref, claimed_by, parked_on, seq, slack"
INSERT_READY = """
INSERT INTO ready_nodes (traversal_id, stack_id, phase, ref, claimed_by, slack)
VALUES (?, ?, ?, ?, ?, ?)"""
CLAIM_READY = f"""
UPDATE ready_nodes SET claimed_by = ?1 WHERE seq IN (
    SELECT seq FROM ready_nodes WHERE claimed_by IS NULL AND parked_on IS NULL
    ORDER BY slack, seq LIMIT ?2)
RETURNING {_READY_COLUMNS}"""
CLAIM_STACK_READY = f"""
UPDATE ready_nodes SET claimed_by = ?1 WHERE seq IN (
    SELECT seq FROM ready_nodes
    WHERE stack_id = ?3 AND claimed_by IS NULL AND parked_on IS NULL
    ORDER BY slack, seq LIMIT ?2)
RETURNING {_READY_COLUMNS}"""
# A read first: the common answer of a poll is "nothing to claim", which needs no write.
ANY_CLAIMABLE = "SELECT 1 FROM ready_nodes WHERE claimed_by IS NULL AND parked_on IS NULL LIMIT 1"
ANY_STACK_CLAIMABLE = """
SELECT 1 FROM ready_nodes WHERE stack_id = ? AND claimed_by IS NULL AND parked_on IS NULL
LIMIT 1"""
RELEASE_CLAIMS = "UPDATE ready_nodes SET claimed_by = NULL WHERE claimed_by = ?"
FINISH_READY = "DELETE FROM ready_nodes WHERE traversal_id = ? AND phase = ? AND ref = ?"
# Parks only while the resource is locked, so `unlock_resource` is sure to unpark it.
PARK = """
UPDATE ready_nodes SET parked_on = ?1, claimed_by = NULL
WHERE traversal_id = ?2 AND phase = ?3 AND ref = ?4
    AND EXISTS (SELECT 1 FROM resources WHERE id = ?1 AND engine_id IS NOT NULL)"""
UNPARK = f"""
UPDATE ready_nodes SET parked_on = NULL, claimed_by = ?1 WHERE parked_on = ?2
RETURNING {_READY_COLUMNS}"""
LIST_READY = f"SELECT {_READY_COLUMNS} FROM ready_nodes WHERE stack_id = ? ORDER BY seq"

# Only for a node of the stack's current traversal; ?5 is the new `requires`, or NULL; ?6
# the `atomic_key` the row must still have, or NULL.
LOCK_RESOURCE = f"""
UPDATE resources SET engine_id = ?1, atomic_key = atomic_key + 1,
    requires = COALESCE(?5, requires)
WHERE id = ?2 AND engine_id IS ?3 AND atomic_key = COALESCE(?6, atomic_key)
    AND EXISTS (SELECT 1 FROM stacks WHERE stacks.id = resources.stack_id
                AND stacks.traversal_id = ?4)
RETURNING {_RESOURCE_COLUMNS}"""
# The same, storing a row as it locks it (`lock_save_row` gives the arguments); what is
# stored is the row saved, with the lock columns returned.
LOCK_AND_SAVE_RESOURCE = f"""
UPDATE resources SET {_SAVED}, engine_id = ?, atomic_key = atomic_key + 1
WHERE id = ? AND engine_id IS ? AND atomic_key = COALESCE(?, atomic_key)
    AND EXISTS (SELECT 1 FROM stacks WHERE stacks.id = resources.stack_id
                AND stacks.traversal_id = ?)
RETURNING stack_id, created_at, atomic_key"""
# A save that releases the lock `engine_id` holds (the final state of a node's row).
SAVE_AND_UNLOCK_RESOURCE = (
    f"UPDATE resources SET {_SAVED}, engine_id = NULL WHERE id = ? AND engine_id = ?")


def save_unlock_row(r: ResourceRecord, engine_id: str) -> Row:
    return (*_saved_fields(r), r.id, engine_id)


def lock_save_row(r: ResourceRecord, engine_id: str, expected: str | None,
                  version: int | None, traversal_id: str) -> Row:
    return (*_saved_fields(r), engine_id, r.id, expected, version, traversal_id)

RESOURCE_REQUIRES = "SELECT requires FROM resources WHERE id = ?"
STACK_TRAVERSAL = "SELECT traversal_id FROM stacks WHERE id = ?"


def requires_union(stored: str, added: Sequence[str]) -> str:
    """The stored `requires` JSON list with `added` merged in, sorted."""
    return _dump(sorted(set(json.loads(stored)) | set(added)))


@functools.lru_cache(maxsize=4096)
def successors_from(column: str) -> tuple[NodeKey, ...]:
    """A successors column parsed (many nodes share one: a flat stack's all lead to the stack
    node)."""
    return tuple(NodeKey(Phase(p), ref) for p, ref in json.loads(column))


UNLOCK_RESOURCE = "UPDATE resources SET engine_id = NULL WHERE id = ? AND engine_id = ?"
ANY_PARKED = "SELECT 1 FROM ready_nodes WHERE parked_on IS NOT NULL LIMIT 1"
RESOURCE_LOCK_HOLDER = "SELECT engine_id FROM resources WHERE id = ?"

-- The first schema: stacks, their templates, resources, events, and engines.
-- Payload columns hold compact JSON text. Children of a stack are removed with
-- it (ON DELETE CASCADE; the store turns foreign keys on for every connection).
-- The lock columns (stacks.engine_id, stacks.traversal_id, resources.engine_id,
-- resources.atomic_key) are written only by the store's compare-and-set methods
-- once a row exists.

CREATE TABLE stacks (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    convergence      INTEGER NOT NULL,
    action           TEXT NOT NULL,
    status           TEXT NOT NULL,
    reason           TEXT NOT NULL,
    template_id      TEXT,
    prev_template_id TEXT,
    parameters       TEXT NOT NULL,
    disable_rollback INTEGER NOT NULL,
    timeout_mins     INTEGER,
    tags             TEXT NOT NULL,
    created_at       REAL NOT NULL,
    updated_at       REAL,
    engine_id        TEXT,
    traversal_id     TEXT,
    graph            TEXT,
    -- a pending cancel request: NULL, 'rollback' or 'no_rollback'
    cancel_request   TEXT
) STRICT;

CREATE TABLE raw_templates (
    id          TEXT PRIMARY KEY,
    stack_id    TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    template    TEXT NOT NULL,
    files       TEXT NOT NULL,
    environment TEXT NOT NULL
) STRICT;

CREATE INDEX raw_templates_by_stack ON raw_templates (stack_id);

CREATE TABLE resources (
    id          TEXT PRIMARY KEY,
    stack_id    TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    physical_id TEXT,
    action      TEXT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    properties  TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    template_id TEXT,
    requires    TEXT NOT NULL,
    replaces    TEXT,
    replaced_by TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL,
    engine_id   TEXT,
    atomic_key  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Serves list_resources (its ORDER BY) and the cascade from stacks.
CREATE INDEX resources_by_stack ON resources (stack_id, created_at, id);

-- AUTOINCREMENT: ids never go back, even after the newest events are deleted.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    stack_id      TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    resource_id   TEXT,
    resource_name TEXT NOT NULL,
    resource_type TEXT,
    physical_id   TEXT,
    action        TEXT NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    time          REAL NOT NULL
) STRICT;

CREATE INDEX events_by_stack ON events (stack_id, id);

CREATE TABLE engines (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL
) STRICT;

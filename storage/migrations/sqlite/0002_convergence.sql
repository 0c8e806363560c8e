-- Convergence: traversals, their sync points and inputs, and the ready queue.
-- A graph node key is two columns (phase, ref). Everything a traversal owns is
-- removed with it (ON DELETE CASCADE), and traversals are removed with their
-- stack. The resource lock lives in resources (engine_id, atomic_key), already.

CREATE TABLE traversals (
    id                   TEXT PRIMARY KEY,
    stack_id             TEXT NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    action               TEXT NOT NULL,
    template_id          TEXT,
    previous_template_id TEXT,
    rollback_on_failure  INTEGER NOT NULL,
    deadline             REAL,
    created_at           REAL NOT NULL,
    cancelled            INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Serves the cascade from stacks.
CREATE INDEX traversals_by_stack ON traversals (stack_id);

-- `successors` is a JSON list of [phase, ref] pairs; `delivered` counts the inputs
-- received so far and numbers them (sync_inputs.seq) in delivery order.
CREATE TABLE sync_points (
    traversal_id TEXT NOT NULL REFERENCES traversals (id) ON DELETE CASCADE,
    phase        TEXT NOT NULL,
    ref          TEXT NOT NULL,
    stack_id     TEXT NOT NULL,
    remaining    INTEGER NOT NULL,
    successors   TEXT NOT NULL,
    row_id       TEXT,
    delivered    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (traversal_id, phase, ref)
) STRICT, WITHOUT ROWID;

-- One row per (receiver, sender): the primary key makes a repeated delivery a no-op.
CREATE TABLE sync_inputs (
    traversal_id TEXT NOT NULL REFERENCES traversals (id) ON DELETE CASCADE,
    phase        TEXT NOT NULL,
    ref          TEXT NOT NULL,
    sender_phase TEXT NOT NULL,
    sender_ref   TEXT NOT NULL,
    data         TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (traversal_id, phase, ref, sender_phase, sender_ref)
) STRICT, WITHOUT ROWID;

-- `seq` (the rowid) grows with every insert, so it orders live entries by creation.
-- A parked entry is unclaimed and waits for `unlock_resource` on `parked_on`.
CREATE TABLE ready_nodes (
    seq          INTEGER PRIMARY KEY,
    traversal_id TEXT NOT NULL REFERENCES traversals (id) ON DELETE CASCADE,
    stack_id     TEXT NOT NULL,
    phase        TEXT NOT NULL,
    ref          TEXT NOT NULL,
    claimed_by   TEXT,
    parked_on    TEXT,
    UNIQUE (traversal_id, phase, ref)
) STRICT;

-- The claimable entries, oldest first (claim_ready). The queue holds the frontier of
-- running traversals, so the other lookups scan a stack's entries at most.
CREATE INDEX ready_claimable ON ready_nodes (seq)
    WHERE claimed_by IS NULL AND parked_on IS NULL;
CREATE INDEX ready_by_stack ON ready_nodes (stack_id, seq);
CREATE INDEX ready_by_parked_on ON ready_nodes (parked_on) WHERE parked_on IS NOT NULL;

-- A sync point's slack (how many steps its longest path is shorter than the traversal's
-- longest: 0 on a critical path), copied to its ready entry: claims take the least
-- slack first, then the oldest.
ALTER TABLE sync_points ADD COLUMN slack INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ready_nodes ADD COLUMN slack INTEGER NOT NULL DEFAULT 0;
DROP INDEX ready_claimable;
CREATE INDEX ready_claimable ON ready_nodes (slack, seq)
    WHERE claimed_by IS NULL AND parked_on IS NULL;
DROP INDEX ready_by_stack;
CREATE INDEX ready_by_stack ON ready_nodes (stack_id, slack, seq);

-- A sync point whose node is known to have nothing to do (a cleanup node whose row its
-- update node kept) is "passing": once complete, it delivers to its successors at once
-- instead of becoming a ready entry.
ALTER TABLE sync_points ADD COLUMN passing INTEGER NOT NULL DEFAULT 0;

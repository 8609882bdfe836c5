-- Nothing reads row_state by scope (the feed is what is read by scope); the index only cost every new row an extra
-- B-tree insert.
drop index row_state_scope;

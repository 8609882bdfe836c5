-- Every feed read is by scope in (xid, pos) order, and pos is unique on its own (an identity): the (scope, xid, pos)
-- index can be the primary key, and the separate index on pos alone goes. One B-tree insert per change instead of
-- two, on the table every pushed change lands in.
alter table change_feed drop constraint change_feed_pkey;
drop index change_feed_scope_order;
alter table change_feed add constraint change_feed_pkey primary key (scope, xid, pos);

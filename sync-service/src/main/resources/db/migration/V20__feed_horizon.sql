-- The compaction horizon of each scope's feed (FeedCompaction): every entry of the scope at or before (xid, pos) may be
-- gone. A pull whose cursor is below it in one of its scopes is answered cursor-behind-horizon (docs/protocol.md).
-- Moved forward in the transaction that deletes the entries, so a reader's snapshot sees both or neither.
create table feed_horizon (
    scope     text        primary key,
    xid       xid8        not null,
    pos       bigint      not null,
    compacted bigint      not null default 0,
    moved_at  timestamptz not null default now()
);
-- Which devices hold a horizon back: the active ones (synced within the idle period).
create index device_last_sync on device (last_sync_at) where revoked_at is null;

-- Scope snapshots (SnapshotBuilder): every row of a scope as of a feed cursor, a file in the chunk store named by its
-- SHA-256. A fresh device installs its scopes' latest and pulls the feed from the cursor on.
create table scope_snapshot (
    sha256         text        primary key,
    scope          text        not null,
    cursor         text        not null,
    schema_version integer     not null,
    rows           bigint      not null,
    bytes          bigint      not null,
    built_at       timestamptz not null default now()
);
create index scope_snapshot_latest on scope_snapshot (scope, built_at desc);

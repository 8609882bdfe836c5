-- Outpost sync store. PostgreSQL is the one source of truth; every replica of the service is stateless.

-- Devices and their credentials. The token is shown once at registration; only its SHA-256 is kept.
create table device (
    id             text primary key,
    token_hash     bytea       not null unique,
    scopes         text[]      not null,
    created_at     timestamptz not null default now(),
    revoked_at     timestamptz,
    last_sync_at   timestamptz,
    schema_version integer,
    last_cursor    text
);

-- Current state of every row: per-field clocks, counter contributions, set tags, review values, tombstone
-- (RowStateCodec JSON). "deleted" and "open_conflicts" are derived from it, kept for queries.
create table row_state (
    tbl            text        not null,
    id             text        not null,
    scope          text        not null,
    state          text        not null,
    deleted        boolean     not null default false,
    open_conflicts integer     not null default 0,
    updated_at     timestamptz not null default now(),
    primary key (tbl, id)
);
create index row_state_scope on row_state (scope);

-- The change feed. A puller reads rows ordered by (xid, pos) and only from transactions older than every
-- transaction still running (xid < pg_snapshot_xmin), so a transaction that commits late can never be skipped:
-- its rows only become readable once every cursor position before them is final.
create table change_feed (
    pos       bigint generated always as identity primary key,
    xid       xid8   not null default pg_current_xact_id(),
    scope     text   not null,
    device_id text   not null,
    tbl       text   not null,
    row_id    text   not null,
    change    text   not null
);
create index change_feed_scope_order on change_feed (scope, xid, pos);

-- Applied push batches: a retried batch id gets the stored answer and changes nothing.
create table sync_batch (
    batch_id   text primary key,
    device_id  text        not null,
    applied    integer     not null,
    created_at timestamptz not null default now()
);

-- Conflicts a person must review. One open row per (row, field, kind); the candidates follow the row state.
create table conflict (
    id          bigint generated always as identity primary key,
    tbl         text        not null,
    row_id      text        not null,
    field       text        not null default '',
    kind        text        not null,
    scope       text        not null,
    candidates  text        not null,
    status      text        not null default 'open',
    opened_at   timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    resolved_at timestamptz,
    resolved_by text
);
create unique index conflict_one_open on conflict (tbl, row_id, field, kind) where status = 'open';
create index conflict_status on conflict (status, id);

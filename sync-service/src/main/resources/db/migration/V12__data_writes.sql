-- Writes made with plain SQL on the typed tables (outpost_data.*), queued by their triggers for the service to turn
-- into server changes (docs/data.md). One row per changed row; old and new as the typed rows' JSON.
create table data_write (
    pos   bigint generated always as identity primary key,
    tbl   text not null,
    id    text not null,
    op    char(1) not null,           -- I, U or D
    old   jsonb,
    new   jsonb,
    at    timestamptz not null default clock_timestamp(),
    refused text                     -- why the service could not apply it (it stays here, for a person to see)
);

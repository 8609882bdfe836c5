-- Deleting artifact versions (ArtifactStore.deleteVersion) and collecting the chunks and deltas nothing refers to
-- any more (ArtifactGc).

-- The version a device installed from: the other slot it keeps and may switch back to without downloading.
alter table device_model add column kept_version bigint;

-- Uploads in progress: chunks are stored before their version is, so collection waits while any upload runs.
create table artifact_upload (
    id         text        primary key,
    artifact   text        not null,
    version    bigint      not null,
    replica    text        not null,
    started_at timestamptz not null default now()
);

-- Deleted versions, by whom and when: a version number is never used again, so nothing a device or a replica
-- remembers of a version can ever mean other bytes.
create table artifact_version_deleted (
    artifact   text        not null,
    version    bigint      not null,
    deleted_at timestamptz not null default now(),
    deleted_by text        not null,
    primary key (artifact, version)
);

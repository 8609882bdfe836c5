-- Model artifacts. Chunk and delta bytes live in the chunk store (file system by default); these tables hold the
-- signed manifests, what each version is made of, what devices should run and what they report.

-- One row per artifact version: the signed manifest envelope as served, and its payload's SHA-256.
create table artifact_version (
    artifact        text        not null,
    version         bigint      not null,
    manifest        bytea       not null,
    manifest_sha256 text        not null,
    size_bytes      bigint      not null,
    stored_bytes    bigint      not null,
    new_stored_bytes bigint     not null,
    chunk_count     integer     not null,
    created_at      timestamptz not null default now(),
    created_by      text        not null,
    primary key (artifact, version)
);

-- Every chunk ever stored, once: the store holds its zstd frame under the hash.
create table artifact_chunk (
    sha256       text    primary key,
    raw_bytes    integer not null,
    stored_bytes integer not null
);

-- Chunk-local delta indexes, computed once per (held manifest, target manifest) pair and served from here.
create table artifact_delta_index (
    from_manifest text        not null,
    to_manifest   text        not null,
    delta_index   bytea       not null,
    delta_bytes   bigint      not null,
    created_at    timestamptz not null default now(),
    primary key (from_manifest, to_manifest)
);

-- The version every device should run, per artifact. Below the highest version ever desired it is a rollback:
-- the signed assignment then lets devices that ran the higher one accept it.
create table artifact_desired (
    artifact   text        primary key,
    version    bigint      not null,
    highest_version bigint not null,
    rollback   boolean     not null default false,
    set_at     timestamptz not null default now(),
    set_by     text        not null,
    foreign key (artifact, version) references artifact_version (artifact, version)
);

-- What each device said about its installs: the latest per (device, artifact), and every report.
create table device_model (
    device_id      text        not null references device (id),
    artifact       text        not null,
    active_version bigint,
    outcome        text        not null,
    error_code     text,
    reported_at    timestamptz not null default now(),
    primary key (device_id, artifact)
);

create table model_report (
    id               bigserial   primary key,
    device_id        text        not null references device (id),
    artifact         text        not null,
    from_version     bigint,
    to_version       bigint      not null,
    active_version   bigint,
    outcome          text        not null,
    error_code       text,
    bytes_downloaded bigint      not null,
    reported_at      timestamptz not null default now()
);
create index model_report_device on model_report (device_id, reported_at);

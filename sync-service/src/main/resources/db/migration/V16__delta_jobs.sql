-- Delta computations claimed by one replica at a time (ArtifactService): a claim lasts until claimed_until, so a
-- replica killed mid-job is taken over by another once it lapses. A row lives only while its job runs.
create table delta_job (
    from_manifest text        not null,
    to_manifest   text        not null,
    replica       text        not null,
    claimed_until timestamptz not null,
    primary key (from_manifest, to_manifest)
);

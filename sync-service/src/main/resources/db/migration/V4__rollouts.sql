-- Staged rollouts: an artifact version spread over a set of devices (by scope) in waves. The state machine itself
-- is shared-model's RolloutMachine; these rows are its state, and every change of it is an event with who and when.
create table rollout (
    id               bigserial   primary key,
    artifact         text        not null,
    version          bigint      not null,
    previous_version bigint      not null,
    scopes           text[]      not null,
    policy           text        not null,
    status           text        not null,
    open_waves       integer     not null,
    reason           text        not null default '',
    created_at       timestamptz not null default now(),
    created_by       text        not null,
    updated_at       timestamptz not null default now(),
    foreign key (artifact, version) references artifact_version (artifact, version),
    foreign key (artifact, previous_version) references artifact_version (artifact, version)
);
-- At most one rollout per artifact is in flight.
create unique index rollout_one_in_flight on rollout (artifact) where status in ('DRAFT', 'RUNNING', 'PAUSED');

create table rollout_event (
    id         bigserial   primary key,
    rollout_id bigint      not null references rollout (id),
    at         timestamptz not null default now(),
    actor      text        not null,
    action     text        not null,
    status     text        not null,
    open_waves integer     not null,
    detail     text        not null default ''
);
create index rollout_event_rollout on rollout_event (rollout_id, id);

-- The version a device's last report was about, so a wave's failures count against the right version.
alter table device_model add column target_version bigint;

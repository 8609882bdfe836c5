-- Operators: the people at the office, each with a role (docs/SECURITY.md, "Operators and roles"). They prove who they
-- are with an OIDC bearer token (the identity provider's subject is bound to one operator) or with an API token of
-- their own, stored as its SHA-256 only. The static admin token stays as a break-glass credential.
create table operator (
    name         text        primary key,
    role         text        not null check (role in ('viewer', 'supervisor', 'release-manager', 'admin')),
    scopes       text[]      not null default '{}',
    oidc_subject text        unique,
    created_at   timestamptz not null default now(),
    created_by   text        not null,
    disabled_at  timestamptz
);

create table operator_token (
    hash       bytea       primary key,
    operator   text        not null references operator (name),
    created_at timestamptz not null default now(),
    expires_at timestamptz,
    revoked_at timestamptz
);
create index operator_token_operator on operator_token (operator);

-- Every admin action that changed something, by the identity that proved itself: who, how, what, and the answer.
create table audit_event (
    id         bigint      generated always as identity primary key,
    at         timestamptz not null default now(),
    actor      text        not null,
    via        text        not null,
    method     text        not null,
    path       text        not null,
    status     integer     not null,
    request_id text
);
create index audit_event_actor on audit_event (actor, id);

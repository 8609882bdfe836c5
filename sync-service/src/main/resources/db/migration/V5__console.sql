-- When the newest open wave of a rollout opened: automatic promotion waits for its soak time from then.
alter table rollout add column wave_opened_at timestamptz not null default now();

-- The fleet view counts the open conflicts in each device's scopes.
create index conflict_open_scope on conflict (scope) where status = 'open';

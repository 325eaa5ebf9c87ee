-- aef-db 20261126000300 aef_tables
-- The four tables of ticket 002, with the seed's names, columns and types
-- (timestamptz for timestamp), plus what a real system needs. Every added column
-- has a default or is filled by a trigger (next migration), so an INSERT naming
-- only the seed's columns works. Rules the database enforces are named
-- constraints; their names appear in the error, and docs/schema.md lists them.
-- JSON caps measure a value's real size: `col #> '{}'` hands the value back
-- decompressed, where pg_column_size alone would count a value that arrives
-- already compressed (insert ... select) at its compressed size. Nesting is
-- capped at 64 levels below the root: deeper documents break the recursive
-- JSON parsers of clients (Python's raises RecursionError). Timestamps a writer
-- may set are finite: clients cannot represent 'infinity'.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Internal functions live here, out of the schemas PostgREST exposes.
create schema aef_private;
comment on schema aef_private is 'aef-db: internal functions (guards, helpers). Not exposed to the API roles.';
revoke all on schema aef_private from public;

-- ---------------------------------------------------------------------------
-- Browser sessions (created first: executions reference them)
-- ---------------------------------------------------------------------------
create table public.aef_browser_sessions (
  -- squawk-ignore prefer-text-field
  id varchar(128) primary key default ('bs_' || replace(gen_random_uuid()::text, '-', '')),
  user_id uuid not null,
  status public.browser_session_status not null default 'active',
  created_at timestamptz not null default now(),
  last_active timestamptz not null default now(),
  session_data jsonb not null default '{}',
  mode text not null default 'isolated',
  lease_execution_id uuid,
  lease_holder text,
  lease_expires_at timestamptz,
  ended_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint aef_browser_sessions_id_format check (id ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  constraint aef_browser_sessions_mode_known check (mode in ('isolated', 'persistent', 'pooled')),
  constraint aef_browser_sessions_session_data_is_object check (jsonb_typeof(session_data) = 'object'),
  constraint aef_browser_sessions_session_data_size check (pg_column_size(session_data #> '{}') <= 262144),
  constraint aef_browser_sessions_session_data_depth check (not (session_data @? '$.**{65}')),
  constraint aef_browser_sessions_lease_complete
    check ((lease_execution_id is null) = (lease_expires_at is null)
       and (lease_execution_id is null) = (lease_holder is null)),
  constraint aef_browser_sessions_lease_holder_length check (length(lease_holder) between 1 and 200),
  constraint aef_browser_sessions_no_lease_when_ended
    check (status not in ('terminated', 'error') or lease_execution_id is null),
  constraint aef_browser_sessions_ended_when_final
    check ((status in ('terminated', 'error')) = (ended_at is not null)),
  constraint aef_browser_sessions_times_finite
    check (isfinite(created_at) and isfinite(last_active) and isfinite(lease_expires_at))
);
comment on table public.aef_browser_sessions is
  'Browser sessions the AEF drives. Modes: isolated (one per execution), persistent (per user), pooled. A lease binds a session to one execution at a time.';
comment on column public.aef_browser_sessions.id is 'Session id (seed: VARCHAR). Letters, digits and _.:- up to 128; default bs_<uuid hex>.';
comment on column public.aef_browser_sessions.user_id is 'Owner. A session never serves another user''s execution. Immutable.';
comment on column public.aef_browser_sessions.status is 'active <-> idle, then terminated or error (final).';
comment on column public.aef_browser_sessions.created_at is 'When the session was created.';
comment on column public.aef_browser_sessions.last_active is 'Last heartbeat or use; never moves backwards.';
comment on column public.aef_browser_sessions.session_data is
  'Cookies, tokens and other browser state: a JSON object of at most 256 KiB. Withheld from authenticated users (no column privilege).';
comment on column public.aef_browser_sessions.mode is 'isolated | persistent | pooled (the seed''s decision 4). Immutable.';
comment on column public.aef_browser_sessions.lease_execution_id is 'The execution currently holding the session, or null when free.';
comment on column public.aef_browser_sessions.lease_holder is 'The worker holding the lease (free text, 1 to 200 characters).';
comment on column public.aef_browser_sessions.lease_expires_at is 'When an unrenewed lease may be reclaimed.';
comment on column public.aef_browser_sessions.ended_at is 'When the session reached terminated or error; maintained by the database.';
comment on column public.aef_browser_sessions.updated_at is 'When the row last changed; maintained by the database.';

-- ---------------------------------------------------------------------------
-- Executions
-- ---------------------------------------------------------------------------
create table public.aef_executions (
  id uuid primary key default gen_random_uuid(),
  sop_id uuid references public.sops (id) on delete set null,
  user_id uuid not null default auth.uid(),
  status public.execution_status not null default 'idle',
  started_at timestamptz,
  completed_at timestamptz,
  -- squawk-ignore prefer-text-field
  current_step_id varchar(256),
  execution_context jsonb not null default '{}',
  -- squawk-ignore prefer-text-field
  browser_session_id varchar(128) references public.aef_browser_sessions (id) on delete set null,
  config jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint aef_executions_current_step_id_not_blank check (current_step_id <> ''),
  constraint aef_executions_config_is_object check (jsonb_typeof(config) = 'object'),
  constraint aef_executions_config_size check (pg_column_size(config #> '{}') <= 65536),
  constraint aef_executions_config_depth check (not (config @? '$.**{65}')),
  constraint aef_executions_context_level_known
    check (config ->> 'context_level' is null or config ->> 'context_level' in ('minimal', 'standard', 'full')),
  constraint aef_executions_execution_context_is_object check (jsonb_typeof(execution_context) = 'object'),
  constraint aef_executions_execution_context_size check (pg_column_size(execution_context #> '{}') <= 1048576),
  constraint aef_executions_execution_context_depth check (not (execution_context @? '$.**{65}')),
  constraint aef_executions_started_when_run
    check ((status in ('running', 'paused', 'completed', 'error')) <= (started_at is not null)),
  constraint aef_executions_completed_when_final
    check ((status in ('completed', 'error', 'cancelled')) = (completed_at is not null)),
  constraint aef_executions_completed_after_start check (completed_at >= started_at),
  constraint aef_executions_created_at_finite check (isfinite(created_at))
);
comment on table public.aef_executions is
  'One run of an SOP. Status: idle -> running | cancelled; running -> paused | completed | error | cancelled; paused -> running | cancelled | error. completed, error and cancelled are final.';
comment on column public.aef_executions.id is 'Execution id.';
comment on column public.aef_executions.sop_id is
  'The SOP being run. Required when the execution is created; set to null if the SOP is later deleted, so history survives.';
comment on column public.aef_executions.user_id is 'Owner. Defaults to the caller (auth.uid()). Immutable.';
comment on column public.aef_executions.status is 'Lifecycle state; transitions are checked by the database.';
comment on column public.aef_executions.started_at is 'When the execution first ran; maintained by the database.';
comment on column public.aef_executions.completed_at is 'When it reached completed, error or cancelled; maintained by the database.';
comment on column public.aef_executions.current_step_id is 'The step the execution is at (seed: VARCHAR), up to 256 characters.';
comment on column public.aef_executions.execution_context is
  'Variables and state, as much as config.context_level keeps (minimal | standard | full). A JSON object of at most 1 MiB.';
comment on column public.aef_executions.browser_session_id is 'The browser session used, of the same owner; null when none.';
comment on column public.aef_executions.config is
  'Run configuration, a JSON object of at most 64 KiB. config.context_level, if set, is minimal, standard or full.';
comment on column public.aef_executions.created_at is 'When the execution was created.';
comment on column public.aef_executions.updated_at is 'When the row last changed; maintained by the database.';

alter table public.aef_browser_sessions
  add constraint aef_browser_sessions_lease_execution_id_fkey
  foreign key (lease_execution_id) references public.aef_executions (id);

-- ---------------------------------------------------------------------------
-- Execution logs: the append-only audit trail
-- ---------------------------------------------------------------------------
create table public.aef_execution_logs (
  id uuid primary key default gen_random_uuid(),
  execution_id uuid not null references public.aef_executions (id),
  -- squawk-ignore prefer-text-field
  step_id varchar(256),
  event_type public.log_event_type not null,
  "timestamp" timestamptz not null default now(),
  data jsonb not null default '{}',
  browser_state jsonb,
  user_id uuid not null,
  seq bigint not null,
  prev_hash bytea,
  hash bytea,
  created_at timestamptz not null default now(),
  constraint aef_execution_logs_execution_seq_key unique (execution_id, seq),
  constraint aef_execution_logs_seq_positive check (seq > 0),
  constraint aef_execution_logs_step_id_not_blank check (step_id <> ''),
  constraint aef_execution_logs_data_is_object check (jsonb_typeof(data) = 'object'),
  constraint aef_execution_logs_data_size check (pg_column_size(data #> '{}') <= 262144),
  constraint aef_execution_logs_data_depth check (not (data @? '$.**{65}')),
  constraint aef_execution_logs_browser_state_is_object check (jsonb_typeof(browser_state) = 'object'),
  constraint aef_execution_logs_browser_state_size check (pg_column_size(browser_state #> '{}') <= 262144),
  constraint aef_execution_logs_browser_state_depth check (not (browser_state @? '$.**{65}'))
);
comment on table public.aef_execution_logs is
  'Step-by-step log of each execution, and its audit trail: append-only for every role. seq numbers each execution''s events 1, 2, 3... without gaps.';
comment on column public.aef_execution_logs.id is 'Event id.';
comment on column public.aef_execution_logs.execution_id is 'The execution this event belongs to.';
comment on column public.aef_execution_logs.step_id is 'The SOP step, when the event belongs to one (seed: VARCHAR), up to 256 characters.';
comment on column public.aef_execution_logs.event_type is 'What happened.';
comment on column public.aef_execution_logs."timestamp" is 'When it happened, as the writer says; defaults to now().';
comment on column public.aef_execution_logs.data is 'Event payload, a JSON object of at most 256 KiB.';
comment on column public.aef_execution_logs.browser_state is 'Browser state at the event (URL, title...), a JSON object of at most 256 KiB, or null.';
comment on column public.aef_execution_logs.user_id is
  'The execution''s owner, copied by the database (or checked, when the writer supplies it) so RLS is an indexed equality.';
comment on column public.aef_execution_logs.seq is
  'Position in the execution''s log: 1, 2, 3... without gaps. Assigned by the database, or supplied by a batching writer and checked.';
comment on column public.aef_execution_logs.prev_hash is 'Audit chain: the hash of the previous event of the execution (null until the audit chain is installed).';
comment on column public.aef_execution_logs.hash is 'Audit chain: this event''s hash (null until the audit chain is installed).';
comment on column public.aef_execution_logs.created_at is 'When the database recorded the event.';

-- ---------------------------------------------------------------------------
-- Human checkpoints
-- ---------------------------------------------------------------------------
create table public.aef_checkpoints (
  id uuid primary key default gen_random_uuid(),
  execution_id uuid not null references public.aef_executions (id) on delete cascade,
  -- squawk-ignore prefer-text-field
  step_id varchar(256),
  checkpoint_type public.checkpoint_type not null,
  status public.checkpoint_status not null default 'pending',
  user_response jsonb,
  created_at timestamptz not null default now(),
  resolved_at timestamptz,
  user_id uuid not null,
  request jsonb not null default '{}',
  timeout_at timestamptz,
  timeout_policy text not null default 'fail_execution',
  resolved_by uuid,
  updated_at timestamptz not null default now(),
  constraint aef_checkpoints_step_id_not_blank check (step_id <> ''),
  constraint aef_checkpoints_request_is_object check (jsonb_typeof(request) = 'object'),
  constraint aef_checkpoints_request_size check (pg_column_size(request #> '{}') <= 65536),
  constraint aef_checkpoints_request_depth check (not (request @? '$.**{65}')),
  constraint aef_checkpoints_user_response_size check (pg_column_size(user_response #> '{}') <= 65536),
  constraint aef_checkpoints_user_response_depth check (not (user_response @? '$.**{65}')),
  constraint aef_checkpoints_timeout_policy_known check (timeout_policy in ('fail_execution', 'cancel_execution', 'skip')),
  constraint aef_checkpoints_resolved_when_not_pending check ((status = 'pending') = (resolved_at is null)),
  constraint aef_checkpoints_no_response_while_pending check (status <> 'pending' or user_response is null),
  constraint aef_checkpoints_timeout_after_creation check (timeout_at > created_at),
  constraint aef_checkpoints_times_finite check (isfinite(created_at) and isfinite(timeout_at))
);
comment on table public.aef_checkpoints is
  'Human checkpoints. pending -> exactly one of approved, rejected, skipped, timeout, once. At most one pending checkpoint per execution.';
comment on column public.aef_checkpoints.id is 'Checkpoint id.';
comment on column public.aef_checkpoints.execution_id is 'The execution waiting for the answer.';
comment on column public.aef_checkpoints.step_id is 'The step the checkpoint guards (seed: VARCHAR), up to 256 characters.';
comment on column public.aef_checkpoints.checkpoint_type is 'Why the execution asks a human.';
comment on column public.aef_checkpoints.status is 'pending until resolved, once.';
comment on column public.aef_checkpoints.user_response is 'The human''s answer (any JSON, at most 64 KiB); null while pending.';
comment on column public.aef_checkpoints.created_at is 'When the checkpoint was raised.';
comment on column public.aef_checkpoints.resolved_at is 'When it was resolved; maintained by the database.';
comment on column public.aef_checkpoints.user_id is 'The execution''s owner, copied by the database. Immutable.';
comment on column public.aef_checkpoints.request is 'What the human is asked (message, fields, screenshot reference): a JSON object of at most 64 KiB.';
comment on column public.aef_checkpoints.timeout_at is 'When the checkpoint times out, or null for never. Must be in the future when set.';
comment on column public.aef_checkpoints.timeout_policy is
  'What a timeout does to the execution: fail_execution (-> error), cancel_execution (-> cancelled) or skip (the execution goes on).';
comment on column public.aef_checkpoints.resolved_by is 'Who resolved it (auth.uid()), or null for the engine or the timeout sweeper.';
comment on column public.aef_checkpoints.updated_at is 'When the row last changed; maintained by the database.';

-- ---------------------------------------------------------------------------
-- Indexes: one per hot query, one per policy column, one per foreign key
-- ---------------------------------------------------------------------------
create index aef_executions_user_recent_idx on public.aef_executions (user_id, created_at desc);
comment on index public.aef_executions_user_recent_idx is 'A user''s recent executions; the RLS column.';
create index aef_executions_user_status_idx on public.aef_executions (user_id, status);
comment on index public.aef_executions_user_status_idx is 'A user''s executions counted or listed by status.';
create index aef_executions_status_idx on public.aef_executions (status, created_at desc);
comment on index public.aef_executions_status_idx is 'Executions by status, across users (the engine''s and operators'' views).';
create index aef_executions_active_idx on public.aef_executions (updated_at) where status in ('running', 'paused');
comment on index public.aef_executions_active_idx is 'Active executions, small and hot.';
create index aef_executions_sop_id_idx on public.aef_executions (sop_id);
comment on index public.aef_executions_sop_id_idx is 'Foreign key to sops.';
create index aef_executions_browser_session_id_idx on public.aef_executions (browser_session_id);
comment on index public.aef_executions_browser_session_id_idx is 'Foreign key to aef_browser_sessions.';

-- Led by the RLS column, then the page order: as a user, "user_id = (select
-- auth.uid()) and execution_id = $1 and seq > $2 order by seq" is one index range.
-- (A bare user_id index made the planner AND it with the unique index: 20x slower.)
create index aef_execution_logs_user_page_idx on public.aef_execution_logs (user_id, execution_id, seq);
comment on index public.aef_execution_logs_user_page_idx is
  'The RLS column, then an execution''s log in order: a user''s page of a log. (execution_id, seq) alone is the unique constraint''s.';

create index aef_checkpoints_execution_id_idx on public.aef_checkpoints (execution_id);
comment on index public.aef_checkpoints_execution_id_idx is 'Foreign key to aef_executions.';
create unique index aef_checkpoints_one_pending_per_execution on public.aef_checkpoints (execution_id) where status = 'pending';
comment on index public.aef_checkpoints_one_pending_per_execution is 'At most one pending checkpoint per execution.';
create index aef_checkpoints_user_recent_idx on public.aef_checkpoints (user_id, created_at desc);
comment on index public.aef_checkpoints_user_recent_idx is 'A user''s checkpoints; the RLS column.';
create index aef_checkpoints_user_pending_idx on public.aef_checkpoints (user_id, created_at) where status = 'pending';
comment on index public.aef_checkpoints_user_pending_idx is 'A user''s pending checkpoints.';
create index aef_checkpoints_due_idx on public.aef_checkpoints (timeout_at) where status = 'pending' and timeout_at is not null;
comment on index public.aef_checkpoints_due_idx is 'Checkpoints due to time out, for the sweeper.';

create index aef_browser_sessions_user_status_idx on public.aef_browser_sessions (user_id, status);
comment on index public.aef_browser_sessions_user_status_idx is 'A user''s sessions by status; the RLS column.';
create index aef_browser_sessions_free_pooled_idx on public.aef_browser_sessions (user_id, last_active)
  where mode = 'pooled' and status in ('active', 'idle') and lease_execution_id is null;
comment on index public.aef_browser_sessions_free_pooled_idx is 'A user''s free pooled sessions, for leasing.';
create index aef_browser_sessions_lease_execution_id_idx on public.aef_browser_sessions (lease_execution_id);
comment on index public.aef_browser_sessions_lease_execution_id_idx is 'Foreign key to aef_executions.';
create index aef_browser_sessions_lease_expiry_idx on public.aef_browser_sessions (lease_expires_at)
  where lease_execution_id is not null;
comment on index public.aef_browser_sessions_lease_expiry_idx is 'Leases to reclaim once expired.';

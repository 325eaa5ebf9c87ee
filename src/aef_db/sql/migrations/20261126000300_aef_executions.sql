-- aef-db 20261126000300 aef_executions
-- One run of an SOP: the table (the seed's columns and types, timestamptz for
-- timestamp, plus what a real system needs), its indexes, and its guard: the
-- status machine, database-maintained timestamps and the immutable columns.
-- Every added column has a default or is filled by a trigger, so an INSERT naming
-- only the seed's columns works. Rules the database enforces are named
-- constraints (their names appear in the error; docs/schema.md lists them) or
-- raise one of aef-db's SQLSTATEs (docs/errors.md):
--   AE001 execution status rule   AE004 an immutable column changed   AE006 owner mismatch
-- JSON caps measure a value's real size: `col #> '{}'` hands the value back
-- decompressed, where pg_column_size alone would count a value that arrives
-- already compressed (insert ... select) at its compressed size. Nesting is
-- capped at 64 levels below the root: deeper documents break the recursive
-- JSON parsers of clients (Python's raises RecursionError). Timestamps a writer
-- may set are finite: clients cannot represent 'infinity'.
set lock_timeout = '5s';
set statement_timeout = '60s';

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
  browser_session_id varchar(128),
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

create index aef_executions_user_recent_idx on public.aef_executions (user_id, created_at desc);
comment on index public.aef_executions_user_recent_idx is 'A user''s recent executions; the RLS column.';
create index aef_executions_user_status_idx on public.aef_executions (user_id, status);
comment on index public.aef_executions_user_status_idx is 'A user''s executions counted or listed by status.';
create index aef_executions_status_idx on public.aef_executions (status, created_at desc);
comment on index public.aef_executions_status_idx is 'Executions by status, across users (the engine''s and operators'' views).';
-- No index on updated_at: every context save moves it, and an index on it makes each
-- save a non-HOT update that writes all of the table's indexes again. Active
-- executions are few and found through aef_executions_status_idx.
create index aef_executions_sop_id_idx on public.aef_executions (sop_id);
comment on index public.aef_executions_sop_id_idx is 'Foreign key to sops.';
create index aef_executions_browser_session_id_idx on public.aef_executions (browser_session_id);
comment on index public.aef_executions_browser_session_id_idx is 'Foreign key to aef_browser_sessions.';
-- "My most recent executions" as a UI orders them when it cares when they ran
create index aef_executions_user_started_idx on public.aef_executions (user_id, started_at desc nulls last);
comment on index public.aef_executions_user_started_idx is 'A user''s executions by when they started (never-started ones last).';

-- ---------------------------------------------------------------------------
-- The status machine, as data
-- ---------------------------------------------------------------------------
create function aef_private.execution_transition_allowed(
  from_status public.execution_status, to_status public.execution_status
) returns boolean
language sql immutable parallel safe
as $$
  select (from_status, to_status) in (
    ('idle', 'running'), ('idle', 'cancelled'),
    ('running', 'paused'), ('running', 'completed'), ('running', 'error'), ('running', 'cancelled'),
    ('paused', 'running'), ('paused', 'cancelled'), ('paused', 'error')
  )
$$;
comment on function aef_private.execution_transition_allowed(public.execution_status, public.execution_status) is
  'The execution state machine: whether from_status -> to_status is allowed.';

create function aef_private.assert_session_owner(session_id text, owner uuid) returns void
language plpgsql stable
as $$
declare
  session_owner pg_catalog.uuid;
begin
  select s.user_id into session_owner from public.aef_browser_sessions s where s.id = session_id;
  -- a missing session is reported by the foreign key
  if found and session_owner <> owner then
    raise exception using errcode = 'AE006',
      message = format('aef_executions.browser_session_id: session %s belongs to another user', session_id),
      hint = 'A browser session never serves another user''s execution.';
  end if;
end
$$;
comment on function aef_private.assert_session_owner(text, uuid) is
  'Raises AE006 when the session belongs to another user than the execution''s owner.';

create function aef_private.executions_before_insert() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if new.sop_id is null then
    raise exception using errcode = '23502',
      message = 'aef_executions.sop_id is required: an execution runs an SOP';
  end if;
  if new.status not in ('idle', 'running') then
    raise exception using errcode = 'AE001',
      message = format('aef_executions: an execution is created idle or running, not %s', new.status);
  end if;
  -- the database keeps these
  new.started_at := case when new.status = 'running' then now() end;
  new.completed_at := null;
  new.updated_at := now();
  if new.browser_session_id is not null then
    perform aef_private.assert_session_owner(new.browser_session_id, new.user_id);
  end if;
  return new;
end
$$;
comment on function aef_private.executions_before_insert() is
  'Guard: an execution is created idle or running, with an SOP; the database sets its timestamps and checks its session''s owner.';

create function aef_private.executions_before_update() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if new.id <> old.id or new.user_id <> old.user_id or new.created_at <> old.created_at
     or (new.sop_id is distinct from old.sop_id and new.sop_id is not null) then
    raise exception using errcode = 'AE004',
      message = format('aef_executions: id, user_id, sop_id and created_at cannot change (execution %s)', old.id);
  end if;

  if new.status <> old.status then
    if not aef_private.execution_transition_allowed(old.status, new.status) then
      raise exception using errcode = 'AE001',
        message = format('aef_executions: illegal status transition %s -> %s (execution %s)', old.status, new.status, old.id),
        hint = 'Allowed: idle -> running|cancelled; running -> paused|completed|error|cancelled; '
               'paused -> running|cancelled|error. completed, error and cancelled are final.';
    end if;
    new.started_at := case when new.status = 'running' then coalesce(old.started_at, now()) else old.started_at end;
    new.completed_at := case when new.status in ('completed', 'error', 'cancelled') then now() end;
  else
    -- a final execution is frozen; only a key rotation may re-seal its secrets
    if old.status in ('completed', 'error', 'cancelled')
       and (new.current_step_id, aef_private.without_sealed(new.execution_context), aef_private.without_sealed(new.config))
           is distinct from
           (old.current_step_id, aef_private.without_sealed(old.execution_context), aef_private.without_sealed(old.config)) then
      raise exception using errcode = 'AE001',
        message = format('aef_executions: execution %s is %s, which is final; it cannot change', old.id, old.status);
    end if;
    new.started_at := old.started_at;
    new.completed_at := old.completed_at;
  end if;

  if new.browser_session_id is distinct from old.browser_session_id and new.browser_session_id is not null then
    perform aef_private.assert_session_owner(new.browser_session_id, new.user_id);
  end if;
  new.updated_at := now();
  return new;
end
$$;
comment on function aef_private.executions_before_update() is
  'Guard: the status machine (AE001), immutable columns (AE004), frozen final rows (a key rotation may re-seal), maintained timestamps.';

create trigger aef_10_guard_insert before insert on public.aef_executions
  for each row execute function aef_private.executions_before_insert();
create trigger aef_10_guard_update before update on public.aef_executions
  for each row execute function aef_private.executions_before_update();

-- A final execution waits for nobody: its pending checkpoint closes with it, in
-- the same transaction, as skipped, and the log says why. Otherwise an answer
-- could still arrive after the execution ended, even after its log was archived.
create function aef_private.executions_close_checkpoints() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  with closed as (
    update public.aef_checkpoints c set status = 'skipped'
     where c.execution_id = new.id and c.status = 'pending'
    returning c.id, c.step_id
  )
  insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
  select new.id, closed.step_id, 'decision_made',
         jsonb_build_object('decision', 'skipped', 'checkpoint_id', closed.id, 'reason', 'execution ' || new.status)
    from closed;
  return null;
end
$$;
comment on function aef_private.executions_close_checkpoints() is
  'When an execution becomes final: its pending checkpoint closes as skipped, and a decision_made event is logged.';

create trigger aef_20_close_checkpoints after update on public.aef_executions
  for each row when (new.status in ('completed', 'error', 'cancelled') and old.status <> new.status)
  execute function aef_private.executions_close_checkpoints();

revoke all on all functions in schema aef_private from public;

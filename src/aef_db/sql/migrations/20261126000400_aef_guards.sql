-- aef-db 20261126000400 aef_guards
-- The rules every writer meets (Python, supabase-js with the service role, a SQL
-- console): status machines, database-maintained timestamps, owner copies,
-- immutable columns and the append-only log. Each violation raises one of the
-- SQLSTATEs below with a message that names the rule and the values:
--   AE001 execution status rule        AE005 the log is append-only
--   AE002 checkpoint status rule       AE006 owner mismatch between rows
--   AE003 browser session status rule  AE007 log seq does not continue the execution
--   AE004 an immutable column changed  AE008 a timeout that is not in the future
set lock_timeout = '5s';
set statement_timeout = '60s';

-- ---------------------------------------------------------------------------
-- State machines, as data
-- ---------------------------------------------------------------------------
-- The helpers below run only inside the guards, which are security definer with
-- an empty search_path; they carry neither clause themselves (every name is
-- qualified), so they cost a plain call and the SQL ones are inlined.
create function aef_private.execution_transition_allowed(
  from_status public.execution_status, to_status public.execution_status
) returns boolean
language sql immutable parallel safe
as $$
  select (from_status::pg_catalog.text, to_status::pg_catalog.text) in (
    ('idle', 'running'), ('idle', 'cancelled'),
    ('running', 'paused'), ('running', 'completed'), ('running', 'error'), ('running', 'cancelled'),
    ('paused', 'running'), ('paused', 'cancelled'), ('paused', 'error')
  )
$$;
comment on function aef_private.execution_transition_allowed(public.execution_status, public.execution_status) is
  'The execution state machine: whether from_status -> to_status is allowed.';

create function aef_private.session_transition_allowed(
  from_status public.browser_session_status, to_status public.browser_session_status
) returns boolean
language sql immutable parallel safe
as $$
  select (from_status::pg_catalog.text, to_status::pg_catalog.text) in (
    ('active', 'idle'), ('idle', 'active'),
    ('active', 'terminated'), ('active', 'error'), ('idle', 'terminated'), ('idle', 'error')
  )
$$;
comment on function aef_private.session_transition_allowed(public.browser_session_status, public.browser_session_status) is
  'The browser session state machine: whether from_status -> to_status is allowed.';

-- Secrets are stored as sealed tokens ("aef:v1:<key id>:..."). Re-sealing them
-- under a new key is the one change a final row still accepts, so this is the
-- row's content with every token masked.
create function aef_private.without_sealed(doc jsonb) returns jsonb
language plpgsql immutable parallel safe
as $$
begin
  case jsonb_typeof(doc)
    when 'object' then
      return coalesce((select jsonb_object_agg(e.key, aef_private.without_sealed(e.value)) from jsonb_each(doc) e), '{}'::pg_catalog.jsonb);
    when 'array' then
      return coalesce((select jsonb_agg(aef_private.without_sealed(e.value) order by e.ord)
                         from jsonb_array_elements(doc) with ordinality e(value, ord)), '[]'::pg_catalog.jsonb);
    when 'string' then
      return case when left(doc #>> '{}', 7) = 'aef:v1:' then '"aef:sealed"'::pg_catalog.jsonb else doc end;
    else
      return doc;
  end case;
end
$$;
comment on function aef_private.without_sealed(jsonb) is
  'The document with every sealed secret token masked: equal before and after a key rotation.';

-- ---------------------------------------------------------------------------
-- Shared checks
-- ---------------------------------------------------------------------------
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

create function aef_private.execution_owner(execution_id uuid, for_table text) returns public.aef_executions
language plpgsql stable
as $$
declare
  execution public.aef_executions;
begin
  select * into execution from public.aef_executions e where e.id = execution_id;
  if not found then
    raise exception using errcode = '23503',
      message = format('%s.execution_id: execution %s does not exist', for_table, execution_id);
  end if;
  return execution;
end
$$;

-- ---------------------------------------------------------------------------
-- Executions
-- ---------------------------------------------------------------------------
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

create trigger aef_20_close_checkpoints after update on public.aef_executions
  for each row when (new.status in ('completed', 'error', 'cancelled') and old.status <> new.status)
  execute function aef_private.executions_close_checkpoints();

-- ---------------------------------------------------------------------------
-- Checkpoints
-- ---------------------------------------------------------------------------
create function aef_private.checkpoints_before_insert() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  execution public.aef_executions := aef_private.execution_owner(new.execution_id, 'aef_checkpoints');
begin
  if new.user_id is null then
    new.user_id := execution.user_id;
  elsif new.user_id <> execution.user_id then
    raise exception using errcode = 'AE006',
      message = format('aef_checkpoints.user_id must be the owner of execution %s', new.execution_id);
  end if;
  if execution.status in ('completed', 'error', 'cancelled') then
    raise exception using errcode = 'AE002',
      message = format('aef_checkpoints: execution %s is %s, which is final; it takes no new checkpoint',
                       new.execution_id, execution.status);
  end if;
  if new.status <> 'pending' then
    raise exception using errcode = 'AE002',
      message = format('aef_checkpoints: a checkpoint is created pending, not %s', new.status);
  end if;
  if new.timeout_at is not null and new.timeout_at <= now() then
    raise exception using errcode = 'AE008',
      message = format('aef_checkpoints.timeout_at must be in the future, got %s', new.timeout_at);
  end if;
  new.resolved_at := null;
  new.resolved_by := null;
  new.updated_at := now();
  return new;
end
$$;

create function aef_private.checkpoints_before_update() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if (new.id, new.execution_id, new.user_id, new.checkpoint_type, new.step_id, new.request, new.created_at)
     is distinct from (old.id, old.execution_id, old.user_id, old.checkpoint_type, old.step_id, old.request, old.created_at) then
    raise exception using errcode = 'AE004',
      message = format('aef_checkpoints: only status, user_response, timeout_at, timeout_policy and resolved_by may change (checkpoint %s)', old.id);
  end if;

  if old.status <> 'pending' then
    if (new.status, new.user_response, new.timeout_at, new.timeout_policy, new.resolved_by)
       is distinct from (old.status, old.user_response, old.timeout_at, old.timeout_policy, old.resolved_by) then
      raise exception using errcode = 'AE002',
        message = format('aef_checkpoints: checkpoint %s is already resolved as %s; a checkpoint resolves once', old.id, old.status);
    end if;
    return new;
  end if;

  if new.status <> 'pending' then
    if new.status = 'timeout' and (old.timeout_at is null or old.timeout_at > now()) then
      raise exception using errcode = 'AE002',
        message = format('aef_checkpoints: checkpoint %s cannot time out before its timeout_at (%s)', old.id, coalesce(old.timeout_at::pg_catalog.text, 'none'));
    end if;
    new.resolved_at := now();
    if new.resolved_by is null then
      new.resolved_by := auth.uid();
    end if;
  elsif new.timeout_at is distinct from old.timeout_at and new.timeout_at <= now() then
    raise exception using errcode = 'AE008',
      message = format('aef_checkpoints.timeout_at must be in the future, got %s', new.timeout_at);
  end if;
  new.updated_at := now();
  return new;
end
$$;

create trigger aef_10_guard_insert before insert on public.aef_checkpoints
  for each row execute function aef_private.checkpoints_before_insert();
create trigger aef_10_guard_update before update on public.aef_checkpoints
  for each row execute function aef_private.checkpoints_before_update();

-- ---------------------------------------------------------------------------
-- Browser sessions
-- ---------------------------------------------------------------------------
create function aef_private.assert_lease(session public.aef_browser_sessions) returns void
language plpgsql stable
as $$
declare
  execution public.aef_executions := aef_private.execution_owner(session.lease_execution_id, 'aef_browser_sessions.lease');
begin
  if execution.user_id <> session.user_id then
    raise exception using errcode = 'AE006',
      message = format('aef_browser_sessions: session %s cannot be leased to execution %s of another user', session.id, execution.id);
  end if;
  if execution.status in ('completed', 'error', 'cancelled') then
    raise exception using errcode = 'AE003',
      message = format('aef_browser_sessions: session %s cannot be leased to execution %s, which is %s', session.id, execution.id, execution.status);
  end if;
end
$$;

create function aef_private.sessions_before_insert() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if new.status not in ('active', 'idle') then
    raise exception using errcode = 'AE003',
      message = format('aef_browser_sessions: a session is created active or idle, not %s', new.status);
  end if;
  if new.lease_execution_id is not null then
    perform aef_private.assert_lease(new);
  end if;
  new.ended_at := null;
  new.updated_at := now();
  return new;
end
$$;

create function aef_private.sessions_before_update() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if (new.id, new.user_id, new.created_at, new.mode) is distinct from (old.id, old.user_id, old.created_at, old.mode) then
    raise exception using errcode = 'AE004',
      message = format('aef_browser_sessions: id, user_id, mode and created_at cannot change (session %s)', old.id);
  end if;

  if new.status <> old.status then
    if not aef_private.session_transition_allowed(old.status, new.status) then
      raise exception using errcode = 'AE003',
        message = format('aef_browser_sessions: illegal status transition %s -> %s (session %s)', old.status, new.status, old.id),
        hint = 'Allowed: active <-> idle; active|idle -> terminated|error. terminated and error are final.';
    end if;
    if new.status in ('terminated', 'error') then
      -- an ended session holds no lease
      new.ended_at := now();
      new.lease_execution_id := null;
      new.lease_holder := null;
      new.lease_expires_at := null;
    end if;
  elsif old.status in ('terminated', 'error')
        and (aef_private.without_sealed(new.session_data), new.lease_execution_id, new.last_active)
            is distinct from (aef_private.without_sealed(old.session_data), old.lease_execution_id, old.last_active) then
    raise exception using errcode = 'AE003',
      message = format('aef_browser_sessions: session %s is %s, which is final; it cannot change', old.id, old.status);
  else
    new.ended_at := old.ended_at;
  end if;

  if new.lease_execution_id is not null and new.lease_execution_id is distinct from old.lease_execution_id then
    if old.lease_execution_id is not null and old.lease_expires_at > now() then
      raise exception using errcode = 'AE003',
        message = format('aef_browser_sessions: session %s is leased to execution %s until %s',
                         old.id, old.lease_execution_id, old.lease_expires_at),
        hint = 'Release the lease, or wait until it expires, before leasing the session again.';
    end if;
    perform aef_private.assert_lease(new);
  end if;
  new.last_active := greatest(old.last_active, new.last_active);
  new.updated_at := now();
  return new;
end
$$;

create trigger aef_10_guard_insert before insert on public.aef_browser_sessions
  for each row execute function aef_private.sessions_before_insert();
create trigger aef_10_guard_update before update on public.aef_browser_sessions
  for each row execute function aef_private.sessions_before_update();

-- ---------------------------------------------------------------------------
-- Execution logs
-- ---------------------------------------------------------------------------
-- Two paths. A batching writer supplies user_id and seq itself; then no row
-- trigger runs (the WHEN clause is evaluated without calling a function) and
-- one statement-level check verifies the whole batch, set-based. A writer that
-- names only the seed's columns (supabase-js, a SQL console) gets them filled
-- here, row by row. The cursor (one setting, "execution|owner|last seq")
-- spares a lookup for consecutive rows of one execution; it never grows, and
-- is cleared at the end of every statement.
create function aef_private.logs_fill() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  cursor_parts pg_catalog.text[] := string_to_array(nullif(current_setting('aef.log_cursor', true), ''), '|');
  owner pg_catalog.uuid;
  last_seq pg_catalog.int8;
begin
  if cursor_parts[1] = new.execution_id::pg_catalog.text then
    owner := cursor_parts[2]::pg_catalog.uuid;
    last_seq := cursor_parts[3]::pg_catalog.int8;
  else
    -- One filling writer per execution at a time, until the transaction ends: a
    -- row lock on the execution. No API role can take it (locking rows needs
    -- UPDATE on the table), where an advisory lock's key is open to anyone, and
    -- row locks take no slot in the lock table, so one statement may touch any
    -- number of executions.
    select e.user_id into owner from public.aef_executions e where e.id = new.execution_id for no key update;
    if not found then
      raise exception using errcode = '23503',
        message = format('aef_execution_logs.execution_id: execution %s does not exist', new.execution_id);
    end if;
    select l.seq into last_seq
      from public.aef_execution_logs l
     where l.execution_id = new.execution_id
     order by l.seq desc
     limit 1;
    last_seq := coalesce(last_seq, 0);
  end if;
  new.user_id := coalesce(new.user_id, owner);
  new.seq := coalesce(new.seq, last_seq + 1);
  perform set_config('aef.log_cursor', concat_ws('|', new.execution_id, owner, new.seq), true);
  return new;
end
$$;

create function aef_private.logs_verify_batch() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  bad pg_catalog.record;
begin
  perform set_config('aef.log_cursor', '', true);

  select i.execution_id, i.user_id into bad
    from inserted i
    join public.aef_executions e on e.id = i.execution_id
   where i.user_id <> e.user_id
   limit 1;
  if found then
    raise exception using errcode = 'AE006',
      message = format('aef_execution_logs.user_id must be the owner of execution %s, not %s', bad.execution_id, bad.user_id);
  end if;

  -- (execution_id, seq) is unique, so a batch is gapless when its seqs span
  -- exactly its row count, and it continues the log when seq first - 1 exists.
  select g.execution_id, g.first_seq, g.last_seq, g.n into bad
    from (select execution_id, min(seq) as first_seq, max(seq) as last_seq, count(*) as n
            from inserted group by execution_id) g
   where g.last_seq - g.first_seq + 1 <> g.n
      or (g.first_seq > 1 and not exists (
            select 1 from public.aef_execution_logs l
             where l.execution_id = g.execution_id and l.seq = g.first_seq - 1))
   limit 1;
  if found then
    raise exception using errcode = 'AE007',
      message = format('aef_execution_logs.seq must continue execution %s without gaps: got %s..%s for %s rows',
                       bad.execution_id, bad.first_seq, bad.last_seq, bad.n),
      hint = 'Leave seq null to have the database assign it.';
  end if;
  return null;
end
$$;

create function aef_private.logs_append_only() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception using errcode = 'AE005',
    message = format('aef_execution_logs is append-only: %s is not allowed', lower(tg_op)),
    hint = 'The log is the audit trail; no role may change or remove its rows.';
end
$$;

create trigger aef_10_fill before insert on public.aef_execution_logs
  for each row when (new.user_id is null or new.seq is null)
  execute function aef_private.logs_fill();
create trigger aef_20_verify after insert on public.aef_execution_logs
  referencing new table as inserted
  for each statement execute function aef_private.logs_verify_batch();
create trigger aef_30_append_only before update or delete on public.aef_execution_logs
  for each row execute function aef_private.logs_append_only();
create trigger aef_31_append_only_truncate before truncate on public.aef_execution_logs
  for each statement execute function aef_private.logs_append_only();
-- ALWAYS: fire under session_replication_role = replica too.
alter table public.aef_execution_logs enable always trigger aef_30_append_only;
alter table public.aef_execution_logs enable always trigger aef_31_append_only_truncate;

revoke all on all functions in schema aef_private from public;

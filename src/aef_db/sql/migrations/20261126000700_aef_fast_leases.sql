-- aef-db 20261126000700 aef_fast_leases
-- The lease path, measured (docs/performance.md, decision 29): every lease and
-- release updates a session row, so what that update costs the server is what
-- bounds leases per second. Three costs went:
--   * the state-machine helpers compared enums as text; an enum's text output
--     is only stable, so the immutable SQL functions were never inlined and
--     PostgreSQL parsed and planned them again on every call;
--   * the id format check used a bounded repetition ({1,128}), which compiles to
--     a large automaton evaluated on every update; varchar(128) already bounds
--     the length;
--   * the lease check ran as two nested PL/pgSQL calls and the engine bound the
--     execution to its session in a separate statement. Both now happen in the
--     session's guard, so every writer gets the binding, not only aef-db.
set lock_timeout = '5s';
set statement_timeout = '60s';

create or replace function aef_private.execution_transition_allowed(
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

create or replace function aef_private.session_transition_allowed(
  from_status public.browser_session_status, to_status public.browser_session_status
) returns boolean
language sql immutable parallel safe
as $$
  select (from_status, to_status) in (
    ('active', 'idle'), ('idle', 'active'),
    ('active', 'terminated'), ('active', 'error'), ('idle', 'terminated'), ('idle', 'error')
  )
$$;

-- The same rule as before: letters, digits and _.:-, 1 to 128 characters (the
-- column's type caps the length). The table holds one row per browser, so
-- validating it in this transaction blocks nobody for long.
-- squawk-ignore ban-drop-constraint
alter table public.aef_browser_sessions drop constraint aef_browser_sessions_id_format;
alter table public.aef_browser_sessions
  add constraint aef_browser_sessions_id_format check (id ~ '^[A-Za-z0-9_.:-]+$') not valid;
-- squawk-ignore constraint-missing-not-valid
alter table public.aef_browser_sessions validate constraint aef_browser_sessions_id_format;

-- A session is created free; a lease is taken by an update, where the guard
-- checks it. One path for the rule, whoever writes.
create or replace function aef_private.sessions_before_insert() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if new.status not in ('active', 'idle') then
    raise exception using errcode = 'AE003',
      message = format('aef_browser_sessions: a session is created active or idle, not %s', new.status);
  end if;
  if new.lease_execution_id is not null then
    raise exception using errcode = 'AE003',
      message = format('aef_browser_sessions: session %s is created without a lease', new.id),
      hint = 'Insert the session, then lease it with an update.';
  end if;
  new.ended_at := null;
  new.updated_at := now();
  return new;
end
$$;

create or replace function aef_private.sessions_before_update() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  holder public.aef_executions;
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
    select * into holder from public.aef_executions e where e.id = new.lease_execution_id;
    if not found then
      raise exception using errcode = '23503',
        message = format('aef_browser_sessions.lease: execution %s does not exist', new.lease_execution_id);
    end if;
    if holder.user_id <> new.user_id then
      raise exception using errcode = 'AE006',
        message = format('aef_browser_sessions: session %s cannot be leased to execution %s of another user', new.id, holder.id);
    end if;
    if holder.status in ('completed', 'error', 'cancelled') then
      raise exception using errcode = 'AE003',
        message = format('aef_browser_sessions: session %s cannot be leased to execution %s, which is %s', new.id, holder.id, holder.status);
    end if;
    -- a lease binds the execution to its session, whoever takes it
    if holder.browser_session_id is distinct from new.id then
      update public.aef_executions e set browser_session_id = new.id where e.id = holder.id;
    end if;
  end if;
  new.last_active := greatest(old.last_active, new.last_active);
  new.updated_at := now();
  return new;
end
$$;

-- an internal helper of the guards, now inlined; no client calls it
-- squawk-ignore ban-drop-function
drop function aef_private.assert_lease(public.aef_browser_sessions);

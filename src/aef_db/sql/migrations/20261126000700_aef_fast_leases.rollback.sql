-- Rollback of 20261126000700 aef_fast_leases: the definitions of 20261126000400.
-- squawk-ignore-file ban-drop-constraint, constraint-missing-not-valid
set lock_timeout = '5s';
set statement_timeout = '60s';

create or replace function aef_private.execution_transition_allowed(
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

create or replace function aef_private.session_transition_allowed(
  from_status public.browser_session_status, to_status public.browser_session_status
) returns boolean
language sql immutable parallel safe
as $$
  select (from_status::pg_catalog.text, to_status::pg_catalog.text) in (
    ('active', 'idle'), ('idle', 'active'),
    ('active', 'terminated'), ('active', 'error'), ('idle', 'terminated'), ('idle', 'error')
  )
$$;

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
    perform aef_private.assert_lease(new);
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
revoke all on function aef_private.assert_lease(public.aef_browser_sessions) from public;

alter table public.aef_browser_sessions drop constraint aef_browser_sessions_id_format;
alter table public.aef_browser_sessions
  add constraint aef_browser_sessions_id_format check (id ~ '^[A-Za-z0-9_.:-]{1,128}$') not valid;
alter table public.aef_browser_sessions validate constraint aef_browser_sessions_id_format;

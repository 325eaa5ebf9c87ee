-- aef-db 20261126000400 aef_browser_sessions
-- The browser sessions the AEF drives, and their guard: the status machine,
-- immutable columns, and leases. A lease binds a session to one execution at a
-- time; it is taken by an update, which the guard checks and which binds the
-- execution to its session, whoever writes (decision 29: the lease path is what
-- bounds leases per second, so it is one lookup and no nested calls).
--   AE003 browser session status rule   AE004 an immutable column changed   AE006 owner mismatch
-- The id check leaves the length to varchar(128): a bounded repetition
-- ({1,128}) compiles to a large automaton evaluated on every update.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.aef_browser_sessions (
  -- squawk-ignore prefer-text-field
  id varchar(128) primary key default ('bs_' || replace(gen_random_uuid()::text, '-', '')),
  user_id uuid not null,
  status public.browser_session_status not null default 'active',
  created_at timestamptz not null default now(),
  last_active timestamptz not null default now(),
  session_data jsonb not null default '{}',
  mode text not null default 'isolated',
  lease_execution_id uuid constraint aef_browser_sessions_lease_execution_id_fkey references public.aef_executions (id),
  lease_holder text,
  lease_expires_at timestamptz,
  ended_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint aef_browser_sessions_id_format check (id ~ '^[A-Za-z0-9_.:-]+$'),
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

-- an execution's session, of the same owner (the executions guard checks the owner).
-- aef_executions comes one migration earlier, so this foreign key is added here;
-- both tables are new, so the scan that validates it reads nothing.
alter table public.aef_executions
  -- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint
  add constraint aef_executions_browser_session_id_fkey
  foreign key (browser_session_id) references public.aef_browser_sessions (id) on delete set null;

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

-- ---------------------------------------------------------------------------
-- The status machine, as data, and the guard
-- ---------------------------------------------------------------------------
create function aef_private.session_transition_allowed(
  from_status public.browser_session_status, to_status public.browser_session_status
) returns boolean
language sql immutable parallel safe
as $$
  select (from_status, to_status) in (
    ('active', 'idle'), ('idle', 'active'),
    ('active', 'terminated'), ('active', 'error'), ('idle', 'terminated'), ('idle', 'error')
  )
$$;
comment on function aef_private.session_transition_allowed(public.browser_session_status, public.browser_session_status) is
  'The browser session state machine: whether from_status -> to_status is allowed.';

-- A session is created free; a lease is taken by an update, where the guard
-- checks it. One path for the rule, whoever writes.
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
    raise exception using errcode = 'AE003',
      message = format('aef_browser_sessions: session %s is created without a lease', new.id),
      hint = 'Insert the session, then lease it with an update.';
  end if;
  new.ended_at := null;
  new.updated_at := now();
  return new;
end
$$;
comment on function aef_private.sessions_before_insert() is
  'Guard: a session is created active or idle and free (a lease is taken by an update).';

create function aef_private.sessions_before_update() returns trigger
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
comment on function aef_private.sessions_before_update() is
  'Guard: the status machine (AE003), immutable columns (AE004), leases (not taken over before expiry, same owner, live execution) and binding the execution to its session.';

create trigger aef_10_guard_insert before insert on public.aef_browser_sessions
  for each row execute function aef_private.sessions_before_insert();
create trigger aef_10_guard_update before update on public.aef_browser_sessions
  for each row execute function aef_private.sessions_before_update();

revoke all on all functions in schema aef_private from public;

-- aef-db 20261126000700 aef_access
-- Who may do what: explicit grants and revokes (so projects with and without
-- Supabase's old "grant all to anon, authenticated" default privileges end up
-- identical), row level security, and the only functions through which a user
-- changes an execution or a checkpoint. docs/rls.md explains it table by table.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- ---------------------------------------------------------------------------
-- Grants: exactly what each role needs, nothing by default
-- ---------------------------------------------------------------------------
revoke all on table public.aef_executions, public.aef_execution_logs, public.aef_checkpoints, public.aef_browser_sessions
  from public, anon, authenticated, service_role;

grant select on table public.aef_executions, public.aef_execution_logs, public.aef_checkpoints to authenticated;
-- not id: a user who may choose a primary key can probe for other users' ids
-- (insert ... on conflict do nothing returns 0 rows for a taken one)
grant insert (sop_id, user_id, status, current_step_id, execution_context, config)
  on table public.aef_executions to authenticated;
-- session_data (cookies, tokens) is withheld: no column privilege
grant select (id, user_id, status, created_at, last_active, mode, lease_execution_id, lease_holder,
              lease_expires_at, ended_at, updated_at)
  on table public.aef_browser_sessions to authenticated;

grant select, insert, update, delete on table public.aef_executions, public.aef_checkpoints, public.aef_browser_sessions
  to service_role;
-- the log is append-only, for the engine too
grant select, insert on table public.aef_execution_logs to service_role;

-- ---------------------------------------------------------------------------
-- Row level security: owners see their own rows; service_role bypasses RLS
-- ---------------------------------------------------------------------------
alter table public.aef_executions enable row level security;
alter table public.aef_execution_logs enable row level security;
alter table public.aef_checkpoints enable row level security;
alter table public.aef_browser_sessions enable row level security;

-- The caller's id for the read policies: auth.uid(), or null where auth.uid()
-- would raise, for a subject that is not a UUID (third-party auth, a hand-made
-- token). Supabase Realtime checks each change against the policies of every
-- subscriber in one statement, so a policy that raised for one subscriber's claims
-- would stop postgres_changes for the whole project (supabase/realtime#2093). It
-- tests the text auth.uid() casts (the legacy per-claim setting first, then the
-- claims) and calls auth.uid() only for a canonical UUID, so the project's own
-- auth.uid() still decides. One CASE expression with qualified names and no SET
-- clause: PostgreSQL inlines it. A policy stores the function's oid, so the
-- roles it applies to need EXECUTE on it but no USAGE on aef_private.
create function aef_private.uid() returns uuid
language sql stable
as $$
  select case
    when coalesce(nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                  nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
                    operator(pg_catalog.->>) 'sub')
         operator(pg_catalog.~) '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'
    then auth.uid()
  end
$$;
comment on function aef_private.uid() is
  'auth.uid(), or null when the JWT subject is not a UUID (where auth.uid() raises). The read policies call it, so no subscriber''s claims make Supabase Realtime''s check raise.';
revoke all on function aef_private.uid() from public;
grant execute on function aef_private.uid() to authenticated;

create policy "Owners read their executions" on public.aef_executions
  for select to authenticated
  using (user_id = (select aef_private.uid()));
-- The foreign key alone would accept any sop_id: FK checks bypass RLS. Sealed
-- secrets ("aef:v1:...") are written by the engine only: a user's string of that
-- shape would pass for one, and no key opens it (key rotation would stall on it).
create policy "Users start their own executions of SOPs they can see" on public.aef_executions
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and status = 'idle'
    and exists (select 1 from public.sops s where s.id = sop_id)
    and not (execution_context @? '$.** ? (@ starts with "aef:v1:")')
    and not (config @? '$.** ? (@ starts with "aef:v1:")')
  );
create policy "Owners read their execution logs" on public.aef_execution_logs
  for select to authenticated
  using (user_id = (select aef_private.uid()));
create policy "Owners read their checkpoints" on public.aef_checkpoints
  for select to authenticated
  using (user_id = (select aef_private.uid()));
create policy "Owners read their browser sessions" on public.aef_browser_sessions
  for select to authenticated
  using (user_id = (select aef_private.uid()));

-- ---------------------------------------------------------------------------
-- Acting on an execution or a checkpoint
-- ---------------------------------------------------------------------------
-- A caller with a JWT subject acts as that user and must own the row. A caller
-- without one acts as the engine only if its role is an engine role: listed in
-- aef_private.engine_roles (service_role unless the project adds its own), or
-- one that bypasses RLS anyway (a superuser; postgres on Supabase), which could
-- change the rows directly. Every other role is refused: anon, authenticated,
-- and the custom roles a project derives from authenticated.
create table aef_private.engine_roles (
  role_name name primary key
);
comment on table aef_private.engine_roles is
  'Roles that act as the engine when they call the user functions without a JWT subject. service_role by default.';
comment on column aef_private.engine_roles.role_name is 'A role name, as current_setting(''role'') or session_user shows it.';
insert into aef_private.engine_roles (role_name) values ('service_role');
revoke all on table aef_private.engine_roles from public;

create function aef_private.caller_is_engine() returns boolean
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select exists (
    select 1 from pg_catalog.pg_roles r
     where r.rolname = coalesce(nullif(nullif(pg_catalog.current_setting('role', true), ''), 'none'),
                                pg_catalog.session_user())
       and (r.rolsuper or r.rolbypassrls
            or exists (select 1 from aef_private.engine_roles g where g.role_name = r.rolname)))
$$;
comment on function aef_private.caller_is_engine() is
  'Whether the calling role (SET ROLE, else the session user) acts as the engine without a JWT subject: listed in engine_roles, a superuser or BYPASSRLS.';

-- Both functions below find their row in one lookup that already carries the
-- owner rule, so "not yours" and "does not exist" take the same path and give
-- the same answer: neither the error nor the time tells them apart.
create function aef_private.change_execution(
  target pg_catalog.uuid, to_status public.execution_status, action pg_catalog.text, fn pg_catalog.text,
  from_statuses public.execution_status[]
) returns public.aef_executions
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  subject pg_catalog.uuid := auth.uid();
  engine pg_catalog.bool := subject is null and aef_private.caller_is_engine();
  execution public.aef_executions;
  from_status public.execution_status;
begin
  select * into execution from public.aef_executions e
   where e.id = target and (engine or e.user_id = subject)
     for update;
  if not found then
    raise exception using errcode = 'P0002', message = format('%s: no execution %s that you own', fn, target);
  end if;
  from_status := execution.status;
  if from_status = to_status then
    raise exception using errcode = 'AE001', message = format('%s: execution %s is already %s', fn, target, to_status);
  end if;
  -- narrower than the state machine: resume only what was paused, pause only what runs
  if from_status <> all(from_statuses) then
    raise exception using errcode = 'AE001',
      message = format('%s: execution %s is %s; it acts on %s executions only', fn, target, from_status,
                       array_to_string(from_statuses, ' or '));
  end if;
  -- the status guard rejects illegal transitions (AE001)
  update public.aef_executions e set status = to_status where e.id = target returning * into execution;
  insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
  values (target, execution.current_step_id, 'user_input',
          jsonb_build_object('action', action, 'from', from_status, 'to', to_status, 'by', subject));
  return execution;
end
$$;
comment on function aef_private.change_execution(uuid, public.execution_status, text, text, public.execution_status[]) is
  'The body of the pause, resume and cancel functions: one owner-scoped lookup, the transition, and a user_input event.';

create function public.aef_cancel_execution(execution_id uuid) returns public.aef_executions
language sql security definer
set search_path = pg_catalog, pg_temp
as $$
  select aef_private.change_execution(execution_id, 'cancelled', 'cancel', 'aef_cancel_execution',
                                      array['idle', 'running', 'paused']::public.execution_status[])
$$;
comment on function public.aef_cancel_execution(uuid) is
  'Cancel an idle, running or paused execution you own. Returns the updated row and logs a user_input event.';

create function public.aef_pause_execution(execution_id uuid) returns public.aef_executions
language sql security definer
set search_path = pg_catalog, pg_temp
as $$
  select aef_private.change_execution(execution_id, 'paused', 'pause', 'aef_pause_execution',
                                      array['running']::public.execution_status[])
$$;
comment on function public.aef_pause_execution(uuid) is
  'Pause a running execution you own. Returns the updated row and logs a user_input event.';

create function public.aef_resume_execution(execution_id uuid) returns public.aef_executions
language sql security definer
set search_path = pg_catalog, pg_temp
as $$
  select aef_private.change_execution(execution_id, 'running', 'resume', 'aef_resume_execution',
                                      array['paused']::public.execution_status[])
$$;
comment on function public.aef_resume_execution(uuid) is
  'Resume a paused execution you own. Returns the updated row and logs a user_input event.';

create function public.aef_resolve_checkpoint(
  checkpoint_id pg_catalog.uuid, decision public.checkpoint_status, response pg_catalog.jsonb default null
) returns public.aef_checkpoints
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  subject pg_catalog.uuid := auth.uid();
  engine pg_catalog.bool := subject is null and aef_private.caller_is_engine();
  checkpoint public.aef_checkpoints;
  execution_status public.execution_status;
begin
  if decision is null or decision not in ('approved', 'rejected', 'skipped') then
    raise exception using errcode = '22023',
      message = format('aef_resolve_checkpoint: decision must be approved, rejected or skipped, not %s', coalesce(decision::pg_catalog.text, 'null')),
      hint = 'timeout is set by the timeout sweeper, not by a person.';
  end if;
  select * into checkpoint from public.aef_checkpoints c
   where c.id = checkpoint_id and (engine or c.user_id = subject)
     for update;
  if not found then
    raise exception using errcode = 'P0002',
      message = format('aef_resolve_checkpoint: no checkpoint %s that you own', checkpoint_id);
  end if;
  if checkpoint.status <> 'pending' then
    raise exception using errcode = 'AE002',
      message = format('aef_resolve_checkpoint: checkpoint %s is already resolved as %s', checkpoint_id, checkpoint.status);
  end if;
  -- a final execution closes its checkpoints; this refuses what slipped past that
  select e.status into execution_status from public.aef_executions e where e.id = checkpoint.execution_id;
  if execution_status in ('completed', 'error', 'cancelled') then
    raise exception using errcode = 'AE002',
      message = format('aef_resolve_checkpoint: execution %s is %s, which is final; its checkpoints take no answer',
                       checkpoint.execution_id, execution_status);
  end if;
  update public.aef_checkpoints c
     set status = decision, user_response = response, resolved_by = subject
   where c.id = checkpoint_id
  returning * into checkpoint;
  insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
  values (checkpoint.execution_id, checkpoint.step_id, 'user_input',
          jsonb_build_object('action', 'resolve_checkpoint', 'checkpoint_id', checkpoint_id,
                             'decision', decision, 'by', subject));
  return checkpoint;
end
$$;
comment on function public.aef_resolve_checkpoint(uuid, public.checkpoint_status, jsonb) is
  'Resolve a pending checkpoint you own as approved, rejected or skipped, once. Returns the updated row and logs a user_input event.';

-- ---------------------------------------------------------------------------
-- The checkpoint timeout sweeper (the seed's decision 5)
-- ---------------------------------------------------------------------------
create function public.aef_expire_checkpoints(max_rows integer default 1000) returns integer
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  due public.aef_checkpoints;
  expired pg_catalog.int4 := 0;
begin
  if max_rows is null or max_rows < 1 then
    raise exception using errcode = '22023', message = 'aef_expire_checkpoints: max_rows must be at least 1';
  end if;
  for due in
    select * from public.aef_checkpoints c
     where c.status = 'pending' and c.timeout_at <= now()
     order by c.timeout_at
     limit max_rows
       for update skip locked
  loop
    update public.aef_checkpoints c set status = 'timeout' where c.id = due.id;
    insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
    values (due.execution_id, due.step_id, 'decision_made',
            jsonb_build_object('decision', 'timeout', 'checkpoint_id', due.id, 'policy', due.timeout_policy));
    if due.timeout_policy = 'fail_execution' then
      update public.aef_executions e set status = 'error'
       where e.id = due.execution_id and e.status in ('running', 'paused');
    elsif due.timeout_policy = 'cancel_execution' then
      update public.aef_executions e set status = 'cancelled'
       where e.id = due.execution_id and e.status in ('idle', 'running', 'paused');
    end if;
    expired := expired + 1;
  end loop;
  return expired;
end
$$;
comment on function public.aef_expire_checkpoints(integer) is
  'Time out pending checkpoints whose timeout_at has passed (at most max_rows, skipping locked ones) and apply each one''s timeout_policy. Returns how many expired. For the engine and pg_cron.';

revoke all on function public.aef_cancel_execution(uuid), public.aef_pause_execution(uuid),
  public.aef_resume_execution(uuid), public.aef_resolve_checkpoint(uuid, public.checkpoint_status, jsonb),
  public.aef_expire_checkpoints(integer)
  from public, anon, authenticated, service_role;
grant execute on function public.aef_cancel_execution(uuid), public.aef_pause_execution(uuid),
  public.aef_resume_execution(uuid), public.aef_resolve_checkpoint(uuid, public.checkpoint_status, jsonb)
  to authenticated, service_role;
grant execute on function public.aef_expire_checkpoints(integer) to service_role;
revoke all on all functions in schema aef_private from public;

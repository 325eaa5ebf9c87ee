-- aef-db: Supabase Broadcast from the database (`aef-db realtime enable-broadcast`).
-- Not a migration: an opt-in unit for databases that have Supabase Realtime's
-- realtime.messages. Idempotent: running it again leaves one copy of each object,
-- at this file's definition. broadcast_disable.sql removes exactly what it adds.
-- docs/realtime.md#broadcast explains topics, events and payloads.
--
-- What it adds:
--   * trigger functions aef_private.broadcast_<table>() and their SQL helpers;
--   * statement-level AFTER triggers aef_90_broadcast_<op> on the four tables, each
--     one INSERT into realtime.messages per statement, whatever the number of rows
--     (a batch of 1,000 log events is one trigger call, not 1,000);
--   * three policies on realtime.messages: an aef topic is joined by its owner only.
--
-- Realtime broadcasts every row inserted into realtime.messages (it replicates that
-- table), so the triggers insert the rows realtime.send would, set-based: extension
-- 'broadcast', private, the message id also in the payload. As with realtime.send, a
-- failure (no partition for today, say) never fails the writer's statement: it
-- becomes a WARNING and that statement's messages are dropped.
-- The trigger functions run as their owner (security definer), which must bypass
-- RLS (postgres does, on Supabase), so writers need no privilege on realtime.messages.
-- A policy on realtime.messages locks that table (and under supautils other platform
-- tables) until commit: this runs as one short transaction.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- ---------------------------------------------------------------------------
-- What a message carries. Each table's columns are listed once, here: identity,
-- owner, state and timestamps, never a JSON column (so never session_data,
-- execution_context, config, a log event's data or browser_state, a checkpoint's
-- request or response). A sealed token in a text column is masked as well.
-- SQL helpers without a SET clause, inlined into the triggers' queries (decision 29).
-- The triggers pass a transition row cast to its table's type (`n::public.aef_executions`);
-- once inlined, `(r).status` reads that column alone: the whole row, JSON and all, is
-- never built. anyelement, not the row type, so no table depends on these functions.
-- ---------------------------------------------------------------------------
create or replace function aef_private.broadcast_execution(r anyelement) returns pg_catalog.jsonb
language sql stable
as $$
  select pg_catalog.jsonb_build_object(
    'id', (r).id, 'user_id', (r).user_id, 'sop_id', (r).sop_id, 'status', (r).status,
    'current_step_id', (r).current_step_id, 'browser_session_id', (r).browser_session_id,
    'started_at', (r).started_at, 'completed_at', (r).completed_at,
    'created_at', (r).created_at, 'updated_at', (r).updated_at)
$$;
comment on function aef_private.broadcast_execution(anyelement) is
  'aef-db broadcast: the columns of an aef_executions row a message carries.';

create or replace function aef_private.broadcast_log_event(r anyelement) returns pg_catalog.jsonb
language sql stable
as $$
  select pg_catalog.jsonb_build_object(
    'id', (r).id, 'execution_id', (r).execution_id, 'user_id', (r).user_id, 'seq', (r).seq,
    'step_id', (r).step_id, 'event_type', (r).event_type, 'timestamp', (r)."timestamp",
    'created_at', (r).created_at)
$$;
comment on function aef_private.broadcast_log_event(anyelement) is
  'aef-db broadcast: the columns of an aef_execution_logs row a message carries.';

create or replace function aef_private.broadcast_checkpoint(r anyelement) returns pg_catalog.jsonb
language sql stable
as $$
  select pg_catalog.jsonb_build_object(
    'id', (r).id, 'execution_id', (r).execution_id, 'user_id', (r).user_id, 'step_id', (r).step_id,
    'checkpoint_type', (r).checkpoint_type, 'status', (r).status, 'timeout_at', (r).timeout_at,
    'timeout_policy', (r).timeout_policy, 'resolved_at', (r).resolved_at, 'resolved_by', (r).resolved_by,
    'created_at', (r).created_at, 'updated_at', (r).updated_at)
$$;
comment on function aef_private.broadcast_checkpoint(anyelement) is
  'aef-db broadcast: the columns of an aef_checkpoints row a message carries.';

create or replace function aef_private.broadcast_session(r anyelement) returns pg_catalog.jsonb
language sql stable
as $$
  select pg_catalog.jsonb_build_object(
    'id', (r).id, 'user_id', (r).user_id, 'status', (r).status, 'mode', (r).mode,
    'lease_execution_id', (r).lease_execution_id, 'lease_holder', (r).lease_holder,
    'lease_expires_at', (r).lease_expires_at, 'last_active', (r).last_active,
    'ended_at', (r).ended_at, 'created_at', (r).created_at, 'updated_at', (r).updated_at)
$$;
comment on function aef_private.broadcast_session(anyelement) is
  'aef-db broadcast: the columns of an aef_browser_sessions row a message carries (never session_data).';

create or replace function aef_private.broadcast_masked(doc pg_catalog.jsonb) returns pg_catalog.jsonb
language sql immutable parallel safe
as $$
  select case when doc @? '$.** ? (@ starts with "aef:v1:")' then aef_private.without_sealed(doc) else doc end
$$;
comment on function aef_private.broadcast_masked(pg_catalog.jsonb) is
  'aef-db broadcast: the document with any sealed token ("aef:v1:...") masked.';

-- The shape of realtime.broadcast_changes' payload, so handlers written for it work.
create or replace function aef_private.broadcast_payload(
  table_name pg_catalog.text, operation pg_catalog.text, record pg_catalog.jsonb, old_record pg_catalog.jsonb
) returns pg_catalog.jsonb
language sql stable
as $$
  select pg_catalog.jsonb_build_object(
    'schema', 'public', 'table', table_name, 'operation', operation,
    'record', aef_private.broadcast_masked(record), 'old_record', aef_private.broadcast_masked(old_record))
$$;
comment on function aef_private.broadcast_payload(pg_catalog.text, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb) is
  'aef-db broadcast: a message payload {schema, table, operation, record, old_record}, sealed tokens masked.';

-- ---------------------------------------------------------------------------
-- The trigger functions: one INSERT ... SELECT per statement. Each message gets
-- its own id, also put into its payload, as realtime.send does.
-- ---------------------------------------------------------------------------

-- aef_executions: to aef:user:<owner> and aef:execution:<id>.
create or replace function aef_private.broadcast_executions() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_op = 'INSERT' then
    insert into realtime.messages (id, topic, event, payload, private, extension)
    select x.id, x.topic, 'aef_executions.insert', x.payload || pg_catalog.jsonb_build_object('id', x.id), true, 'broadcast'
      from (select pg_catalog.gen_random_uuid() as id, t.topic,
                   aef_private.broadcast_payload('aef_executions', 'INSERT', aef_private.broadcast_execution(n::public.aef_executions), null) as payload
              from new_rows n,
                   pg_catalog.unnest(array['aef:user:' || n.user_id::pg_catalog.text,
                                           'aef:execution:' || n.id::pg_catalog.text]) t(topic)) x;
  elsif tg_op = 'UPDATE' then
    insert into realtime.messages (id, topic, event, payload, private, extension)
    select x.id, x.topic, 'aef_executions.update', x.payload || pg_catalog.jsonb_build_object('id', x.id), true, 'broadcast'
      from (select pg_catalog.gen_random_uuid() as id, t.topic,
                   aef_private.broadcast_payload('aef_executions', 'UPDATE', aef_private.broadcast_execution(n::public.aef_executions),
                                                 aef_private.broadcast_execution(o::public.aef_executions)) as payload
              from new_rows n join old_rows o on o.id = n.id,
                   pg_catalog.unnest(array['aef:user:' || n.user_id::pg_catalog.text,
                                           'aef:execution:' || n.id::pg_catalog.text]) t(topic)) x;
  else
    insert into realtime.messages (id, topic, event, payload, private, extension)
    select x.id, x.topic, 'aef_executions.delete', x.payload || pg_catalog.jsonb_build_object('id', x.id), true, 'broadcast'
      from (select pg_catalog.gen_random_uuid() as id, t.topic,
                   aef_private.broadcast_payload('aef_executions', 'DELETE', null, aef_private.broadcast_execution(o::public.aef_executions)) as payload
              from old_rows o,
                   pg_catalog.unnest(array['aef:user:' || o.user_id::pg_catalog.text,
                                           'aef:execution:' || o.id::pg_catalog.text]) t(topic)) x;
  end if;
  return null;
exception when others then
  raise warning 'aef-db broadcast: no message sent for this % on aef_executions: % (SQLSTATE %)', tg_op, sqlerrm, sqlstate;
  return null;
end
$$;
comment on function aef_private.broadcast_executions() is
  'aef-db broadcast: each change of aef_executions to aef:user:<owner> and aef:execution:<id>, one INSERT per statement.';

-- aef_execution_logs: to aef:execution:<execution id> only. The log is the busiest
-- table: the owner's topic would carry every event of every execution, doubling the
-- messages. Append-only: inserts only.
create or replace function aef_private.broadcast_execution_logs() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  insert into realtime.messages (id, topic, event, payload, private, extension)
  select x.id, x.topic, 'aef_execution_logs.insert', x.payload || pg_catalog.jsonb_build_object('id', x.id), true, 'broadcast'
    from (select pg_catalog.gen_random_uuid() as id, 'aef:execution:' || n.execution_id::pg_catalog.text as topic,
                 aef_private.broadcast_payload('aef_execution_logs', 'INSERT', aef_private.broadcast_log_event(n::public.aef_execution_logs), null) as payload
            from new_rows n) x;
  return null;
exception when others then
  raise warning 'aef-db broadcast: no message sent for this % on aef_execution_logs: % (SQLSTATE %)', tg_op, sqlerrm, sqlstate;
  return null;
end
$$;
comment on function aef_private.broadcast_execution_logs() is
  'aef-db broadcast: each new log event to aef:execution:<execution id>, one INSERT per statement.';

-- aef_checkpoints: to aef:user:<owner> and aef:execution:<execution id>.
create or replace function aef_private.broadcast_checkpoints() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_op = 'INSERT' then
    insert into realtime.messages (id, topic, event, payload, private, extension)
    select x.id, x.topic, 'aef_checkpoints.insert', x.payload || pg_catalog.jsonb_build_object('id', x.id), true, 'broadcast'
      from (select pg_catalog.gen_random_uuid() as id, t.topic,
                   aef_private.broadcast_payload('aef_checkpoints', 'INSERT', aef_private.broadcast_checkpoint(n::public.aef_checkpoints), null) as payload
              from new_rows n,
                   pg_catalog.unnest(array['aef:user:' || n.user_id::pg_catalog.text,
                                           'aef:execution:' || n.execution_id::pg_catalog.text]) t(topic)) x;
  elsif tg_op = 'UPDATE' then
    insert into realtime.messages (id, topic, event, payload, private, extension)
    select x.id, x.topic, 'aef_checkpoints.update', x.payload || pg_catalog.jsonb_build_object('id', x.id), true, 'broadcast'
      from (select pg_catalog.gen_random_uuid() as id, t.topic,
                   aef_private.broadcast_payload('aef_checkpoints', 'UPDATE', aef_private.broadcast_checkpoint(n::public.aef_checkpoints),
                                                 aef_private.broadcast_checkpoint(o::public.aef_checkpoints)) as payload
              from new_rows n join old_rows o on o.id = n.id,
                   pg_catalog.unnest(array['aef:user:' || n.user_id::pg_catalog.text,
                                           'aef:execution:' || n.execution_id::pg_catalog.text]) t(topic)) x;
  else
    insert into realtime.messages (id, topic, event, payload, private, extension)
    select x.id, x.topic, 'aef_checkpoints.delete', x.payload || pg_catalog.jsonb_build_object('id', x.id), true, 'broadcast'
      from (select pg_catalog.gen_random_uuid() as id, t.topic,
                   aef_private.broadcast_payload('aef_checkpoints', 'DELETE', null, aef_private.broadcast_checkpoint(o::public.aef_checkpoints)) as payload
              from old_rows o,
                   pg_catalog.unnest(array['aef:user:' || o.user_id::pg_catalog.text,
                                           'aef:execution:' || o.execution_id::pg_catalog.text]) t(topic)) x;
  end if;
  return null;
exception when others then
  raise warning 'aef-db broadcast: no message sent for this % on aef_checkpoints: % (SQLSTATE %)', tg_op, sqlerrm, sqlstate;
  return null;
end
$$;
comment on function aef_private.broadcast_checkpoints() is
  'aef-db broadcast: each change of aef_checkpoints to aef:user:<owner> and aef:execution:<execution id>, one INSERT per statement.';

-- aef_browser_sessions: to aef:user:<owner>. An update is news only when the status,
-- mode, lease or end changed: heartbeats, lease renewals and new session_data are not.
create or replace function aef_private.broadcast_browser_sessions() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_op = 'INSERT' then
    insert into realtime.messages (id, topic, event, payload, private, extension)
    select x.id, x.topic, 'aef_browser_sessions.insert', x.payload || pg_catalog.jsonb_build_object('id', x.id), true, 'broadcast'
      from (select pg_catalog.gen_random_uuid() as id, 'aef:user:' || n.user_id::pg_catalog.text as topic,
                   aef_private.broadcast_payload('aef_browser_sessions', 'INSERT', aef_private.broadcast_session(n::public.aef_browser_sessions), null) as payload
              from new_rows n) x;
  elsif tg_op = 'UPDATE' then
    insert into realtime.messages (id, topic, event, payload, private, extension)
    select x.id, x.topic, 'aef_browser_sessions.update', x.payload || pg_catalog.jsonb_build_object('id', x.id), true, 'broadcast'
      from (select pg_catalog.gen_random_uuid() as id, 'aef:user:' || n.user_id::pg_catalog.text as topic,
                   aef_private.broadcast_payload('aef_browser_sessions', 'UPDATE', aef_private.broadcast_session(n::public.aef_browser_sessions),
                                                 aef_private.broadcast_session(o::public.aef_browser_sessions)) as payload
              from new_rows n join old_rows o on o.id = n.id
             where (n.status, n.mode, n.lease_execution_id, n.lease_holder, n.ended_at)
                   is distinct from (o.status, o.mode, o.lease_execution_id, o.lease_holder, o.ended_at)) x;
  else
    insert into realtime.messages (id, topic, event, payload, private, extension)
    select x.id, x.topic, 'aef_browser_sessions.delete', x.payload || pg_catalog.jsonb_build_object('id', x.id), true, 'broadcast'
      from (select pg_catalog.gen_random_uuid() as id, 'aef:user:' || o.user_id::pg_catalog.text as topic,
                   aef_private.broadcast_payload('aef_browser_sessions', 'DELETE', null, aef_private.broadcast_session(o::public.aef_browser_sessions)) as payload
              from old_rows o) x;
  end if;
  return null;
exception when others then
  raise warning 'aef-db broadcast: no message sent for this % on aef_browser_sessions: % (SQLSTATE %)', tg_op, sqlerrm, sqlstate;
  return null;
end
$$;
comment on function aef_private.broadcast_browser_sessions() is
  'aef-db broadcast: status, lease and lifecycle changes of aef_browser_sessions to aef:user:<owner>, one INSERT per statement.';

revoke all on function
  aef_private.broadcast_execution(anyelement), aef_private.broadcast_log_event(anyelement),
  aef_private.broadcast_checkpoint(anyelement), aef_private.broadcast_session(anyelement),
  aef_private.broadcast_masked(pg_catalog.jsonb),
  aef_private.broadcast_payload(pg_catalog.text, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb),
  aef_private.broadcast_executions(), aef_private.broadcast_execution_logs(),
  aef_private.broadcast_checkpoints(), aef_private.broadcast_browser_sessions()
  from public;

-- ---------------------------------------------------------------------------
-- The triggers: AFTER, for each statement, with transition tables (one trigger per
-- event: PostgreSQL allows transition tables on single-event triggers only). Named
-- aef_90_* so they run after every guard and check of the same event. CREATE OR
-- REPLACE TRIGGER takes a lighter lock than DROP TRIGGER on a busy table.
-- ---------------------------------------------------------------------------
create or replace trigger aef_90_broadcast_insert after insert on public.aef_executions
  referencing new table as new_rows for each statement execute function aef_private.broadcast_executions();
create or replace trigger aef_90_broadcast_update after update on public.aef_executions
  referencing old table as old_rows new table as new_rows
  for each statement execute function aef_private.broadcast_executions();
create or replace trigger aef_90_broadcast_delete after delete on public.aef_executions
  referencing old table as old_rows for each statement execute function aef_private.broadcast_executions();

create or replace trigger aef_90_broadcast_insert after insert on public.aef_execution_logs
  referencing new table as new_rows for each statement execute function aef_private.broadcast_execution_logs();

create or replace trigger aef_90_broadcast_insert after insert on public.aef_checkpoints
  referencing new table as new_rows for each statement execute function aef_private.broadcast_checkpoints();
create or replace trigger aef_90_broadcast_update after update on public.aef_checkpoints
  referencing old table as old_rows new table as new_rows
  for each statement execute function aef_private.broadcast_checkpoints();
create or replace trigger aef_90_broadcast_delete after delete on public.aef_checkpoints
  referencing old table as old_rows for each statement execute function aef_private.broadcast_checkpoints();

create or replace trigger aef_90_broadcast_insert after insert on public.aef_browser_sessions
  referencing new table as new_rows for each statement execute function aef_private.broadcast_browser_sessions();
create or replace trigger aef_90_broadcast_update after update on public.aef_browser_sessions
  referencing old table as old_rows new table as new_rows
  for each statement execute function aef_private.broadcast_browser_sessions();
create or replace trigger aef_90_broadcast_delete after delete on public.aef_browser_sessions
  referencing old table as old_rows for each statement execute function aef_private.broadcast_browser_sessions();

-- ---------------------------------------------------------------------------
-- Who may join an aef topic. Realtime authorizes a private channel when it is
-- joined: as the Realtime admin it inserts a probe message for the topic, then sets
-- role, request.jwt.claims and realtime.topic and selects the probe back as the
-- user; the user may join when the probe is visible, and receives everything on
-- the topic from then on (messages are not filtered again).
--   aef:user:<uid>           only the user <uid>
--   aef:execution:<id>       only the owner of execution <id>
-- The first policy lets them in. The two restrictive ones keep everyone else out of
-- every aef topic, whatever other policies a project has on realtime.messages (a
-- permissive "authenticated can read and send on any topic" is common), and let
-- nobody but aef-db's triggers (which bypass RLS) write to one: no forged events.
-- anon gets a check of its own that reads no table: it has no privilege on
-- aef_executions, and a policy that read it would fail every anon query on
-- realtime.messages, aef topic or not. The user is aef_private.uid(), not
-- auth.uid(), which raises for a JWT subject that is not a UUID (third-party auth):
-- a policy that raises refuses every private channel to that user, aef topic or not
-- (docs/rls.md#a-policy-must-never-raise).
-- A topic that is not aef:user:<uuid> or aef:execution:<uuid> matches no one.
-- ---------------------------------------------------------------------------
drop policy if exists "aef-db: owners receive their aef topics" on realtime.messages;
create policy "aef-db: owners receive their aef topics" on realtime.messages
  as permissive for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and (
      (select realtime.topic()) = 'aef:user:' || (select aef_private.uid())::pg_catalog.text
      or exists (
        select 1 from public.aef_executions e
         where e.user_id = (select aef_private.uid())
           and e.id = case when (select realtime.topic())
                                ~ '^aef:execution:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                           then pg_catalog.substr((select realtime.topic()), 15)::pg_catalog.uuid end)
    )
  );

drop policy if exists "aef-db: aef topics belong to their owners" on realtime.messages;
create policy "aef-db: aef topics belong to their owners" on realtime.messages
  as restrictive for all to authenticated
  using (
    realtime.messages.topic not like 'aef:%'
    or realtime.messages.topic = 'aef:user:' || (select aef_private.uid())::pg_catalog.text
    or exists (
      select 1 from public.aef_executions e
       where e.user_id = (select aef_private.uid())
         and e.id = case when realtime.messages.topic
                              ~ '^aef:execution:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                         then pg_catalog.substr(realtime.messages.topic, 15)::pg_catalog.uuid end)
  )
  with check (realtime.messages.topic not like 'aef:%');

drop policy if exists "aef-db: aef topics are closed to anon" on realtime.messages;
create policy "aef-db: aef topics are closed to anon" on realtime.messages
  as restrictive for all to anon
  using (realtime.messages.topic not like 'aef:%')
  with check (realtime.messages.topic not like 'aef:%');

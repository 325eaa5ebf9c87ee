-- aef-db: remove Broadcast from the database (`aef-db realtime disable-broadcast`).
-- Drops exactly what broadcast.sql creates, and nothing else; idempotent. Runs
-- where realtime.messages is gone too (its policies went with it then).
set local lock_timeout = '5s';
set local statement_timeout = '60s';

drop trigger if exists aef_90_broadcast_insert on public.aef_executions;
drop trigger if exists aef_90_broadcast_update on public.aef_executions;
drop trigger if exists aef_90_broadcast_delete on public.aef_executions;
drop trigger if exists aef_90_broadcast_insert on public.aef_execution_logs;
drop trigger if exists aef_90_broadcast_insert on public.aef_checkpoints;
drop trigger if exists aef_90_broadcast_update on public.aef_checkpoints;
drop trigger if exists aef_90_broadcast_delete on public.aef_checkpoints;
drop trigger if exists aef_90_broadcast_insert on public.aef_browser_sessions;
drop trigger if exists aef_90_broadcast_update on public.aef_browser_sessions;
drop trigger if exists aef_90_broadcast_delete on public.aef_browser_sessions;

drop function if exists aef_private.broadcast_executions();
drop function if exists aef_private.broadcast_execution_logs();
drop function if exists aef_private.broadcast_checkpoints();
drop function if exists aef_private.broadcast_browser_sessions();
drop function if exists aef_private.broadcast_payload(pg_catalog.text, pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb);
drop function if exists aef_private.broadcast_masked(pg_catalog.jsonb);
drop function if exists aef_private.broadcast_execution(anyelement);
drop function if exists aef_private.broadcast_log_event(anyelement);
drop function if exists aef_private.broadcast_checkpoint(anyelement);
drop function if exists aef_private.broadcast_session(anyelement);

-- Only where the policies are: dropping one locks realtime.messages (and, under
-- supautils, other platform tables) until commit.
do $disable$
begin
  if exists (select 1 from pg_catalog.pg_policies p
              where p.schemaname = 'realtime' and p.tablename = 'messages'
                and p.policyname = 'aef-db: owners receive their aef topics') then
    drop policy "aef-db: owners receive their aef topics" on realtime.messages;
  end if;
  if exists (select 1 from pg_catalog.pg_policies p
              where p.schemaname = 'realtime' and p.tablename = 'messages'
                and p.policyname = 'aef-db: aef topics belong to their owners') then
    drop policy "aef-db: aef topics belong to their owners" on realtime.messages;
  end if;
  if exists (select 1 from pg_catalog.pg_policies p
              where p.schemaname = 'realtime' and p.tablename = 'messages'
                and p.policyname = 'aef-db: aef topics are closed to anon') then
    drop policy "aef-db: aef topics are closed to anon" on realtime.messages;
  end if;
end
$disable$;

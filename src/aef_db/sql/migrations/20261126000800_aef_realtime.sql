-- aef-db 20261126000800 aef_realtime
-- Supabase Realtime streams the tables of the publication supabase_realtime and
-- checks each change against the subscriber's RLS.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- An update's old values matter where a UI shows a transition (running ->
-- paused, pending -> approved) or filters on a column that changed: executions
-- and checkpoints send their whole old row. Logs are never updated, and a
-- session's old row would carry session_data, so both keep the primary key.
alter table public.aef_executions replica identity full;
alter table public.aef_checkpoints replica identity full;

-- aef_browser_sessions is published without session_data (cookies, tokens), so
-- it never leaves through logical decoding, whatever the consumer.
alter publication supabase_realtime add table
  public.aef_executions,
  public.aef_execution_logs,
  public.aef_checkpoints,
  public.aef_browser_sessions (id, user_id, status, created_at, last_active, mode, lease_execution_id,
                               lease_holder, lease_expires_at, ended_at, updated_at);

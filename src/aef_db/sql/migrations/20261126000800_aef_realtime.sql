-- aef-db 20261126000800 aef_realtime
-- Supabase Realtime streams the tables of the publication supabase_realtime to
-- postgres_changes subscribers and checks each change against the subscriber's
-- RLS (docs/rls.md#realtime).
set lock_timeout = '5s';
set statement_timeout = '60s';

-- An update's old values matter where a UI shows a transition (running ->
-- paused, pending -> approved) or filters on a column that changed: executions
-- and checkpoints send their whole old row. Logs are never updated, so they keep
-- the primary key.
alter table public.aef_executions replica identity full;
alter table public.aef_checkpoints replica identity full;

-- aef_browser_sessions is not published for Realtime. Realtime decodes with
-- wal2json, which ignores a publication's column list (and row filter): with the
-- table published, even without session_data in its column list, every change
-- would carry session_data (cookies, tokens), and Realtime would hand it to every
-- subscriber whose role may select it, service_role first. A session's changes
-- reach a front end through aef-db's own change feed (publication aef_changes,
-- decoded with pgoutput, which honours its column list) or through Broadcast.
alter publication supabase_realtime add table
  public.aef_executions,
  public.aef_execution_logs,
  public.aef_checkpoints;

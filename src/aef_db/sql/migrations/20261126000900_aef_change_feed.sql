-- aef-db 20261126000900 aef_change_feed
-- The publication aef-db's own change feed decodes with pgoutput (Store.subscribe,
-- docs/realtime.md). pgoutput honours a publication's column list, so a session's
-- session_data is never decoded for it. Executions and checkpoints send their whole
-- old row on update and delete (replica identity full, 20261126000800), which is how
-- the feed routes a delete to the row's owner; logs and sessions send their key.
set lock_timeout = '5s';
set statement_timeout = '60s';

create publication aef_changes for table
  public.aef_executions,
  public.aef_execution_logs,
  public.aef_checkpoints,
  public.aef_browser_sessions (id, user_id, status, created_at, last_active, mode, lease_execution_id,
                               lease_holder, lease_expires_at, ended_at, updated_at);

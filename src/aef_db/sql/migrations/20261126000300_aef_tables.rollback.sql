-- Rollback of 20261126000300 aef_tables.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- A rollback exists to remove what its migration created.
-- squawk-ignore ban-drop-table
drop table public.aef_checkpoints;
-- squawk-ignore ban-drop-table
drop table public.aef_execution_logs;
-- squawk-ignore ban-drop-constraint
alter table public.aef_browser_sessions drop constraint aef_browser_sessions_lease_execution_id_fkey;
-- squawk-ignore ban-drop-table
drop table public.aef_executions;
-- squawk-ignore ban-drop-table
drop table public.aef_browser_sessions;
-- squawk-ignore ban-drop-schema
drop schema aef_private;

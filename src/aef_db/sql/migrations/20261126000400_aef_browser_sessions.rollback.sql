-- Rollback of 20261126000400 aef_browser_sessions.
-- A rollback exists to remove what its migration created.
-- squawk-ignore-file ban-drop-function, ban-drop-table, ban-drop-constraint
set lock_timeout = '5s';
set statement_timeout = '60s';

alter table public.aef_executions drop constraint aef_executions_browser_session_id_fkey;
drop table public.aef_browser_sessions;
drop function aef_private.sessions_before_update();
drop function aef_private.sessions_before_insert();
drop function aef_private.session_transition_allowed(public.browser_session_status, public.browser_session_status);

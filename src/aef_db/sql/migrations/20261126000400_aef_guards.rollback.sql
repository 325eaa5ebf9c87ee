-- Rollback of 20261126000400 aef_guards.
-- A rollback exists to remove what its migration created.
-- squawk-ignore-file ban-drop-function
set lock_timeout = '5s';
set statement_timeout = '60s';

drop trigger aef_31_append_only_truncate on public.aef_execution_logs;
drop trigger aef_30_append_only on public.aef_execution_logs;
drop trigger aef_20_verify on public.aef_execution_logs;
drop trigger aef_10_fill on public.aef_execution_logs;
drop trigger aef_10_guard_update on public.aef_browser_sessions;
drop trigger aef_10_guard_insert on public.aef_browser_sessions;
drop trigger aef_10_guard_update on public.aef_checkpoints;
drop trigger aef_10_guard_insert on public.aef_checkpoints;
drop trigger aef_20_close_checkpoints on public.aef_executions;
drop trigger aef_10_guard_update on public.aef_executions;
drop trigger aef_10_guard_insert on public.aef_executions;

drop function aef_private.logs_append_only();
drop function aef_private.logs_verify_batch();
drop function aef_private.logs_fill();
drop function aef_private.sessions_before_update();
drop function aef_private.sessions_before_insert();
drop function aef_private.assert_lease(public.aef_browser_sessions);
drop function aef_private.checkpoints_before_update();
drop function aef_private.checkpoints_before_insert();
drop function aef_private.executions_close_checkpoints();
drop function aef_private.executions_before_update();
drop function aef_private.executions_before_insert();
drop function aef_private.execution_owner(uuid, text);
drop function aef_private.assert_session_owner(text, uuid);
drop function aef_private.without_sealed(jsonb);
drop function aef_private.session_transition_allowed(public.browser_session_status, public.browser_session_status);
drop function aef_private.execution_transition_allowed(public.execution_status, public.execution_status);

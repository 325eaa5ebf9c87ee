-- Rollback of 20261126000300 aef_executions.
-- A rollback exists to remove what its migration created.
-- squawk-ignore-file ban-drop-function, ban-drop-table
set lock_timeout = '5s';
set statement_timeout = '60s';

drop table public.aef_executions;
drop function aef_private.executions_close_checkpoints();
drop function aef_private.executions_before_update();
drop function aef_private.executions_before_insert();
drop function aef_private.assert_session_owner(text, uuid);
drop function aef_private.execution_transition_allowed(public.execution_status, public.execution_status);

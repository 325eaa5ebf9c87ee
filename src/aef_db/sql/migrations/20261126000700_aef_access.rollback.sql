-- Rollback of 20261126000700 aef_access.
-- A rollback exists to remove what its migration created.
-- squawk-ignore-file ban-drop-function
set lock_timeout = '5s';
set statement_timeout = '60s';

drop function public.aef_expire_checkpoints(integer);
drop function public.aef_resolve_checkpoint(uuid, public.checkpoint_status, jsonb);
drop function public.aef_resume_execution(uuid);
drop function public.aef_pause_execution(uuid);
drop function public.aef_cancel_execution(uuid);
drop function aef_private.change_execution(uuid, public.execution_status, text, text, public.execution_status[]);
drop function aef_private.caller_is_engine();
-- squawk-ignore ban-drop-table
drop table aef_private.engine_roles;

drop policy "Owners read their browser sessions" on public.aef_browser_sessions;
drop policy "Owners read their checkpoints" on public.aef_checkpoints;
drop policy "Owners read their execution logs" on public.aef_execution_logs;
drop policy "Users start their own executions of SOPs they can see" on public.aef_executions;
drop policy "Owners read their executions" on public.aef_executions;
drop function aef_private.uid();
alter table public.aef_browser_sessions disable row level security;
alter table public.aef_checkpoints disable row level security;
alter table public.aef_execution_logs disable row level security;
alter table public.aef_executions disable row level security;

revoke all on table public.aef_executions, public.aef_execution_logs, public.aef_checkpoints, public.aef_browser_sessions
  from anon, authenticated, service_role;

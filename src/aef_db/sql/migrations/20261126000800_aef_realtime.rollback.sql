-- Rollback of 20261126000800 aef_realtime.
set lock_timeout = '5s';
set statement_timeout = '60s';

alter publication supabase_realtime drop table
  public.aef_executions, public.aef_execution_logs, public.aef_checkpoints;
alter table public.aef_checkpoints replica identity default;
alter table public.aef_executions replica identity default;

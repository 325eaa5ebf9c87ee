-- The seed's schema as written, for comparison: primary keys and foreign keys
-- only, no user_id on child rows, and "naive" RLS (bare auth.uid(), child
-- tables joined through executions, no TO clause).
create schema naive;
grant usage on schema naive to authenticated, service_role;

create table naive.aef_executions (
  id uuid primary key, sop_id uuid references public.sops (id), user_id uuid, status public.execution_status,
  started_at timestamptz, completed_at timestamptz, current_step_id varchar, execution_context jsonb,
  browser_session_id varchar, config jsonb, created_at timestamptz
);
create table naive.aef_execution_logs (
  id uuid primary key, execution_id uuid references naive.aef_executions (id), step_id varchar,
  event_type public.log_event_type, "timestamp" timestamptz, data jsonb, browser_state jsonb
);
create table naive.aef_checkpoints (
  id uuid primary key, execution_id uuid references naive.aef_executions (id), step_id varchar,
  checkpoint_type public.checkpoint_type, status public.checkpoint_status, user_response jsonb,
  created_at timestamptz, resolved_at timestamptz
);

alter table naive.aef_executions enable row level security;
alter table naive.aef_execution_logs enable row level security;
alter table naive.aef_checkpoints enable row level security;
create policy "own executions" on naive.aef_executions for select using (user_id = auth.uid());
create policy "own logs" on naive.aef_execution_logs for select
  using (execution_id in (select id from naive.aef_executions where user_id = auth.uid()));
create policy "own checkpoints" on naive.aef_checkpoints for select
  using (execution_id in (select id from naive.aef_executions where user_id = auth.uid()));
grant select on all tables in schema naive to authenticated, service_role;

-- What a UI sends that the store does not: supabase-js as authenticated, so each
-- query carries no user filter (RLS adds user_id = (select auth.uid())) and each
-- is served by the index its comment names. tests/integration/test_query_plans.py asserts
-- those plans, as it does the store's own queries (sql/store/queries.sql), and
-- bench/queries.py times some of them. The engine's queries live in the store.

-- name: recent_executions
-- UI: my 20 most recent executions. Index: aef_executions_user_recent_idx
select id, sop_id, status, current_step_id, started_at, completed_at, created_at
  from public.aef_executions
 order by created_at desc
 limit 20;

-- name: execution_status_counts
-- UI: my executions counted by status. Index: aef_executions_user_status_idx
select status, count(*) as n
  from public.aef_executions
 group by status;

-- name: log_page
-- UI: one execution's log, 100 events from a position. Index: aef_execution_logs_user_page_idx
select id, seq, step_id, event_type, "timestamp", data, browser_state
  from public.aef_execution_logs
 where execution_id = %(execution_id)s and seq > %(after_seq)s
 order by seq
 limit 100;

-- name: pending_checkpoints
-- UI: the checkpoints waiting for me. Index: aef_checkpoints_user_pending_idx
select id, execution_id, step_id, checkpoint_type, request, timeout_at, created_at
  from public.aef_checkpoints
 where status = 'pending'
 order by created_at;

-- name: recent_started_executions
-- UI: my 20 executions that ran last, the never-started ones after them. Index: aef_executions_user_started_idx
select id, sop_id, status, current_step_id, started_at, completed_at, created_at
  from public.aef_executions
 order by started_at desc nulls last
 limit 20;

-- name: my_sessions
-- UI: my browser sessions in one status. Index: aef_browser_sessions_user_status_idx
select id, status, mode, last_active
  from public.aef_browser_sessions
 where status = %(status)s;

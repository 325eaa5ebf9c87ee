-- The hot queries of the engine and the UI, each served by one index.
-- tests/test_query_plans.py asserts each plan uses its index (a plan regression
-- fails CI), and bench/queries.py times them. The UI's queries carry no user
-- filter: as authenticated, RLS adds user_id = (select auth.uid()).

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

-- name: my_sessions
-- UI: my browser sessions in one status. Index: aef_browser_sessions_user_status_idx
select id, status, mode, last_active
  from public.aef_browser_sessions
 where status = %(status)s;

-- name: active_executions
-- Engine: executions running or paused, oldest activity first. Index: aef_executions_active_idx
select id, user_id, status, updated_at
  from public.aef_executions
 where status in ('running', 'paused')
 order by updated_at
 limit 100;

-- name: executions_by_status
-- Engine and operators: the newest executions in one status. Index: aef_executions_status_idx
select id, user_id, created_at
  from public.aef_executions
 where status = %(status)s
 order by created_at desc
 limit 50;

-- name: due_checkpoints
-- Engine: pending checkpoints whose timeout has passed. Index: aef_checkpoints_due_idx
select id, execution_id, timeout_policy
  from public.aef_checkpoints
 where status = 'pending' and timeout_at <= now()
 order by timeout_at
 limit 100;

-- name: free_pooled_session
-- Engine: a free pooled session of a user, to lease. Index: aef_browser_sessions_free_pooled_idx
select id
  from public.aef_browser_sessions
 where user_id = %(user_id)s and mode = 'pooled' and status in ('active', 'idle') and lease_execution_id is null
 order by last_active
 limit 1
   for update skip locked;

-- name: expired_leases
-- Engine: leases whose holder stopped renewing them. Index: aef_browser_sessions_lease_expiry_idx
select id, lease_execution_id
  from public.aef_browser_sessions
 where lease_execution_id is not null and lease_expires_at < now()
 order by lease_expires_at
 limit 100;

-- After the logs: statuses as a real history has them (80% completed, the rest
-- spread), 90% of checkpoints answered, then the naive copy and fresh statistics.
update public.aef_checkpoints set status = 'approved', user_response = '{"ok": true}'
 where ('x' || substr(execution_id::text, 1, 2))::bit(8)::int % 10 <> 0;
update public.aef_executions set status = case ('x' || substr(id::text, 1, 2))::bit(8)::int % 20
    when 0 then 'paused' when 1 then 'error' when 2 then 'cancelled' when 3 then 'running' else 'completed' end::public.execution_status
 where ('x' || substr(id::text, 1, 2))::bit(8)::int % 20 <> 3;

insert into naive.aef_executions
select id, sop_id, user_id, status, started_at, completed_at, current_step_id, execution_context,
       browser_session_id, config, created_at from public.aef_executions;
insert into naive.aef_checkpoints
select id, execution_id, step_id, checkpoint_type, status, user_response, created_at, resolved_at from public.aef_checkpoints;
insert into naive.aef_execution_logs
select id, execution_id, step_id, event_type, "timestamp", data, browser_state from public.aef_execution_logs;

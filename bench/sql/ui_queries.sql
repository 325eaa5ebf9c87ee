-- bench/queries.py's UI part: the UI's hot queries as supabase-js sends them
-- (select *, no user filter: RLS adds user_id = (select auth.uid())), their
-- service_role forms (the same query with the user filter written out), and the
-- data that makes them interesting: one user who owns 2,000 executions among
-- 100k, idle executions that never started, realistic started_at.

-- name: ui_recent_started
-- supabase.from('aef_executions').select('*').order('started_at', {ascending: false, nullsFirst: false}).limit(20)
select * from public.aef_executions order by started_at desc nulls last limit 20;

-- name: service_ui_recent_started
select * from public.aef_executions where user_id = %(user_id)s order by started_at desc nulls last limit 20;

-- name: ui_recent_created
-- supabase.from('aef_executions').select('*').order('created_at', {ascending: false}).limit(20)
select * from public.aef_executions order by created_at desc limit 20;

-- name: service_ui_recent_created
select * from public.aef_executions where user_id = %(user_id)s order by created_at desc limit 20;

-- name: ui_log_page
-- supabase.from('aef_execution_logs').select('*').eq('execution_id', id).order('seq').limit(100)
select * from public.aef_execution_logs where execution_id = %(execution_id)s order by seq limit 100;

-- name: service_ui_log_page
select * from public.aef_execution_logs
 where user_id = %(user_id)s and execution_id = %(execution_id)s order by seq limit 100;

-- name: ui_pending_checkpoints
-- supabase.from('aef_checkpoints').select('*').eq('status', 'pending').order('created_at')
select * from public.aef_checkpoints where status = 'pending' order by created_at;

-- name: service_ui_pending_checkpoints
select * from public.aef_checkpoints where user_id = %(user_id)s and status = 'pending' order by created_at;

-- name: explain
-- Server-side work of one statement: planning and execution time, and the plan.
-- TIMING OFF: the totals without the per-node clock reads that inflate them.
explain (analyze, timing off, summary on, format json)

-- name: explain_text
explain (analyze, buffers, format text)

-- name: set_role
set local role {role}

-- name: act_as
-- As PostgREST does for a request: the JWT's claims, for this transaction.
select set_config('request.jwt.claims', %(claims)s, true);

-- name: heavy_sop
-- The heavy user's SOP.
insert into public.sops (id, user_id, name) values (md5('sop0')::uuid, %(user_id)s, 'SOP of the heavy user');

-- name: heavy_executions
-- The heavy user's started executions, spread over the same time window as
-- everyone else's (one every span/count seconds). Created running through the
-- guards, as load.sql creates the others; finish.sql gives them their final
-- statuses with everyone else's.
insert into public.aef_executions (id, sop_id, user_id, status, current_step_id, config, created_at)
select md5('heavy-execution' || g)::uuid, md5('sop0')::uuid, %(user_id)s, 'running', 'step-1',
       '{"context_level": "standard"}', now() - ((g * %(span)s / %(count)s + 1) || ' seconds')::interval
  from generate_series(1, %(count)s) g;

-- name: heavy_checkpoints
-- One checkpoint for each of the heavy user's executions, as load.sql gives every execution.
insert into public.aef_checkpoints (execution_id, step_id, checkpoint_type, request, created_at)
select id, 'review', 'manual_review', '{"message": "Check the invoice"}', created_at
  from public.aef_executions where user_id = %(user_id)s;

-- name: backdate_started
-- started_at is the database's (now() at the start): a bulk load in one
-- transaction would start 100k executions at the same instant. A real history
-- has each start a little after its creation (0 to max_delay - 1 s here). Run
-- as the superuser with session_replication_role = replica: the guards, which
-- keep started_at, are suspended for this one statement's transaction.
update public.aef_executions
   set started_at = least(created_at + ((abs(hashtext(id::text)) %% %(max_delay)s) || ' seconds')::interval, started_at)
 where started_at is not null;

-- name: idle_executions
-- Executions created and never started (idle: started_at is null, no log, no
-- checkpoint), spread over the same time window: `heavy` of them for the heavy
-- user, `others` for the other users (round robin). Created after finish.sql,
-- which only moves running executions on.
insert into public.aef_executions (id, sop_id, user_id, status, current_step_id, config, created_at)
select md5('idle-execution' || g)::uuid,
       case when g <= %(heavy)s then md5('sop0')::uuid else md5('sop' || (g %% %(users)s + 1))::uuid end,
       case when g <= %(heavy)s then %(heavy_user)s::uuid else md5('user' || (g %% %(users)s + 1))::uuid end,
       'idle', null, '{"context_level": "standard"}',
       now() - ((abs(hashtext('idle' || g)) %% %(span)s + 1) || ' seconds')::interval
  from generate_series(1, %(heavy)s + %(others)s) g;

-- name: naive_idle_executions
insert into naive.aef_executions
select id, sop_id, user_id, status, started_at, completed_at, current_step_id, execution_context,
       browser_session_id, config, created_at
  from public.aef_executions where status = 'idle';

-- name: started_executions
-- Who can be sampled: every execution with a log, and its owner.
select id, user_id from public.aef_executions where status <> 'idle' order by id;

-- name: data_summary
select (select count(*) from public.aef_executions) as executions,
       (select count(distinct user_id) from public.aef_executions) as users,
       (select count(*) from public.aef_executions where started_at is null) as never_started,
       (select count(*) from public.aef_executions where user_id = %(heavy_user)s) as heavy_executions,
       (select count(*) from public.aef_executions where user_id = %(heavy_user)s and started_at is null) as heavy_never_started,
       (select count(*) from public.aef_execution_logs) as logs,
       (select count(*) from public.aef_checkpoints) as checkpoints,
       (select count(*) from public.aef_checkpoints where status = 'pending') as pending,
       (select count(*) from public.aef_checkpoints where status = 'pending' and user_id = %(heavy_user)s) as heavy_pending;

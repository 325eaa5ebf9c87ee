-- Queries of the Python store (aef_db/store/). Each runs in a transaction that
-- acts as the engine (service_role) or as a user (authenticated + JWT claims).

-- name: act_as_user
select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %(claims)s, true);

-- name: set_engine_role
-- Once per pooled connection: the engine acts as service_role, as supabase-js with
-- the service key does; a user's transaction switches to authenticated locally.
select set_config('role', %(role)s, false);

-- name: insert_execution
-- status: idle, or running for an execution started and run at once (the database
-- then sets started_at, as run does).
insert into public.aef_executions (id, sop_id, user_id, status, config, execution_context, current_step_id, browser_session_id)
values (%(id)s, %(sop_id)s, %(user_id)s, %(status)s, %(config)s, %(execution_context)s, %(current_step_id)s,
        %(browser_session_id)s)
returning *;

-- name: insert_execution_as_user
-- Only the columns authenticated may insert (docs/rls.md); RLS checks the rest.
-- The database chooses the id: users may not.
insert into public.aef_executions (sop_id, user_id, status, config, execution_context, current_step_id)
values (%(sop_id)s, %(user_id)s, %(status)s, %(config)s, %(execution_context)s, %(current_step_id)s)
returning *;

-- name: get_execution
select * from public.aef_executions where id = %(id)s;

-- name: recent_executions
select * from public.aef_executions where user_id = %(user_id)s order by created_at desc limit %(limit)s;

-- name: run_execution
-- run starts an idle execution; a paused one continues through resume (which logs it).
update public.aef_executions set status = 'running' where id = %(id)s and status = 'idle' returning *;

-- name: finish_execution
update public.aef_executions
   set status = %(status)s, execution_context = coalesce(%(execution_context)s, execution_context)
 where id = %(id)s and status <> %(status)s
returning *;

-- name: update_context
update public.aef_executions
   set execution_context = %(execution_context)s, current_step_id = coalesce(%(current_step_id)s, current_step_id)
 where id = %(id)s
returning *;

-- name: cancel_execution
select * from public.aef_cancel_execution(%(id)s);

-- name: pause_execution
select * from public.aef_pause_execution(%(id)s);

-- name: resume_execution
select * from public.aef_resume_execution(%(id)s);

-- name: log_head
-- The owner, last seq and last hash of an execution's log, for a writer that
-- numbers and chains its own events.
select e.user_id, coalesce(l.seq, 0) as last_seq, l.hash as last_hash
  from public.aef_executions e
  left join lateral (select l.seq, l.hash from public.aef_execution_logs l
                      where l.execution_id = e.id order by l.seq desc limit 1) l on true
 where e.id = %(execution_id)s;

-- name: log_hash_at
select hash from public.aef_execution_logs where execution_id = %(execution_id)s and seq = %(seq)s;

-- name: append_log
-- data and browser_state arrive as the exact jsonb text the writer hashed. Nothing is
-- returned: the writer knows every column it stored, and a row sent back costs a jsonb
-- round trip and a parse per append.
insert into public.aef_execution_logs
  (id, execution_id, user_id, seq, step_id, event_type, "timestamp", data, browser_state, prev_hash, hash)
values (%(id)s, %(execution_id)s, %(user_id)s, %(seq)s, %(step_id)s, %(event_type)s, %(timestamp)s,
        %(data)s::jsonb, %(browser_state)s::jsonb, %(prev_hash)s, %(hash)s);

-- name: insert_logs
-- A LogWriter batch in one statement: one round trip and one commit in autocommit,
-- and one run of the statement check for the whole batch. Each parameter is one
-- column of the batch, sent in binary (%b); data and browser_state are the exact
-- jsonb text the writer hashed.
insert into public.aef_execution_logs
  (id, execution_id, user_id, seq, step_id, event_type, "timestamp", data, browser_state, prev_hash, hash)
select b.id, b.execution_id, b.user_id, b.seq, b.step_id, b.event_type::public.log_event_type, b."timestamp",
       b.data::jsonb, b.browser_state::jsonb, b.prev_hash, b.hash
  from unnest(%(id)b::uuid[], %(execution_id)b::uuid[], %(user_id)b::uuid[], %(seq)b::int8[], %(step_id)b::text[],
              %(event_type)b::text[], %(timestamp)b::timestamptz[], %(data)b::text[], %(browser_state)b::text[],
              %(prev_hash)b::bytea[], %(hash)b::bytea[])
       as b(id, execution_id, user_id, seq, step_id, event_type, "timestamp", data, browser_state, prev_hash, hash);

-- name: logs_stored
-- Which of a batch's event ids are stored (a commit whose answer was lost).
select id from public.aef_execution_logs where id = any(%(ids)s);

-- name: read_logs
select * from public.aef_execution_logs
 where execution_id = %(execution_id)s and seq > %(after_seq)s
 order by seq limit %(limit)s;

-- name: insert_checkpoint
insert into public.aef_checkpoints (execution_id, step_id, checkpoint_type, request, timeout_at, timeout_policy)
values (%(execution_id)s, %(step_id)s, %(checkpoint_type)s, %(request)s,
        now() + %(timeout)s::interval, %(timeout_policy)s)
returning *;

-- name: checkpoint_reached
insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
values (%(execution_id)s, %(step_id)s, 'checkpoint_reached',
        jsonb_build_object('checkpoint_id', %(checkpoint_id)s::text, 'checkpoint_type', %(checkpoint_type)s::text));

-- name: get_checkpoint
select * from public.aef_checkpoints where id = %(id)s;

-- name: resolve_checkpoint
select * from public.aef_resolve_checkpoint(%(id)s, %(decision)s, %(response)s);

-- name: expire_checkpoints
select public.aef_expire_checkpoints(%(max_rows)s) as expired;

-- name: pending_checkpoints
select * from public.aef_checkpoints where status = 'pending' order by created_at;

-- name: insert_session
insert into public.aef_browser_sessions (id, user_id, mode, session_data)
values (%(id)s, %(user_id)s, %(mode)s, %(session_data)s)
returning *;

-- name: get_session
select * from public.aef_browser_sessions where id = %(id)s;

-- name: lease_free_session
-- The common case in one statement (one round trip, one commit): lock a free
-- session of this user and mode and lease it; the guard checks the execution
-- and binds it to the session. The session this execution used last comes
-- first: its browser is warm, and the execution row then needs no update.
update public.aef_browser_sessions
   set lease_execution_id = %(execution_id)s, lease_holder = %(holder)s,
       lease_expires_at = now() + %(ttl)s::interval, status = 'active', last_active = now()
 where id = (select s.id from public.aef_browser_sessions s
              where s.user_id = %(user_id)s and s.mode = %(mode)s and s.status in ('active', 'idle')
                and (s.lease_execution_id is null or s.lease_expires_at < now())
              order by s.id is not distinct from (select e.browser_session_id from public.aef_executions e
                                                   where e.id = %(execution_id)s) desc,
                       s.last_active
              limit 1
                for update skip locked)
returning *;

-- name: lock_user_sessions
-- Serializes the creation of a user's sessions of one mode, so a pool never outgrows its size.
select pg_advisory_xact_lock(16710, hashtext(%(user_id)s::text || ':' || %(mode)s));

-- name: count_sessions
select count(*) as n from public.aef_browser_sessions
 where user_id = %(user_id)s and mode = %(mode)s and status in ('active', 'idle');

-- name: take_lease
update public.aef_browser_sessions
   set lease_execution_id = %(execution_id)s, lease_holder = %(holder)s,
       lease_expires_at = now() + %(ttl)s::interval, status = 'active', last_active = now()
 where id = %(id)s
returning *;

-- name: renew_lease
-- Committed without waiting for the WAL flush (decision 29): a heartbeat lost in
-- a crash only brings the lease's expiry closer, and the next one renews it.
update public.aef_browser_sessions
   set lease_expires_at = now() + %(ttl)s::interval, last_active = now()
 where id = %(id)s and lease_execution_id = %(execution_id)s
   and set_config('synchronous_commit', 'off', true) is not null
returning *;

-- name: release_lease
-- Isolated sessions end with their execution; the others go idle for the next lease.
-- Committed without waiting for the WAL flush (decision 29): a release lost in a
-- crash leaves the lease held until it expires, as if its holder had died.
update public.aef_browser_sessions
   set lease_execution_id = null, lease_holder = null, lease_expires_at = null, last_active = now(),
       status = case when mode = 'isolated' then 'terminated' else 'idle' end::public.browser_session_status
 where id = %(id)s and lease_execution_id = %(execution_id)s
   and set_config('synchronous_commit', 'off', true) is not null
returning *;

-- name: reclaim_leases
-- Leases whose holder stopped renewing them go back to the pool.
update public.aef_browser_sessions
   set lease_execution_id = null, lease_holder = null, lease_expires_at = null, status = 'idle'
 where id in (select id from public.aef_browser_sessions
               where lease_execution_id is not null and lease_expires_at < now()
               order by lease_expires_at limit %(max_rows)s
                 for update skip locked)
returning id;

-- name: set_session_status
update public.aef_browser_sessions set status = %(status)s where id = %(id)s returning *;

-- name: set_session_data
update public.aef_browser_sessions set session_data = %(session_data)s where id = %(id)s returning *;

-- name: sealed_executions
-- Rows holding sealed secrets, for key rotation.
select id, execution_context, config from public.aef_executions
 where execution_context::text like '%%aef:v1:%%' or config::text like '%%aef:v1:%%';

-- name: sealed_sessions
select id, session_data from public.aef_browser_sessions where session_data ? 'sealed';

-- name: reseal_execution
update public.aef_executions set execution_context = %(execution_context)s, config = %(config)s where id = %(id)s;

-- name: reseal_session
update public.aef_browser_sessions set session_data = %(session_data)s where id = %(id)s;

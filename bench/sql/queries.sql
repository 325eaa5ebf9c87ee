-- The benchmark's queries. "aef_*" run aef-db's own hot queries (the package's
-- sql/hot/queries.sql) and are not repeated here; these are the service_role
-- forms of them (RLS bypassed, so the user filter is explicit) and the naive
-- schema's forms (RLS adds its policies).

-- name: service_recent_executions
select id, sop_id, status, current_step_id, started_at, completed_at, created_at
  from public.aef_executions where user_id = %(user_id)s order by created_at desc limit 20;

-- name: service_log_page
select id, seq, step_id, event_type, "timestamp", data, browser_state
  from public.aef_execution_logs where execution_id = %(execution_id)s and seq > %(after_seq)s order by seq limit 100;

-- name: service_pending_checkpoints
select id, execution_id, step_id, checkpoint_type, request, timeout_at, created_at
  from public.aef_checkpoints where user_id = %(user_id)s and status = 'pending' order by created_at;

-- name: service_execution_status_counts
select status, count(*) as n from public.aef_executions where user_id = %(user_id)s group by status;

-- name: naive_recent_executions
select id, sop_id, status, current_step_id, started_at, completed_at, created_at
  from naive.aef_executions order by created_at desc limit 20;

-- name: naive_log_page
select id, step_id, event_type, "timestamp", data, browser_state
  from naive.aef_execution_logs where execution_id = %(execution_id)s order by "timestamp" offset %(after_seq)s limit 100;

-- name: naive_pending_checkpoints
select id, execution_id, step_id, checkpoint_type, created_at
  from naive.aef_checkpoints where status = 'pending' order by created_at;

-- name: naive_execution_status_counts
select status, count(*) as n from naive.aef_executions group by status;

-- name: load_logs
-- One chunk of executions (by id order) gets its log, seq and owner supplied
-- by the writer, as the batching writer does (the database verifies them).
insert into public.aef_execution_logs (execution_id, user_id, seq, step_id, event_type, "timestamp", data)
select e.id, e.user_id, g, 'step-' || (g %% 10),
       (array['step_started', 'browser_action', 'step_completed']::public.log_event_type[])[g %% 3 + 1],
       e.created_at + (g || ' seconds')::interval,
       jsonb_build_object('n', g, 'url', 'https://example.com/invoices/' || g)
  from (select id, user_id, created_at from public.aef_executions order by id offset %(offset)s limit %(chunk)s) e,
       generate_series(1, %(per_execution)s) g;

-- name: store_sops
-- One SOP per user for bench/store.py.
insert into public.sops (id, user_id, name)
select md5('sop' || u)::uuid, md5('user' || u)::uuid, 'SOP ' || u from generate_series(1, %(users)s) u;

-- name: store_executions
-- Running executions for bench/store.py.
insert into public.aef_executions (id, sop_id, user_id, status)
select md5('execution' || g)::uuid, md5('sop' || (g %% %(users)s + 1))::uuid, md5('user' || (g %% %(users)s + 1))::uuid, 'running'
  from generate_series(1, %(executions)s) g;

-- name: raw_insert
insert into bench_raw (id, execution_id, user_id, seq, event_type, data) values (%(id)s, %(execution_id)s, %(user_id)s, %(seq)s, 'browser_action', %(data)s);

-- name: bulk_insert_select
-- One large INSERT ... SELECT naming only the seed's columns: the database fills
-- seq, owner and (with the chain) both hashes, row by row. Runs of 1,000 events
-- per execution, as a backfill or an import writes them, on executions from
-- number `first` on (apart from those the COPY rounds use).
insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
select md5('execution' || ((g / 1000) %% %(executions)s + %(first)s))::uuid, 'step-' || (g %% 7), 'browser_action',
       jsonb_build_object('i', g, 'url', 'https://portal.example.com/invoices/' || g)
  from generate_series(%(start)s, %(start)s + %(rows)s - 1) g;

-- name: verify_load
-- Events for the verify benchmark: per_execution events for each of a chunk of executions.
insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
select e.id, 'step-' || (g %% 10), 'browser_action', jsonb_build_object('n', g, 'url', 'https://example.com/invoices/' || g)
  from (select id from public.aef_executions order by id offset %(offset)s limit %(chunk)s) e,
       generate_series(1, %(per_execution)s) g;

-- name: security_guards_off
-- bench/security.py's "off" database: the JSON caps as they were before the
-- security pass (stored size, no depth cap) on the log, for a side-by-side cost.
alter table public.aef_execution_logs
  drop constraint aef_execution_logs_data_depth,
  drop constraint aef_execution_logs_browser_state_depth,
  drop constraint aef_execution_logs_data_size,
  drop constraint aef_execution_logs_browser_state_size,
  add constraint aef_execution_logs_data_size check (pg_column_size(data) <= 262144),
  add constraint aef_execution_logs_browser_state_size check (pg_column_size(browser_state) <= 262144);

-- name: security_fill_import
-- One statement naming only the seed's columns, per_execution events for every
-- execution from number `first` on, interleaved (round robin), as an import may
-- send them: the fill path serializes on each execution's row lock.
insert into public.aef_execution_logs (execution_id, step_id, event_type, data, browser_state)
select md5('execution' || (e + %(first)s))::uuid, 'step-' || g, 'browser_action',
       jsonb_build_object('i', g, 'url', 'https://portal.example.com/invoices/' || e, 'fields', jsonb_build_array('a', 'b')),
       jsonb_build_object('url', 'https://portal.example.com/', 'title', 'Invoices')
  from generate_series(1, %(per_execution)s) g, generate_series(0, %(executions)s - 1) e
 order by g, e;

-- name: store_updated_at_index
-- The index on updated_at that aef-db leaves out (every context save would be a
-- non-HOT update), made for bench/store.py's side-by-side.
create index if not exists bench_executions_updated_at_idx on public.aef_executions (updated_at)
 where status in ('running', 'paused');

-- name: store_drop_updated_at_index
drop index if exists public.bench_executions_updated_at_idx;

-- name: store_sessions_left
-- The store's sessions still open: a backend reports its counters when it exits.
select count(*) as n from pg_catalog.pg_stat_activity where application_name = 'aef-db store';

-- name: store_execution_updates
select n_tup_upd as updates, n_tup_hot_upd as hot,
       (pg_catalog.pg_current_wal_lsn() operator(pg_catalog.-) '0/0'::pg_catalog.pg_lsn)::int8 as wal
  from pg_catalog.pg_stat_user_tables
 where relid = 'public.aef_executions'::regclass;

-- Tables for bench/store.py. bench_raw: the log's columns, no index, no
-- constraint. bench_floor: the log table's indexes (its unique key among them)
-- and foreign key, but none of its triggers and none of its check constraints
-- (an owner can drop those): the "index floor" aef-db's machinery is measured against.
create table bench_raw (
  id uuid, execution_id uuid, user_id uuid, seq bigint, step_id varchar(256), event_type public.log_event_type,
  "timestamp" timestamptz, data jsonb, browser_state jsonb, prev_hash bytea, hash bytea
);
create table bench_floor (like public.aef_execution_logs including defaults including indexes);
alter table bench_floor add foreign key (execution_id) references public.aef_executions (id);

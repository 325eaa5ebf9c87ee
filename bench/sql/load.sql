-- Loads the benchmark's data into aef-db's schema through its guards, then
-- copies it into the naive schema. Parameters (psql-style settings set by
-- bench/queries.py): bench.users, bench.executions, bench.logs_per_execution.

insert into public.sops (id, user_id, name)
select md5('sop' || u)::uuid, md5('user' || u)::uuid, 'SOP ' || u
  from generate_series(1, current_setting('bench.users')::int) u;

-- created running (the guard accepts idle or running); finalized below
insert into public.aef_executions (id, sop_id, user_id, status, current_step_id, config, created_at)
select md5('execution' || g)::uuid,
       md5('sop' || (g % current_setting('bench.users')::int + 1))::uuid,
       md5('user' || (g % current_setting('bench.users')::int + 1))::uuid,
       'running', 'step-1', '{"context_level": "standard"}',
       now() - (g || ' seconds')::interval
  from generate_series(1, current_setting('bench.executions')::int) g;

insert into public.aef_checkpoints (execution_id, step_id, checkpoint_type, request, created_at)
select id, 'review', 'manual_review', '{"message": "Check the invoice"}', created_at from public.aef_executions;

-- The log is append-only for every role: the table owner (postgres) and
-- service_role included, and its triggers fire even in replica mode.
begin;
\ir _fixtures.psql
select plan(8);

select throws_ok($$ update public.aef_execution_logs set data = '{"forged": true}' where execution_id = 'eeeeeeee-0000-4000-8000-000000000001' $$, 'AE005', null, 'the owner cannot update the log');
select throws_ok($$ delete from public.aef_execution_logs where execution_id = 'eeeeeeee-0000-4000-8000-000000000001' $$, 'AE005', null, 'the owner cannot delete from the log');
select throws_ok($$ truncate public.aef_execution_logs $$, 'AE005', null, 'the owner cannot truncate the log');
set local role service_role;
select throws_ok($$ update public.aef_execution_logs set data = '{}' $$, '42501', null, 'service_role cannot update the log');
select throws_ok($$ delete from public.aef_execution_logs $$, '42501', null, 'service_role cannot delete from the log');
select throws_ok($$ truncate public.aef_execution_logs $$, '42501', null, 'service_role cannot truncate the log');
reset role;
select is((select string_agg(tgname::text || '=' || tgenabled::text, ' ' order by tgname) from pg_trigger
           where tgrelid = 'public.aef_execution_logs'::regclass and tgname::text like 'aef\_3%'),
  'aef_30_append_only=A aef_31_append_only_truncate=A',
  'the append-only triggers are ENABLE ALWAYS, so replica mode does not skip them');
select results_eq($$ select count(*)::int from public.aef_execution_logs where execution_id = 'eeeeeeee-0000-4000-8000-000000000001' $$,
  $$ values (1) $$, 'the log is intact');

select * from finish();
rollback;

-- RLS matrix for aef_execution_logs: readable by the owner, written only by the
-- engine, and never changed by anyone.
begin;
\ir _fixtures.psql
select plan(16);

set local role anon;
select throws_ok($$ select * from public.aef_execution_logs $$, '42501', null, 'anon cannot select logs');
select throws_ok($$ insert into public.aef_execution_logs (execution_id, event_type) values ('eeeeeeee-0000-4000-8000-000000000001', 'user_input') $$,
  '42501', null, 'anon cannot insert logs');
select throws_ok($$ update public.aef_execution_logs set data = '{}' $$, '42501', null, 'anon cannot update logs');
select throws_ok($$ delete from public.aef_execution_logs $$, '42501', null, 'anon cannot delete logs');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "11111111-1111-4111-8111-111111111111", "role": "authenticated"}', true);
select results_eq($$ select count(*)::int from public.aef_execution_logs $$, $$ values (1) $$, 'the owner reads own logs');
select throws_ok($$ insert into public.aef_execution_logs (execution_id, event_type) values ('eeeeeeee-0000-4000-8000-000000000001', 'user_input') $$,
  '42501', null, 'the owner cannot insert logs');
select throws_ok($$ update public.aef_execution_logs set data = '{}' $$, '42501', null, 'the owner cannot update logs');
select throws_ok($$ delete from public.aef_execution_logs $$, '42501', null, 'the owner cannot delete logs');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "22222222-2222-4222-8222-222222222222", "role": "authenticated"}', true);
select is_empty($$ select * from public.aef_execution_logs $$, 'another user reads none of the owner''s logs');
select throws_ok($$ insert into public.aef_execution_logs (execution_id, event_type) values ('eeeeeeee-0000-4000-8000-000000000001', 'user_input') $$,
  '42501', null, 'another user cannot insert logs');
select throws_ok($$ update public.aef_execution_logs set data = '{}' $$, '42501', null, 'another user cannot update logs');
select throws_ok($$ delete from public.aef_execution_logs $$, '42501', null, 'another user cannot delete logs');
reset role;

set local role service_role;
select set_config('request.jwt.claims', '', true);  -- the engine, with no user's claims
select results_eq($$ select count(*)::int from public.aef_execution_logs where execution_id = 'eeeeeeee-0000-4000-8000-000000000001' $$,
  $$ values (1) $$, 'service_role reads every log');
select results_eq($$ with i as (insert into public.aef_execution_logs (execution_id, event_type) values ('eeeeeeee-0000-4000-8000-000000000001', 'user_input') returning seq, user_id)
                    select seq, user_id from i $$,
  $$ values (2::bigint, '11111111-1111-4111-8111-111111111111'::uuid) $$, 'service_role appends; seq and owner are filled in');
select throws_ok($$ update public.aef_execution_logs set data = '{}' $$, '42501', null, 'service_role cannot update logs');
select throws_ok($$ delete from public.aef_execution_logs $$, '42501', null, 'service_role cannot delete logs');
reset role;

select * from finish();
rollback;

-- RLS matrix for aef_executions: anon, owner, other user and service_role
-- crossed with select, insert, update and delete.
begin;
\ir _fixtures.psql
select plan(21);

set local role anon;
select throws_ok($$ select * from public.aef_executions $$, '42501', null, 'anon cannot select executions');
select throws_ok($$ insert into public.aef_executions (sop_id, user_id) values ('aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111') $$,
  '42501', null, 'anon cannot insert executions');
select throws_ok($$ update public.aef_executions set current_step_id = 'x' $$, '42501', null, 'anon cannot update executions');
select throws_ok($$ delete from public.aef_executions $$, '42501', null, 'anon cannot delete executions');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "11111111-1111-4111-8111-111111111111", "role": "authenticated"}', true);
select results_eq($$ select count(*)::int from public.aef_executions $$, $$ values (2) $$, 'the owner sees both own executions');
select results_eq($$ with i as (insert into public.aef_executions (sop_id) values ('aaaaaaaa-0000-4000-8000-000000000001') returning user_id, status)
                    select user_id, status::text from i $$,
  $$ values ('11111111-1111-4111-8111-111111111111'::uuid, 'idle') $$, 'the owner starts an execution; user_id defaults to them, status to idle');
select throws_ok($$ insert into public.aef_executions (sop_id, user_id) values ('aaaaaaaa-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222') $$,
  '42501', null, 'the owner cannot start an execution for another user');
select throws_ok($$ insert into public.aef_executions (sop_id) values ('aaaaaaaa-0000-4000-8000-000000000002') $$,
  '42501', null, 'the owner cannot start an execution of an SOP they cannot see');
select throws_ok($$ insert into public.aef_executions (sop_id, status) values ('aaaaaaaa-0000-4000-8000-000000000001', 'running') $$,
  '42501', null, 'an execution a user starts is idle');
select throws_ok($$ insert into public.aef_executions (sop_id, browser_session_id) values ('aaaaaaaa-0000-4000-8000-000000000001', 'bs_owner') $$,
  '42501', null, 'the owner cannot choose the browser session (no column grant)');
select throws_ok($$ insert into public.aef_executions (sop_id) values ('aaaaaaaa-0000-4000-8000-0000000000ff') $$,
  '42501', null, 'the owner cannot start an execution of an SOP that does not exist');
select throws_ok($$ update public.aef_executions set current_step_id = 'x' $$, '42501', null, 'the owner cannot update directly');
select throws_ok($$ delete from public.aef_executions $$, '42501', null, 'the owner cannot delete');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "22222222-2222-4222-8222-222222222222", "role": "authenticated"}', true);
select is_empty($$ select * from public.aef_executions $$, 'another user sees none of the owner''s executions');
select throws_ok($$ insert into public.aef_executions (sop_id, user_id) values ('aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111') $$,
  '42501', null, 'another user cannot start an execution for the owner');
select throws_ok($$ update public.aef_executions set current_step_id = 'x' $$, '42501', null, 'another user cannot update');
select throws_ok($$ delete from public.aef_executions $$, '42501', null, 'another user cannot delete');
reset role;

set local role service_role;
select set_config('request.jwt.claims', '', true);  -- the engine, with no user's claims
select results_eq($$ select count(*)::int from public.aef_executions where user_id = '11111111-1111-4111-8111-111111111111' $$,
  $$ values (3) $$, 'service_role sees every execution (the owner''s two, and the one they started; none refused got in)');
select lives_ok($$ insert into public.aef_executions (sop_id, user_id, status) values ('aaaaaaaa-0000-4000-8000-000000000002', '22222222-2222-4222-8222-222222222222', 'running') $$,
  'service_role starts executions for any user');
select results_eq($$ with u as (update public.aef_executions set current_step_id = 'step-2' where id = 'eeeeeeee-0000-4000-8000-000000000001' returning 1)
                    select count(*)::int from u $$, $$ values (1) $$, 'service_role updates executions');
select results_eq($$ with d as (delete from public.aef_executions where id = 'eeeeeeee-0000-4000-8000-000000000002' returning 1)
                    select count(*)::int from d $$, $$ values (1) $$, 'service_role deletes executions');
reset role;

select * from finish();
rollback;

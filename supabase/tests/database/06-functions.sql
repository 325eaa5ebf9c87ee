-- The four functions through which a user changes an execution or a checkpoint:
-- each checks ownership and state, returns the row, and logs the action.
begin;
\ir _fixtures.psql
select plan(19);

-- anon may not call any of them
set local role anon;
select throws_ok($$ select public.aef_pause_execution('eeeeeeee-0000-4000-8000-000000000001') $$, '42501', null, 'anon cannot pause');
select throws_ok($$ select public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000001') $$, '42501', null, 'anon cannot resume');
select throws_ok($$ select public.aef_cancel_execution('eeeeeeee-0000-4000-8000-000000000001') $$, '42501', null, 'anon cannot cancel');
select throws_ok($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'approved') $$, '42501', null, 'anon cannot resolve');
reset role;

-- another user finds nothing to act on
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "22222222-2222-4222-8222-222222222222", "role": "authenticated"}', true);
select throws_ok($$ select public.aef_pause_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'P0002', null, 'another user cannot pause');
select throws_ok($$ select public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'P0002', null, 'another user cannot resume');
select throws_ok($$ select public.aef_cancel_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'P0002', null, 'another user cannot cancel');
select throws_ok($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'approved') $$, 'P0002', null, 'another user cannot resolve');
reset role;

-- the owner acts, within the state machine
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "11111111-1111-4111-8111-111111111111", "role": "authenticated"}', true);
select results_eq($$ select status::text from public.aef_pause_execution('eeeeeeee-0000-4000-8000-000000000001') $$,
  $$ values ('paused') $$, 'the owner pauses a running execution');
select throws_ok($$ select public.aef_pause_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'AE001', null, 'pausing twice is refused');
select results_eq($$ select status::text from public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000001') $$,
  $$ values ('running') $$, 'the owner resumes a paused execution');
select results_eq($$ select status::text, resolved_by from public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'approved', '{"note": "ok"}') $$,
  $$ values ('approved', '11111111-1111-4111-8111-111111111111'::uuid) $$, 'the owner resolves a pending checkpoint');
select throws_ok($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'rejected') $$, 'AE002', null,
  'a checkpoint resolves once');
select throws_ok($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'timeout') $$, '22023', null,
  'a person cannot decide timeout');
select results_eq($$ select status::text, completed_at is not null from public.aef_cancel_execution('eeeeeeee-0000-4000-8000-000000000001') $$,
  $$ values ('cancelled', true) $$, 'the owner cancels; completed_at is set');
select throws_ok($$ select public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'AE001', null, 'a cancelled execution stays cancelled');
select results_eq($$ select data ->> 'action' from public.aef_execution_logs where event_type = 'user_input' order by seq $$,
  $$ values ('pause'), ('resume'), ('resolve_checkpoint'), ('cancel') $$, 'every action is in the log');
reset role;

-- the engine acts without a user
set local role service_role;
select results_eq($$ select status::text from public.aef_cancel_execution('eeeeeeee-0000-4000-8000-000000000002') $$,
  $$ values ('cancelled') $$, 'service_role cancels any execution');
select throws_ok($$ select public.aef_expire_checkpoints(0) $$, '22023', null, 'the sweeper needs a positive batch size');
reset role;

select * from finish();
rollback;

-- The four functions through which a user changes an execution or a checkpoint:
-- each checks ownership and state, returns the row, and logs the action.
begin;
\ir _fixtures.psql
-- a second running execution of the owner's, for the engine
insert into public.aef_executions (id, sop_id, user_id)
  values ('eeeeeeee-0000-4000-8000-000000000003', 'aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111');
update public.aef_executions set status = 'running' where id = 'eeeeeeee-0000-4000-8000-000000000003';
select plan(37);

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
select throws_like($$ select public.aef_pause_execution('eeeeeeee-0000-4000-8000-000000000001') $$, '%that you own%',
  'and is told it is not an execution they own');
select throws_ok($$ select public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'P0002', null, 'another user cannot resume');
select throws_like($$ select public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000001') $$, '%that you own%',
  'and is told it is not an execution they own (resume)');
select throws_ok($$ select public.aef_cancel_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'P0002', null, 'another user cannot cancel');
select throws_like($$ select public.aef_cancel_execution('eeeeeeee-0000-4000-8000-000000000001') $$, '%that you own%',
  'and is told it is not an execution they own (cancel)');
select throws_ok($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'approved') $$, 'P0002', null, 'another user cannot resolve');
select throws_like($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'approved') $$, '%that you own%',
  'and is told it is not a checkpoint they own');
reset role;

-- signed in, but with no JWT subject: neither a user nor the engine
set local role authenticated;
select set_config('request.jwt.claims', '', true);
select throws_ok($$ select public.aef_pause_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'P0002', null, 'no subject: cannot pause');
select throws_ok($$ select public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'P0002', null, 'no subject: cannot resume');
select throws_ok($$ select public.aef_cancel_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'P0002', null, 'no subject: cannot cancel');
select throws_ok($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'approved') $$, 'P0002', null, 'no subject: cannot resolve');
reset role;

select is((select status::text from public.aef_executions where id = 'eeeeeeee-0000-4000-8000-000000000001'), 'running',
  'the refused calls left the execution running');
select is((select status::text from public.aef_checkpoints where id = 'cccccccc-0000-4000-8000-000000000001'), 'pending',
  'and the checkpoint pending');

-- the owner acts, within the state machine
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "11111111-1111-4111-8111-111111111111", "role": "authenticated"}', true);
select throws_ok($$ select public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000002') $$, 'AE001', null, 'resume is not a way to start');
select throws_like($$ select public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000002') $$, '%acts on paused executions only%',
  'and says what resume acts on');
select results_eq($$ select id, status::text from public.aef_pause_execution('eeeeeeee-0000-4000-8000-000000000001') $$,
  $$ values ('eeeeeeee-0000-4000-8000-000000000001'::uuid, 'paused') $$, 'the owner pauses a running execution and gets the row back');
select throws_ok($$ select public.aef_pause_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'AE001', null, 'pausing twice is refused');
select throws_like($$ select public.aef_pause_execution('eeeeeeee-0000-4000-8000-000000000001') $$, '%already paused%',
  'and says it is already paused');
select results_eq($$ select status::text from public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000001') $$,
  $$ values ('running') $$, 'the owner resumes a paused execution');
select throws_ok($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'pending') $$, '22023', null,
  'a person cannot decide pending');
select throws_ok($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'timeout') $$, '22023', null,
  'a person cannot decide timeout');
select results_eq($$ select status::text, resolved_by, resolved_at is not null, user_response
                      from public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'approved', '{"comment": "looks right"}') $$,
  $$ values ('approved', '11111111-1111-4111-8111-111111111111'::uuid, true, '{"comment": "looks right"}'::jsonb) $$,
  'the owner resolves a pending checkpoint: who, when and the response are stored');
select throws_ok($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'rejected') $$, 'AE002', null,
  'a checkpoint resolves once');
select throws_like($$ select public.aef_resolve_checkpoint('cccccccc-0000-4000-8000-000000000001', 'rejected') $$,
  '%already resolved as approved%', 'and the loser is told how it was resolved');
select results_eq($$ select id, status::text, completed_at is not null from public.aef_cancel_execution('eeeeeeee-0000-4000-8000-000000000001') $$,
  $$ values ('eeeeeeee-0000-4000-8000-000000000001'::uuid, 'cancelled', true) $$, 'the owner cancels and gets the row back; completed_at is set');
select throws_ok($$ select public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000001') $$, 'AE001', null, 'a cancelled execution stays cancelled');
select throws_like($$ select public.aef_resume_execution('eeeeeeee-0000-4000-8000-000000000001') $$,
  '%is cancelled; it acts on paused executions only%', 'and says why');
select results_eq($$ select data ->> 'action', data ->> 'by' from public.aef_execution_logs
                      where execution_id = 'eeeeeeee-0000-4000-8000-000000000001' and event_type = 'user_input' order by seq $$,
  $$ values ('pause', '11111111-1111-4111-8111-111111111111'), ('resume', '11111111-1111-4111-8111-111111111111'),
            ('resolve_checkpoint', '11111111-1111-4111-8111-111111111111'), ('cancel', '11111111-1111-4111-8111-111111111111') $$,
  'every action is in the log, with who acted');
select is((select data from public.aef_execution_logs
            where execution_id = 'eeeeeeee-0000-4000-8000-000000000001' and data ->> 'action' = 'resolve_checkpoint'),
  '{"action": "resolve_checkpoint", "checkpoint_id": "cccccccc-0000-4000-8000-000000000001", "decision": "approved",
    "by": "11111111-1111-4111-8111-111111111111"}'::jsonb,
  'the resolution is logged with its checkpoint and decision');
reset role;

-- the engine acts without a user
set local role service_role;
select set_config('request.jwt.claims', '', true);
select results_eq($$ select status::text from public.aef_pause_execution('eeeeeeee-0000-4000-8000-000000000003') $$,
  $$ values ('paused') $$, 'service_role pauses any execution');
select results_eq($$ select status::text from public.aef_cancel_execution('eeeeeeee-0000-4000-8000-000000000002') $$,
  $$ values ('cancelled') $$, 'service_role cancels any execution');
select throws_ok($$ select public.aef_expire_checkpoints(0) $$, '22023', null, 'the sweeper needs a positive batch size');
reset role;

select * from finish();
rollback;

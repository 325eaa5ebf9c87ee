-- State guards every writer meets, the table owner included.
begin;
\ir _fixtures.psql
select plan(14);

select lives_ok($$ update public.aef_checkpoints set status = 'rejected' where id = 'cccccccc-0000-4000-8000-000000000001' $$,
  'pending -> rejected');
select throws_ok($$ update public.aef_checkpoints set status = 'approved' where id = 'cccccccc-0000-4000-8000-000000000001' $$,
  'AE002', null, 'a resolved checkpoint resolves no more');
-- a final execution closes its pending checkpoint, in the same statement, and logs it
insert into public.aef_executions (id, sop_id, user_id)
  values ('eeeeeeee-0000-4000-8000-000000000003', 'aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111');
insert into public.aef_checkpoints (id, execution_id, checkpoint_type)
  values ('cccccccc-0000-4000-8000-000000000002', 'eeeeeeee-0000-4000-8000-000000000003', 'custom');
update public.aef_executions set status = 'cancelled' where id = 'eeeeeeee-0000-4000-8000-000000000003';
select results_eq($$ select status::text from public.aef_checkpoints where id = 'cccccccc-0000-4000-8000-000000000002' $$,
  array['skipped'], 'a cancelled execution''s pending checkpoint is skipped');
select results_eq($$ select data ->> 'checkpoint_id' from public.aef_execution_logs
                      where execution_id = 'eeeeeeee-0000-4000-8000-000000000003' and event_type = 'decision_made' $$,
  array['cccccccc-0000-4000-8000-000000000002'], 'and the log says so');
select throws_ok($$ update public.aef_executions set status = 'idle' where id = 'eeeeeeee-0000-4000-8000-000000000001' $$,
  'AE001', null, 'running -> idle is illegal');
select lives_ok($$ update public.aef_executions set status = 'completed' where id = 'eeeeeeee-0000-4000-8000-000000000001' $$,
  'running -> completed is legal');
select throws_ok($$ update public.aef_executions set status = 'running' where id = 'eeeeeeee-0000-4000-8000-000000000001' $$,
  'AE001', null, 'completed is final');
select isnt((select completed_at from public.aef_executions where id = 'eeeeeeee-0000-4000-8000-000000000001'), null,
  'completed_at is set by the database');
select throws_ok($$ update public.aef_executions set user_id = '22222222-2222-4222-8222-222222222222' where id = 'eeeeeeee-0000-4000-8000-000000000002' $$,
  'AE004', null, 'an execution''s owner never changes');
select throws_ok($$ insert into public.aef_executions (sop_id, user_id, status) values ('aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'error') $$,
  'AE001', null, 'an execution is created idle or running');
select throws_ok($$ insert into public.aef_checkpoints (execution_id, checkpoint_type, user_id) values ('eeeeeeee-0000-4000-8000-000000000002', 'custom', '22222222-2222-4222-8222-222222222222') $$,
  'AE006', null, 'a checkpoint carries its execution''s owner');
select throws_ok($$ insert into public.aef_checkpoints (execution_id, checkpoint_type, timeout_at) values ('eeeeeeee-0000-4000-8000-000000000002', 'custom', now() - interval '1 minute') $$,
  'AE008', null, 'a timeout in the past is refused');
select throws_ok($$ update public.aef_browser_sessions set status = 'terminated' where id = 'bs_owner';
                    update public.aef_browser_sessions set status = 'active' where id = 'bs_owner' $$,
  'AE003', null, 'terminated is final');
select throws_ok($$ insert into public.aef_execution_logs (execution_id, user_id, seq, event_type) values ('eeeeeeee-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 9, 'user_input') $$,
  'AE007', null, 'a supplied seq must continue the log without gaps');

select * from finish();
rollback;

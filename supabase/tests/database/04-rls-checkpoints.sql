-- RLS matrix for aef_checkpoints: the owner reads, and resolves only through
-- aef_resolve_checkpoint (06-functions.sql); the engine does the rest.
begin;
\ir _fixtures.psql
select plan(16);

set local role anon;
select throws_ok($$ select * from public.aef_checkpoints $$, '42501', null, 'anon cannot select checkpoints');
select throws_ok($$ insert into public.aef_checkpoints (execution_id, checkpoint_type) values ('eeeeeeee-0000-4000-8000-000000000002', 'custom') $$,
  '42501', null, 'anon cannot insert checkpoints');
select throws_ok($$ update public.aef_checkpoints set status = 'approved' $$, '42501', null, 'anon cannot update checkpoints');
select throws_ok($$ delete from public.aef_checkpoints $$, '42501', null, 'anon cannot delete checkpoints');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "11111111-1111-4111-8111-111111111111", "role": "authenticated"}', true);
select results_eq($$ select count(*)::int from public.aef_checkpoints $$, $$ values (1) $$, 'the owner reads own checkpoints');
select throws_ok($$ insert into public.aef_checkpoints (execution_id, checkpoint_type) values ('eeeeeeee-0000-4000-8000-000000000002', 'custom') $$,
  '42501', null, 'the owner cannot insert checkpoints');
select throws_ok($$ update public.aef_checkpoints set status = 'approved' $$, '42501', null, 'the owner cannot update checkpoints directly');
select throws_ok($$ delete from public.aef_checkpoints $$, '42501', null, 'the owner cannot delete checkpoints');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "22222222-2222-4222-8222-222222222222", "role": "authenticated"}', true);
select is_empty($$ select * from public.aef_checkpoints $$, 'another user reads none of the owner''s checkpoints');
select throws_ok($$ insert into public.aef_checkpoints (execution_id, checkpoint_type) values ('eeeeeeee-0000-4000-8000-000000000002', 'custom') $$,
  '42501', null, 'another user cannot insert checkpoints');
select throws_ok($$ update public.aef_checkpoints set status = 'approved' $$, '42501', null, 'another user cannot update checkpoints');
select throws_ok($$ delete from public.aef_checkpoints $$, '42501', null, 'another user cannot delete checkpoints');
reset role;

set local role service_role;
select set_config('request.jwt.claims', '', true);  -- the engine, with no user's claims
select results_eq($$ select count(*)::int from public.aef_checkpoints where user_id = '11111111-1111-4111-8111-111111111111' $$,
  $$ values (1) $$, 'service_role reads every checkpoint');
select results_eq($$ with i as (insert into public.aef_checkpoints (execution_id, checkpoint_type) values ('eeeeeeee-0000-4000-8000-000000000002', 'custom') returning user_id)
                    select user_id from i $$,
  $$ values ('11111111-1111-4111-8111-111111111111'::uuid) $$, 'service_role raises checkpoints; the owner is copied');
select results_eq($$ with u as (update public.aef_checkpoints set status = 'approved' where id = 'cccccccc-0000-4000-8000-000000000001' returning resolved_at is not null)
                    select * from u $$, $$ values (true) $$, 'service_role resolves checkpoints; resolved_at is set');
select results_eq($$ with d as (delete from public.aef_checkpoints where id = 'cccccccc-0000-4000-8000-000000000001' returning 1)
                    select count(*)::int from d $$, $$ values (1) $$, 'service_role deletes checkpoints');
reset role;

select * from finish();
rollback;

-- RLS matrix for aef_browser_sessions: the owner reads everything but
-- session_data; only the engine writes.
begin;
\ir _fixtures.psql
select plan(21);

set local role anon;
select throws_ok($$ select id from public.aef_browser_sessions $$, '42501', null, 'anon cannot select sessions');
select throws_ok($$ select session_data from public.aef_browser_sessions $$, '42501', null, 'anon cannot read session_data');
select throws_ok($$ insert into public.aef_browser_sessions (user_id) values ('11111111-1111-4111-8111-111111111111') $$,
  '42501', null, 'anon cannot insert sessions');
select throws_ok($$ update public.aef_browser_sessions set status = 'idle' $$, '42501', null, 'anon cannot update sessions');
select throws_ok($$ delete from public.aef_browser_sessions $$, '42501', null, 'anon cannot delete sessions');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "11111111-1111-4111-8111-111111111111", "role": "authenticated"}', true);
select results_eq($$ select id::text, status::text, last_active is not null from public.aef_browser_sessions $$,
  $$ values ('bs_owner', 'active', true) $$, 'the owner reads own sessions');
select throws_ok($$ select session_data from public.aef_browser_sessions $$, '42501', null, 'the owner cannot read session_data');
select throws_ok($$ insert into public.aef_browser_sessions (user_id) values ('11111111-1111-4111-8111-111111111111') $$,
  '42501', null, 'the owner cannot insert sessions');
select throws_ok($$ update public.aef_browser_sessions set status = 'idle' $$, '42501', null, 'the owner cannot update sessions');
select throws_ok($$ delete from public.aef_browser_sessions $$, '42501', null, 'the owner cannot delete sessions');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "22222222-2222-4222-8222-222222222222", "role": "authenticated"}', true);
select is_empty($$ select id from public.aef_browser_sessions $$, 'another user sees none of the owner''s sessions');
select throws_ok($$ select session_data from public.aef_browser_sessions $$, '42501', null, 'another user cannot read session_data');
select throws_ok($$ insert into public.aef_browser_sessions (user_id) values ('22222222-2222-4222-8222-222222222222') $$,
  '42501', null, 'another user cannot insert sessions');
select throws_ok($$ update public.aef_browser_sessions set status = 'idle' $$, '42501', null, 'another user cannot update sessions');
select throws_ok($$ delete from public.aef_browser_sessions $$, '42501', null, 'another user cannot delete sessions');
reset role;

set local role service_role;
select set_config('request.jwt.claims', '', true);  -- the engine, with no user's claims
select results_eq($$ select id::text, status::text, last_active is not null from public.aef_browser_sessions where id = 'bs_owner' $$,
  $$ values ('bs_owner', 'active', true) $$, 'service_role reads sessions');
select results_eq($$ select session_data from public.aef_browser_sessions where id = 'bs_owner' $$, $$ values ('{"cookie": "secret"}'::jsonb) $$,
  'service_role reads session_data');
select lives_ok($$ insert into public.aef_browser_sessions (id, user_id, mode) values ('bs_pool_1', '11111111-1111-4111-8111-111111111111', 'pooled') $$,
  'service_role creates sessions');
select results_eq($$ with u as (update public.aef_browser_sessions set status = 'idle' where id = 'bs_owner' returning status::text)
                    select * from u $$, $$ values ('idle') $$, 'service_role updates sessions');
select results_eq($$ with d as (delete from public.aef_browser_sessions where id = 'bs_pool_1' returning 1)
                    select count(*)::int from d $$, $$ values (1) $$, 'service_role deletes sessions');
select results_eq($$ with d as (delete from public.aef_browser_sessions where id = 'bs_owner' returning 1)
                    select count(*)::int from d $$, $$ values (1) $$, 'service_role deletes a session an execution used');
reset role;

select * from finish();
rollback;

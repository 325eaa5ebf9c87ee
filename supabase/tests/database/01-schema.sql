-- The schema's shape: tables, enums in the seed's order, RLS, policies, functions.
begin;
\ir _fixtures.psql
select plan(19);

-- a team's project holds its own tables too: only aef-db's are counted
select has_table('public', 'sops', 'public.sops exists (the team''s own, or aef-db''s minimal one)');
select set_eq($$ select tablename::text from pg_tables where schemaname = 'public' and tablename like 'aef\_%' $$,
  array['aef_executions', 'aef_execution_logs', 'aef_checkpoints', 'aef_browser_sessions'], 'public holds the four AEF tables');
select enum_has_labels('public', 'execution_status', array['idle', 'running', 'paused', 'completed', 'error', 'cancelled'], 'execution_status labels');
select enum_has_labels('public', 'log_event_type', array['step_started', 'step_completed', 'step_failed', 'browser_action',
  'user_input', 'checkpoint_reached', 'loop_iteration', 'decision_made', 'error_occurred'], 'log_event_type labels');
select enum_has_labels('public', 'checkpoint_type', array['before_execution', 'after_execution', 'on_error',
  'manual_review', 'data_validation', 'custom'], 'checkpoint_type labels');
select enum_has_labels('public', 'checkpoint_status', array['pending', 'approved', 'rejected', 'skipped', 'timeout'], 'checkpoint_status labels');
select enum_has_labels('public', 'browser_session_status', array['active', 'idle', 'terminated', 'error'], 'browser_session_status labels');
select is((select bool_and(relrowsecurity) from pg_class where relnamespace = 'public'::regnamespace and relname like 'aef\_%' and relkind = 'r'),
  true, 'RLS is enabled on all four tables');
select policies_are('public', 'aef_executions', array['Owners read their executions', 'Users start their own executions of SOPs they can see']);
select policies_are('public', 'aef_execution_logs', array['Owners read their execution logs']);
select policies_are('public', 'aef_checkpoints', array['Owners read their checkpoints']);
select policies_are('public', 'aef_browser_sessions', array['Owners read their browser sessions']);
select is_definer('public', 'aef_cancel_execution', array['uuid'], 'aef_cancel_execution is security definer');
select is_definer('public', 'aef_pause_execution', array['uuid'], 'aef_pause_execution is security definer');
select is_definer('public', 'aef_resume_execution', array['uuid'], 'aef_resume_execution is security definer');
select is_definer('public', 'aef_resolve_checkpoint', array['uuid', 'checkpoint_status', 'jsonb'], 'aef_resolve_checkpoint is security definer');
select set_eq($$ select tablename::text from pg_publication_tables where pubname = 'supabase_realtime' and tablename like 'aef\_%' $$,
  array['aef_executions', 'aef_execution_logs', 'aef_checkpoints'],
  'executions, logs and checkpoints are published for Realtime; sessions are not (wal2json ignores column lists)');
select ok(not exists (select 1 from pg_publication_tables where tablename = 'aef_browser_sessions' and 'session_data' = any(attnames)),
  'session_data is in no publication');
select is((select string_agg(relname::text || '=' || relreplident::text, ' ' order by relname) from pg_class
            where relnamespace = 'public'::regnamespace and relname like 'aef\_%' and relkind = 'r'),
  'aef_browser_sessions=d aef_checkpoints=f aef_execution_logs=d aef_executions=f',
  'replica identity: full where a UI needs the old row (executions, checkpoints), the key elsewhere');

select * from finish();
rollback;

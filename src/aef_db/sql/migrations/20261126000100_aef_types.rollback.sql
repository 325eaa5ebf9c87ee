-- Rollback of 20261126000100 aef_types: restores the schema exactly as before.
-- A rollback exists to remove what its migration created.
-- squawk-ignore-file ban-drop-function, ban-drop-schema, ban-drop-type
set lock_timeout = '5s';
set statement_timeout = '60s';

drop function aef_private.without_sealed(jsonb);
drop schema aef_private;
drop type public.browser_session_status;
drop type public.checkpoint_status;
drop type public.checkpoint_type;
drop type public.log_event_type;
drop type public.execution_status;

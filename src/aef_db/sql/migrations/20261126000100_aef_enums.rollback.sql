-- Rollback of 20261126000100 aef_enums: restores the schema exactly as before.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- A rollback exists to remove what its migration created.
-- squawk-ignore ban-drop-type
drop type public.browser_session_status;
-- squawk-ignore ban-drop-type
drop type public.checkpoint_status;
-- squawk-ignore ban-drop-type
drop type public.checkpoint_type;
-- squawk-ignore ban-drop-type
drop type public.log_event_type;
-- squawk-ignore ban-drop-type
drop type public.execution_status;

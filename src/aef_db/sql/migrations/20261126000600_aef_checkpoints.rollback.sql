-- Rollback of 20261126000600 aef_checkpoints.
-- A rollback exists to remove what its migration created.
-- squawk-ignore-file ban-drop-function, ban-drop-table
set lock_timeout = '5s';
set statement_timeout = '60s';

drop table public.aef_checkpoints;
drop function aef_private.checkpoints_before_update();
drop function aef_private.checkpoints_before_insert();

-- Rollback of 20261126000500 aef_execution_logs: the log, its chain and the
-- schema aef_audit. The log's events go with it.
-- A rollback exists to remove what its migration created.
-- squawk-ignore-file ban-drop-function, ban-drop-table, ban-drop-schema
set lock_timeout = '5s';
set statement_timeout = '60s';

drop function aef_audit.archive_execution_logs(uuid, text);
drop table aef_audit.log_tombstones;
drop table aef_audit.log_heads;
drop schema aef_audit;
drop table public.aef_execution_logs;
drop function aef_private.logs_append_only();
drop function aef_private.logs_verify_batch();
drop function aef_private.logs_fill();
drop function aef_private.log_hash(uuid, bigint, text, public.log_event_type, timestamptz, jsonb, jsonb, bytea);

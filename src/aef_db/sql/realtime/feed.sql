-- The change feed's statements (aef_db.realtime.feed and .sources). They run on the
-- feed's own connection, as the role it logged in with: decoding needs REPLICATION
-- (Supabase's postgres has it), which SET ROLE would drop. The first two also run on
-- a replication connection, which takes the simple query protocol only: no parameters.

-- name: feed_preflight
-- What decoding needs, checked before a slot is made: the publication (migration
-- 20261126000900) and a login that may decode (REPLICATION, or superuser).
select exists (select from pg_catalog.pg_publication where pubname = 'aef_changes') as published,
       (select rolreplication or rolsuper from pg_catalog.pg_roles where rolname = session_user) as may_decode;

-- name: feed_user_columns
-- The columns a signed-in user may select, per table: a user's subscription gets these only.
select c.relname::text as table_name,
       array_agg(a.attname::text order by a.attnum) as columns
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
  join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
 where c.relname in ('aef_executions', 'aef_execution_logs', 'aef_checkpoints', 'aef_browser_sessions')
   and pg_catalog.has_column_privilege('authenticated', c.oid, a.attnum, 'select')
 group by c.relname;

-- name: stream_create_slot
-- On a replication connection. A temporary slot belongs to its session and is dropped
-- when the session ends, however it ends. Replication commands take no parameters:
-- {slot} is a name the feed made ([a-z0-9_] only, checked in sources.py).
CREATE_REPLICATION_SLOT {slot} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'nothing');

-- name: stream_start
-- Stream every transaction committing after the slot's consistent point {lsn}.
START_REPLICATION SLOT {slot} LOGICAL {lsn} (proto_version '1', publication_names 'aef_changes');

-- name: stream_drop_slot
-- At the end of the stream, on the same session: the slot is gone when it returns.
DROP_REPLICATION_SLOT {slot};

-- name: feed_create_slot
-- The polling fallback's slot, on a plain connection; its LSN is where decoding starts.
select (lsn operator(pg_catalog.-) '0/0'::pg_catalog.pg_lsn)::pg_catalog.int8 as lsn
  from pg_catalog.pg_create_logical_replication_slot(%(slot)s, 'pgoutput', true);

-- name: feed_drop_slot
-- At close, on the slot's own session: gone when it returns, where a session that
-- ends drops its temporary slot only a moment after the client has left.
select pg_catalog.pg_drop_replication_slot(%(slot)s);

-- name: feed_poll
-- Everything committed since the last poll, up to max_changes messages (checked between
-- transactions, so a transaction comes whole). Reading consumes it: the slot advances.
select data
  from pg_catalog.pg_logical_slot_get_binary_changes(
         %(slot)s, null, %(max_changes)s,
         'proto_version', '1', 'publication_names', 'aef_changes');

-- The change feed's statements (aef_db.realtime.feed). They run on the feed's own
-- connection, as the role it logged in with: decoding needs REPLICATION (Supabase's
-- postgres has it), which SET ROLE would drop.

-- name: feed_preflight
-- What decoding needs, checked before a slot is made: the publication (migration
-- 20261126000900) and a login that may decode (REPLICATION, or superuser).
select exists (select from pg_catalog.pg_publication where pubname = 'aef_changes') as published,
       (select rolreplication or rolsuper from pg_catalog.pg_roles where rolname = session_user) as may_decode;

-- name: feed_create_slot
-- A temporary slot: it belongs to this session and is dropped when the session ends,
-- however it ends, so a feed that dies holds no WAL. Its LSN is where decoding starts.
select (lsn operator(pg_catalog.-) '0/0'::pg_catalog.pg_lsn)::pg_catalog.int8 as lsn
  from pg_catalog.pg_create_logical_replication_slot(%(slot)s, 'pgoutput', true);

-- name: feed_poll
-- Everything committed since the last poll, up to max_changes messages (checked between
-- transactions, so a transaction comes whole). Reading consumes it: the slot advances.
select data
  from pg_catalog.pg_logical_slot_get_binary_changes(
         %(slot)s, null, %(max_changes)s,
         'proto_version', '1', 'publication_names', 'aef_changes');

-- name: feed_user_columns
-- The columns a signed-in user may select, per table: a user's subscription gets these only.
select c.relname as table_name,
       array_agg(a.attname::text order by a.attnum) as columns
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
  join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
 where c.relname = any(%(tables)s)
   and pg_catalog.has_column_privilege('authenticated', c.oid, a.attnum, 'select')
 group by c.relname;

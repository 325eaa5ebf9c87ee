-- Queries of aef_db.realtime.broadcast: what is there before enabling or disabling
-- Broadcast, and which of its objects are installed.

-- name: probe
-- Realtime's table, aef-db's schema, and whether the connected role bypasses RLS
-- (the trigger functions run as it and insert into realtime.messages, where aef-db's
-- restrictive policy would stop any other role).
-- Read from the catalog: to_regclass would raise for a role without USAGE on the schema.
select exists (select 1 from pg_catalog.pg_namespace n where n.nspname = 'realtime') as realtime_schema,
       exists (select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                where n.nspname = 'realtime' and c.relname = 'messages') as messages,
       exists (select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                where n.nspname = 'public' and c.relname = 'aef_executions') as aef_schema,
       r.rolsuper or r.rolbypassrls as bypasses_rls,
       r.rolname as role
  from pg_catalog.pg_roles r
 where r.rolname = current_user;

-- name: messages_privileges
-- Only once realtime.messages is known to exist: these functions raise on a missing name.
select pg_catalog.has_schema_privilege('realtime', 'USAGE') as schema_usage,
       pg_catalog.has_table_privilege('realtime.messages', 'INSERT') as can_insert;

-- name: installed_triggers
select c.relname || '.' || t.tgname as name
  from pg_catalog.pg_trigger t
  join pg_catalog.pg_class c on c.oid = t.tgrelid
 where c.relnamespace = 'public'::regnamespace and c.relname = any(%(tables)s)
   and t.tgname like 'aef\_90\_broadcast\_%%'
 order by 1;

-- name: installed_functions
select p.proname as name
  from pg_catalog.pg_proc p
 where p.pronamespace = pg_catalog.to_regnamespace('aef_private') and p.proname like 'broadcast\_%%'
 order by 1;

-- name: installed_policies
select p.policyname as name
  from pg_catalog.pg_policies p
 where p.schemaname = 'realtime' and p.tablename = 'messages' and p.policyname like 'aef-db: %%'
 order by 1;

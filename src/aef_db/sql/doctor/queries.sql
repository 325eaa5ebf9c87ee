-- Queries of `aef-db doctor` (aef_db/doctor.py).

-- name: settings
select current_setting('wal_level') as wal_level,
       -- shared_preload_libraries is readable only with pg_read_all_settings;
       -- CASE is lazy, so other roles get null ("unknown") instead of an error.
       case when pg_has_role('pg_read_all_settings', 'usage')
            then current_setting('shared_preload_libraries') end as preload,
       current_user as role,
       current_database() as database,
       has_database_privilege(current_database(), 'CREATE') as can_create;

-- name: extensions
select name, default_version, installed_version
  from pg_available_extensions
 where name = any(%(names)s)
 order by name;

-- name: schema_installed
select to_regclass('public.aef_executions') is not null as installed;

-- name: rls_disabled
select c.relname
  from pg_class c
 where c.relnamespace = 'public'::regnamespace and c.relname = any(%(tables)s) and not c.relrowsecurity
 order by 1;

-- name: anon_grants
-- anon is to have nothing at all on aef-db's tables, table-wide or per column.
select c.relname
  from pg_class c
 where c.relnamespace = 'public'::regnamespace and c.relname = any(%(tables)s)
   and (has_table_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
        or has_any_column_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))
 order by 1;

-- name: unpublished
-- Every table but aef_browser_sessions is in supabase_realtime, and that one is not:
-- Realtime decodes with wal2json, which ignores column lists, so a published session
-- would send session_data to Realtime's subscribers.
select t.name || case when t.name = 'aef_browser_sessions' then ' (published: session_data would reach Realtime)'
                      else ' (missing)' end as relname
  from unnest(%(tables)s::text[]) as t(name)
 where (t.name = 'aef_browser_sessions') = exists (
   select 1 from pg_publication_tables p
    where p.pubname = 'supabase_realtime' and p.schemaname = 'public' and p.tablename = t.name)
 order by 1;

-- name: unindexed_foreign_keys
-- A foreign key is indexed when a full (non-partial) index starts with its columns.
select c.conrelid::regclass::text || '.' || c.conname as constraint_name
  from pg_constraint c
  join pg_class t on t.oid = c.conrelid
 where c.contype = 'f' and t.relnamespace = 'public'::regnamespace and t.relname = any(%(tables)s)
   and not exists (
     select 1 from pg_index i
      where i.indrelid = c.conrelid and i.indpred is null
        and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] = c.conkey)
 order by 1;

-- name: unwrapped_auth_calls
-- Policies must call (select auth.uid()), which runs once per query, never the
-- bare auth.uid(), which runs once per row (Supabase's lint 0003_auth_rls_initplan).
select p.tablename || ': ' || p.policyname as policy
  from pg_policies p
 where p.schemaname = 'public' and p.tablename = any(%(tables)s)
   and regexp_count(coalesce(p.qual, '') || ' ' || coalesce(p.with_check, ''), 'auth\.(uid|role|jwt)\(\)')
       <> regexp_count(coalesce(p.qual, '') || ' ' || coalesce(p.with_check, ''), 'SELECT auth\.(uid|role|jwt)\(\)')
 order by 1;

-- name: log_triggers_off
-- The log's guards that are not firing as they should: the fill and the check
-- fire on origin ('O'), append-only always ('A'). A trigger switched off (by a
-- superuser, say) is how a log gets edited; verify then tells what changed.
select t.tgname as relname
  from pg_trigger t
 where t.tgrelid = 'public.aef_execution_logs'::regclass and not t.tgisinternal
   and t.tgenabled <> case when left(t.tgname, 5) = 'aef_3' then 'A' else 'O' end
 order by 1;

-- name: unpinned_definers
-- A SECURITY DEFINER function runs as its owner. Unless its search_path names
-- pg_catalog and ends with pg_temp, PostgreSQL searches the caller's temporary
-- schema first for types and tables, so a caller can shadow `uuid` with a domain
-- whose check runs their code as the owner.
select p.oid::regprocedure::text as relname
  from pg_proc p
 where p.prosecdef
   and (p.pronamespace::regnamespace::text in ('aef_private', 'aef_audit')
        or (p.pronamespace = 'public'::regnamespace and p.proname like 'aef\_%%'))
   and not exists (
     select 1
       from unnest(p.proconfig) c,
            lateral (select string_to_array(replace(replace(substr(c, length('search_path=') + 1), ' ', ''), '"', ''), ',') as path) s
      where c like 'search_path=%%'
        and 'pg_catalog' = any(s.path)
        and s.path[cardinality(s.path)] = 'pg_temp')
 order by 1;

-- name: published_tables
-- The aef-db tables postgres_changes streams: those in the publication supabase_realtime.
select p.tablename as relname
  from pg_publication_tables p
 where p.pubname = 'supabase_realtime' and p.schemaname = 'public' and p.tablename = any(%(tables)s)
 order by 1;

-- name: inactive_slots
-- Logical slots nobody is reading that outlive their session: each keeps every WAL
-- segment since its restart_lsn, so a leaked one fills the disk. Temporary slots
-- (Realtime's, aef-db's change feed) die with their session and are not listed.
-- A slot without a restart_lsn has been invalidated and holds nothing.
select s.slot_name, s.database, pg_size_pretty(w.retained) as retained
  from pg_replication_slots s,
       lateral (select pg_wal_lsn_diff(case when pg_is_in_recovery() then pg_last_wal_replay_lsn()
                                            else pg_current_wal_lsn() end,
                                       s.restart_lsn) as retained) w
 where s.slot_type = 'logical' and not s.active and not s.temporary
 order by w.retained desc nulls last, s.slot_name;

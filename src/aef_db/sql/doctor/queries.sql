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

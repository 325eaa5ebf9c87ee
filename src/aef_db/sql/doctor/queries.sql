-- Queries of `aef-db doctor` (aef_db/doctor.py).

-- name: settings
select current_setting('wal_level') as wal_level,
       -- shared_preload_libraries is hidden from non-superusers; pg_cron's own
       -- settings exist only when the library is preloaded.
       exists (select 1 from pg_settings where name = 'cron.database_name') as pg_cron_preloaded,
       current_user as role,
       current_database() as database,
       has_database_privilege(current_database(), 'CREATE') as can_create;

-- name: extensions
select name, default_version, installed_version
  from pg_available_extensions
 where name = any(%(names)s)
 order by name;

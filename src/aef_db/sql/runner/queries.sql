-- Queries of the migration runner (aef_db/runner.py), one per "-- name:" block.

-- name: server_version
select current_setting('server_version_num')::int as num,
       current_setting('server_version') as text;

-- name: try_lock
-- One key for every aef-db runner, so concurrent `migrate up` runs queue.
select pg_try_advisory_lock(hashtextextended('aef-db migrate', 0)) as locked;

-- name: unlock
select pg_advisory_unlock(hashtextextended('aef-db migrate', 0));

-- name: reset_all
reset all;

-- name: tables_present
select to_regclass('supabase_migrations.schema_migrations') is not null as history,
       to_regclass('aef_meta.migrations') is not null as meta;

-- name: history
select version, name from supabase_migrations.schema_migrations order by version;

-- name: meta
select version, name, checksum, rollback, applied_at, applied_by, duration_ms
  from aef_meta.migrations order by version;

-- name: record_history
insert into supabase_migrations.schema_migrations (version, name, statements)
values (%(version)s, %(name)s, %(statements)s);

-- name: record_meta
insert into aef_meta.migrations (version, name, checksum, rollback, duration_ms)
values (%(version)s, %(name)s, %(checksum)s, %(rollback)s, %(duration_ms)s);

-- name: forget_history
delete from supabase_migrations.schema_migrations where version = %(version)s;

-- name: forget_meta
delete from aef_meta.migrations where version = %(version)s;

-- name: meta_count
select count(*) as n from aef_meta.migrations;

-- Migration history, created only where missing.
--
-- supabase_migrations.schema_migrations is the Supabase CLI's own table, made the
-- way the CLI makes it (create if not exists, then add columns if not exists), so
-- `supabase migration list` and aef-db agree on what is applied.
-- aef_meta holds what only aef-db needs: checksums, rollback text and whether
-- aef-db itself created the CLI's table (so `down --all` can leave no trace).
create schema if not exists aef_meta;
comment on schema aef_meta is 'aef-db: bookkeeping of the migration runner';

create table if not exists aef_meta.runner (
  singleton boolean primary key default true check (singleton),
  created_history_schema boolean not null,
  created_history_table boolean not null
);
comment on table aef_meta.runner is 'aef-db: what the migration runner created, so that down --all can remove exactly that';

insert into aef_meta.runner (created_history_schema, created_history_table)
select
  not exists (select 1 from pg_namespace where nspname = 'supabase_migrations'),
  to_regclass('supabase_migrations.schema_migrations') is null
on conflict (singleton) do nothing;

create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;

create table if not exists aef_meta.migrations (
  version text primary key,
  name text not null,
  checksum text not null,
  rollback text not null,
  applied_at timestamptz not null default now(),
  applied_by text not null default current_user,
  duration_ms integer not null
);
comment on table aef_meta.migrations is 'aef-db: checksum and rollback text of each applied aef-db migration';

revoke all on schema aef_meta from public;
revoke all on all tables in schema aef_meta from public;

-- Run by `down --all` once no aef-db migration remains applied: removes the
-- runner's bookkeeping, and the CLI's history table only where aef-db created it
-- and no other migration is recorded in it. Leaves the database as before `up`.
do $cleanup$
declare
  created_table boolean;
  created_schema boolean;
begin
  select created_history_table, created_history_schema
    into created_table, created_schema
    from aef_meta.runner;
  if created_table and not exists (select 1 from supabase_migrations.schema_migrations) then
    drop table supabase_migrations.schema_migrations;
    if created_schema and not exists (
      select 1 from pg_class where relnamespace = 'supabase_migrations'::regnamespace
    ) then
      drop schema supabase_migrations;
    end if;
  end if;
  drop schema aef_meta cascade;
end
$cleanup$;

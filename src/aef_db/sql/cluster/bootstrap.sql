-- First-start bootstrap of aef-db's embedded cluster, run once as its superuser.
--
-- Recreates the privilege split of hosted Supabase: the superuser is a platform
-- role (here aef_admin, there supabase_admin), and the application's role
-- `postgres` is NOT a superuser. Migrations run as postgres, so anything that
-- needs a superuser fails here exactly as it would on Supabase.
-- The password arrives in the transaction-local setting aef_db.owner_password,
-- so it never appears in this file or in the server log.
do $bootstrap$
begin
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    execute format(
      'create role postgres login createdb createrole replication bypassrls password %L',
      current_setting('aef_db.owner_password')
    );
  end if;
end
$bootstrap$;

alter database postgres owner to postgres;
grant all on schema public to postgres;

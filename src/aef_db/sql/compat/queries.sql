-- Queries of the Supabase compatibility layer (aef_db/compat.py).

-- name: missing_objects
-- Everything aef-db's migrations rely on, in the order the layer creates it.
-- Catalog lookups only, so that a role without usage on auth can still ask.
select object from (values
  (1, 'role anon', exists (select 1 from pg_roles where rolname = 'anon')),
  (2, 'role authenticated', exists (select 1 from pg_roles where rolname = 'authenticated')),
  (3, 'role service_role (bypassrls)',
      exists (select 1 from pg_roles where rolname = 'service_role' and rolbypassrls)),
  (4, 'role authenticator', exists (select 1 from pg_roles where rolname = 'authenticator')),
  (5, 'schema auth', to_regnamespace('auth') is not null),
  (6, 'function auth.uid()', exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'auth' and p.proname = 'uid' and p.pronargs = 0)),
  (7, 'function auth.role()', exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'auth' and p.proname = 'role' and p.pronargs = 0)),
  (8, 'function auth.jwt()', exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'auth' and p.proname = 'jwt' and p.pronargs = 0)),
  (9, 'schema extensions', to_regnamespace('extensions') is not null),
  (10, 'extension pgcrypto', exists (select 1 from pg_extension where extname = 'pgcrypto')),
  (11, 'publication supabase_realtime',
      exists (select 1 from pg_publication where pubname = 'supabase_realtime'))
) as o(ord, object, present)
where not present
order by ord;

-- name: installed_by_aef
-- The layer marks the schemas it creates; Supabase's own are unmarked.
select coalesce(
  obj_description(to_regnamespace('auth'), 'pg_namespace') like 'aef-db compat:%',
  false
) as marked;

-- name: current_role
select current_user as role;

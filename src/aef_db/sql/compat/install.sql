-- Supabase compatibility layer for plain PostgreSQL.
--
-- Makes a plain PostgreSQL 15+ database look enough like a Supabase project for
-- aef-db's migrations to run unchanged: the API roles, the auth helpers, the
-- extensions schema with pgcrypto, and the realtime publication. Every object is
-- created only where it is missing, so on a real Supabase project this changes
-- nothing. Creating service_role (BYPASSRLS) needs a superuser on PostgreSQL 15,
-- which is why this runs as the cluster's superuser, like Supabase's own image.

-- Roles (cluster-wide). Attributes as on Supabase: anon, authenticated and
-- service_role cannot log in; authenticator logs in and switches into them.
do $compat$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  grant anon, authenticated, service_role to authenticator;
  -- On Supabase, postgres may `set role` to each API role (the SQL editor does).
  if exists (select 1 from pg_roles where rolname = 'postgres') then
    grant anon, authenticated, service_role to postgres;
  end if;
end
$compat$;

-- Schema auth with uid(), role() and jwt(), reading the claims exactly as
-- Supabase's (supabase/auth) definitions do: the legacy per-claim setting first,
-- then the JSON claims set by PostgREST.
do $compat$
begin
  if not exists (select 1 from pg_namespace where nspname = 'auth') then
    create schema auth;
    comment on schema auth is 'aef-db compat: created by the aef-db Supabase compatibility layer';
  end if;
end
$compat$;
grant usage on schema auth to anon, authenticated, service_role;
do $compat$
begin
  if exists (select 1 from pg_roles where rolname = 'postgres') then
    grant usage on schema auth to postgres;
  end if;
end
$compat$;

-- No SET search_path on purpose: that would stop PostgreSQL from inlining these
-- one-line SQL functions into each query (measured: 3x the cost of the call).
-- Every name inside is schema-qualified instead, so no search_path can hijack them.
do $compat$
begin
  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
      language sql stable
    as $fn$
      select nullif(
        coalesce(
          pg_catalog.current_setting('request.jwt.claim.sub', true),
          nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
            operator(pg_catalog.->>) 'sub'
        ),
        ''
      )::pg_catalog.uuid
    $fn$;
    comment on function auth.uid() is 'aef-db compat: the subject (user id) of the request JWT, as Supabase defines it';
  end if;
  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
      language sql stable
    as $fn$
      select nullif(
        coalesce(
          pg_catalog.current_setting('request.jwt.claim.role', true),
          nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
            operator(pg_catalog.->>) 'role'
        ),
        ''
      )::pg_catalog.text
    $fn$;
    comment on function auth.role() is 'aef-db compat: the role claim of the request JWT, as Supabase defines it';
  end if;
  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
      language sql stable
    as $fn$
      select coalesce(
        nullif(pg_catalog.current_setting('request.jwt.claim', true), ''),
        nullif(pg_catalog.current_setting('request.jwt.claims', true), '')
      )::pg_catalog.jsonb
    $fn$;
    comment on function auth.jwt() is 'aef-db compat: the claims of the request JWT, as Supabase defines it';
  end if;
end
$compat$;
grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role;

-- Schema extensions with pgcrypto (a trusted extension), where Supabase keeps it.
do $compat$
begin
  if not exists (select 1 from pg_namespace where nspname = 'extensions') then
    create schema extensions;
    comment on schema extensions is 'aef-db compat: created by the aef-db Supabase compatibility layer';
  end if;
  if not exists (select 1 from pg_extension where extname = 'pgcrypto') then
    create extension pgcrypto with schema extensions;
  end if;
end
$compat$;
grant usage on schema extensions to anon, authenticated, service_role;
do $compat$
begin
  if exists (select 1 from pg_roles where rolname = 'postgres') then
    grant usage on schema extensions to postgres;
  end if;
end
$compat$;

-- The publication Supabase Realtime reads. postgres owns it on Supabase, so
-- migrations running as postgres can add their own tables to it.
do $compat$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
    if exists (select 1 from pg_roles where rolname = 'postgres') then
      alter publication supabase_realtime owner to postgres;
    end if;
  end if;
end
$compat$;

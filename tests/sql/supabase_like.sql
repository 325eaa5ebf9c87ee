-- A Supabase project's own objects, as a team might have them before adopting
-- aef-db: tables, RLS policies, grants, a trigger and data. aef-db must leave
-- every byte of these unchanged.
create table public.sops (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null,
  title text not null,
  steps jsonb not null default '[]'
);
alter table public.sops enable row level security;
create policy "Owners read their SOPs" on public.sops
  for select to authenticated using (owner_id = (select auth.uid()));
create policy "Owners write their SOPs" on public.sops
  for all to authenticated using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
grant select, insert, update, delete on public.sops to authenticated;
grant all on public.sops to service_role;

create table public.profiles (
  id uuid primary key,
  display_name text,
  updated_at timestamptz not null default now()
);
alter table public.profiles enable row level security;
create policy "Profiles are public" on public.profiles for select to anon, authenticated using (true);
grant select on public.profiles to anon, authenticated;

create function public.touch_updated_at() returns trigger language plpgsql as $$
begin new.updated_at := now(); return new; end $$;
create trigger profiles_touch before update on public.profiles
  for each row execute function public.touch_updated_at();

insert into public.sops (id, owner_id, title, steps)
select gen_random_uuid(), gen_random_uuid(), 'SOP ' || g, jsonb_build_array(jsonb_build_object('n', g))
from generate_series(1, 50) g;
insert into public.profiles (id, display_name, updated_at)
select gen_random_uuid(), 'user ' || g, '2026-01-01'::timestamptz + g * interval '1 hour'
from generate_series(1, 20) g;

-- The Supabase CLI has already applied the team's own migrations.
create schema supabase_migrations;
create table supabase_migrations.schema_migrations (version text not null primary key, statements text[], name text);
insert into supabase_migrations.schema_migrations values ('20250101000000', array['create table public.sops ...'], 'team_sops');

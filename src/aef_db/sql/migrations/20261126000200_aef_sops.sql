-- aef-db 20261126000200 aef_sops
-- aef_executions.sop_id references public.sops(id). On a Supabase project the
-- team's own sops table is already there, and this file leaves it exactly as it
-- is. Where none exists (the embedded cluster, plain PostgreSQL) it creates a
-- minimal one, marked by its table comment; only that marked table is ever
-- dropped by the rollback.
set lock_timeout = '5s';
set statement_timeout = '60s';

do $migration$
begin
  if to_regclass('public.sops') is not null then
    return;
  end if;

  create table public.sops (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null default auth.uid(),
    name text not null,
    description text,
    steps jsonb not null default '[]',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint sops_name_length check (length(name) between 1 and 200),
    constraint sops_steps_is_array check (jsonb_typeof(steps) = 'array')
  );
  comment on table public.sops is
    'aef-db minimal sops: created by aef-db because this database had no sops table. A Supabase project keeps its own.';
  comment on column public.sops.id is 'SOP id, referenced by aef_executions.sop_id.';
  comment on column public.sops.user_id is 'Owner of the SOP; only the owner (and service_role) can see it.';
  comment on column public.sops.name is 'Human-readable name, 1 to 200 characters.';
  comment on column public.sops.description is 'Optional description.';
  comment on column public.sops.steps is 'The recorded steps, a JSON array.';
  comment on column public.sops.created_at is 'When the SOP was created.';
  comment on column public.sops.updated_at is 'When the SOP last changed.';
  create index sops_user_id_idx on public.sops (user_id);

  alter table public.sops enable row level security;
  revoke all on table public.sops from public, anon, authenticated, service_role;
  grant select, insert, update, delete on table public.sops to authenticated;
  grant select, insert, update, delete on table public.sops to service_role;
  create policy "Owners read their SOPs" on public.sops
    for select to authenticated using (user_id = (select auth.uid()));
  create policy "Users create their own SOPs" on public.sops
    for insert to authenticated with check (user_id = (select auth.uid()));
  create policy "Owners update their SOPs" on public.sops
    for update to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
  create policy "Owners delete their SOPs" on public.sops
    for delete to authenticated using (user_id = (select auth.uid()));
end
$migration$;

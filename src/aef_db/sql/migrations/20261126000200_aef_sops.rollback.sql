-- Rollback of 20261126000200 aef_sops: drops public.sops only if aef-db created
-- it (its comment says so). A team's own sops table is never touched.
set lock_timeout = '5s';
set statement_timeout = '60s';

do $rollback$
begin
  if to_regclass('public.sops') is not null
     and obj_description('public.sops'::regclass, 'pg_class') like 'aef-db minimal sops:%' then
    drop table public.sops;
  end if;
end
$rollback$;

-- Queries of `aef-db demo` (aef_db/demo.py).

-- name: create_sop
insert into public.sops (id, user_id, name, steps)
values (%(id)s, %(user_id)s, 'Download last month''s invoices', %(steps)s)
on conflict (id) do nothing;

-- name: row_counts
select (select count(*) from public.aef_executions) as executions,
       (select count(*) from public.aef_execution_logs) as logs,
       (select count(*) from public.aef_checkpoints) as checkpoints,
       (select count(*) from public.aef_browser_sessions) as sessions;

-- name: plaintext_hits
-- Does any stored row contain one of these strings? (The demo's secrets must not.)
select count(*) as hits
  from unnest(%(needles)s::text[]) as n(needle)
 where exists (select 1 from public.aef_executions e
                where strpos(e.execution_context::text || e.config::text, n.needle) > 0)
    or exists (select 1 from public.aef_browser_sessions s where strpos(s.session_data::text, n.needle) > 0)
    or exists (select 1 from public.aef_execution_logs l where strpos(l.data::text, n.needle) > 0)
    or exists (select 1 from public.aef_checkpoints c
                where strpos(c.request::text || coalesce(c.user_response::text, ''), n.needle) > 0);

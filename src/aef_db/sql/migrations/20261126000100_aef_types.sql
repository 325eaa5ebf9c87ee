-- aef-db 20261126000100 aef_types
-- The five enums of ticket 002, with the seed's names and labels in the seed's
-- order. Front ends and other services match on these labels: they are a contract.
-- Also the schema aef_private, where internal functions live (out of the schemas
-- PostgREST exposes), and the one helper every guard shares.
set lock_timeout = '5s';
set statement_timeout = '60s';

create type public.execution_status as enum (
  'idle', 'running', 'paused', 'completed', 'error', 'cancelled'
);
comment on type public.execution_status is
  'Lifecycle of an AEF execution. completed, error and cancelled are final.';

create type public.log_event_type as enum (
  'step_started', 'step_completed', 'step_failed',
  'browser_action', 'user_input', 'checkpoint_reached',
  'loop_iteration', 'decision_made', 'error_occurred'
);
comment on type public.log_event_type is
  'Kind of event in the append-only execution log (the audit trail).';

create type public.checkpoint_type as enum (
  'before_execution', 'after_execution', 'on_error',
  'manual_review', 'data_validation', 'custom'
);
comment on type public.checkpoint_type is
  'Why an execution paused for a human.';

create type public.checkpoint_status as enum (
  'pending', 'approved', 'rejected', 'skipped', 'timeout'
);
comment on type public.checkpoint_status is
  'A checkpoint is pending until it resolves, once, to one of the other labels.';

create type public.browser_session_status as enum (
  'active', 'idle', 'terminated', 'error'
);
comment on type public.browser_session_status is
  'Browser session state: active <-> idle, then terminated or error (final).';

create schema aef_private;
comment on schema aef_private is 'aef-db: internal functions (guards, helpers). Not exposed to the API roles.';
revoke all on schema aef_private from public;

-- Helpers that run only inside the guards carry no SET clause (every name in
-- them is qualified, and the guards that call them pin search_path), so they
-- cost a plain call and the SQL ones are inlined (decision 29).

-- Secrets are stored as sealed tokens ("aef:v1:<key id>:..."). Re-sealing them
-- under a new key is the one change a final row still accepts, so this is the
-- row's content with every token masked.
create function aef_private.without_sealed(doc jsonb) returns jsonb
language plpgsql immutable parallel safe
as $$
begin
  case jsonb_typeof(doc)
    when 'object' then
      return coalesce((select jsonb_object_agg(e.key, aef_private.without_sealed(e.value)) from jsonb_each(doc) e), '{}'::pg_catalog.jsonb);
    when 'array' then
      return coalesce((select jsonb_agg(aef_private.without_sealed(e.value) order by e.ord)
                         from jsonb_array_elements(doc) with ordinality e(value, ord)), '[]'::pg_catalog.jsonb);
    when 'string' then
      return case when left(doc #>> '{}', 7) = 'aef:v1:' then '"aef:sealed"'::pg_catalog.jsonb else doc end;
    else
      return doc;
  end case;
end
$$;
comment on function aef_private.without_sealed(jsonb) is
  'The document with every sealed secret token masked: equal before and after a key rotation.';

revoke all on all functions in schema aef_private from public;

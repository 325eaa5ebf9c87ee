-- aef-db 20261126000600 aef_checkpoints
-- Human checkpoints: the table, its indexes and its guard. A checkpoint is
-- created pending on an execution that is not final, resolves once, and times
-- out only after its timeout_at (the sweeper is in aef_access; a final execution
-- closes its pending checkpoint, in aef_executions).
--   AE002 checkpoint status rule   AE004 an immutable column changed
--   AE006 owner mismatch           AE008 a timeout that is not in the future
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.aef_checkpoints (
  id uuid primary key default gen_random_uuid(),
  execution_id uuid not null references public.aef_executions (id) on delete cascade,
  -- squawk-ignore prefer-text-field
  step_id varchar(256),
  checkpoint_type public.checkpoint_type not null,
  status public.checkpoint_status not null default 'pending',
  user_response jsonb,
  created_at timestamptz not null default now(),
  resolved_at timestamptz,
  user_id uuid not null,
  request jsonb not null default '{}',
  timeout_at timestamptz,
  timeout_policy text not null default 'fail_execution',
  resolved_by uuid,
  updated_at timestamptz not null default now(),
  constraint aef_checkpoints_step_id_not_blank check (step_id <> ''),
  constraint aef_checkpoints_request_is_object check (jsonb_typeof(request) = 'object'),
  constraint aef_checkpoints_request_size check (pg_column_size(request #> '{}') <= 65536),
  constraint aef_checkpoints_request_depth check (not (request @? '$.**{65}')),
  constraint aef_checkpoints_user_response_size check (pg_column_size(user_response #> '{}') <= 65536),
  constraint aef_checkpoints_user_response_depth check (not (user_response @? '$.**{65}')),
  constraint aef_checkpoints_timeout_policy_known check (timeout_policy in ('fail_execution', 'cancel_execution', 'skip')),
  constraint aef_checkpoints_resolved_when_not_pending check ((status = 'pending') = (resolved_at is null)),
  constraint aef_checkpoints_no_response_while_pending check (status <> 'pending' or user_response is null),
  constraint aef_checkpoints_timeout_after_creation check (timeout_at > created_at),
  constraint aef_checkpoints_times_finite check (isfinite(created_at) and isfinite(timeout_at))
);
comment on table public.aef_checkpoints is
  'Human checkpoints. pending -> exactly one of approved, rejected, skipped, timeout, once. At most one pending checkpoint per execution.';
comment on column public.aef_checkpoints.id is 'Checkpoint id.';
comment on column public.aef_checkpoints.execution_id is 'The execution waiting for the answer.';
comment on column public.aef_checkpoints.step_id is 'The step the checkpoint guards (seed: VARCHAR), up to 256 characters.';
comment on column public.aef_checkpoints.checkpoint_type is 'Why the execution asks a human.';
comment on column public.aef_checkpoints.status is 'pending until resolved, once.';
comment on column public.aef_checkpoints.user_response is 'The human''s answer (any JSON, at most 64 KiB); null while pending.';
comment on column public.aef_checkpoints.created_at is 'When the checkpoint was raised.';
comment on column public.aef_checkpoints.resolved_at is 'When it was resolved; maintained by the database.';
comment on column public.aef_checkpoints.user_id is 'The execution''s owner, copied by the database. Immutable.';
comment on column public.aef_checkpoints.request is 'What the human is asked (message, fields, screenshot reference): a JSON object of at most 64 KiB.';
comment on column public.aef_checkpoints.timeout_at is 'When the checkpoint times out, or null for never. Must be in the future when set.';
comment on column public.aef_checkpoints.timeout_policy is
  'What a timeout does to the execution: fail_execution (-> error), cancel_execution (-> cancelled) or skip (the execution goes on).';
comment on column public.aef_checkpoints.resolved_by is 'Who resolved it (auth.uid()), or null for the engine or the timeout sweeper.';
comment on column public.aef_checkpoints.updated_at is 'When the row last changed; maintained by the database.';

create index aef_checkpoints_execution_id_idx on public.aef_checkpoints (execution_id);
comment on index public.aef_checkpoints_execution_id_idx is 'Foreign key to aef_executions.';
create unique index aef_checkpoints_one_pending_per_execution on public.aef_checkpoints (execution_id) where status = 'pending';
comment on index public.aef_checkpoints_one_pending_per_execution is 'At most one pending checkpoint per execution.';
create index aef_checkpoints_user_recent_idx on public.aef_checkpoints (user_id, created_at desc);
comment on index public.aef_checkpoints_user_recent_idx is 'A user''s checkpoints; the RLS column.';
create index aef_checkpoints_user_pending_idx on public.aef_checkpoints (user_id, created_at) where status = 'pending';
comment on index public.aef_checkpoints_user_pending_idx is 'A user''s pending checkpoints.';
create index aef_checkpoints_due_idx on public.aef_checkpoints (timeout_at) where status = 'pending' and timeout_at is not null;
comment on index public.aef_checkpoints_due_idx is 'Checkpoints due to time out, for the sweeper.';

create function aef_private.checkpoints_before_insert() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  execution public.aef_executions;
begin
  select * into execution from public.aef_executions e where e.id = new.execution_id;
  if not found then
    raise exception using errcode = '23503',
      message = format('aef_checkpoints.execution_id: execution %s does not exist', new.execution_id);
  end if;
  if new.user_id is null then
    new.user_id := execution.user_id;
  elsif new.user_id <> execution.user_id then
    raise exception using errcode = 'AE006',
      message = format('aef_checkpoints.user_id must be the owner of execution %s', new.execution_id);
  end if;
  if execution.status in ('completed', 'error', 'cancelled') then
    raise exception using errcode = 'AE002',
      message = format('aef_checkpoints: execution %s is %s, which is final; it takes no new checkpoint',
                       new.execution_id, execution.status);
  end if;
  if new.status <> 'pending' then
    raise exception using errcode = 'AE002',
      message = format('aef_checkpoints: a checkpoint is created pending, not %s', new.status);
  end if;
  if new.timeout_at is not null and new.timeout_at <= now() then
    raise exception using errcode = 'AE008',
      message = format('aef_checkpoints.timeout_at must be in the future, got %s', new.timeout_at);
  end if;
  new.resolved_at := null;
  new.resolved_by := null;
  new.updated_at := now();
  return new;
end
$$;
comment on function aef_private.checkpoints_before_insert() is
  'Guard: a checkpoint is created pending, with its execution''s owner, on an execution that is not final, with a future timeout.';

create function aef_private.checkpoints_before_update() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if (new.id, new.execution_id, new.user_id, new.checkpoint_type, new.step_id, new.request, new.created_at)
     is distinct from (old.id, old.execution_id, old.user_id, old.checkpoint_type, old.step_id, old.request, old.created_at) then
    raise exception using errcode = 'AE004',
      message = format('aef_checkpoints: only status, user_response, timeout_at, timeout_policy and resolved_by may change (checkpoint %s)', old.id);
  end if;

  if old.status <> 'pending' then
    if (new.status, new.user_response, new.timeout_at, new.timeout_policy, new.resolved_by)
       is distinct from (old.status, old.user_response, old.timeout_at, old.timeout_policy, old.resolved_by) then
      raise exception using errcode = 'AE002',
        message = format('aef_checkpoints: checkpoint %s is already resolved as %s; a checkpoint resolves once', old.id, old.status);
    end if;
    return new;
  end if;

  if new.status <> 'pending' then
    if new.status = 'timeout' and (old.timeout_at is null or old.timeout_at > now()) then
      raise exception using errcode = 'AE002',
        message = format('aef_checkpoints: checkpoint %s cannot time out before its timeout_at (%s)', old.id, coalesce(old.timeout_at::pg_catalog.text, 'none'));
    end if;
    new.resolved_at := now();
    if new.resolved_by is null then
      new.resolved_by := auth.uid();
    end if;
  elsif new.timeout_at is distinct from old.timeout_at and new.timeout_at <= now() then
    raise exception using errcode = 'AE008',
      message = format('aef_checkpoints.timeout_at must be in the future, got %s', new.timeout_at);
  end if;
  new.updated_at := now();
  return new;
end
$$;
comment on function aef_private.checkpoints_before_update() is
  'Guard: a checkpoint resolves once (AE002), times out only after timeout_at, keeps its question (AE004); the database sets resolved_at and resolved_by.';

create trigger aef_10_guard_insert before insert on public.aef_checkpoints
  for each row execute function aef_private.checkpoints_before_insert();
create trigger aef_10_guard_update before update on public.aef_checkpoints
  for each row execute function aef_private.checkpoints_before_update();

revoke all on all functions in schema aef_private from public;

-- aef-db 20261126000100 aef_enums
-- The five enums of ticket 002, with the seed's names and labels in the seed's
-- order. Front ends and other services match on these labels: they are a contract.
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

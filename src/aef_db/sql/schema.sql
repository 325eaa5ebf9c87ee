--
-- PostgreSQL database dump
--



SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: aef_audit; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA aef_audit;


ALTER SCHEMA aef_audit OWNER TO postgres;

--
-- Name: SCHEMA aef_audit; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON SCHEMA aef_audit IS 'The audit chain''s heads and tombstones, and the one sanctioned way to archive a log. Not exposed through the Data API.';


--
-- Name: aef_private; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA aef_private;


ALTER SCHEMA aef_private OWNER TO postgres;

--
-- Name: SCHEMA aef_private; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON SCHEMA aef_private IS 'aef-db: internal functions (guards, helpers). Not exposed to the API roles.';


--
-- Name: public; Type: SCHEMA; Schema: -; Owner: pg_database_owner
--

CREATE SCHEMA public;


ALTER SCHEMA public OWNER TO pg_database_owner;

--
-- Name: browser_session_status; Type: TYPE; Schema: public; Owner: postgres
--

CREATE TYPE public.browser_session_status AS ENUM (
    'active',
    'idle',
    'terminated',
    'error'
);


ALTER TYPE public.browser_session_status OWNER TO postgres;

--
-- Name: TYPE browser_session_status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TYPE public.browser_session_status IS 'Browser session state: active <-> idle, then terminated or error (final).';


--
-- Name: checkpoint_status; Type: TYPE; Schema: public; Owner: postgres
--

CREATE TYPE public.checkpoint_status AS ENUM (
    'pending',
    'approved',
    'rejected',
    'skipped',
    'timeout'
);


ALTER TYPE public.checkpoint_status OWNER TO postgres;

--
-- Name: TYPE checkpoint_status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TYPE public.checkpoint_status IS 'A checkpoint is pending until it resolves, once, to one of the other labels.';


--
-- Name: checkpoint_type; Type: TYPE; Schema: public; Owner: postgres
--

CREATE TYPE public.checkpoint_type AS ENUM (
    'before_execution',
    'after_execution',
    'on_error',
    'manual_review',
    'data_validation',
    'custom'
);


ALTER TYPE public.checkpoint_type OWNER TO postgres;

--
-- Name: TYPE checkpoint_type; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TYPE public.checkpoint_type IS 'Why an execution paused for a human.';


--
-- Name: execution_status; Type: TYPE; Schema: public; Owner: postgres
--

CREATE TYPE public.execution_status AS ENUM (
    'idle',
    'running',
    'paused',
    'completed',
    'error',
    'cancelled'
);


ALTER TYPE public.execution_status OWNER TO postgres;

--
-- Name: TYPE execution_status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TYPE public.execution_status IS 'Lifecycle of an AEF execution. completed, error and cancelled are final.';


--
-- Name: log_event_type; Type: TYPE; Schema: public; Owner: postgres
--

CREATE TYPE public.log_event_type AS ENUM (
    'step_started',
    'step_completed',
    'step_failed',
    'browser_action',
    'user_input',
    'checkpoint_reached',
    'loop_iteration',
    'decision_made',
    'error_occurred'
);


ALTER TYPE public.log_event_type OWNER TO postgres;

--
-- Name: TYPE log_event_type; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TYPE public.log_event_type IS 'Kind of event in the append-only execution log (the audit trail).';


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: log_tombstones; Type: TABLE; Schema: aef_audit; Owner: postgres
--

CREATE TABLE aef_audit.log_tombstones (
    id bigint NOT NULL,
    execution_id uuid NOT NULL,
    last_seq bigint NOT NULL,
    head_hash bytea NOT NULL,
    archived_at timestamp with time zone DEFAULT now() NOT NULL,
    archived_by text NOT NULL,
    location text NOT NULL,
    xact xid8 DEFAULT pg_current_xact_id() NOT NULL,
    CONSTRAINT log_tombstones_head_hash_sha256 CHECK ((octet_length(head_hash) = 32)),
    CONSTRAINT log_tombstones_location_not_blank CHECK (((length(btrim(location)) >= 1) AND (length(btrim(location)) <= 2000)))
);


ALTER TABLE aef_audit.log_tombstones OWNER TO postgres;

--
-- Name: TABLE log_tombstones; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON TABLE aef_audit.log_tombstones IS 'One row per archived log: the chain''s last seq and head hash when it was archived, who archived it and where the events went. Written only by aef_audit.archive_execution_logs.';


--
-- Name: COLUMN log_tombstones.id; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_tombstones.id IS 'Tombstone id.';


--
-- Name: COLUMN log_tombstones.execution_id; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_tombstones.execution_id IS 'The execution whose events were archived (no foreign key: the execution may go later).';


--
-- Name: COLUMN log_tombstones.last_seq; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_tombstones.last_seq IS 'The seq of the last archived event.';


--
-- Name: COLUMN log_tombstones.head_hash; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_tombstones.head_hash IS 'The hash of the last archived event: the archive must end with it.';


--
-- Name: COLUMN log_tombstones.archived_at; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_tombstones.archived_at IS 'When it was archived.';


--
-- Name: COLUMN log_tombstones.archived_by; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_tombstones.archived_by IS 'Who: the database role, and the JWT subject when there is one.';


--
-- Name: COLUMN log_tombstones.location; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_tombstones.location IS 'Where the events went (an object-storage URL, a file, a ticket).';


--
-- Name: COLUMN log_tombstones.xact; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_tombstones.xact IS 'The archiving transaction: only it may delete the events.';


--
-- Name: archive_execution_logs(uuid, text); Type: FUNCTION; Schema: aef_audit; Owner: postgres
--

CREATE FUNCTION aef_audit.archive_execution_logs(execution_id uuid, location text) RETURNS aef_audit.log_tombstones
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  target public.aef_executions;
  head aef_audit.log_heads;
  stone aef_audit.log_tombstones;
begin
  if location is null or length(btrim(location)) not between 1 and 2000 then
    raise exception using errcode = 'AE010',
      message = 'aef_audit.archive_execution_logs: location must say where the events went (1 to 2000 characters)';
  end if;
  select * into target from public.aef_executions e where e.id = archive_execution_logs.execution_id for update;
  if not found then
    raise exception using errcode = 'P0002', message = format('execution %s does not exist', archive_execution_logs.execution_id);
  end if;
  if target.status not in ('completed', 'error', 'cancelled') then
    raise exception using errcode = 'AE010',
      message = format('aef_audit.archive_execution_logs: execution %s is %s; only a final execution''s log is archived',
                       target.id, target.status);
  end if;
  select * into head from aef_audit.log_heads h where h.execution_id = target.id for update;
  if not found then
    raise exception using errcode = 'AE010',
      message = format('aef_audit.archive_execution_logs: execution %s has no log to archive', target.id);
  end if;
  insert into aef_audit.log_tombstones (execution_id, last_seq, head_hash, archived_by, location)
  values (target.id, head.last_seq, head.last_hash,
          concat_ws(' ', session_user, nullif(nullif(current_setting('role', true), ''), 'none'),
                    nullif(current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb ->> 'sub'),
          btrim(location))
  returning * into stone;
  delete from public.aef_execution_logs l where l.execution_id = target.id and l.seq <= head.last_seq;
  delete from aef_audit.log_heads h where h.execution_id = target.id;
  return stone;
end
$$;


ALTER FUNCTION aef_audit.archive_execution_logs(execution_id uuid, location text) OWNER TO postgres;

--
-- Name: FUNCTION archive_execution_logs(execution_id uuid, location text); Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON FUNCTION aef_audit.archive_execution_logs(execution_id uuid, location text) IS 'The one sanctioned way to remove a log: records a tombstone (last seq, head hash, who, where), then deletes the events. Final executions only. service_role and the owner only.';


--
-- Name: assert_session_owner(text, uuid); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.assert_session_owner(session_id text, owner uuid) RETURNS void
    LANGUAGE plpgsql STABLE
    AS $$
declare
  session_owner pg_catalog.uuid;
begin
  select s.user_id into session_owner from public.aef_browser_sessions s where s.id = session_id;
  -- a missing session is reported by the foreign key
  if found and session_owner <> owner then
    raise exception using errcode = 'AE006',
      message = format('aef_executions.browser_session_id: session %s belongs to another user', session_id),
      hint = 'A browser session never serves another user''s execution.';
  end if;
end
$$;


ALTER FUNCTION aef_private.assert_session_owner(session_id text, owner uuid) OWNER TO postgres;

--
-- Name: FUNCTION assert_session_owner(session_id text, owner uuid); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.assert_session_owner(session_id text, owner uuid) IS 'Raises AE006 when the session belongs to another user than the execution''s owner.';


--
-- Name: caller_is_engine(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.caller_is_engine() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select exists (
    select 1 from pg_catalog.pg_roles r
     where r.rolname = coalesce(nullif(nullif(pg_catalog.current_setting('role', true), ''), 'none'),
                                pg_catalog.session_user())
       and (r.rolsuper or r.rolbypassrls
            or exists (select 1 from aef_private.engine_roles g where g.role_name = r.rolname)))
$$;


ALTER FUNCTION aef_private.caller_is_engine() OWNER TO postgres;

--
-- Name: FUNCTION caller_is_engine(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.caller_is_engine() IS 'Whether the calling role (SET ROLE, else the session user) acts as the engine without a JWT subject: listed in engine_roles, a superuser or BYPASSRLS.';


--
-- Name: aef_executions; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.aef_executions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    sop_id uuid,
    user_id uuid DEFAULT auth.uid() NOT NULL,
    status public.execution_status DEFAULT 'idle'::public.execution_status NOT NULL,
    started_at timestamp with time zone,
    completed_at timestamp with time zone,
    current_step_id character varying(256),
    execution_context jsonb DEFAULT '{}'::jsonb NOT NULL,
    browser_session_id character varying(128),
    config jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT aef_executions_completed_after_start CHECK ((completed_at >= started_at)),
    CONSTRAINT aef_executions_completed_when_final CHECK (((status = ANY (ARRAY['completed'::public.execution_status, 'error'::public.execution_status, 'cancelled'::public.execution_status])) = (completed_at IS NOT NULL))),
    CONSTRAINT aef_executions_config_depth CHECK ((NOT (config @? '$.**{65}'::jsonpath))),
    CONSTRAINT aef_executions_config_is_object CHECK ((jsonb_typeof(config) = 'object'::text)),
    CONSTRAINT aef_executions_config_size CHECK ((pg_column_size((config #> '{}'::text[])) <= 65536)),
    CONSTRAINT aef_executions_context_level_known CHECK ((((config ->> 'context_level'::text) IS NULL) OR ((config ->> 'context_level'::text) = ANY (ARRAY['minimal'::text, 'standard'::text, 'full'::text])))),
    CONSTRAINT aef_executions_created_at_finite CHECK (isfinite(created_at)),
    CONSTRAINT aef_executions_current_step_id_not_blank CHECK (((current_step_id)::text <> ''::text)),
    CONSTRAINT aef_executions_execution_context_depth CHECK ((NOT (execution_context @? '$.**{65}'::jsonpath))),
    CONSTRAINT aef_executions_execution_context_is_object CHECK ((jsonb_typeof(execution_context) = 'object'::text)),
    CONSTRAINT aef_executions_execution_context_size CHECK ((pg_column_size((execution_context #> '{}'::text[])) <= 1048576)),
    CONSTRAINT aef_executions_started_when_run CHECK (((status = ANY (ARRAY['running'::public.execution_status, 'paused'::public.execution_status, 'completed'::public.execution_status, 'error'::public.execution_status])) <= (started_at IS NOT NULL)))
);

ALTER TABLE ONLY public.aef_executions REPLICA IDENTITY FULL;


ALTER TABLE public.aef_executions OWNER TO postgres;

--
-- Name: TABLE aef_executions; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.aef_executions IS 'One run of an SOP. Status: idle -> running | cancelled; running -> paused | completed | error | cancelled; paused -> running | cancelled | error. completed, error and cancelled are final.';


--
-- Name: COLUMN aef_executions.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.id IS 'Execution id.';


--
-- Name: COLUMN aef_executions.sop_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.sop_id IS 'The SOP being run. Required when the execution is created; set to null if the SOP is later deleted, so history survives.';


--
-- Name: COLUMN aef_executions.user_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.user_id IS 'Owner. Defaults to the caller (auth.uid()). Immutable.';


--
-- Name: COLUMN aef_executions.status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.status IS 'Lifecycle state; transitions are checked by the database.';


--
-- Name: COLUMN aef_executions.started_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.started_at IS 'When the execution first ran; maintained by the database.';


--
-- Name: COLUMN aef_executions.completed_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.completed_at IS 'When it reached completed, error or cancelled; maintained by the database.';


--
-- Name: COLUMN aef_executions.current_step_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.current_step_id IS 'The step the execution is at (seed: VARCHAR), up to 256 characters.';


--
-- Name: COLUMN aef_executions.execution_context; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.execution_context IS 'Variables and state, as much as config.context_level keeps (minimal | standard | full). A JSON object of at most 1 MiB.';


--
-- Name: COLUMN aef_executions.browser_session_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.browser_session_id IS 'The browser session used, of the same owner; null when none.';


--
-- Name: COLUMN aef_executions.config; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.config IS 'Run configuration, a JSON object of at most 64 KiB. config.context_level, if set, is minimal, standard or full.';


--
-- Name: COLUMN aef_executions.created_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.created_at IS 'When the execution was created.';


--
-- Name: COLUMN aef_executions.updated_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_executions.updated_at IS 'When the row last changed; maintained by the database.';


--
-- Name: change_execution(uuid, public.execution_status, text, text, public.execution_status[]); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.change_execution(target uuid, to_status public.execution_status, action text, fn text, from_statuses public.execution_status[]) RETURNS public.aef_executions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  subject pg_catalog.uuid := auth.uid();
  engine pg_catalog.bool := subject is null and aef_private.caller_is_engine();
  execution public.aef_executions;
  from_status public.execution_status;
begin
  select * into execution from public.aef_executions e
   where e.id = target and (engine or e.user_id = subject)
     for update;
  if not found then
    raise exception using errcode = 'P0002', message = format('%s: no execution %s that you own', fn, target);
  end if;
  from_status := execution.status;
  if from_status = to_status then
    raise exception using errcode = 'AE001', message = format('%s: execution %s is already %s', fn, target, to_status);
  end if;
  -- narrower than the state machine: resume only what was paused, pause only what runs
  if from_status <> all(from_statuses) then
    raise exception using errcode = 'AE001',
      message = format('%s: execution %s is %s; it acts on %s executions only', fn, target, from_status,
                       array_to_string(from_statuses, ' or '));
  end if;
  -- the status guard rejects illegal transitions (AE001)
  update public.aef_executions e set status = to_status where e.id = target returning * into execution;
  insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
  values (target, execution.current_step_id, 'user_input',
          jsonb_build_object('action', action, 'from', from_status, 'to', to_status, 'by', subject));
  return execution;
end
$$;


ALTER FUNCTION aef_private.change_execution(target uuid, to_status public.execution_status, action text, fn text, from_statuses public.execution_status[]) OWNER TO postgres;

--
-- Name: FUNCTION change_execution(target uuid, to_status public.execution_status, action text, fn text, from_statuses public.execution_status[]); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.change_execution(target uuid, to_status public.execution_status, action text, fn text, from_statuses public.execution_status[]) IS 'The body of the pause, resume and cancel functions: one owner-scoped lookup, the transition, and a user_input event.';


--
-- Name: checkpoints_before_insert(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.checkpoints_before_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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


ALTER FUNCTION aef_private.checkpoints_before_insert() OWNER TO postgres;

--
-- Name: FUNCTION checkpoints_before_insert(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.checkpoints_before_insert() IS 'Guard: a checkpoint is created pending, with its execution''s owner, on an execution that is not final, with a future timeout.';


--
-- Name: checkpoints_before_update(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.checkpoints_before_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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


ALTER FUNCTION aef_private.checkpoints_before_update() OWNER TO postgres;

--
-- Name: FUNCTION checkpoints_before_update(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.checkpoints_before_update() IS 'Guard: a checkpoint resolves once (AE002), times out only after timeout_at, keeps its question (AE004); the database sets resolved_at and resolved_by.';


--
-- Name: execution_transition_allowed(public.execution_status, public.execution_status); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.execution_transition_allowed(from_status public.execution_status, to_status public.execution_status) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select (from_status, to_status) in (
    ('idle', 'running'), ('idle', 'cancelled'),
    ('running', 'paused'), ('running', 'completed'), ('running', 'error'), ('running', 'cancelled'),
    ('paused', 'running'), ('paused', 'cancelled'), ('paused', 'error')
  )
$$;


ALTER FUNCTION aef_private.execution_transition_allowed(from_status public.execution_status, to_status public.execution_status) OWNER TO postgres;

--
-- Name: FUNCTION execution_transition_allowed(from_status public.execution_status, to_status public.execution_status); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.execution_transition_allowed(from_status public.execution_status, to_status public.execution_status) IS 'The execution state machine: whether from_status -> to_status is allowed.';


--
-- Name: executions_before_insert(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.executions_before_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if new.sop_id is null then
    raise exception using errcode = '23502',
      message = 'aef_executions.sop_id is required: an execution runs an SOP';
  end if;
  if new.status not in ('idle', 'running') then
    raise exception using errcode = 'AE001',
      message = format('aef_executions: an execution is created idle or running, not %s', new.status);
  end if;
  -- the database keeps these
  new.started_at := case when new.status = 'running' then now() end;
  new.completed_at := null;
  new.updated_at := now();
  if new.browser_session_id is not null then
    perform aef_private.assert_session_owner(new.browser_session_id, new.user_id);
  end if;
  return new;
end
$$;


ALTER FUNCTION aef_private.executions_before_insert() OWNER TO postgres;

--
-- Name: FUNCTION executions_before_insert(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.executions_before_insert() IS 'Guard: an execution is created idle or running, with an SOP; the database sets its timestamps and checks its session''s owner.';


--
-- Name: executions_before_update(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.executions_before_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if new.id <> old.id or new.user_id <> old.user_id or new.created_at <> old.created_at
     or (new.sop_id is distinct from old.sop_id and new.sop_id is not null) then
    raise exception using errcode = 'AE004',
      message = format('aef_executions: id, user_id, sop_id and created_at cannot change (execution %s)', old.id);
  end if;

  if new.status <> old.status then
    if not aef_private.execution_transition_allowed(old.status, new.status) then
      raise exception using errcode = 'AE001',
        message = format('aef_executions: illegal status transition %s -> %s (execution %s)', old.status, new.status, old.id),
        hint = 'Allowed: idle -> running|cancelled; running -> paused|completed|error|cancelled; '
               'paused -> running|cancelled|error. completed, error and cancelled are final.';
    end if;
    new.started_at := case when new.status = 'running' then coalesce(old.started_at, now()) else old.started_at end;
    new.completed_at := case when new.status in ('completed', 'error', 'cancelled') then now() end;
  else
    -- a final execution is frozen; only a key rotation may re-seal its secrets
    if old.status in ('completed', 'error', 'cancelled')
       and (new.current_step_id, aef_private.without_sealed(new.execution_context), aef_private.without_sealed(new.config))
           is distinct from
           (old.current_step_id, aef_private.without_sealed(old.execution_context), aef_private.without_sealed(old.config)) then
      raise exception using errcode = 'AE001',
        message = format('aef_executions: execution %s is %s, which is final; it cannot change', old.id, old.status);
    end if;
    new.started_at := old.started_at;
    new.completed_at := old.completed_at;
  end if;

  if new.browser_session_id is distinct from old.browser_session_id and new.browser_session_id is not null then
    perform aef_private.assert_session_owner(new.browser_session_id, new.user_id);
  end if;
  new.updated_at := now();
  return new;
end
$$;


ALTER FUNCTION aef_private.executions_before_update() OWNER TO postgres;

--
-- Name: FUNCTION executions_before_update(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.executions_before_update() IS 'Guard: the status machine (AE001), immutable columns (AE004), frozen final rows (a key rotation may re-seal), maintained timestamps.';


--
-- Name: executions_close_checkpoints(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.executions_close_checkpoints() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  with closed as (
    update public.aef_checkpoints c set status = 'skipped'
     where c.execution_id = new.id and c.status = 'pending'
    returning c.id, c.step_id
  )
  insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
  select new.id, closed.step_id, 'decision_made',
         jsonb_build_object('decision', 'skipped', 'checkpoint_id', closed.id, 'reason', 'execution ' || new.status)
    from closed;
  return null;
end
$$;


ALTER FUNCTION aef_private.executions_close_checkpoints() OWNER TO postgres;

--
-- Name: FUNCTION executions_close_checkpoints(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.executions_close_checkpoints() IS 'When an execution becomes final: its pending checkpoint closes as skipped, and a decision_made event is logged.';


--
-- Name: log_hash(uuid, bigint, text, public.log_event_type, timestamp with time zone, jsonb, jsonb, bytea); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.log_hash(execution_id uuid, seq bigint, step_id text, event_type public.log_event_type, ts timestamp with time zone, data jsonb, browser_state jsonb, prev_hash bytea) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  -- format() is the cheapest way to join the fields (measured against concat and ||)
  select sha256(convert_to(
    format(E'aef-log-v1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n',
           execution_id, seq, coalesce(to_jsonb(step_id)::pg_catalog.text, 'null'), event_type,
           (extract(epoch from ts) * 1000000)::pg_catalog.int8, data, coalesce(browser_state::pg_catalog.text, 'null'),
           coalesce(encode(prev_hash, 'hex'), repeat('0', 64))),
    'UTF8'))
$$;


ALTER FUNCTION aef_private.log_hash(execution_id uuid, seq bigint, step_id text, event_type public.log_event_type, ts timestamp with time zone, data jsonb, browser_state jsonb, prev_hash bytea) OWNER TO postgres;

--
-- Name: FUNCTION log_hash(execution_id uuid, seq bigint, step_id text, event_type public.log_event_type, ts timestamp with time zone, data jsonb, browser_state jsonb, prev_hash bytea); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.log_hash(execution_id uuid, seq bigint, step_id text, event_type public.log_event_type, ts timestamp with time zone, data jsonb, browser_state jsonb, prev_hash bytea) IS 'sha256 of an event''s canonical encoding, version aef-log-v1 (docs/audit.md): the bytes its hash covers.';


--
-- Name: logs_append_only(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.logs_append_only() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if tg_op = 'DELETE' and exists (
       select 1 from aef_audit.log_tombstones t
        where t.execution_id = old.execution_id and t.last_seq >= old.seq and t.xact = pg_current_xact_id()) then
    return old;
  end if;
  raise exception using errcode = 'AE005',
    message = format('aef_execution_logs is append-only: %s is not allowed', lower(tg_op)),
    hint = 'The log is the audit trail; no role may change or remove its rows. Archive it with aef_audit.archive_execution_logs.';
end
$$;


ALTER FUNCTION aef_private.logs_append_only() OWNER TO postgres;

--
-- Name: FUNCTION logs_append_only(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.logs_append_only() IS 'Refuses UPDATE, DELETE and TRUNCATE on the log (AE005), except the deletes of a log archived by the same transaction.';


--
-- Name: logs_fill(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.logs_fill() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_seqscan TO 'off'
    AS $$
declare
  cursor_parts pg_catalog.text[] := pg_catalog.string_to_array(pg_catalog.current_setting('aef.log_cursor', true), '|');
  id pg_catalog.text := new.execution_id::pg_catalog.text;
  slot pg_catalog.text;
  cache pg_catalog.text;
  at pg_catalog.int4;
  owner pg_catalog.uuid;
  last_seq pg_catalog.int8;
  last_hash pg_catalog.bytea;
  ignored pg_catalog.text;
begin
  if cursor_parts[1] is distinct from id then
    if cursor_parts[1] is not null then  -- park the cursor's execution in its slot
      slot := 'aef.log_cursor_' || (pg_catalog.hashtext(cursor_parts[1]) & 255);
      cache := pg_catalog.current_setting(slot, true);
      at := pg_catalog.strpos(cache, cursor_parts[1]);
      if at > 0 then
        cache := overlay(cache placing pg_catalog.array_to_string(cursor_parts, '|')
                         from at for pg_catalog.strpos(pg_catalog.substr(cache, at), ';') - 1);
      else
        if coalesce(cache, '') = '' then
          ignored := pg_catalog.set_config('aef.log_slots',
                                           pg_catalog.concat(pg_catalog.current_setting('aef.log_slots', true), slot, ','), true);
        end if;
        cache := pg_catalog.concat(pg_catalog.array_to_string(cursor_parts, '|'), ';',
                                   pg_catalog.array_to_string((pg_catalog.string_to_array(cache, ';'))[1:3], ';'));
      end if;
      ignored := pg_catalog.set_config(slot, cache, true);
    end if;
    cache := pg_catalog.current_setting('aef.log_cursor_' || (pg_catalog.hashtext(id) & 255), true);
    at := pg_catalog.strpos(cache, id);
    cursor_parts := case when at > 0
                         then pg_catalog.string_to_array(pg_catalog.split_part(pg_catalog.substr(cache, at), ';', 1), '|') end;
  end if;
  if cursor_parts[1] = id and (new.seq is null or new.seq = cursor_parts[3]::pg_catalog.int8 + 1) then
    owner := cursor_parts[2]::pg_catalog.uuid;
    last_seq := cursor_parts[3]::pg_catalog.int8;
    last_hash := pg_catalog.decode(cursor_parts[4], 'hex');
  else
    -- One filling writer per execution at a time, until the transaction ends: a
    -- row lock on the execution. No API role can take it (locking rows needs
    -- UPDATE on the table), where an advisory lock's key is open to anyone, and
    -- row locks take no slot in the lock table, so one statement may touch any
    -- number of executions. The last event is read after the lock is held, by a
    -- query of its own: a join locked in one statement would re-check only the
    -- locked row after a wait and keep a stale last seq.
    select e.user_id into owner from public.aef_executions e where e.id = new.execution_id for no key update;
    if not found then
      raise exception using errcode = '23503',
        message = format('aef_execution_logs.execution_id: execution %s does not exist', new.execution_id);
    end if;
    -- Two queries, not one with "(new.seq is null or l.seq < new.seq)": a generic
    -- plan of that one costs more than a custom one, so PL/pgSQL planned it again
    -- at every lookup (about 20 us each).
    if new.seq is null then
      select l.seq, l.hash into last_seq, last_hash
        from public.aef_execution_logs l
       where l.execution_id = new.execution_id
       order by l.seq desc
       limit 1;
    else
      select l.seq, l.hash into last_seq, last_hash
        from public.aef_execution_logs l
       where l.execution_id = new.execution_id and l.seq < new.seq
       order by l.seq desc
       limit 1;
    end if;
    last_seq := coalesce(last_seq, 0);
  end if;
  new.user_id := coalesce(new.user_id, owner);
  new.seq := coalesce(new.seq, last_seq + 1);
  if new.hash is null then
    new.prev_hash := coalesce(new.prev_hash, last_hash);
    new.hash := sha256(convert_to(
      format(E'aef-log-v1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n',
             new.execution_id, new.seq, coalesce(to_jsonb(new.step_id::pg_catalog.text)::pg_catalog.text, 'null'), new.event_type,
             (extract(epoch from new."timestamp") * 1000000)::pg_catalog.int8, new.data, coalesce(new.browser_state::pg_catalog.text, 'null'),
             coalesce(encode(new.prev_hash, 'hex'), repeat('0', 64))),
      'UTF8'));
  end if;
  -- an assignment, not PERFORM: it takes PL/pgSQL's fast path instead of a query per row
  ignored := pg_catalog.set_config('aef.log_cursor', pg_catalog.concat_ws('|', id, owner, new.seq, pg_catalog.encode(new.hash, 'hex')), true);
  return new;
end
$$;


ALTER FUNCTION aef_private.logs_fill() OWNER TO postgres;

--
-- Name: FUNCTION logs_fill(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.logs_fill() IS 'The fill path, row by row: seq, owner, prev_hash and hash for a writer that names only the seed''s columns; serializes per execution on its row lock.';


--
-- Name: logs_verify_batch(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.logs_verify_batch() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_seqscan TO 'off'
    AS $$
declare
  bad pg_catalog.record;
  ignored pg_catalog.text;
  slot pg_catalog.text;
  interleaved pg_catalog.bool;
  work_mem_before pg_catalog.text;
begin
  -- the fill's cursor and slots (assignments: no query per statement)
  ignored := pg_catalog.set_config('aef.log_cursor', '', true);
  ignored := pg_catalog.current_setting('aef.log_slots', true);
  if ignored <> '' then
    foreach slot in array pg_catalog.string_to_array(pg_catalog.rtrim(ignored, ','), ',') loop
      ignored := pg_catalog.set_config(slot, '', true);
    end loop;
    ignored := pg_catalog.set_config('aef.log_slots', '', true);
  end if;

  -- One row that continues its chain's head: checked and moved in one statement.
  update aef_audit.log_heads h
     set last_seq = i.seq, last_hash = i.hash, updated_at = pg_catalog.now()
    from (select i.execution_id, i.seq, i.user_id, i.prev_hash, i.hash, pg_catalog.count(*) over () as n
            from (select execution_id, seq, user_id, prev_hash, hash from inserted limit 2) i) i
    join public.aef_executions e on e.id = i.execution_id
   where i.n = 1 and h.execution_id = i.execution_id and h.last_seq = i.seq - 1 and h.last_hash = i.prev_hash
     and e.user_id = i.user_id;
  if found then
    return null;
  end if;
  work_mem_before := pg_catalog.current_setting('work_mem');
  ignored := pg_catalog.set_config('work_mem', '64MB', true);

  -- Every hash matches its event (the check constraint saw to that, row by row).
  -- Here, one query over the batch. A row whose predecessor came just before it
  -- must carry that row's owner and hash; every other row starts a run and is
  -- checked against its execution and the stored event before it, by index
  -- probes in the executor (no PL/pgSQL per row). Writers that send each
  -- execution's events together (the store sorts its batches) are read in the
  -- order they came: one run start per execution per batch, no sort. A batch
  -- whose first 64 rows switch execution more than 16 times is read sorted by
  -- execution and seq instead: the sort (about 1 us per row) spares the two
  -- probes per row an interleaved order would cost (about 4 us). Either order
  -- checks the same links; only the number of runs differs.
  select pg_catalog.count(*) filter (where s.execution_id is distinct from s.before) > 16 into interleaved
    from (select f.execution_id, pg_catalog.lag(f.execution_id) over () as before
            from (select execution_id from inserted limit 64) f) s;
  select n.execution_id, n.seq, n.user_id, n.follows, e.user_id as owner, p.seq as before_seq,
         n.seq = 1 and exists (select 1 from aef_audit.log_tombstones t where t.execution_id = n.execution_id) as archived
    into bad
    from (select n0.* from (select x.execution_id, x.seq, x.user_id, x.prev_hash, x.before_user, x.before_hash,
                 x.before_execution is not distinct from x.execution_id and x.before_seq = x.seq - 1 as follows
            from (select i.execution_id, i.seq, i.user_id, i.prev_hash,
                         lag(i.execution_id) over w as before_execution, lag(i.seq) over w as before_seq,
                         lag(i.hash) over w as before_hash, lag(i.user_id) over w as before_user
                    from (select execution_id, seq, user_id, prev_hash, hash from inserted offset 0) i
                  window w as (order by case when interleaved then i.execution_id end, case when interleaved then i.seq end)) x) n0
           where not n0.follows or n0.user_id <> n0.before_user or n0.prev_hash is distinct from n0.before_hash) n
    left join public.aef_executions e on not n.follows and e.id = n.execution_id
    left join public.aef_execution_logs p on not n.follows and n.seq > 1 and p.execution_id = n.execution_id and p.seq = n.seq - 1
   where n.follows  -- a broken link inside a run (the only in-run rows left)
      or (not n.follows and (e.user_id is distinct from n.user_id
                             or (n.seq > 1 and p.seq is null)
                             or n.prev_hash is distinct from p.hash
                             or (n.seq = 1 and exists (select 1 from aef_audit.log_tombstones t where t.execution_id = n.execution_id))))
   limit 1;
  if found then
    if bad.follows then  -- inside a run: the owner is the run's, or the link is broken
      select e.user_id into bad.owner from public.aef_executions e where e.id = bad.execution_id;
    end if;
    if bad.owner is distinct from bad.user_id then
      raise exception using errcode = 'AE006',
        message = format('aef_execution_logs.user_id must be the owner of execution %s, not %s', bad.execution_id, bad.user_id);
    end if;
    if bad.archived then  -- an archived log is closed: a chain could only start again at seq 1
      raise exception using errcode = 'AE010',
        message = format('aef_execution_logs: the log of execution %s was archived; it takes no new events', bad.execution_id);
    end if;
    if not bad.follows and bad.seq > 1 and bad.before_seq is null then
      raise exception using errcode = 'AE007',
        message = format('aef_execution_logs.seq must continue execution %s without gaps: got %s after a missing event',
                         bad.execution_id, bad.seq),
        hint = 'Leave seq null to have the database assign it.';
    end if;
    raise exception using errcode = 'AE009',
      message = format('aef_execution_logs.prev_hash does not continue the audit chain of execution %s at seq %s', bad.execution_id, bad.seq),
      hint = 'Leave prev_hash and hash null to have the database compute them (docs/audit.md).';
  end if;

  insert into aef_audit.log_heads as h (execution_id, last_seq, last_hash, updated_at)
  select i.execution_id, i.seq, i.hash, now()
    from inserted i
    join (select execution_id, max(seq) as last_seq from inserted group by execution_id) g
      on g.execution_id = i.execution_id and g.last_seq = i.seq
  on conflict (execution_id) do update
     set last_seq = excluded.last_seq, last_hash = excluded.last_hash, updated_at = excluded.updated_at
   where h.last_seq < excluded.last_seq;
  ignored := pg_catalog.set_config('work_mem', work_mem_before, true);  -- an error rolls it back instead
  return null;
end
$$;


ALTER FUNCTION aef_private.logs_verify_batch() OWNER TO postgres;

--
-- Name: FUNCTION logs_verify_batch(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.logs_verify_batch() IS 'The statement check: owners, gapless seqs and chain links of every inserted row, no new chain after a tombstone, then one head update per execution.';


--
-- Name: session_transition_allowed(public.browser_session_status, public.browser_session_status); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.session_transition_allowed(from_status public.browser_session_status, to_status public.browser_session_status) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select (from_status, to_status) in (
    ('active', 'idle'), ('idle', 'active'),
    ('active', 'terminated'), ('active', 'error'), ('idle', 'terminated'), ('idle', 'error')
  )
$$;


ALTER FUNCTION aef_private.session_transition_allowed(from_status public.browser_session_status, to_status public.browser_session_status) OWNER TO postgres;

--
-- Name: FUNCTION session_transition_allowed(from_status public.browser_session_status, to_status public.browser_session_status); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.session_transition_allowed(from_status public.browser_session_status, to_status public.browser_session_status) IS 'The browser session state machine: whether from_status -> to_status is allowed.';


--
-- Name: sessions_before_insert(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.sessions_before_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
  if new.status not in ('active', 'idle') then
    raise exception using errcode = 'AE003',
      message = format('aef_browser_sessions: a session is created active or idle, not %s', new.status);
  end if;
  if new.lease_execution_id is not null then
    raise exception using errcode = 'AE003',
      message = format('aef_browser_sessions: session %s is created without a lease', new.id),
      hint = 'Insert the session, then lease it with an update.';
  end if;
  new.ended_at := null;
  new.updated_at := now();
  return new;
end
$$;


ALTER FUNCTION aef_private.sessions_before_insert() OWNER TO postgres;

--
-- Name: FUNCTION sessions_before_insert(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.sessions_before_insert() IS 'Guard: a session is created active or idle and free (a lease is taken by an update).';


--
-- Name: sessions_before_update(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.sessions_before_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  holder public.aef_executions;
begin
  if (new.id, new.user_id, new.created_at, new.mode) is distinct from (old.id, old.user_id, old.created_at, old.mode) then
    raise exception using errcode = 'AE004',
      message = format('aef_browser_sessions: id, user_id, mode and created_at cannot change (session %s)', old.id);
  end if;

  if new.status <> old.status then
    if not aef_private.session_transition_allowed(old.status, new.status) then
      raise exception using errcode = 'AE003',
        message = format('aef_browser_sessions: illegal status transition %s -> %s (session %s)', old.status, new.status, old.id),
        hint = 'Allowed: active <-> idle; active|idle -> terminated|error. terminated and error are final.';
    end if;
    if new.status in ('terminated', 'error') then
      -- an ended session holds no lease
      new.ended_at := now();
      new.lease_execution_id := null;
      new.lease_holder := null;
      new.lease_expires_at := null;
    end if;
  elsif old.status in ('terminated', 'error')
        and (aef_private.without_sealed(new.session_data), new.lease_execution_id, new.last_active)
            is distinct from (aef_private.without_sealed(old.session_data), old.lease_execution_id, old.last_active) then
    raise exception using errcode = 'AE003',
      message = format('aef_browser_sessions: session %s is %s, which is final; it cannot change', old.id, old.status);
  else
    new.ended_at := old.ended_at;
  end if;

  if new.lease_execution_id is not null and new.lease_execution_id is distinct from old.lease_execution_id then
    if old.lease_execution_id is not null and old.lease_expires_at > now() then
      raise exception using errcode = 'AE003',
        message = format('aef_browser_sessions: session %s is leased to execution %s until %s',
                         old.id, old.lease_execution_id, old.lease_expires_at),
        hint = 'Release the lease, or wait until it expires, before leasing the session again.';
    end if;
    select * into holder from public.aef_executions e where e.id = new.lease_execution_id;
    if not found then
      raise exception using errcode = '23503',
        message = format('aef_browser_sessions.lease: execution %s does not exist', new.lease_execution_id);
    end if;
    if holder.user_id <> new.user_id then
      raise exception using errcode = 'AE006',
        message = format('aef_browser_sessions: session %s cannot be leased to execution %s of another user', new.id, holder.id);
    end if;
    if holder.status in ('completed', 'error', 'cancelled') then
      raise exception using errcode = 'AE003',
        message = format('aef_browser_sessions: session %s cannot be leased to execution %s, which is %s', new.id, holder.id, holder.status);
    end if;
    -- a lease binds the execution to its session, whoever takes it
    if holder.browser_session_id is distinct from new.id then
      update public.aef_executions e set browser_session_id = new.id where e.id = holder.id;
    end if;
  end if;
  new.last_active := greatest(old.last_active, new.last_active);
  new.updated_at := now();
  return new;
end
$$;


ALTER FUNCTION aef_private.sessions_before_update() OWNER TO postgres;

--
-- Name: FUNCTION sessions_before_update(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.sessions_before_update() IS 'Guard: the status machine (AE003), immutable columns (AE004), leases (not taken over before expiry, same owner, live execution) and binding the execution to its session.';


--
-- Name: uid(); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.uid() RETURNS uuid
    LANGUAGE sql STABLE
    AS $_$
  select case
    when coalesce(nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                  nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.jsonb
                    operator(pg_catalog.->>) 'sub')
         operator(pg_catalog.~) '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'
    then auth.uid()
  end
$_$;


ALTER FUNCTION aef_private.uid() OWNER TO postgres;

--
-- Name: FUNCTION uid(); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.uid() IS 'auth.uid(), or null when the JWT subject is not a UUID (where auth.uid() raises). The read policies call it, so no subscriber''s claims make Supabase Realtime''s check raise.';


--
-- Name: without_sealed(jsonb); Type: FUNCTION; Schema: aef_private; Owner: postgres
--

CREATE FUNCTION aef_private.without_sealed(doc jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
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


ALTER FUNCTION aef_private.without_sealed(doc jsonb) OWNER TO postgres;

--
-- Name: FUNCTION without_sealed(doc jsonb); Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON FUNCTION aef_private.without_sealed(doc jsonb) IS 'The document with every sealed secret token masked: equal before and after a key rotation.';


--
-- Name: aef_cancel_execution(uuid); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.aef_cancel_execution(execution_id uuid) RETURNS public.aef_executions
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select aef_private.change_execution(execution_id, 'cancelled', 'cancel', 'aef_cancel_execution',
                                      array['idle', 'running', 'paused']::public.execution_status[])
$$;


ALTER FUNCTION public.aef_cancel_execution(execution_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION aef_cancel_execution(execution_id uuid); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.aef_cancel_execution(execution_id uuid) IS 'Cancel an idle, running or paused execution you own. Returns the updated row and logs a user_input event.';


--
-- Name: aef_expire_checkpoints(integer); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.aef_expire_checkpoints(max_rows integer DEFAULT 1000) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  due public.aef_checkpoints;
  expired pg_catalog.int4 := 0;
begin
  if max_rows is null or max_rows < 1 then
    raise exception using errcode = '22023', message = 'aef_expire_checkpoints: max_rows must be at least 1';
  end if;
  for due in
    select * from public.aef_checkpoints c
     where c.status = 'pending' and c.timeout_at <= now()
     order by c.timeout_at
     limit max_rows
       for update skip locked
  loop
    update public.aef_checkpoints c set status = 'timeout' where c.id = due.id;
    insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
    values (due.execution_id, due.step_id, 'decision_made',
            jsonb_build_object('decision', 'timeout', 'checkpoint_id', due.id, 'policy', due.timeout_policy));
    if due.timeout_policy = 'fail_execution' then
      update public.aef_executions e set status = 'error'
       where e.id = due.execution_id and e.status in ('running', 'paused');
    elsif due.timeout_policy = 'cancel_execution' then
      update public.aef_executions e set status = 'cancelled'
       where e.id = due.execution_id and e.status in ('idle', 'running', 'paused');
    end if;
    expired := expired + 1;
  end loop;
  return expired;
end
$$;


ALTER FUNCTION public.aef_expire_checkpoints(max_rows integer) OWNER TO postgres;

--
-- Name: FUNCTION aef_expire_checkpoints(max_rows integer); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.aef_expire_checkpoints(max_rows integer) IS 'Time out pending checkpoints whose timeout_at has passed (at most max_rows, skipping locked ones) and apply each one''s timeout_policy. Returns how many expired. For the engine and pg_cron.';


--
-- Name: aef_pause_execution(uuid); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.aef_pause_execution(execution_id uuid) RETURNS public.aef_executions
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select aef_private.change_execution(execution_id, 'paused', 'pause', 'aef_pause_execution',
                                      array['running']::public.execution_status[])
$$;


ALTER FUNCTION public.aef_pause_execution(execution_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION aef_pause_execution(execution_id uuid); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.aef_pause_execution(execution_id uuid) IS 'Pause a running execution you own. Returns the updated row and logs a user_input event.';


--
-- Name: aef_checkpoints; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.aef_checkpoints (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    execution_id uuid NOT NULL,
    step_id character varying(256),
    checkpoint_type public.checkpoint_type NOT NULL,
    status public.checkpoint_status DEFAULT 'pending'::public.checkpoint_status NOT NULL,
    user_response jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    resolved_at timestamp with time zone,
    user_id uuid NOT NULL,
    request jsonb DEFAULT '{}'::jsonb NOT NULL,
    timeout_at timestamp with time zone,
    timeout_policy text DEFAULT 'fail_execution'::text NOT NULL,
    resolved_by uuid,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT aef_checkpoints_no_response_while_pending CHECK (((status <> 'pending'::public.checkpoint_status) OR (user_response IS NULL))),
    CONSTRAINT aef_checkpoints_request_depth CHECK ((NOT (request @? '$.**{65}'::jsonpath))),
    CONSTRAINT aef_checkpoints_request_is_object CHECK ((jsonb_typeof(request) = 'object'::text)),
    CONSTRAINT aef_checkpoints_request_size CHECK ((pg_column_size((request #> '{}'::text[])) <= 65536)),
    CONSTRAINT aef_checkpoints_resolved_when_not_pending CHECK (((status = 'pending'::public.checkpoint_status) = (resolved_at IS NULL))),
    CONSTRAINT aef_checkpoints_step_id_not_blank CHECK (((step_id)::text <> ''::text)),
    CONSTRAINT aef_checkpoints_timeout_after_creation CHECK ((timeout_at > created_at)),
    CONSTRAINT aef_checkpoints_timeout_policy_known CHECK ((timeout_policy = ANY (ARRAY['fail_execution'::text, 'cancel_execution'::text, 'skip'::text]))),
    CONSTRAINT aef_checkpoints_times_finite CHECK ((isfinite(created_at) AND isfinite(timeout_at))),
    CONSTRAINT aef_checkpoints_user_response_depth CHECK ((NOT (user_response @? '$.**{65}'::jsonpath))),
    CONSTRAINT aef_checkpoints_user_response_size CHECK ((pg_column_size((user_response #> '{}'::text[])) <= 65536))
);

ALTER TABLE ONLY public.aef_checkpoints REPLICA IDENTITY FULL;


ALTER TABLE public.aef_checkpoints OWNER TO postgres;

--
-- Name: TABLE aef_checkpoints; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.aef_checkpoints IS 'Human checkpoints. pending -> exactly one of approved, rejected, skipped, timeout, once. At most one pending checkpoint per execution.';


--
-- Name: COLUMN aef_checkpoints.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.id IS 'Checkpoint id.';


--
-- Name: COLUMN aef_checkpoints.execution_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.execution_id IS 'The execution waiting for the answer.';


--
-- Name: COLUMN aef_checkpoints.step_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.step_id IS 'The step the checkpoint guards (seed: VARCHAR), up to 256 characters.';


--
-- Name: COLUMN aef_checkpoints.checkpoint_type; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.checkpoint_type IS 'Why the execution asks a human.';


--
-- Name: COLUMN aef_checkpoints.status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.status IS 'pending until resolved, once.';


--
-- Name: COLUMN aef_checkpoints.user_response; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.user_response IS 'The human''s answer (any JSON, at most 64 KiB); null while pending.';


--
-- Name: COLUMN aef_checkpoints.created_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.created_at IS 'When the checkpoint was raised.';


--
-- Name: COLUMN aef_checkpoints.resolved_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.resolved_at IS 'When it was resolved; maintained by the database.';


--
-- Name: COLUMN aef_checkpoints.user_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.user_id IS 'The execution''s owner, copied by the database. Immutable.';


--
-- Name: COLUMN aef_checkpoints.request; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.request IS 'What the human is asked (message, fields, screenshot reference): a JSON object of at most 64 KiB.';


--
-- Name: COLUMN aef_checkpoints.timeout_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.timeout_at IS 'When the checkpoint times out, or null for never. Must be in the future when set.';


--
-- Name: COLUMN aef_checkpoints.timeout_policy; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.timeout_policy IS 'What a timeout does to the execution: fail_execution (-> error), cancel_execution (-> cancelled) or skip (the execution goes on).';


--
-- Name: COLUMN aef_checkpoints.resolved_by; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.resolved_by IS 'Who resolved it (auth.uid()), or null for the engine or the timeout sweeper.';


--
-- Name: COLUMN aef_checkpoints.updated_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_checkpoints.updated_at IS 'When the row last changed; maintained by the database.';


--
-- Name: aef_resolve_checkpoint(uuid, public.checkpoint_status, jsonb); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.aef_resolve_checkpoint(checkpoint_id uuid, decision public.checkpoint_status, response jsonb DEFAULT NULL::jsonb) RETURNS public.aef_checkpoints
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
  subject pg_catalog.uuid := auth.uid();
  engine pg_catalog.bool := subject is null and aef_private.caller_is_engine();
  checkpoint public.aef_checkpoints;
  execution_status public.execution_status;
begin
  if decision is null or decision not in ('approved', 'rejected', 'skipped') then
    raise exception using errcode = '22023',
      message = format('aef_resolve_checkpoint: decision must be approved, rejected or skipped, not %s', coalesce(decision::pg_catalog.text, 'null')),
      hint = 'timeout is set by the timeout sweeper, not by a person.';
  end if;
  select * into checkpoint from public.aef_checkpoints c
   where c.id = checkpoint_id and (engine or c.user_id = subject)
     for update;
  if not found then
    raise exception using errcode = 'P0002',
      message = format('aef_resolve_checkpoint: no checkpoint %s that you own', checkpoint_id);
  end if;
  if checkpoint.status <> 'pending' then
    raise exception using errcode = 'AE002',
      message = format('aef_resolve_checkpoint: checkpoint %s is already resolved as %s', checkpoint_id, checkpoint.status);
  end if;
  -- a final execution closes its checkpoints; this refuses what slipped past that
  select e.status into execution_status from public.aef_executions e where e.id = checkpoint.execution_id;
  if execution_status in ('completed', 'error', 'cancelled') then
    raise exception using errcode = 'AE002',
      message = format('aef_resolve_checkpoint: execution %s is %s, which is final; its checkpoints take no answer',
                       checkpoint.execution_id, execution_status);
  end if;
  update public.aef_checkpoints c
     set status = decision, user_response = response, resolved_by = subject
   where c.id = checkpoint_id
  returning * into checkpoint;
  insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
  values (checkpoint.execution_id, checkpoint.step_id, 'user_input',
          jsonb_build_object('action', 'resolve_checkpoint', 'checkpoint_id', checkpoint_id,
                             'decision', decision, 'by', subject));
  return checkpoint;
end
$$;


ALTER FUNCTION public.aef_resolve_checkpoint(checkpoint_id uuid, decision public.checkpoint_status, response jsonb) OWNER TO postgres;

--
-- Name: FUNCTION aef_resolve_checkpoint(checkpoint_id uuid, decision public.checkpoint_status, response jsonb); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.aef_resolve_checkpoint(checkpoint_id uuid, decision public.checkpoint_status, response jsonb) IS 'Resolve a pending checkpoint you own as approved, rejected or skipped, once. Returns the updated row and logs a user_input event.';


--
-- Name: aef_resume_execution(uuid); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.aef_resume_execution(execution_id uuid) RETURNS public.aef_executions
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  select aef_private.change_execution(execution_id, 'running', 'resume', 'aef_resume_execution',
                                      array['paused']::public.execution_status[])
$$;


ALTER FUNCTION public.aef_resume_execution(execution_id uuid) OWNER TO postgres;

--
-- Name: FUNCTION aef_resume_execution(execution_id uuid); Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON FUNCTION public.aef_resume_execution(execution_id uuid) IS 'Resume a paused execution you own. Returns the updated row and logs a user_input event.';


--
-- Name: log_heads; Type: TABLE; Schema: aef_audit; Owner: postgres
--

CREATE TABLE aef_audit.log_heads (
    execution_id uuid NOT NULL,
    last_seq bigint NOT NULL,
    last_hash bytea NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT log_heads_last_hash_sha256 CHECK ((octet_length(last_hash) = 32)),
    CONSTRAINT log_heads_last_seq_positive CHECK ((last_seq > 0))
)
WITH (fillfactor='50');


ALTER TABLE aef_audit.log_heads OWNER TO postgres;

--
-- Name: TABLE log_heads; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON TABLE aef_audit.log_heads IS 'Each execution''s chain head: its last seq and hash, moved by the log''s statement check. Compared by aef-db audit verify and recorded by aef-db audit digest.';


--
-- Name: COLUMN log_heads.execution_id; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_heads.execution_id IS 'The execution.';


--
-- Name: COLUMN log_heads.last_seq; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_heads.last_seq IS 'The seq of its last event.';


--
-- Name: COLUMN log_heads.last_hash; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_heads.last_hash IS 'The hash of its last event.';


--
-- Name: COLUMN log_heads.updated_at; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON COLUMN aef_audit.log_heads.updated_at IS 'When the head last moved; aef-db audit verify --since reads it.';


--
-- Name: log_tombstones_id_seq; Type: SEQUENCE; Schema: aef_audit; Owner: postgres
--

ALTER TABLE aef_audit.log_tombstones ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME aef_audit.log_tombstones_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: engine_roles; Type: TABLE; Schema: aef_private; Owner: postgres
--

CREATE TABLE aef_private.engine_roles (
    role_name name NOT NULL
);


ALTER TABLE aef_private.engine_roles OWNER TO postgres;

--
-- Name: TABLE engine_roles; Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON TABLE aef_private.engine_roles IS 'Roles that act as the engine when they call the user functions without a JWT subject. service_role by default.';


--
-- Name: COLUMN engine_roles.role_name; Type: COMMENT; Schema: aef_private; Owner: postgres
--

COMMENT ON COLUMN aef_private.engine_roles.role_name IS 'A role name, as current_setting(''role'') or session_user shows it.';


--
-- Name: aef_browser_sessions; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.aef_browser_sessions (
    id character varying(128) DEFAULT ('bs_'::text || replace((gen_random_uuid())::text, '-'::text, ''::text)) NOT NULL,
    user_id uuid NOT NULL,
    status public.browser_session_status DEFAULT 'active'::public.browser_session_status NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_active timestamp with time zone DEFAULT now() NOT NULL,
    session_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    mode text DEFAULT 'isolated'::text NOT NULL,
    lease_execution_id uuid,
    lease_holder text,
    lease_expires_at timestamp with time zone,
    ended_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT aef_browser_sessions_ended_when_final CHECK (((status = ANY (ARRAY['terminated'::public.browser_session_status, 'error'::public.browser_session_status])) = (ended_at IS NOT NULL))),
    CONSTRAINT aef_browser_sessions_id_format CHECK (((id)::text ~ '^[A-Za-z0-9_.:-]+$'::text)),
    CONSTRAINT aef_browser_sessions_lease_complete CHECK ((((lease_execution_id IS NULL) = (lease_expires_at IS NULL)) AND ((lease_execution_id IS NULL) = (lease_holder IS NULL)))),
    CONSTRAINT aef_browser_sessions_lease_holder_length CHECK (((length(lease_holder) >= 1) AND (length(lease_holder) <= 200))),
    CONSTRAINT aef_browser_sessions_mode_known CHECK ((mode = ANY (ARRAY['isolated'::text, 'persistent'::text, 'pooled'::text]))),
    CONSTRAINT aef_browser_sessions_no_lease_when_ended CHECK (((status <> ALL (ARRAY['terminated'::public.browser_session_status, 'error'::public.browser_session_status])) OR (lease_execution_id IS NULL))),
    CONSTRAINT aef_browser_sessions_session_data_depth CHECK ((NOT (session_data @? '$.**{65}'::jsonpath))),
    CONSTRAINT aef_browser_sessions_session_data_is_object CHECK ((jsonb_typeof(session_data) = 'object'::text)),
    CONSTRAINT aef_browser_sessions_session_data_size CHECK ((pg_column_size((session_data #> '{}'::text[])) <= 262144)),
    CONSTRAINT aef_browser_sessions_times_finite CHECK ((isfinite(created_at) AND isfinite(last_active) AND isfinite(lease_expires_at)))
);


ALTER TABLE public.aef_browser_sessions OWNER TO postgres;

--
-- Name: TABLE aef_browser_sessions; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.aef_browser_sessions IS 'Browser sessions the AEF drives. Modes: isolated (one per execution), persistent (per user), pooled. A lease binds a session to one execution at a time.';


--
-- Name: COLUMN aef_browser_sessions.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.id IS 'Session id (seed: VARCHAR). Letters, digits and _.:- up to 128; default bs_<uuid hex>.';


--
-- Name: COLUMN aef_browser_sessions.user_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.user_id IS 'Owner. A session never serves another user''s execution. Immutable.';


--
-- Name: COLUMN aef_browser_sessions.status; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.status IS 'active <-> idle, then terminated or error (final).';


--
-- Name: COLUMN aef_browser_sessions.created_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.created_at IS 'When the session was created.';


--
-- Name: COLUMN aef_browser_sessions.last_active; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.last_active IS 'Last heartbeat or use; never moves backwards.';


--
-- Name: COLUMN aef_browser_sessions.session_data; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.session_data IS 'Cookies, tokens and other browser state: a JSON object of at most 256 KiB. Withheld from authenticated users (no column privilege).';


--
-- Name: COLUMN aef_browser_sessions.mode; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.mode IS 'isolated | persistent | pooled (the seed''s decision 4). Immutable.';


--
-- Name: COLUMN aef_browser_sessions.lease_execution_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.lease_execution_id IS 'The execution currently holding the session, or null when free.';


--
-- Name: COLUMN aef_browser_sessions.lease_holder; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.lease_holder IS 'The worker holding the lease (free text, 1 to 200 characters).';


--
-- Name: COLUMN aef_browser_sessions.lease_expires_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.lease_expires_at IS 'When an unrenewed lease may be reclaimed.';


--
-- Name: COLUMN aef_browser_sessions.ended_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.ended_at IS 'When the session reached terminated or error; maintained by the database.';


--
-- Name: COLUMN aef_browser_sessions.updated_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_browser_sessions.updated_at IS 'When the row last changed; maintained by the database.';


--
-- Name: aef_execution_logs; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.aef_execution_logs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    execution_id uuid NOT NULL,
    step_id character varying(256),
    event_type public.log_event_type NOT NULL,
    "timestamp" timestamp with time zone DEFAULT now() NOT NULL,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    browser_state jsonb,
    user_id uuid NOT NULL,
    seq bigint NOT NULL,
    prev_hash bytea,
    hash bytea,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT aef_execution_logs_browser_state_depth CHECK ((NOT (browser_state @? '$.**{65}'::jsonpath))),
    CONSTRAINT aef_execution_logs_browser_state_is_object CHECK ((jsonb_typeof(browser_state) = 'object'::text)),
    CONSTRAINT aef_execution_logs_browser_state_size CHECK ((pg_column_size((browser_state #> '{}'::text[])) <= 262144)),
    CONSTRAINT aef_execution_logs_data_depth CHECK ((NOT (data @? '$.**{65}'::jsonpath))),
    CONSTRAINT aef_execution_logs_data_is_object CHECK ((jsonb_typeof(data) = 'object'::text)),
    CONSTRAINT aef_execution_logs_data_size CHECK ((pg_column_size((data #> '{}'::text[])) <= 262144)),
    CONSTRAINT aef_execution_logs_hash_covers_event CHECK (((hash IS NOT NULL) AND (hash = sha256(convert_to(format('aef-log-v1
%s
%s
%s
%s
%s
%s
%s
%s
'::text, execution_id, seq, COALESCE((to_jsonb((step_id)::text))::text, 'null'::text), event_type, ((EXTRACT(epoch FROM "timestamp") * (1000000)::numeric))::bigint, data, COALESCE((browser_state)::text, 'null'::text), COALESCE(encode(prev_hash, 'hex'::text), repeat('0'::text, 64))), 'UTF8'::name))))),
    CONSTRAINT aef_execution_logs_seq_positive CHECK ((seq > 0)),
    CONSTRAINT aef_execution_logs_step_id_not_blank CHECK (((step_id)::text <> ''::text))
);


ALTER TABLE public.aef_execution_logs OWNER TO postgres;

--
-- Name: TABLE aef_execution_logs; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.aef_execution_logs IS 'Step-by-step log of each execution, and its audit trail: append-only for every role. seq numbers each execution''s events 1, 2, 3... without gaps.';


--
-- Name: COLUMN aef_execution_logs.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.id IS 'Event id.';


--
-- Name: COLUMN aef_execution_logs.execution_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.execution_id IS 'The execution this event belongs to.';


--
-- Name: COLUMN aef_execution_logs.step_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.step_id IS 'The SOP step, when the event belongs to one (seed: VARCHAR), up to 256 characters.';


--
-- Name: COLUMN aef_execution_logs.event_type; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.event_type IS 'What happened.';


--
-- Name: COLUMN aef_execution_logs."timestamp"; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs."timestamp" IS 'When it happened, as the writer says; defaults to now().';


--
-- Name: COLUMN aef_execution_logs.data; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.data IS 'Event payload, a JSON object of at most 256 KiB.';


--
-- Name: COLUMN aef_execution_logs.browser_state; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.browser_state IS 'Browser state at the event (URL, title...), a JSON object of at most 256 KiB, or null.';


--
-- Name: COLUMN aef_execution_logs.user_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.user_id IS 'The execution''s owner, copied by the database (or checked, when the writer supplies it) so RLS is an indexed equality.';


--
-- Name: COLUMN aef_execution_logs.seq; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.seq IS 'Position in the execution''s log: 1, 2, 3... without gaps. Assigned by the database, or supplied by a batching writer and checked.';


--
-- Name: COLUMN aef_execution_logs.prev_hash; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.prev_hash IS 'Audit chain: the hash of the execution''s previous event; null for seq 1. Computed by the database, or supplied and checked (AE009).';


--
-- Name: COLUMN aef_execution_logs.hash; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.hash IS 'Audit chain: sha256 of this event''s canonical encoding (aef-log-v1, docs/audit.md), which includes prev_hash.';


--
-- Name: COLUMN aef_execution_logs.created_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.aef_execution_logs.created_at IS 'When the database recorded the event.';


--
-- Name: sops; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.sops (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid DEFAULT auth.uid() NOT NULL,
    name text NOT NULL,
    description text,
    steps jsonb DEFAULT '[]'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT sops_name_length CHECK (((length(name) >= 1) AND (length(name) <= 200))),
    CONSTRAINT sops_steps_is_array CHECK ((jsonb_typeof(steps) = 'array'::text))
);


ALTER TABLE public.sops OWNER TO postgres;

--
-- Name: TABLE sops; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON TABLE public.sops IS 'aef-db minimal sops: created by aef-db because this database had no sops table. A Supabase project keeps its own.';


--
-- Name: COLUMN sops.id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sops.id IS 'SOP id, referenced by aef_executions.sop_id.';


--
-- Name: COLUMN sops.user_id; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sops.user_id IS 'Owner of the SOP; only the owner (and service_role) can see it.';


--
-- Name: COLUMN sops.name; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sops.name IS 'Human-readable name, 1 to 200 characters.';


--
-- Name: COLUMN sops.description; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sops.description IS 'Optional description.';


--
-- Name: COLUMN sops.steps; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sops.steps IS 'The recorded steps, a JSON array.';


--
-- Name: COLUMN sops.created_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sops.created_at IS 'When the SOP was created.';


--
-- Name: COLUMN sops.updated_at; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON COLUMN public.sops.updated_at IS 'When the SOP last changed.';


--
-- Name: log_heads log_heads_pkey; Type: CONSTRAINT; Schema: aef_audit; Owner: postgres
--

ALTER TABLE ONLY aef_audit.log_heads
    ADD CONSTRAINT log_heads_pkey PRIMARY KEY (execution_id);


--
-- Name: log_tombstones log_tombstones_pkey; Type: CONSTRAINT; Schema: aef_audit; Owner: postgres
--

ALTER TABLE ONLY aef_audit.log_tombstones
    ADD CONSTRAINT log_tombstones_pkey PRIMARY KEY (id);


--
-- Name: engine_roles engine_roles_pkey; Type: CONSTRAINT; Schema: aef_private; Owner: postgres
--

ALTER TABLE ONLY aef_private.engine_roles
    ADD CONSTRAINT engine_roles_pkey PRIMARY KEY (role_name);


--
-- Name: aef_browser_sessions aef_browser_sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.aef_browser_sessions
    ADD CONSTRAINT aef_browser_sessions_pkey PRIMARY KEY (id);


--
-- Name: aef_checkpoints aef_checkpoints_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.aef_checkpoints
    ADD CONSTRAINT aef_checkpoints_pkey PRIMARY KEY (id);


--
-- Name: aef_execution_logs aef_execution_logs_execution_seq_key; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.aef_execution_logs
    ADD CONSTRAINT aef_execution_logs_execution_seq_key UNIQUE (execution_id, seq);


--
-- Name: aef_execution_logs aef_execution_logs_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.aef_execution_logs
    ADD CONSTRAINT aef_execution_logs_pkey PRIMARY KEY (id);


--
-- Name: aef_executions aef_executions_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.aef_executions
    ADD CONSTRAINT aef_executions_pkey PRIMARY KEY (id);


--
-- Name: sops sops_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.sops
    ADD CONSTRAINT sops_pkey PRIMARY KEY (id);


--
-- Name: log_tombstones_execution_id_idx; Type: INDEX; Schema: aef_audit; Owner: postgres
--

CREATE INDEX log_tombstones_execution_id_idx ON aef_audit.log_tombstones USING btree (execution_id);


--
-- Name: INDEX log_tombstones_execution_id_idx; Type: COMMENT; Schema: aef_audit; Owner: postgres
--

COMMENT ON INDEX aef_audit.log_tombstones_execution_id_idx IS 'An execution''s tombstones.';


--
-- Name: aef_browser_sessions_free_pooled_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_browser_sessions_free_pooled_idx ON public.aef_browser_sessions USING btree (user_id, last_active) WHERE ((mode = 'pooled'::text) AND (status = ANY (ARRAY['active'::public.browser_session_status, 'idle'::public.browser_session_status])) AND (lease_execution_id IS NULL));


--
-- Name: INDEX aef_browser_sessions_free_pooled_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_browser_sessions_free_pooled_idx IS 'A user''s free pooled sessions, for leasing.';


--
-- Name: aef_browser_sessions_lease_execution_id_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_browser_sessions_lease_execution_id_idx ON public.aef_browser_sessions USING btree (lease_execution_id);


--
-- Name: INDEX aef_browser_sessions_lease_execution_id_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_browser_sessions_lease_execution_id_idx IS 'Foreign key to aef_executions.';


--
-- Name: aef_browser_sessions_lease_expiry_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_browser_sessions_lease_expiry_idx ON public.aef_browser_sessions USING btree (lease_expires_at) WHERE (lease_execution_id IS NOT NULL);


--
-- Name: INDEX aef_browser_sessions_lease_expiry_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_browser_sessions_lease_expiry_idx IS 'Leases to reclaim once expired.';


--
-- Name: aef_browser_sessions_user_status_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_browser_sessions_user_status_idx ON public.aef_browser_sessions USING btree (user_id, status);


--
-- Name: INDEX aef_browser_sessions_user_status_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_browser_sessions_user_status_idx IS 'A user''s sessions by status; the RLS column.';


--
-- Name: aef_checkpoints_due_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_checkpoints_due_idx ON public.aef_checkpoints USING btree (timeout_at) WHERE ((status = 'pending'::public.checkpoint_status) AND (timeout_at IS NOT NULL));


--
-- Name: INDEX aef_checkpoints_due_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_checkpoints_due_idx IS 'Checkpoints due to time out, for the sweeper.';


--
-- Name: aef_checkpoints_execution_id_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_checkpoints_execution_id_idx ON public.aef_checkpoints USING btree (execution_id);


--
-- Name: INDEX aef_checkpoints_execution_id_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_checkpoints_execution_id_idx IS 'Foreign key to aef_executions.';


--
-- Name: aef_checkpoints_one_pending_per_execution; Type: INDEX; Schema: public; Owner: postgres
--

CREATE UNIQUE INDEX aef_checkpoints_one_pending_per_execution ON public.aef_checkpoints USING btree (execution_id) WHERE (status = 'pending'::public.checkpoint_status);


--
-- Name: INDEX aef_checkpoints_one_pending_per_execution; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_checkpoints_one_pending_per_execution IS 'At most one pending checkpoint per execution.';


--
-- Name: aef_checkpoints_user_pending_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_checkpoints_user_pending_idx ON public.aef_checkpoints USING btree (user_id, created_at) WHERE (status = 'pending'::public.checkpoint_status);


--
-- Name: INDEX aef_checkpoints_user_pending_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_checkpoints_user_pending_idx IS 'A user''s pending checkpoints.';


--
-- Name: aef_checkpoints_user_recent_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_checkpoints_user_recent_idx ON public.aef_checkpoints USING btree (user_id, created_at DESC);


--
-- Name: INDEX aef_checkpoints_user_recent_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_checkpoints_user_recent_idx IS 'A user''s checkpoints; the RLS column.';


--
-- Name: aef_execution_logs_user_page_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_execution_logs_user_page_idx ON public.aef_execution_logs USING btree (user_id, execution_id, seq);


--
-- Name: INDEX aef_execution_logs_user_page_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_execution_logs_user_page_idx IS 'The RLS column, then an execution''s log in order: a user''s page of a log. (execution_id, seq) alone is the unique constraint''s.';


--
-- Name: aef_executions_browser_session_id_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_executions_browser_session_id_idx ON public.aef_executions USING btree (browser_session_id);


--
-- Name: INDEX aef_executions_browser_session_id_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_executions_browser_session_id_idx IS 'Foreign key to aef_browser_sessions.';


--
-- Name: aef_executions_sop_id_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_executions_sop_id_idx ON public.aef_executions USING btree (sop_id);


--
-- Name: INDEX aef_executions_sop_id_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_executions_sop_id_idx IS 'Foreign key to sops.';


--
-- Name: aef_executions_status_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_executions_status_idx ON public.aef_executions USING btree (status, created_at DESC);


--
-- Name: INDEX aef_executions_status_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_executions_status_idx IS 'Executions by status, across users (the engine''s and operators'' views).';


--
-- Name: aef_executions_user_recent_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_executions_user_recent_idx ON public.aef_executions USING btree (user_id, created_at DESC);


--
-- Name: INDEX aef_executions_user_recent_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_executions_user_recent_idx IS 'A user''s recent executions; the RLS column.';


--
-- Name: aef_executions_user_started_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_executions_user_started_idx ON public.aef_executions USING btree (user_id, started_at DESC NULLS LAST);


--
-- Name: INDEX aef_executions_user_started_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_executions_user_started_idx IS 'A user''s executions by when they started (never-started ones last).';


--
-- Name: aef_executions_user_status_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX aef_executions_user_status_idx ON public.aef_executions USING btree (user_id, status);


--
-- Name: INDEX aef_executions_user_status_idx; Type: COMMENT; Schema: public; Owner: postgres
--

COMMENT ON INDEX public.aef_executions_user_status_idx IS 'A user''s executions counted or listed by status.';


--
-- Name: sops_user_id_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX sops_user_id_idx ON public.sops USING btree (user_id);


--
-- Name: aef_execution_logs aef_10_fill; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_10_fill BEFORE INSERT ON public.aef_execution_logs FOR EACH ROW WHEN (((new.user_id IS NULL) OR (new.seq IS NULL) OR (new.hash IS NULL))) EXECUTE FUNCTION aef_private.logs_fill();


--
-- Name: aef_browser_sessions aef_10_guard_insert; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_10_guard_insert BEFORE INSERT ON public.aef_browser_sessions FOR EACH ROW EXECUTE FUNCTION aef_private.sessions_before_insert();


--
-- Name: aef_checkpoints aef_10_guard_insert; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_10_guard_insert BEFORE INSERT ON public.aef_checkpoints FOR EACH ROW EXECUTE FUNCTION aef_private.checkpoints_before_insert();


--
-- Name: aef_executions aef_10_guard_insert; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_10_guard_insert BEFORE INSERT ON public.aef_executions FOR EACH ROW EXECUTE FUNCTION aef_private.executions_before_insert();


--
-- Name: aef_browser_sessions aef_10_guard_update; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_10_guard_update BEFORE UPDATE ON public.aef_browser_sessions FOR EACH ROW EXECUTE FUNCTION aef_private.sessions_before_update();


--
-- Name: aef_checkpoints aef_10_guard_update; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_10_guard_update BEFORE UPDATE ON public.aef_checkpoints FOR EACH ROW EXECUTE FUNCTION aef_private.checkpoints_before_update();


--
-- Name: aef_executions aef_10_guard_update; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_10_guard_update BEFORE UPDATE ON public.aef_executions FOR EACH ROW EXECUTE FUNCTION aef_private.executions_before_update();


--
-- Name: aef_executions aef_20_close_checkpoints; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_20_close_checkpoints AFTER UPDATE ON public.aef_executions FOR EACH ROW WHEN (((new.status = ANY (ARRAY['completed'::public.execution_status, 'error'::public.execution_status, 'cancelled'::public.execution_status])) AND (old.status <> new.status))) EXECUTE FUNCTION aef_private.executions_close_checkpoints();


--
-- Name: aef_execution_logs aef_20_verify; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_20_verify AFTER INSERT ON public.aef_execution_logs REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION aef_private.logs_verify_batch();


--
-- Name: aef_execution_logs aef_30_append_only; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_30_append_only BEFORE DELETE OR UPDATE ON public.aef_execution_logs FOR EACH ROW EXECUTE FUNCTION aef_private.logs_append_only();

ALTER TABLE public.aef_execution_logs ENABLE ALWAYS TRIGGER aef_30_append_only;


--
-- Name: aef_execution_logs aef_31_append_only_truncate; Type: TRIGGER; Schema: public; Owner: postgres
--

CREATE TRIGGER aef_31_append_only_truncate BEFORE TRUNCATE ON public.aef_execution_logs FOR EACH STATEMENT EXECUTE FUNCTION aef_private.logs_append_only();

ALTER TABLE public.aef_execution_logs ENABLE ALWAYS TRIGGER aef_31_append_only_truncate;


--
-- Name: log_heads log_heads_execution_id_fkey; Type: FK CONSTRAINT; Schema: aef_audit; Owner: postgres
--

ALTER TABLE ONLY aef_audit.log_heads
    ADD CONSTRAINT log_heads_execution_id_fkey FOREIGN KEY (execution_id) REFERENCES public.aef_executions(id);


--
-- Name: aef_browser_sessions aef_browser_sessions_lease_execution_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.aef_browser_sessions
    ADD CONSTRAINT aef_browser_sessions_lease_execution_id_fkey FOREIGN KEY (lease_execution_id) REFERENCES public.aef_executions(id);


--
-- Name: aef_checkpoints aef_checkpoints_execution_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.aef_checkpoints
    ADD CONSTRAINT aef_checkpoints_execution_id_fkey FOREIGN KEY (execution_id) REFERENCES public.aef_executions(id) ON DELETE CASCADE;


--
-- Name: aef_execution_logs aef_execution_logs_execution_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.aef_execution_logs
    ADD CONSTRAINT aef_execution_logs_execution_id_fkey FOREIGN KEY (execution_id) REFERENCES public.aef_executions(id);


--
-- Name: aef_executions aef_executions_browser_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.aef_executions
    ADD CONSTRAINT aef_executions_browser_session_id_fkey FOREIGN KEY (browser_session_id) REFERENCES public.aef_browser_sessions(id) ON DELETE SET NULL;


--
-- Name: aef_executions aef_executions_sop_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.aef_executions
    ADD CONSTRAINT aef_executions_sop_id_fkey FOREIGN KEY (sop_id) REFERENCES public.sops(id) ON DELETE SET NULL;


--
-- Name: sops Owners delete their SOPs; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Owners delete their SOPs" ON public.sops FOR DELETE TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));


--
-- Name: sops Owners read their SOPs; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Owners read their SOPs" ON public.sops FOR SELECT TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));


--
-- Name: aef_browser_sessions Owners read their browser sessions; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Owners read their browser sessions" ON public.aef_browser_sessions FOR SELECT TO authenticated USING ((user_id = ( SELECT aef_private.uid() AS uid)));


--
-- Name: aef_checkpoints Owners read their checkpoints; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Owners read their checkpoints" ON public.aef_checkpoints FOR SELECT TO authenticated USING ((user_id = ( SELECT aef_private.uid() AS uid)));


--
-- Name: aef_execution_logs Owners read their execution logs; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Owners read their execution logs" ON public.aef_execution_logs FOR SELECT TO authenticated USING ((user_id = ( SELECT aef_private.uid() AS uid)));


--
-- Name: aef_executions Owners read their executions; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Owners read their executions" ON public.aef_executions FOR SELECT TO authenticated USING ((user_id = ( SELECT aef_private.uid() AS uid)));


--
-- Name: sops Owners update their SOPs; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Owners update their SOPs" ON public.sops FOR UPDATE TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid))) WITH CHECK ((user_id = ( SELECT auth.uid() AS uid)));


--
-- Name: sops Users create their own SOPs; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Users create their own SOPs" ON public.sops FOR INSERT TO authenticated WITH CHECK ((user_id = ( SELECT auth.uid() AS uid)));


--
-- Name: aef_executions Users start their own executions of SOPs they can see; Type: POLICY; Schema: public; Owner: postgres
--

CREATE POLICY "Users start their own executions of SOPs they can see" ON public.aef_executions FOR INSERT TO authenticated WITH CHECK (((user_id = ( SELECT auth.uid() AS uid)) AND (status = 'idle'::public.execution_status) AND (EXISTS ( SELECT 1
   FROM public.sops s
  WHERE (s.id = aef_executions.sop_id))) AND (NOT (execution_context @? '$.**?(@ starts with "aef:v1:")'::jsonpath)) AND (NOT (config @? '$.**?(@ starts with "aef:v1:")'::jsonpath))));


--
-- Name: aef_browser_sessions; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.aef_browser_sessions ENABLE ROW LEVEL SECURITY;

--
-- Name: aef_checkpoints; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.aef_checkpoints ENABLE ROW LEVEL SECURITY;

--
-- Name: aef_execution_logs; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.aef_execution_logs ENABLE ROW LEVEL SECURITY;

--
-- Name: aef_executions; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.aef_executions ENABLE ROW LEVEL SECURITY;

--
-- Name: sops; Type: ROW SECURITY; Schema: public; Owner: postgres
--

ALTER TABLE public.sops ENABLE ROW LEVEL SECURITY;

--
-- Name: SCHEMA aef_audit; Type: ACL; Schema: -; Owner: postgres
--

GRANT USAGE ON SCHEMA aef_audit TO service_role;


--
-- Name: FUNCTION archive_execution_logs(execution_id uuid, location text); Type: ACL; Schema: aef_audit; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_audit.archive_execution_logs(execution_id uuid, location text) FROM PUBLIC;
GRANT ALL ON FUNCTION aef_audit.archive_execution_logs(execution_id uuid, location text) TO service_role;


--
-- Name: FUNCTION assert_session_owner(session_id text, owner uuid); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.assert_session_owner(session_id text, owner uuid) FROM PUBLIC;


--
-- Name: FUNCTION caller_is_engine(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.caller_is_engine() FROM PUBLIC;


--
-- Name: TABLE aef_executions; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT ON TABLE public.aef_executions TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.aef_executions TO service_role;


--
-- Name: COLUMN aef_executions.sop_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT INSERT(sop_id) ON TABLE public.aef_executions TO authenticated;


--
-- Name: COLUMN aef_executions.user_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT INSERT(user_id) ON TABLE public.aef_executions TO authenticated;


--
-- Name: COLUMN aef_executions.status; Type: ACL; Schema: public; Owner: postgres
--

GRANT INSERT(status) ON TABLE public.aef_executions TO authenticated;


--
-- Name: COLUMN aef_executions.current_step_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT INSERT(current_step_id) ON TABLE public.aef_executions TO authenticated;


--
-- Name: COLUMN aef_executions.execution_context; Type: ACL; Schema: public; Owner: postgres
--

GRANT INSERT(execution_context) ON TABLE public.aef_executions TO authenticated;


--
-- Name: COLUMN aef_executions.config; Type: ACL; Schema: public; Owner: postgres
--

GRANT INSERT(config) ON TABLE public.aef_executions TO authenticated;


--
-- Name: FUNCTION change_execution(target uuid, to_status public.execution_status, action text, fn text, from_statuses public.execution_status[]); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.change_execution(target uuid, to_status public.execution_status, action text, fn text, from_statuses public.execution_status[]) FROM PUBLIC;


--
-- Name: FUNCTION checkpoints_before_insert(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.checkpoints_before_insert() FROM PUBLIC;


--
-- Name: FUNCTION checkpoints_before_update(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.checkpoints_before_update() FROM PUBLIC;


--
-- Name: FUNCTION execution_transition_allowed(from_status public.execution_status, to_status public.execution_status); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.execution_transition_allowed(from_status public.execution_status, to_status public.execution_status) FROM PUBLIC;


--
-- Name: FUNCTION executions_before_insert(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.executions_before_insert() FROM PUBLIC;


--
-- Name: FUNCTION executions_before_update(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.executions_before_update() FROM PUBLIC;


--
-- Name: FUNCTION executions_close_checkpoints(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.executions_close_checkpoints() FROM PUBLIC;


--
-- Name: FUNCTION log_hash(execution_id uuid, seq bigint, step_id text, event_type public.log_event_type, ts timestamp with time zone, data jsonb, browser_state jsonb, prev_hash bytea); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.log_hash(execution_id uuid, seq bigint, step_id text, event_type public.log_event_type, ts timestamp with time zone, data jsonb, browser_state jsonb, prev_hash bytea) FROM PUBLIC;


--
-- Name: FUNCTION logs_append_only(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.logs_append_only() FROM PUBLIC;


--
-- Name: FUNCTION logs_fill(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.logs_fill() FROM PUBLIC;


--
-- Name: FUNCTION logs_verify_batch(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.logs_verify_batch() FROM PUBLIC;


--
-- Name: FUNCTION session_transition_allowed(from_status public.browser_session_status, to_status public.browser_session_status); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.session_transition_allowed(from_status public.browser_session_status, to_status public.browser_session_status) FROM PUBLIC;


--
-- Name: FUNCTION sessions_before_insert(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.sessions_before_insert() FROM PUBLIC;


--
-- Name: FUNCTION sessions_before_update(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.sessions_before_update() FROM PUBLIC;


--
-- Name: FUNCTION uid(); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.uid() FROM PUBLIC;
GRANT ALL ON FUNCTION aef_private.uid() TO authenticated;


--
-- Name: FUNCTION without_sealed(doc jsonb); Type: ACL; Schema: aef_private; Owner: postgres
--

REVOKE ALL ON FUNCTION aef_private.without_sealed(doc jsonb) FROM PUBLIC;


--
-- Name: FUNCTION aef_cancel_execution(execution_id uuid); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.aef_cancel_execution(execution_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.aef_cancel_execution(execution_id uuid) TO authenticated;
GRANT ALL ON FUNCTION public.aef_cancel_execution(execution_id uuid) TO service_role;


--
-- Name: FUNCTION aef_expire_checkpoints(max_rows integer); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.aef_expire_checkpoints(max_rows integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.aef_expire_checkpoints(max_rows integer) TO service_role;


--
-- Name: FUNCTION aef_pause_execution(execution_id uuid); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.aef_pause_execution(execution_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.aef_pause_execution(execution_id uuid) TO authenticated;
GRANT ALL ON FUNCTION public.aef_pause_execution(execution_id uuid) TO service_role;


--
-- Name: TABLE aef_checkpoints; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT ON TABLE public.aef_checkpoints TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.aef_checkpoints TO service_role;


--
-- Name: FUNCTION aef_resolve_checkpoint(checkpoint_id uuid, decision public.checkpoint_status, response jsonb); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.aef_resolve_checkpoint(checkpoint_id uuid, decision public.checkpoint_status, response jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION public.aef_resolve_checkpoint(checkpoint_id uuid, decision public.checkpoint_status, response jsonb) TO authenticated;
GRANT ALL ON FUNCTION public.aef_resolve_checkpoint(checkpoint_id uuid, decision public.checkpoint_status, response jsonb) TO service_role;


--
-- Name: FUNCTION aef_resume_execution(execution_id uuid); Type: ACL; Schema: public; Owner: postgres
--

REVOKE ALL ON FUNCTION public.aef_resume_execution(execution_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.aef_resume_execution(execution_id uuid) TO authenticated;
GRANT ALL ON FUNCTION public.aef_resume_execution(execution_id uuid) TO service_role;


--
-- Name: TABLE aef_browser_sessions; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.aef_browser_sessions TO service_role;


--
-- Name: COLUMN aef_browser_sessions.id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(id) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: COLUMN aef_browser_sessions.user_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(user_id) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: COLUMN aef_browser_sessions.status; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(status) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: COLUMN aef_browser_sessions.created_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(created_at) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: COLUMN aef_browser_sessions.last_active; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(last_active) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: COLUMN aef_browser_sessions.mode; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(mode) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: COLUMN aef_browser_sessions.lease_execution_id; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(lease_execution_id) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: COLUMN aef_browser_sessions.lease_holder; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(lease_holder) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: COLUMN aef_browser_sessions.lease_expires_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(lease_expires_at) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: COLUMN aef_browser_sessions.ended_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(ended_at) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: COLUMN aef_browser_sessions.updated_at; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT(updated_at) ON TABLE public.aef_browser_sessions TO authenticated;


--
-- Name: TABLE aef_execution_logs; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT ON TABLE public.aef_execution_logs TO authenticated;
GRANT SELECT,INSERT ON TABLE public.aef_execution_logs TO service_role;


--
-- Name: TABLE sops; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.sops TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.sops TO service_role;


--
-- PostgreSQL database dump complete
--

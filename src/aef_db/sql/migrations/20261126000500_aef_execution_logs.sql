-- aef-db 20261126000500 aef_execution_logs
-- The step-by-step log of each execution, and its audit trail (docs/audit.md):
-- append-only for every role, numbered 1, 2, 3... without gaps per execution,
-- and a hash chain per execution kept by the database for every writer.
-- Blocking UPDATE and DELETE stops ordinary roles; the chain makes what a
-- superuser or the table owner could still do detectable.
--   hash     = sha256(record), record = the event's canonical encoding (v1):
--              "aef-log-v1", execution_id, seq, step_id as a JSON string or null,
--              event_type, timestamp in microseconds since the Unix epoch,
--              data::text, browser_state::text or null, the previous hash in hex
--              (64 zeros for seq 1), each followed by a line feed.
--   prev_hash = the hash of the execution's previous event (null for seq 1).
-- The two writing paths of decision 16 carry the chain too: a writer that
-- supplies seq and the hashes skips the row trigger and the statement check
-- recomputes them set-based; any other writer gets them filled row by row.
-- SQLSTATEs: AE005 the log is append-only; AE006 owner mismatch; AE007 seq does
-- not continue the execution; AE009 the chain does not continue; AE010 archiving
-- refused, or an append to an archived log.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.aef_execution_logs (
  id uuid primary key default gen_random_uuid(),
  execution_id uuid not null references public.aef_executions (id),
  -- squawk-ignore prefer-text-field
  step_id varchar(256),
  event_type public.log_event_type not null,
  "timestamp" timestamptz not null default now(),
  data jsonb not null default '{}',
  browser_state jsonb,
  user_id uuid not null,
  seq bigint not null,
  prev_hash bytea,
  hash bytea,
  created_at timestamptz not null default now(),
  constraint aef_execution_logs_execution_seq_key unique (execution_id, seq),
  constraint aef_execution_logs_seq_positive check (seq > 0),
  constraint aef_execution_logs_step_id_not_blank check (step_id <> ''),
  constraint aef_execution_logs_data_is_object check (jsonb_typeof(data) = 'object'),
  constraint aef_execution_logs_data_size check (pg_column_size(data #> '{}') <= 262144),
  constraint aef_execution_logs_data_depth check (not (data @? '$.**{65}')),
  constraint aef_execution_logs_browser_state_is_object check (jsonb_typeof(browser_state) = 'object'),
  constraint aef_execution_logs_browser_state_size check (pg_column_size(browser_state #> '{}') <= 262144),
  constraint aef_execution_logs_browser_state_depth check (not (browser_state @? '$.**{65}')),
  -- Every event's hash covers the event, for every writer, checked by the executor
  -- row by row (no PL/pgSQL): a supplied hash that does not match is refused here.
  -- The expression is aef_private.log_hash's body, written out: a constraint is
  -- prepared again for every statement, and inlining a function there would mean
  -- parsing its body every time (a cost single-event appends would feel). Should
  -- the two ever differ, every filled insert fails this check.
  constraint aef_execution_logs_hash_covers_event check (
    hash is not null
    and hash = sha256(convert_to(
      format(E'aef-log-v1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n',
             execution_id, seq, coalesce(to_jsonb(step_id::text)::text, 'null'), event_type,
             (extract(epoch from "timestamp") * 1000000)::bigint, data, coalesce(browser_state::text, 'null'),
             coalesce(encode(prev_hash, 'hex'), repeat('0', 64))),
      'UTF8'))
  )
);
comment on table public.aef_execution_logs is
  'Step-by-step log of each execution, and its audit trail: append-only for every role. seq numbers each execution''s events 1, 2, 3... without gaps.';
comment on column public.aef_execution_logs.id is 'Event id.';
comment on column public.aef_execution_logs.execution_id is 'The execution this event belongs to.';
comment on column public.aef_execution_logs.step_id is 'The SOP step, when the event belongs to one (seed: VARCHAR), up to 256 characters.';
comment on column public.aef_execution_logs.event_type is 'What happened.';
comment on column public.aef_execution_logs."timestamp" is 'When it happened, as the writer says; defaults to now().';
comment on column public.aef_execution_logs.data is 'Event payload, a JSON object of at most 256 KiB.';
comment on column public.aef_execution_logs.browser_state is 'Browser state at the event (URL, title...), a JSON object of at most 256 KiB, or null.';
comment on column public.aef_execution_logs.user_id is
  'The execution''s owner, copied by the database (or checked, when the writer supplies it) so RLS is an indexed equality.';
comment on column public.aef_execution_logs.seq is
  'Position in the execution''s log: 1, 2, 3... without gaps. Assigned by the database, or supplied by a batching writer and checked.';
comment on column public.aef_execution_logs.created_at is 'When the database recorded the event.';
comment on column public.aef_execution_logs.prev_hash is
  'Audit chain: the hash of the execution''s previous event; null for seq 1. Computed by the database, or supplied and checked (AE009).';
comment on column public.aef_execution_logs.hash is
  'Audit chain: sha256 of this event''s canonical encoding (aef-log-v1, docs/audit.md), which includes prev_hash.';

-- Led by the RLS column, then the page order: as a user, "user_id = (select
-- auth.uid()) and execution_id = $1 and seq > $2 order by seq" is one index range.
-- (A bare user_id index made the planner AND it with the unique index: 20x slower.)
create index aef_execution_logs_user_page_idx on public.aef_execution_logs (user_id, execution_id, seq);
comment on index public.aef_execution_logs_user_page_idx is
  'The RLS column, then an execution''s log in order: a user''s page of a log. (execution_id, seq) alone is the unique constraint''s.';

create schema aef_audit;
comment on schema aef_audit is
  'The audit chain''s heads and tombstones, and the one sanctioned way to archive a log. Not exposed through the Data API.';
revoke all on schema aef_audit from public;

-- The canonical encoding and its hash, in one place. Stable, not immutable:
-- to_jsonb of a text and the enum's text are stable, and an immutable function
-- over stable parts would never be inlined (decision 29). The body names only
-- built-ins, so a writer needs EXECUTE on it but no USAGE on aef_private to
-- have it inlined into the hash check.
create function aef_private.log_hash(
  execution_id uuid, seq bigint, step_id text, event_type public.log_event_type, ts timestamptz,
  data jsonb, browser_state jsonb, prev_hash bytea
) returns bytea
language sql stable parallel safe
as $$
  -- format() is the cheapest way to join the fields (measured against concat and ||)
  select sha256(convert_to(
    format(E'aef-log-v1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n',
           execution_id, seq, coalesce(to_jsonb(step_id)::pg_catalog.text, 'null'), event_type,
           (extract(epoch from ts) * 1000000)::pg_catalog.int8, data, coalesce(browser_state::pg_catalog.text, 'null'),
           coalesce(encode(prev_hash, 'hex'), repeat('0', 64))),
    'UTF8'))
$$;
comment on function aef_private.log_hash(uuid, bigint, text, public.log_event_type, timestamptz, jsonb, jsonb, bytea) is
  'sha256 of an event''s canonical encoding, version aef-log-v1 (docs/audit.md): the bytes its hash covers.';

create table aef_audit.log_heads (
  execution_id uuid primary key references public.aef_executions (id),
  last_seq bigint not null,
  last_hash bytea not null,
  updated_at timestamptz not null default now(),
  constraint log_heads_last_seq_positive check (last_seq > 0),
  constraint log_heads_last_hash_sha256 check (octet_length(last_hash) = 32)
) with (fillfactor = 50);
comment on table aef_audit.log_heads is
  'Each execution''s chain head: its last seq and hash, moved by the log''s statement check. Compared by aef-db audit verify and recorded by aef-db audit digest.';
comment on column aef_audit.log_heads.execution_id is 'The execution.';
comment on column aef_audit.log_heads.last_seq is 'The seq of its last event.';
comment on column aef_audit.log_heads.last_hash is 'The hash of its last event.';
comment on column aef_audit.log_heads.updated_at is 'When the head last moved; aef-db audit verify --since reads it.';
-- No index on updated_at: a head moves at every append, and with only its primary
-- key indexed (and room on its page) that update is HOT. verify --since scans
-- the heads, one row per execution.

create table aef_audit.log_tombstones (
  id bigint generated always as identity primary key,
  execution_id uuid not null,
  last_seq bigint not null,
  head_hash bytea not null,
  archived_at timestamptz not null default now(),
  archived_by text not null,
  location text not null,
  xact xid8 not null default pg_current_xact_id(),
  constraint log_tombstones_location_not_blank check (length(btrim(location)) between 1 and 2000),
  constraint log_tombstones_head_hash_sha256 check (octet_length(head_hash) = 32)
);
comment on table aef_audit.log_tombstones is
  'One row per archived log: the chain''s last seq and head hash when it was archived, who archived it and where the events went. Written only by aef_audit.archive_execution_logs.';
comment on column aef_audit.log_tombstones.id is 'Tombstone id.';
comment on column aef_audit.log_tombstones.execution_id is 'The execution whose events were archived (no foreign key: the execution may go later).';
comment on column aef_audit.log_tombstones.last_seq is 'The seq of the last archived event.';
comment on column aef_audit.log_tombstones.head_hash is 'The hash of the last archived event: the archive must end with it.';
comment on column aef_audit.log_tombstones.archived_at is 'When it was archived.';
comment on column aef_audit.log_tombstones.archived_by is 'Who: the database role, and the JWT subject when there is one.';
comment on column aef_audit.log_tombstones.location is 'Where the events went (an object-storage URL, a file, a ticket).';
comment on column aef_audit.log_tombstones.xact is 'The archiving transaction: only it may delete the events.';
create index log_tombstones_execution_id_idx on aef_audit.log_tombstones (execution_id);
comment on index aef_audit.log_tombstones_execution_id_idx is 'An execution''s tombstones.';

-- ---------------------------------------------------------------------------
-- The writing paths
-- ---------------------------------------------------------------------------
-- Two paths. A batching writer supplies user_id and seq itself; then no row
-- trigger runs (the WHEN clause is evaluated without calling a function) and
-- one statement-level check verifies the whole batch, set-based. A writer that
-- names only the seed's columns (supabase-js, a SQL console) gets them filled
-- here, row by row, with the chain.
-- The fill path: seq, owner and both hashes, row by row, with the execution's
-- state (owner, last seq, last hash) kept between rows of one statement:
-- - the cursor "execution|owner|last seq|last hash" in aef.log_cursor serves
--   consecutive rows of one execution (a grouped writer: one lookup per run);
-- - when the execution changes, the cursor is parked in one of 256 slots
--   (aef.log_cursor_<hashtext & 255>, up to 4 executions each, listed in
--   aef.log_slots) and the new execution is looked up there, so an interleaved
--   writer pays the lock and the lookup once per execution, not once per row.
--   The statement check clears the cursor and the slots at the end of every
--   statement. 256 names bound what a session adds to its settings, and a
--   statement over more executions than the slots hold only looks up again:
--   it stays linear.
-- Nothing here is trusted (any role can set these settings): the check
-- constraint recomputes every hash and the statement check every link.
-- The hash is aef_private.log_hash's body written out, like the check
-- constraint's: PL/pgSQL evaluates an expression naming a function through the
-- executor, about 2.5 us more per row than the built-ins alone. Should the two
-- differ, every filled insert fails the check.
-- enable_seqscan off: PL/pgSQL caches a plan per query for the session, and one
-- made while the log looked empty (after an archive, or a fresh table that
-- autovacuum analyzed) would scan the whole log for every row: an import grew
-- quadratic (50,000 interleaved events: 300 s instead of 4).
create function aef_private.logs_fill() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set enable_seqscan = off
as $$
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
comment on function aef_private.logs_fill() is
  'The fill path, row by row: seq, owner, prev_hash and hash for a writer that names only the seed''s columns; serializes per execution on its row lock.';

-- The statement check: owners, gapless seqs and every link; then the heads.
-- A one-row statement (an engine's append, a supabase-js insert) is checked
-- against its chain's head: one UPDATE of aef_audit.log_heads by primary key
-- moves the head only when the row continues it (head at seq - 1, last_hash =
-- prev_hash) and carries the execution's owner. The head is the stored event
-- before the row: only this check writes it, at the end of every statement
-- (no API role may write aef_audit's tables), the log is append-only, and
-- archiving deletes the head with the events. Any other statement, and a row
-- that update does not take (a first event, a head behind the log, a break),
-- gets the set-based check against the log, which names the break.
-- enable_seqscan off, as for the fill; work_mem for the sort of an interleaved
-- batch (below), which stays in memory up to about 400,000 events, set by the
-- set-based path only (a SET clause costs every statement) and put back after.
create function aef_private.logs_verify_batch() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set enable_seqscan = off
as $$
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
comment on function aef_private.logs_verify_batch() is
  'The statement check: owners, gapless seqs and chain links of every inserted row, no new chain after a tombstone, then one head update per execution.';

create trigger aef_10_fill before insert on public.aef_execution_logs
  for each row when (new.user_id is null or new.seq is null or new.hash is null)
  execute function aef_private.logs_fill();
create trigger aef_20_verify after insert on public.aef_execution_logs
  referencing new table as inserted
  for each statement execute function aef_private.logs_verify_batch();

-- Append-only, with one exception: the events of an execution archived by
-- aef_audit.archive_execution_logs in this same transaction, up to its tombstone.
create function aef_private.logs_append_only() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
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
comment on function aef_private.logs_append_only() is
  'Refuses UPDATE, DELETE and TRUNCATE on the log (AE005), except the deletes of a log archived by the same transaction.';

create function aef_audit.archive_execution_logs(execution_id uuid, location text)
returns aef_audit.log_tombstones
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
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
comment on function aef_audit.archive_execution_logs(uuid, text) is
  'The one sanctioned way to remove a log: records a tombstone (last seq, head hash, who, where), then deletes the events. Final executions only. service_role and the owner only.';

create trigger aef_30_append_only before update or delete on public.aef_execution_logs
  for each row execute function aef_private.logs_append_only();
create trigger aef_31_append_only_truncate before truncate on public.aef_execution_logs
  for each statement execute function aef_private.logs_append_only();
-- ALWAYS: fire under session_replication_role = replica too.
alter table public.aef_execution_logs enable always trigger aef_30_append_only;
alter table public.aef_execution_logs enable always trigger aef_31_append_only_truncate;

revoke all on all functions in schema aef_private from public;
revoke all on function aef_audit.archive_execution_logs(uuid, text) from public;
revoke all on all tables in schema aef_audit from public;
grant usage on schema aef_audit to service_role;
grant execute on function aef_audit.archive_execution_logs(uuid, text) to service_role;

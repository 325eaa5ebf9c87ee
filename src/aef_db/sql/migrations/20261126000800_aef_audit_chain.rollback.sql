-- Rollback of 20261126000800 aef_audit_chain: the log's triggers of 20261126000400.
-- Hashes already written stay in the rows; nothing reads or checks them any more.
-- squawk-ignore-file ban-drop-table, ban-drop-function, ban-drop-schema, ban-drop-constraint
set lock_timeout = '5s';
set statement_timeout = '60s';

alter table public.aef_execution_logs drop constraint aef_execution_logs_hash_covers_event;
drop trigger aef_10_fill on public.aef_execution_logs;
create trigger aef_10_fill before insert on public.aef_execution_logs
  for each row when (new.user_id is null or new.seq is null)
  execute function aef_private.logs_fill();

create or replace function aef_private.logs_fill() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  cursor_parts pg_catalog.text[] := string_to_array(nullif(current_setting('aef.log_cursor', true), ''), '|');
  owner pg_catalog.uuid;
  last_seq pg_catalog.int8;
begin
  if cursor_parts[1] = new.execution_id::pg_catalog.text then
    owner := cursor_parts[2]::pg_catalog.uuid;
    last_seq := cursor_parts[3]::pg_catalog.int8;
  else
    -- One filling writer per execution at a time, until the transaction ends: a
    -- row lock on the execution. No API role can take it (locking rows needs
    -- UPDATE on the table), where an advisory lock's key is open to anyone, and
    -- row locks take no slot in the lock table, so one statement may touch any
    -- number of executions.
    select e.user_id into owner from public.aef_executions e where e.id = new.execution_id for no key update;
    if not found then
      raise exception using errcode = '23503',
        message = format('aef_execution_logs.execution_id: execution %s does not exist', new.execution_id);
    end if;
    select l.seq into last_seq
      from public.aef_execution_logs l
     where l.execution_id = new.execution_id
     order by l.seq desc
     limit 1;
    last_seq := coalesce(last_seq, 0);
  end if;
  new.user_id := coalesce(new.user_id, owner);
  new.seq := coalesce(new.seq, last_seq + 1);
  perform set_config('aef.log_cursor', concat_ws('|', new.execution_id, owner, new.seq), true);
  return new;
end
$$;

create or replace function aef_private.logs_verify_batch() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  bad pg_catalog.record;
begin
  perform set_config('aef.log_cursor', '', true);

  select i.execution_id, i.user_id into bad
    from inserted i
    join public.aef_executions e on e.id = i.execution_id
   where i.user_id <> e.user_id
   limit 1;
  if found then
    raise exception using errcode = 'AE006',
      message = format('aef_execution_logs.user_id must be the owner of execution %s, not %s', bad.execution_id, bad.user_id);
  end if;

  -- (execution_id, seq) is unique, so a batch is gapless when its seqs span
  -- exactly its row count, and it continues the log when seq first - 1 exists.
  select g.execution_id, g.first_seq, g.last_seq, g.n into bad
    from (select execution_id, min(seq) as first_seq, max(seq) as last_seq, count(*) as n
            from inserted group by execution_id) g
   where g.last_seq - g.first_seq + 1 <> g.n
      or (g.first_seq > 1 and not exists (
            select 1 from public.aef_execution_logs l
             where l.execution_id = g.execution_id and l.seq = g.first_seq - 1))
   limit 1;
  if found then
    raise exception using errcode = 'AE007',
      message = format('aef_execution_logs.seq must continue execution %s without gaps: got %s..%s for %s rows',
                       bad.execution_id, bad.first_seq, bad.last_seq, bad.n),
      hint = 'Leave seq null to have the database assign it.';
  end if;
  return null;
end
$$;

create or replace function aef_private.logs_append_only() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception using errcode = 'AE005',
    message = format('aef_execution_logs is append-only: %s is not allowed', lower(tg_op)),
    hint = 'The log is the audit trail; no role may change or remove its rows.';
end
$$;

drop function aef_audit.archive_execution_logs(uuid, text);
drop table aef_audit.log_tombstones;
drop table aef_audit.log_heads;
drop schema aef_audit;
drop function aef_private.log_hash(uuid, bigint, text, public.log_event_type, timestamptz, jsonb, jsonb, bytea);

comment on column public.aef_execution_logs.prev_hash is 'Audit chain: the hash of the previous event of the execution (null until the audit chain is installed).';
comment on column public.aef_execution_logs.hash is 'Audit chain: this event''s hash (null until the audit chain is installed).';

-- Queries of aef-db audit (verify, digest, archive). They read in one
-- repeatable-read snapshot, so heads, tombstones and events agree.

-- name: heads
select h.execution_id::text as execution_id, h.last_seq, h.last_hash
  from aef_audit.log_heads h
 where (%(execution_id)s::uuid is null or h.execution_id = %(execution_id)s::uuid)
   and (%(since)s::timestamptz is null or h.updated_at >= %(since)s::timestamptz);

-- name: tombstones
select t.execution_id::text as execution_id, max(t.last_seq) as last_seq,
       (array_agg(t.head_hash order by t.last_seq desc))[1] as head_hash,
       (array_agg(t.location order by t.last_seq desc))[1] as location
  from aef_audit.log_tombstones t
 where %(execution_id)s::uuid is null or t.execution_id = %(execution_id)s::uuid
 group by t.execution_id;

-- name: events
-- Every chain in (execution, seq) order, as the unique index keeps it. The
-- timestamp comes as microseconds since the epoch, as the record encodes it.
select l.execution_id::text, l.seq, l.step_id, l.event_type::text, (extract(epoch from l."timestamp") * 1000000)::bigint,
       l.data::text, l.browser_state::text, l.prev_hash, l.hash
  from public.aef_execution_logs l
 where (%(execution_id)s::uuid is null or l.execution_id = %(execution_id)s::uuid)
   and (%(since)s::timestamptz is null or l.execution_id in (
          select h.execution_id from aef_audit.log_heads h where h.updated_at >= %(since)s::timestamptz))
 order by l.execution_id, l.seq;

-- name: row_count_estimate
select coalesce(sum(h.last_seq), 0)::bigint as n from aef_audit.log_heads h
 where (%(execution_id)s::uuid is null or h.execution_id = %(execution_id)s::uuid)
   and (%(since)s::timestamptz is null or h.updated_at >= %(since)s::timestamptz);

-- name: identity
select current_database() as database, (select d.oid::bigint from pg_database d where d.datname = current_database()) as database_oid;

-- name: archive
select id, execution_id, last_seq, encode(head_hash, 'hex') as head_hash, archived_at, archived_by, location
  from aef_audit.archive_execution_logs(%(execution_id)s, %(location)s);

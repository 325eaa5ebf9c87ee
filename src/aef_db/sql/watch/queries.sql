-- Queries of `aef-db watch` (aef_db/watch.py): the board's starting point, read after
-- the subscription starts so that nothing committed in between is missed.

-- name: unfinished_executions
-- Executions not finished, each with its last events (newest last).
select e.id, e.user_id, e.status::text as status, e.current_step_id,
       l.last_seq, coalesce(l.last_events, '{}') as last_events
  from public.aef_executions e
  left join lateral (
         select max(seq) as last_seq,
                array_agg(event_type::text order by seq) as last_events
           from (select seq, event_type from public.aef_execution_logs g
                  where g.execution_id = e.id order by seq desc limit %(last_events)s) recent
       ) l on true
 where e.status not in ('completed', 'error', 'cancelled')
   and (%(user_id)s::uuid is null or e.user_id = %(user_id)s::uuid)
   and (%(execution_id)s::uuid is null or e.id = %(execution_id)s::uuid)
 order by e.created_at;

-- name: pending_checkpoints
select c.id, c.execution_id, c.checkpoint_type::text as checkpoint_type, c.step_id, c.timeout_at
  from public.aef_checkpoints c
 where c.status = 'pending'
   and (%(user_id)s::uuid is null or c.user_id = %(user_id)s::uuid)
   and (%(execution_id)s::uuid is null or c.execution_id = %(execution_id)s::uuid)
 order by c.created_at;

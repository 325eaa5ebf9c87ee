-- A stand-in for Supabase Realtime's postgres_changes path (the "realtime" schema a
-- Supabase project carries), written for aef-db's tests. It reproduces, in our own
-- SQL, the behaviour of these upstream objects in supabase/realtime
-- priv/repo/tenant_db_dump_15.sql, as read there:
--
--   realtime.subscription   one row per (subscriber, table): the subscriber's whole
--                           verified JWT in claims, the role it names in claims_role
--   realtime.wal_column     a decoded column: name, type, value as jsonb, is_pkey,
--                           is_selectable (by the subscriber's role)
--   realtime.cast           a wal2json value to jsonb through its column type
--   realtime.apply_rls      one decoded change -> one row per subscriber role:
--                           - 400 "no primary key" / 401 "Unauthorized" (the role
--                             cannot select the key) for INSERT and UPDATE, with only
--                             schema, table and type;
--                           - otherwise, for each subscription of the role, with RLS
--                             on and not a DELETE: set_config('role') and
--                             set_config('request.jwt.claims') only, then
--                             select exists(select 1 from <table> where <pk> = <value>)
--                             against the table as it is now; a DELETE, or a table
--                             without RLS, goes to every subscription;
--                           - record: every column the role may select;
--                             old_record: the identity the WAL carries, cut to the
--                             primary key for a DELETE on an RLS table;
--                           - above max_record_bytes, only values of 64 bytes or less.
--                           Nothing catches an error: a policy that raises for one
--                           subscription aborts the call (supabase/realtime#2093).
--   realtime.list_changes   pg_logical_slot_get_changes on the wal2json slot with the
--                           options below, add-tables and actions computed from the
--                           publication, each change through apply_rls; the rows
--                           some subscription may see, else one row with the count.
--
-- and lib/extensions/postgres_cdc_rls/ (replications.ex: one *temporary* wal2json
-- slot per project, created with pg_create_logical_replication_slot(slot, 'wal2json',
-- true); replication_poller.ex: list_changes(publication, slot, 100, 1048576), polled
-- again at once while it returns rows; message_dispatcher.ex: each row goes to the
-- subscriptions in subscription_ids, error rows included).
--
-- Left out, as aef-db's tests do not need them: subscription filters
-- (is_visible_through_filters, check_equality_op: a filter only narrows what RLS
-- already allowed), selected_columns and the subscription_check_filters trigger,
-- and list_changes' SET log_min_messages (it only quiets the server log).
-- The prepared statement upstream builds once per change (walrus_rls_stmt) is
-- built here as the same text and run with EXECUTE.
--
-- Load it as postgres (the database owner); call realtime.list_changes as a role
-- with REPLICATION that is a member of anon, authenticated and service_role, as
-- Realtime's own connection is.

create schema realtime;

create type realtime.action as enum ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'ERROR');

create type realtime.wal_column as (
  name text,
  type_name text,
  type_oid oid,
  value jsonb,
  is_pkey boolean,
  is_selectable boolean
);

create type realtime.wal_rls as (
  wal jsonb,
  is_rls_enabled boolean,
  subscription_ids uuid[],
  errors text[]
);

-- claims_role is generated from the claims, so a subscription names a real role.
create function realtime.to_regrole(role_name text) returns regrole
  language sql immutable
as $$ select role_name::regrole $$;

create table realtime.subscription (
  id bigint generated always as identity primary key,
  subscription_id uuid not null,
  entity regclass not null,
  claims jsonb not null,
  claims_role regrole not null generated always as (realtime.to_regrole(claims ->> 'role')) stored,
  action_filter text not null default '*' check (action_filter in ('*', 'INSERT', 'UPDATE', 'DELETE')),
  created_at timestamp not null default timezone('utc', now())
);

-- A value as wal2json prints it -> jsonb, through the column's type.
create function realtime.cast(val text, type_ regtype) returns jsonb
  language plpgsql immutable
as $$
declare
  result jsonb;
begin
  if type_ = 'bytea'::regtype then
    return to_jsonb(val);
  end if;
  execute format('select to_jsonb(%L::%s)', val, type_) into result;
  return result;
end
$$;

-- wal2json's columns (or identity) array -> wal_column[], with is_pkey from its pk array.
create function realtime.wal_columns(cols jsonb, pk jsonb) returns realtime.wal_column[]
  language sql
as $$
  select array_agg(
           (c ->> 'name',
            c ->> 'type',
            (c ->> 'typeoid')::oid,
            realtime.cast(c -> 'value' #>> '{}', coalesce((c ->> 'typeoid')::regtype, (c ->> 'type')::regtype)),
            exists (select 1 from jsonb_array_elements(pk) k where k ->> 'name' = c ->> 'name'),
            true)::realtime.wal_column
           order by ord)
    from jsonb_array_elements(cols) with ordinality as x(c, ord)
$$;

create function realtime.apply_rls(wal jsonb, max_record_bytes integer default 1048576)
returns setof realtime.wal_rls
language plpgsql
as $$
declare
  entity_ regclass := (quote_ident(wal ->> 'schema') || '.' || quote_ident(wal ->> 'table'))::regclass;
  action_ realtime.action := case wal ->> 'action'
                               when 'I' then 'INSERT' when 'U' then 'UPDATE' when 'D' then 'DELETE'
                               else 'ERROR' end;
  rls boolean := (select c.relrowsecurity from pg_class c where c.oid = entity_);
  too_big boolean := octet_length(wal::text) > max_record_bytes;
  subs realtime.subscription[];
  cols realtime.wal_column[] := realtime.wal_columns(wal -> 'columns', wal -> 'pk');
  old_cols realtime.wal_column[] := realtime.wal_columns(wal -> 'identity', wal -> 'pk');
  role_ regrole;
  sub realtime.subscription;
  by_role uuid[];
  visible uuid[];
  check_sql text;
  seen boolean;
  output jsonb;
begin
  perform set_config('role', null, true);
  select array_agg(s order by s.id) into subs
    from realtime.subscription s
   where s.entity = entity_ and s.action_filter in ('*', action_::text);

  for role_ in select r from (select distinct s.claims_role as r from unnest(subs) s) x order by r::text loop
    by_role := (select array_agg(s.subscription_id order by s.id) from unnest(subs) s where s.claims_role = role_);
    cols := (select array_agg((c.name, c.type_name, c.type_oid, c.value, c.is_pkey,
                               has_column_privilege(role_, entity_, c.name, 'SELECT'))::realtime.wal_column)
               from unnest(cols) c);
    old_cols := (select array_agg((c.name, c.type_name, c.type_oid, c.value, c.is_pkey,
                                   has_column_privilege(role_, entity_, c.name, 'SELECT'))::realtime.wal_column)
                   from unnest(old_cols) c);

    if action_ <> 'DELETE' and not exists (select 1 from unnest(cols) c where c.is_pkey) then
      return next (jsonb_build_object('schema', wal ->> 'schema', 'table', wal ->> 'table', 'type', action_),
                   rls, by_role, array['Error 400: Bad Request, no primary key'])::realtime.wal_rls;
      continue;
    end if;
    if action_ <> 'DELETE' and exists (select 1 from unnest(cols) c where c.is_pkey and not c.is_selectable) then
      return next (jsonb_build_object('schema', wal ->> 'schema', 'table', wal ->> 'table', 'type', action_),
                   rls, by_role, array['Error 401: Unauthorized'])::realtime.wal_rls;
      continue;
    end if;

    if rls and action_ <> 'DELETE' then
      -- the key's values as untyped literals, as upstream's prepared statement has them
      check_sql := format('select exists(select 1 from %s where %s)', entity_,
                          (select string_agg(quote_ident(c.name) || '=' || quote_nullable(c.value #>> '{}'), ' and ')
                             from unnest(cols) c where c.is_pkey));
    end if;

    visible := '{}';
    for sub in select * from unnest(subs) s where s.claims_role = role_ order by s.id loop
      if not rls or action_ = 'DELETE' then
        visible := visible || sub.subscription_id;
      else
        -- only these two settings: no request.jwt.claim.sub, no search_path
        perform set_config('role', trim(both '"' from role_::text), true),
                set_config('request.jwt.claims', sub.claims::text, true);
        execute check_sql into seen;
        perform set_config('role', null, true);
        if seen then
          visible := visible || sub.subscription_id;
        end if;
      end if;
    end loop;
    perform set_config('role', null, true);

    output := jsonb_build_object(
      'schema', wal ->> 'schema',
      'table', wal ->> 'table',
      'type', action_,
      'commit_timestamp', to_char((wal ->> 'timestamp')::timestamptz at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'columns', (select jsonb_agg(jsonb_build_object('name', a.attname, 'type', t.typname) order by a.attnum)
                    from pg_attribute a join pg_type t on t.oid = a.atttypid
                   where a.attrelid = entity_ and a.attnum > 0 and not a.attisdropped
                     and has_column_privilege(role_, entity_, a.attname, 'SELECT')));
    if action_ in ('INSERT', 'UPDATE') then
      -- a column the WAL left out (an unchanged TOASTed value) comes from the old identity
      output := output || jsonb_build_object('record', (
        select jsonb_object_agg(coalesce(c.name, o.name), case when c.name is null then o.value else c.value end)
          from unnest(cols) c full join unnest(old_cols) o on c.name = o.name
         where coalesce(c.is_selectable, o.is_selectable)
           and (not too_big or octet_length(c.value::text) <= 64)));
    end if;
    if action_ in ('UPDATE', 'DELETE') then
      output := output || jsonb_build_object('old_record', (
        select jsonb_object_agg(o.name, o.value)
          from unnest(old_cols) o
         where o.is_selectable
           and (not too_big or octet_length(o.value::text) <= 64)
           and (action_ = 'UPDATE' or not rls or o.is_pkey)));
    end if;

    return next (output, rls, visible,
                 case when too_big then array['Error 413: Payload Too Large'] else '{}'::text[] end)::realtime.wal_rls;
  end loop;
  perform set_config('role', null, true);
end
$$;

-- wal2json's add-tables syntax: schema.table, with \ , . and white space escaped by \.
create function realtime.wal2json_name(entity regclass) returns text
  language sql stable strict
as $$
  select regexp_replace(n.nspname, '([\\,.[:space:]])', '\\\1', 'g') || '.'
         || regexp_replace(c.relname, '([\\,.[:space:]])', '\\\1', 'g')
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where c.oid = entity
$$;

-- The two wal2json options that depend on the publication: which actions it
-- publishes (TRUNCATE never) and its tables.
create function realtime.wal2json_scope(publication name, out actions text, out add_tables text)
  language sql stable
as $$
  select concat_ws(',', case when bool_or(p.pubinsert) then 'insert' end,
                        case when bool_or(p.pubupdate) then 'update' end,
                        case when bool_or(p.pubdelete) then 'delete' end),
         coalesce(string_agg(realtime.wal2json_name(format('%I.%I', t.schemaname, t.tablename)::regclass), ',')
                    filter (where t.tablename is not null), '')
    from pg_publication p
    left join pg_publication_tables t on t.pubname = p.pubname
   where p.pubname = publication
   group by p.pubname
$$;

create function realtime.list_changes(publication name, slot_name name, max_changes integer, max_record_bytes integer)
returns table (wal jsonb, is_rls_enabled boolean, subscription_ids uuid[], errors text[], slot_changes_count bigint)
language sql
as $$
  with scope as (
    select * from realtime.wal2json_scope(publication)
  ),
  decoded as materialized (
    select d.data, scope.add_tables
      from scope,
           pg_logical_slot_get_changes(slot_name, null, max_changes,
             'include-pk', 'true',
             'include-transaction', 'false',
             'include-timestamp', 'true',
             'include-type-oids', 'true',
             'format-version', '2',
             'actions', scope.actions,
             'add-tables', scope.add_tables) d
  ),
  counted as (
    select count(*)::bigint as n from decoded where decoded.add_tables <> ''
  ),
  delivered as (
    select r.wal, r.is_rls_enabled, r.subscription_ids, r.errors
      from decoded, realtime.apply_rls(decoded.data::jsonb, max_record_bytes) r
     where decoded.add_tables <> '' and r.subscription_ids[1] is not null
  )
  select d.wal, d.is_rls_enabled, d.subscription_ids, d.errors, counted.n from delivered d, counted
  union all
  select null, null, null, null, counted.n from counted where not exists (select 1 from delivered)
$$;

-- For the tests only (not upstream): the same wal2json output list_changes would
-- read, without consuming it.
create function realtime.peek_wal2json(publication name, slot_name name)
returns setof text
language sql
as $$
  select d.data
    from realtime.wal2json_scope(publication) scope,
         pg_logical_slot_peek_changes(slot_name, null, null,
           'include-pk', 'true',
           'include-transaction', 'false',
           'include-timestamp', 'true',
           'include-type-oids', 'true',
           'format-version', '2',
           'actions', scope.actions,
           'add-tables', scope.add_tables) d
$$;

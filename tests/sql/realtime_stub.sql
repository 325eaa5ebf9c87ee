-- A minimal stand-in for the Supabase Realtime objects that aef-db's Broadcast
-- triggers and policies touch, for tests on the embedded cluster (which has no
-- Realtime). Run as the cluster's superuser, which plays supabase_admin.
--
-- Written from, and to be checked against, supabase/realtime:
--   priv/repo/tenant_db_dump_15.sql          roles, owners, grants, realtime.send,
--                                            realtime.broadcast_changes, realtime.topic
--   priv/repo/tenant_schema/realtime/tables/messages.sql   the messages table
--   lib/realtime/tenants/connect/create_partitions.ex      daily partitions, UTC
--   lib/realtime/tenants/authorization.ex                  how a join is authorized
--                                            (tests/integration/test_broadcast.py mirrors it)
--   lib/realtime/tenants/replication_connection.ex         every INSERT into
--                                            realtime.messages is broadcast (logical
--                                            replication), whoever inserts it
-- and supabase/postgres migrations/db/migrations/20250421084701_revoke_admin_roles_from_postgres.sql.
--
-- Privileges as on hosted Supabase: the schema belongs to the superuser, the table
-- and functions to supabase_realtime_admin; postgres has USAGE on the schema (not
-- CREATE) and ALL on realtime.messages, but does not own it. On hosted Supabase,
-- postgres creates policies on realtime.messages through supautils'
-- `supautils.policy_grants` (a table-ownership bypass for listed tables), which
-- plain PostgreSQL cannot reproduce. The stand-in for it is the membership in
-- supabase_realtime_admin that Realtime's own migration 20240401105812 granted to
-- postgres before policy_grants existed.
-- Omitted: realtime.subscription and the postgres_changes functions, send_binary,
-- and the columns binary_payload and skip_broadcast of newer versions (nullable or
-- defaulted; aef-db names the columns it writes).

do $stub$
begin
  if not exists (select 1 from pg_roles where rolname = 'supabase_realtime_admin') then
    create role supabase_realtime_admin nologin noinherit;
  end if;
end
$stub$;
grant anon, authenticated, service_role to supabase_realtime_admin;
grant supabase_realtime_admin to postgres;  -- stands in for supautils.policy_grants

create schema realtime;
grant usage on schema realtime to postgres with grant option;
grant usage on schema realtime to anon, authenticated, service_role;
grant all on schema realtime to supabase_realtime_admin with grant option;

create table realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone not null default timezone('utc', now()),
  inserted_at timestamp without time zone not null default timezone('utc', now()),
  id uuid not null default gen_random_uuid(),
  constraint messages_pkey primary key (id, inserted_at)
) partition by range (inserted_at);
create index messages_inserted_at_topic_index on only realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;
alter table realtime.messages enable row level security;
alter table realtime.messages owner to supabase_realtime_admin;
grant all on table realtime.messages to postgres;
grant select, insert, update on table realtime.messages to anon, authenticated, service_role;

-- Realtime creates yesterday's, today's and tomorrow's partitions (UTC days) when a
-- tenant connects, and its janitor keeps them; a send with no partition for the
-- current day is dropped with a WARNING.
do $stub$
declare
  day date;
begin
  for day in select (timezone('utc', now()))::date + d from generate_series(-1, 1) d loop
    execute format(
      'create table realtime.%I partition of realtime.messages for values from (%L) to (%L)',
      'messages_' || to_char(day, 'YYYY_MM_DD'), day, day + 1);
    execute format('alter table realtime.%I owner to supabase_realtime_admin',
                   'messages_' || to_char(day, 'YYYY_MM_DD'));
  end loop;
end
$stub$;

-- The channel topic a private-channel authorization check is about: Realtime sets
-- the transaction-local setting realtime.topic before it runs its check as the user.
create function realtime.topic() returns text
language sql stable
as $fn$ select nullif(current_setting('realtime.topic', true), '') $fn$;

-- One message on one topic. Like upstream: adds the message id to the payload when
-- it has none, sets realtime.topic for the rest of the transaction, runs as the
-- caller (no SECURITY DEFINER), and turns any failure into a WARNING.
create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $fn$
declare
  message_id uuid := gen_random_uuid();
begin
  begin
    perform set_config('realtime.topic', topic, true);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (message_id,
            case when payload ? 'id' then payload else jsonb_set(payload, '{id}', to_jsonb(message_id)) end,
            event, topic, private, 'broadcast');
  exception when others then
    raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end
$fn$;

-- The row-trigger helper of Supabase's "Broadcast from the database" guide: the
-- whole new and old rows, the operation and the table, sent as one private message.
create function realtime.broadcast_changes(
  topic_name text, event_name text, operation text, table_name text, table_schema text,
  new record, old record, level text default 'ROW'
) returns void
language plpgsql
as $fn$
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation not in ('INSERT', 'UPDATE', 'DELETE') then
    raise exception 'Unexpected operation type: %', operation;
  end if;
  perform realtime.send(
    jsonb_build_object('old_record', old, 'record', new, 'operation', operation,
                       'table', table_name, 'schema', table_schema),
    event_name, topic_name);
end
$fn$;

alter function realtime.topic() owner to supabase_realtime_admin;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  owner to supabase_realtime_admin;
grant all on function realtime.topic(), realtime.send(jsonb, text, text, boolean),
  realtime.broadcast_changes(text, text, text, text, text, record, record, text) to postgres;

"""What Supabase Realtime's postgres_changes delivers from aef-db's tables, by emulation.

The emulation is SQL, tests/sql/realtime_emulation.sql: a ``realtime`` schema whose
``subscription`` table, ``apply_rls`` and ``list_changes`` reproduce those of
supabase/realtime (``priv/repo/tenant_db_dump_15.sql``: realtime.subscription,
realtime.wal_column, realtime.cast, realtime.apply_rls, realtime.build_prepared_statement_sql,
realtime.list_changes, realtime.quote_wal2json; ``lib/extensions/postgres_cdc_rls/``:
replications.ex, replication_poller.ex, message_dispatcher.ex). As upstream: one
temporary wal2json slot, polled with ``list_changes('supabase_realtime', slot, 100,
1048576)`` until it is empty; per change and per subscriber only ``role`` and
``request.jwt.claims`` are set before ``select exists(... where <pk> = ...)`` runs
against the table as it is at poll time; nothing catches an error. Each row of
``list_changes`` goes to the subscriptions it names, error rows included.

Subscribers are the JWTs Realtime may hold: the owner's, another user's, the anon key,
the service key, and signed-in tokens with no ``sub``, an empty one, a number and a
string that is not a UUID (third-party auth, a hand-made token). Every table in the
publication is subscribed by each of them.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from aef_db import doctor

from .. import factories as f
from ..conftest import TESTS, Database
from ..factories import OTHER, OWNER

EMULATION = TESTS / "sql" / "realtime_emulation.sql"
PUBLICATION = "supabase_realtime"
REF = {"iss": "supabase", "ref": "aefdbemulation"}
SUBSCRIBERS: dict[str, dict[str, Any]] = {
    "owner": {"sub": str(OWNER), "role": "authenticated", "aud": "authenticated"},
    "other": {"sub": str(OTHER), "role": "authenticated", "aud": "authenticated"},
    "anon": {**REF, "role": "anon"},
    "service_role": {**REF, "role": "service_role"},
    "no_sub": {"role": "authenticated", "aud": "authenticated"},
    "empty_sub": {"sub": "", "role": "authenticated"},
    "numeric_sub": {"sub": 42, "role": "authenticated"},
    "malformed_sub": {"sub": "not-a-uuid", "role": "authenticated"},
}
# what the owner does to each table in the test below; a table joining the publication
# must be added here (and to the test) before this passes
EXPECTED_TYPES = {
    "aef_executions": {"INSERT", "UPDATE"},
    "aef_execution_logs": {"INSERT"},  # append-only
    "aef_checkpoints": {"INSERT", "UPDATE"},
    "aef_browser_sessions": {"INSERT", "UPDATE"},
}
NOTHING = ("other", "no_sub", "empty_sub", "numeric_sub", "malformed_sub")


@dataclass(frozen=True)
class Delivery:
    subscriber: str
    payload: dict[str, Any]
    errors: list[str]

    @property
    def table(self) -> str:
        return str(self.payload["table"])

    @property
    def type(self) -> str:
        return str(self.payload["type"])


class Realtime:
    """One project's Realtime: the emulated schema, one temporary wal2json slot, subscriptions."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn = db.connect()  # postgres: REPLICATION, member of the API roles, as Realtime's role
        self.conn.execute(EMULATION.read_text())
        self.slot = f"realtime_rls_{uuid.uuid4().hex[:8]}"
        self.conn.execute("select pg_create_logical_replication_slot(%s, 'wal2json', true)", (self.slot,))
        self.ids: dict[uuid.UUID, str] = {}

    def published(self) -> list[str]:
        rows = self.conn.execute(
            "select tablename from pg_publication_tables where pubname = %s and schemaname = 'public' order by 1",
            (PUBLICATION,),
        ).fetchall()
        return [r["tablename"] for r in rows]

    def subscribe(self, name: str, claims: dict[str, Any], tables: list[str] | None = None) -> None:
        """Like a channel's postgres_changes binding (event '*'): one subscription id, each table."""
        subscription_id = uuid.uuid4()
        self.ids[subscription_id] = name
        for table in self.published() if tables is None else tables:
            self.conn.execute(
                "insert into realtime.subscription (subscription_id, entity, claims) values (%s, %s::regclass, %s)",
                (subscription_id, f"public.{table}", json.dumps(claims)),
            )

    def peek(self) -> list[str]:
        """The wal2json output list_changes will read, left in the slot."""
        rows = self.conn.execute("select * from realtime.peek_wal2json(%s, %s) as data", (PUBLICATION, self.slot))
        return [r["data"] for r in rows]

    def poll(self) -> list[Delivery]:
        """list_changes until the slot is empty, as the poller does; each row to its subscriptions."""
        found: list[Delivery] = []
        for _ in range(100):
            rows = self.conn.execute(
                "select * from realtime.list_changes(%s, %s, 100, 1048576)", (PUBLICATION, self.slot)
            ).fetchall()
            for row in rows:
                if row["wal"] is not None:
                    found += [Delivery(self.ids[s], row["wal"], row["errors"] or []) for s in row["subscription_ids"]]
            if rows[0]["slot_changes_count"] == 0:
                return found
        raise AssertionError("the slot never emptied")

    def recover(self) -> None:
        """After a failed poll, as replications.ex prepare_replication: the error dropped the
        temporary slot (PostgreSQL drops a session's temporary slots on any error), so a
        new one starts at the current end of the WAL."""
        self.conn.execute(
            "select pg_create_logical_replication_slot(%s, 'wal2json', true)"
            " where not exists (select 1 from pg_replication_slots where slot_name = %s)",
            (self.slot, self.slot),
        )

    def close(self) -> None:
        # the slot is temporary, but dropped only once the backend has gone, which a
        # DROP DATABASE right after the close could beat
        if not self.conn.closed and not self.conn.broken:
            self.conn.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = %s",
                (self.slot,),
            )
        self.conn.close()


@pytest.fixture
def realtime(migrated: Database) -> Iterator[Realtime]:
    instance = Realtime(migrated)
    for name, claims in SUBSCRIBERS.items():
        instance.subscribe(name, claims)
    try:
        yield instance
    finally:
        instance.close()


def of(deliveries: list[Delivery], subscriber: str) -> list[Delivery]:
    return [d for d in deliveries if d.subscriber == subscriber]


def selectable(db: Database, role: str, table: str) -> set[str]:
    rows = (
        db.shared()
        .execute(
            "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped"
            " and has_column_privilege(%s, attrelid, attnum, 'select')",
            (f"public.{table}", role),
        )
        .fetchall()
    )
    return {r["attname"] for r in rows}


def cookie() -> str:
    return f"sb-cookie-{secrets.token_hex(16)}"


def owner_activity(db: Database, session_data: dict[str, Any]) -> dict[str, Any]:
    """What an execution does to every table, as the engine (postgres) and the owner."""
    session = f.session(db, session_data=session_data)
    renewed = {"cookies": [{"name": "sb", "value": session_data["cookies"][0]["value"] + "-renewed"}]}
    f.one(
        db,
        "update public.aef_browser_sessions set status = 'idle', session_data = %s where id = %s returning id",
        (Jsonb(renewed), session),
    )
    execution = f.execution(db, status="running", browser_session_id=session)
    checkpoint = f.checkpoint(db, execution)
    f.log(db, execution, 2)
    with db.acting("authenticated", OWNER) as conn:
        conn.execute("select public.aef_resolve_checkpoint(%s, 'approved')", (checkpoint,))
    return {"session": session, "execution": execution, "checkpoint": checkpoint}


# -- who receives what ------------------------------------------------------------------------


def test_each_published_change_reaches_its_owner_and_service_role_only(migrated: Database, realtime: Realtime) -> None:
    published = realtime.published()
    assert published, "nothing is published"
    assert set(published) <= set(EXPECTED_TYPES), f"a table joined {PUBLICATION} without a test: {published}"
    owner_activity(migrated, {"cookies": [{"name": "sb", "value": cookie()}]})

    deliveries = realtime.poll()  # raises if any subscriber's claims make a policy raise

    owner = of(deliveries, "owner")
    assert not [d for d in owner if d.errors], [d.errors for d in owner]
    for table in published:
        got = {d.type for d in owner if d.table == table}
        assert got == EXPECTED_TYPES[table], (table, got)
        columns = selectable(migrated, "authenticated", table)
        for d in owner:
            if d.table == table:
                assert set(d.payload["record"]) == columns, (table, set(d.payload["record"]) ^ columns)
                assert {c["name"] for c in d.payload["columns"]} == columns
    # the engine's key sees every change too, and no more
    service = of(deliveries, "service_role")
    assert sorted((d.table, d.type, d.payload["record"]["id"]) for d in service) == sorted(
        (d.table, d.type, d.payload["record"]["id"]) for d in owner
    )
    for name in NOTHING:
        assert of(deliveries, name) == [], name
    # anon has no privilege on the key: upstream answers "401" with the table and the
    # action, and no row
    anon = of(deliveries, "anon")
    assert {(d.table, d.type) for d in anon} == {(d.table, d.type) for d in owner}
    for d in anon:
        assert d.errors == ["Error 401: Unauthorized"]
        assert set(d.payload) == {"schema", "table", "type"}, d.payload


def test_another_users_changes_reach_them_and_not_the_owner(migrated: Database, realtime: Realtime) -> None:
    execution = f.execution(migrated, OTHER, status="running")
    f.log(migrated, execution)
    deliveries = realtime.poll()
    assert {(d.table, d.type) for d in of(deliveries, "other")} >= {
        ("aef_executions", "INSERT"),
        ("aef_executions", "UPDATE"),
        ("aef_execution_logs", "INSERT"),
    }
    assert of(deliveries, "owner") == []


def test_the_emulation_loses_a_poll_when_a_policy_raises(migrated: Database, realtime: Realtime) -> None:
    """supabase/realtime#2093, reproduced: a policy that casts the subject to uuid, as
    `(select auth.uid())` does, raises for one subscriber and loses the change for all."""
    with migrated.connect() as conn:
        conn.execute("create table public.rt_probe (id uuid primary key, owner uuid not null)")
        conn.execute("alter table public.rt_probe enable row level security")
        conn.execute(
            'create policy "cast" on public.rt_probe for select to authenticated using (owner = (select auth.uid()))'
        )
        conn.execute("grant select on public.rt_probe to authenticated")
        conn.execute(f"alter publication {PUBLICATION} add table public.rt_probe")
    realtime.subscribe("probe_owner", SUBSCRIBERS["owner"], ["rt_probe"])
    realtime.subscribe("probe_malformed", SUBSCRIBERS["malformed_sub"], ["rt_probe"])
    migrated.shared().execute("insert into public.rt_probe values (gen_random_uuid(), %s)", (OWNER,))
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        realtime.poll()
    realtime.recover()
    assert realtime.poll() == []  # the slot was dropped: the owner never gets the row


# -- session_data -----------------------------------------------------------------------------


def test_session_data_never_reaches_realtime_nor_its_decoders(migrated: Database, realtime: Realtime) -> None:
    token = cookie()
    pgoutput = migrated.connect()
    try:
        pgoutput_slot = f"pgoutput_{uuid.uuid4().hex[:8]}"
        pgoutput.execute("select pg_create_logical_replication_slot(%s, 'pgoutput', true)", (pgoutput_slot,))
        ids = owner_activity(migrated, {"cookies": [{"name": "sb", "value": token}]})
        # a lease and an end: every kind of update a session gets
        f.one(
            migrated,
            "update public.aef_browser_sessions set lease_execution_id = %s, lease_holder = 'w1',"
            " lease_expires_at = now() + interval '1 minute' where id = %s returning id",
            (ids["execution"], ids["session"]),
        )
        f.one(
            migrated,
            "update public.aef_browser_sessions set status = 'terminated' where id = %s returning id",
            (ids["session"],),
        )

        wal2json = realtime.peek()
        assert wal2json, "wal2json decoded nothing"
        assert not [line for line in wal2json if token in line]
        binary = pgoutput.execute(
            "select data from pg_logical_slot_get_binary_changes(%s, null, null,"
            " 'proto_version', '1', 'publication_names', %s)",
            (pgoutput_slot, PUBLICATION),
        ).fetchall()
        assert binary, "pgoutput decoded nothing"
        assert not [r for r in binary if token.encode() in bytes(r["data"])]
    finally:
        pgoutput.execute("select pg_drop_replication_slot(%s)", (pgoutput_slot,))
        pgoutput.close()

    deliveries = realtime.poll()
    assert deliveries
    for d in deliveries:
        if d.table == "aef_browser_sessions":
            for key in ("record", "old_record"):
                assert "session_data" not in (d.payload.get(key) or {}), (d.subscriber, key)
            assert "session_data" not in {c["name"] for c in d.payload.get("columns") or []}
        assert token not in json.dumps(d.payload)


def test_doctor_fails_when_sessions_are_published(migrated: Database) -> None:
    with migrated.connect() as conn:
        conn.execute(f"alter publication {PUBLICATION} add table public.aef_browser_sessions (id, user_id, status)")
    found = {c.name: c for c in doctor.run(migrated.url)}
    assert found["realtime publication"].level is doctor.Level.FAIL
    assert "aef_browser_sessions" in found["realtime publication"].detail


# -- DELETE -----------------------------------------------------------------------------------


def test_a_delete_reaches_every_subscriber_with_the_key_only(migrated: Database, realtime: Realtime) -> None:
    """Pinned as documented (rls.md#realtime): Realtime checks no policy for a DELETE, so
    every subscriber of the table gets it; under RLS the old record is cut to the primary
    key, which anon may not select, so anon gets the table and the action only."""
    execution = f.execution(migrated, status="running")
    f.log(migrated, execution, 3)
    checkpoint = f.checkpoint(migrated, execution)
    f.one(migrated, "update public.aef_executions set status = 'completed' where id = %s returning id", (execution,))
    events = f.one(migrated, "select count(*) from public.aef_execution_logs where execution_id = %s", (execution,))
    realtime.poll()

    with migrated.acting("service_role") as conn:
        conn.execute("delete from public.aef_checkpoints where id = %s", (checkpoint,))
        conn.execute("select aef_audit.archive_execution_logs(%s, 's3://archive/test')", (execution,))
    wal2json = [json.loads(line) for line in realtime.peek()]
    # the WAL has the checkpoint's whole old row (replica identity full)...
    assert any(c["action"] == "D" and len(c["identity"]) > 1 for c in wal2json if c["table"] == "aef_checkpoints")
    deliveries = realtime.poll()

    for name in SUBSCRIBERS:
        got = of(deliveries, name)
        assert {d.type for d in got} == {"DELETE"}, name
        assert sorted(d.table for d in got) == ["aef_checkpoints"] + ["aef_execution_logs"] * events, name
        for d in got:
            assert d.errors == []
            # ...Realtime sends its key only, to everyone
            expected = None if name == "anon" else {"id"}
            old = d.payload["old_record"]
            assert (None if old is None else set(old)) == expected, (name, d.table, old)
        if name != "anon":
            assert checkpoint in {uuid.UUID(d.payload["old_record"]["id"]) for d in got}

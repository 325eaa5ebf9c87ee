"""Broadcast from the database: triggers, topics, payloads and who may join (docs/realtime.md).

Supabase Realtime is stood in for by tests/sql/realtime_stub.sql, installed as the
cluster's superuser; Broadcast is enabled as postgres, which is not a superuser, as
on hosted Supabase. A join is checked the way Realtime checks it
(lib/realtime/tenants/authorization.ex): the Realtime admin inserts a probe message
for the topic, then, as the user, selects it back.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aef_db.connection import connect
from aef_db.errors import PrivilegeError
from aef_db.realtime import broadcast
from aef_db.secrets import Secret
from aef_db.sync import SyncStore

from .. import factories as f
from ..conftest import Database
from ..factories import OTHER, OWNER
from ..store_helpers import CIPHER

STUB = Path(__file__).resolve().parents[1] / "sql" / "realtime_stub.sql"
USER_A, USER_B = OWNER, OTHER
# what a message's record holds, per table: identity, owner, state, timestamps; no JSON column
RECORD = {
    "aef_executions": {
        "id",
        "user_id",
        "sop_id",
        "status",
        "current_step_id",
        "browser_session_id",
        "started_at",
        "completed_at",
        "created_at",
        "updated_at",
    },
    "aef_execution_logs": {"id", "execution_id", "user_id", "seq", "step_id", "event_type", "timestamp", "created_at"},
    "aef_checkpoints": {
        "id",
        "execution_id",
        "user_id",
        "step_id",
        "checkpoint_type",
        "status",
        "timeout_at",
        "timeout_policy",
        "resolved_at",
        "resolved_by",
        "created_at",
        "updated_at",
    },
    "aef_browser_sessions": {
        "id",
        "user_id",
        "status",
        "mode",
        "lease_execution_id",
        "lease_holder",
        "lease_expires_at",
        "last_active",
        "ended_at",
        "created_at",
        "updated_at",
    },
}


def install_stub(db: Database) -> None:
    with db.connect(superuser=True) as conn:
        conn.execute(STUB.read_text())


def enable(db: Database) -> broadcast.BroadcastStatus:
    with db.connect() as conn:  # postgres: CREATEDB CREATEROLE REPLICATION BYPASSRLS, not a superuser
        return broadcast.enable(conn)


def disable(db: Database) -> None:
    with db.connect() as conn:
        broadcast.disable(conn)


@pytest.fixture
def realtime(migrated: Database) -> Database:
    """A migrated database with Realtime's objects, Broadcast not enabled."""
    install_stub(migrated)
    return migrated


@pytest.fixture
def enabled(realtime: Database) -> Database:
    assert enable(realtime).state is broadcast.State.ENABLED
    return realtime


def messages(db: Database) -> list[dict[str, Any]]:
    return db.shared(superuser=True).execute("select * from realtime.messages").fetchall()


def clear(db: Database) -> None:
    db.shared(superuser=True).execute("delete from realtime.messages")


def on(db: Database, topic: str) -> list[dict[str, Any]]:
    return [m for m in messages(db) if m["topic"] == topic]


def user_topic(user: uuid.UUID) -> str:
    return f"aef:user:{user}"


def execution_topic(execution_id: uuid.UUID) -> str:
    return f"aef:execution:{execution_id}"


def claims_for(role: str, user: uuid.UUID | str | None) -> str:
    claims: dict[str, Any] = {"role": role}
    if user is not None:
        claims["sub"] = str(user)
    return json.dumps(claims)


def can_join(db: Database, topic: str, role: str = "authenticated", user: uuid.UUID | str | None = None) -> bool:
    """Realtime's read check for a private channel: can the user select the broadcast probe back?"""
    with db.connect(superuser=True) as conn, conn.transaction(force_rollback=True):
        probes = conn.execute(
            "insert into realtime.messages (topic, extension) values (%(t)s, 'broadcast'), (%(t)s, 'presence')"
            " returning id, extension",
            {"t": topic},
        ).fetchall()
        ids = {p["extension"]: p["id"] for p in probes}
        conn.execute(
            "select set_config('role', %s, true), set_config('realtime.topic', %s, true),"
            " set_config('request.jwt.claims', %s, true)",
            (role, topic, claims_for(role, user)),
        )
        seen = conn.execute(
            "select id from realtime.messages where topic = %s"
            " and ((extension = 'broadcast' and id = %s) or (extension = 'presence' and id = %s))",
            (topic, ids["broadcast"], ids["presence"]),
        ).fetchall()
    return ids["broadcast"] in {r["id"] for r in seen}


def can_send(db: Database, topic: str, role: str = "authenticated", user: uuid.UUID | str | None = None) -> bool:
    """Realtime's write check: may the user insert a broadcast message on the topic?"""
    with db.connect(superuser=True) as conn, conn.transaction(force_rollback=True):
        conn.execute(
            "select set_config('role', %s, true), set_config('realtime.topic', %s, true),"
            " set_config('request.jwt.claims', %s, true)",
            (role, topic, claims_for(role, user)),
        )
        try:
            with conn.transaction():
                conn.execute("insert into realtime.messages (topic, extension) values (%s, 'broadcast')", (topic,))
        except psycopg.errors.InsufficientPrivilege:
            return False
    return True


def catalog(db: Database) -> dict[str, list[Any]]:
    """What Broadcast could add: triggers on aef-db's tables, aef_private's functions, policies on messages."""
    conn = db.shared(superuser=True)
    return {
        "triggers": conn.execute(
            "select tgrelid::regclass::text, tgname, pg_get_triggerdef(t.oid) from pg_trigger t"
            " where not tgisinternal and tgrelid::regclass::text like '%aef%' order by 1, 2"
        ).fetchall(),
        "functions": conn.execute(
            "select p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid)) from pg_proc p"
            " where pronamespace = 'aef_private'::regnamespace order by 1"
        ).fetchall(),
        "policies": conn.execute(
            "select policyname, permissive, roles, cmd, qual, with_check from pg_policies"
            " where schemaname = 'realtime' order by 1"
        ).fetchall(),
    }


# -- enabling ------------------------------------------------------------------------


def test_postgres_enables_broadcast_without_being_a_superuser(realtime: Database) -> None:
    assert f.one(realtime, "select current_user") == "postgres"
    assert f.one(realtime, "select rolsuper from pg_roles where rolname = 'postgres'") is False
    found = enable(realtime)
    assert found.state is broadcast.State.ENABLED, found.describe()
    assert set(found.triggers) == set(broadcast.TRIGGERS) and set(found.policies) == set(broadcast.POLICIES)


def test_enabling_twice_is_harmless(realtime: Database) -> None:
    enable(realtime)
    once = catalog(realtime)
    assert enable(realtime).state is broadcast.State.ENABLED
    assert catalog(realtime) == once
    f.execution(realtime)
    assert len(messages(realtime)) == 2  # one per topic, not two


def test_disable_removes_exactly_what_enable_added(realtime: Database) -> None:
    before = catalog(realtime)
    enable(realtime)
    assert catalog(realtime) != before
    disable(realtime)
    assert catalog(realtime) == before
    f.execution(realtime)
    assert messages(realtime) == []
    with realtime.connect() as conn:
        assert broadcast.status(conn).state is broadcast.State.DISABLED


def test_a_role_that_does_not_bypass_rls_is_refused_and_nothing_changes(realtime: Database) -> None:
    before = catalog(realtime)
    with (
        realtime.login_role("rt_plain") as url,
        connect(url) as conn,
        pytest.raises(PrivilegeError, match="does not bypass row level security"),
    ):
        broadcast.enable(conn)
    assert catalog(realtime) == before


def test_without_realtime_enabling_changes_nothing(migrated: Database) -> None:
    before = catalog(migrated)
    with migrated.connect() as conn:
        found = broadcast.enable(conn)
    assert found.state is broadcast.State.UNAVAILABLE and "no schema realtime" in found.describe()
    assert catalog(migrated) == before


# -- what is sent where ------------------------------------------------------------------


def test_each_change_reaches_its_topics_with_its_event(enabled: Database) -> None:
    db = enabled
    execution = f.execution(db, USER_A)
    mine, its = user_topic(USER_A), execution_topic(execution)
    assert sorted((m["topic"], m["event"]) for m in messages(db)) == [
        (its, "aef_executions.insert"),
        (mine, "aef_executions.insert"),
    ]
    clear(db)
    f.one(db, "update public.aef_executions set status = 'running' where id = %s returning id", (execution,))
    update = on(db, its)
    assert [m["event"] for m in update] == ["aef_executions.update"]
    assert update[0]["payload"]["record"]["status"] == "running"
    assert update[0]["payload"]["old_record"]["status"] == "idle"
    assert [m["event"] for m in on(db, mine)] == ["aef_executions.update"]

    clear(db)
    f.log(db, execution, 3)
    assert {m["topic"] for m in messages(db)} == {its}  # the log goes to the execution's topic only
    assert sorted(m["payload"]["record"]["seq"] for m in messages(db)) == [1, 2, 3]
    assert {m["event"] for m in messages(db)} == {"aef_execution_logs.insert"}

    clear(db)
    checkpoint = f.checkpoint(db, execution)
    f.one(db, "update public.aef_checkpoints set status = 'approved' where id = %s returning id", (checkpoint,))
    f.one(db, "delete from public.aef_checkpoints where id = %s returning id", (checkpoint,))
    for topic in (mine, its):
        assert sorted(m["event"] for m in on(db, topic)) == [
            "aef_checkpoints.delete",
            "aef_checkpoints.insert",
            "aef_checkpoints.update",
        ]
    delete = next(m for m in on(db, its) if m["event"] == "aef_checkpoints.delete")
    assert delete["payload"]["record"] is None and delete["payload"]["old_record"]["status"] == "approved"

    clear(db)
    session = f.session(db, USER_A)
    f.one(db, "update public.aef_browser_sessions set last_active = now() where id = %s returning id", (session,))
    assert [m["event"] for m in messages(db)] == ["aef_browser_sessions.insert"]  # a heartbeat is not news
    f.one(db, "update public.aef_browser_sessions set status = 'idle' where id = %s returning id", (session,))
    f.one(db, "delete from public.aef_browser_sessions where id = %s returning id", (session,))
    assert {m["topic"] for m in messages(db)} == {mine}
    assert sorted(m["event"] for m in messages(db)) == [
        "aef_browser_sessions.delete",
        "aef_browser_sessions.insert",
        "aef_browser_sessions.update",
    ]

    clear(db)
    f.one(db, "delete from public.aef_executions where id = %s returning id", (f.execution(db, USER_B),))
    assert {m["topic"] for m in messages(db) if m["event"] == "aef_executions.delete"} == {user_topic(USER_B)} | {
        m["topic"] for m in messages(db) if m["topic"].startswith("aef:execution:")
    }


def test_messages_are_what_realtime_send_writes(enabled: Database) -> None:
    f.execution(enabled)
    for m in messages(enabled):
        assert m["extension"] == "broadcast" and m["private"] is True
        assert m["payload"]["id"] == str(m["id"])  # as realtime.send adds it
        assert set(m["payload"]) == {"id", "schema", "table", "operation", "record", "old_record"}
    assert len({m["id"] for m in messages(enabled)}) == 2


def test_payloads_carry_no_session_data_and_no_sealed_secret(enabled: Database) -> None:
    db = enabled
    with SyncStore(db.url, cipher=CIPHER) as store:
        execution = store.executions.start(
            f.sop(db, USER_A),
            USER_A,
            execution_context={"login": {"user": "ann", "password": Secret("hunter2-context")}},
            config={"api_key": Secret("sk-config-secret")},
        )
        store.executions.run(execution.id)
        session = store.sessions.create(
            USER_A,
            mode="pooled",
            session_data={"cookies": [{"name": "sid", "value": "cookie-plaintext"}], "token": "tok-plain"},
        )
        assert store.sessions.lease(execution.id, USER_A, holder="worker-1", mode="pooled").id == session.id
        store.logs.append(execution.id, "step_started", step_id="login", data={"note": "typed the password"})
        store.checkpoints.create(execution.id, "manual_review", request={"question": "ok?"})
        store.executions.complete(execution.id)
    # a writer other than the store may put a sealed-looking string in a text column
    f.execution(db, USER_A, current_step_id="aef:v1:k1:not-really-sealed")
    stored = db.dump("--data-only", "--table=public.aef_*")
    assert "aef:v1:" in stored and "aef:v1:" not in json.dumps([str(m["payload"]) for m in messages(db)])
    for m in messages(db):
        text = json.dumps(m["payload"])
        assert "aef:v1:" not in text, m
        for secret in ("hunter2", "sk-config", "cookie-plaintext", "tok-plain", "session_data"):
            assert secret not in text, (secret, m)
        for record in (m["payload"]["record"], m["payload"]["old_record"]):
            assert record is None or set(record) == RECORD[m["payload"]["table"]], m
    tables = {m["payload"]["table"] for m in messages(db)}
    assert tables == {"aef_executions", "aef_execution_logs", "aef_checkpoints", "aef_browser_sessions"}
    masked = [m for m in messages(db) if (m["payload"]["record"] or {}).get("current_step_id") == "aef:sealed"]
    assert masked, "the sealed-looking step id was masked"


def test_a_batch_of_1000_log_events_is_one_trigger_call(enabled: Database) -> None:
    execution = f.execution(enabled, status="running")
    clear(enabled)
    with enabled.connect(superuser=True) as conn, conn.transaction():
        conn.execute("set local track_functions = 'pl'")
        conn.execute(
            "insert into public.aef_execution_logs (execution_id, step_id, event_type, data)"
            " select %s, 'step-' || g, 'browser_action', jsonb_build_object('n', g) from generate_series(1, 1000) g",
            (execution,),
        )
        calls = conn.execute(
            "select pg_stat_get_xact_function_calls('aef_private.broadcast_execution_logs()'::regprocedure) as n"
        ).fetchone()
    assert calls is not None and calls["n"] == 1
    sent = on(enabled, execution_topic(execution))
    assert sorted(m["payload"]["record"]["seq"] for m in sent) == list(range(1, 1001))
    assert len(messages(enabled)) == 1000


def test_without_a_partition_for_today_the_write_succeeds_and_a_warning_says_why(enabled: Database) -> None:
    admin = enabled.shared(superuser=True)
    today = admin.execute(
        "select c.oid::regclass::text as name from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " where i.inhparent = 'realtime.messages'::regclass"
        " and c.relname = 'messages_' || to_char(timezone('utc', now()), 'YYYY_MM_DD')"
    ).fetchone()
    assert today is not None
    admin.execute(f"drop table {today['name']}")
    warnings: list[str] = []
    with enabled.connect() as conn:
        conn.add_notice_handler(lambda d: warnings.append(d.message_primary or ""))
        conn.execute("insert into public.sops (user_id, name) values (%s, 'x')", (USER_A,))
        sop = conn.execute("select id from public.sops limit 1").fetchone()
        assert sop is not None
        conn.execute("insert into public.aef_executions (sop_id, user_id) values (%s, %s)", (sop["id"], USER_A))
        assert conn.execute("select count(*) as n from public.aef_executions").fetchone() == {"n": 1}
    assert messages(enabled) == []
    assert any("aef-db broadcast: no message sent" in w and "no partition" in w for w in warnings), warnings


# -- who may join ---------------------------------------------------------------------


def test_only_the_owner_joins_their_topics(enabled: Database) -> None:
    a_run, b_run = f.execution(enabled, USER_A), f.execution(enabled, USER_B)
    assert can_join(enabled, user_topic(USER_A), user=USER_A)
    assert can_join(enabled, execution_topic(a_run), user=USER_A)
    assert not can_join(enabled, user_topic(USER_B), user=USER_A)
    assert not can_join(enabled, execution_topic(b_run), user=USER_A)
    assert not can_join(enabled, user_topic(USER_A), user=USER_B)
    assert not can_join(enabled, execution_topic(a_run), user=USER_B)
    for topic in (user_topic(USER_A), execution_topic(a_run), "aef:user:", f"aef:user:{USER_A}:x"):
        assert not can_join(enabled, topic, role="anon")
    # malformed or unknown topics match no one, and raise nothing
    for topic in ("aef:execution:not-a-uuid", f"aef:execution:{uuid.uuid4()}", f"aef:execution:{a_run}x", "aef:"):
        assert not can_join(enabled, topic, user=USER_A)


def test_a_projects_open_policies_do_not_open_aef_topics(enabled: Database) -> None:
    """Supabase's guide suggests "authenticated can read/send on any topic"; aef topics stay their owner's."""
    admin = enabled.shared(superuser=True)
    admin.execute(
        "create policy open_read on realtime.messages for select to anon, authenticated using (true);"
        " create policy open_send on realtime.messages for insert to anon, authenticated with check (true)"
    )
    a_run = f.execution(enabled, USER_A)
    assert can_join(enabled, "room:lobby", user=USER_B) and can_send(enabled, "room:lobby", user=USER_B)
    assert can_join(enabled, "room:lobby", role="anon")  # aef-db's guard reads no table anon may not read
    assert can_join(enabled, user_topic(USER_A), user=USER_A)
    assert not can_join(enabled, user_topic(USER_A), user=USER_B)
    assert not can_join(enabled, execution_topic(a_run), user=USER_B)
    assert not can_join(enabled, user_topic(USER_A), role="anon")
    # a subject that is not a UUID (third-party auth) is refused aef topics, and nothing raises
    for subject in ("github|12345", "", "42"):
        assert can_join(enabled, "room:lobby", user=subject)
        assert not can_join(enabled, user_topic(USER_A), user=subject)
        assert not can_join(enabled, execution_topic(a_run), user=subject)
    # no one forges events on an aef topic, not even its owner: only the triggers write there
    assert not can_send(enabled, user_topic(USER_A), user=USER_A)
    assert not can_send(enabled, execution_topic(a_run), user=USER_B)


def test_joining_is_refused_before_enabling_and_after_disabling(realtime: Database) -> None:
    a_run = f.execution(realtime, USER_A)
    assert not can_join(realtime, execution_topic(a_run), user=USER_A)  # no policy: RLS shows nothing
    enable(realtime)
    assert can_join(realtime, execution_topic(a_run), user=USER_A)
    disable(realtime)
    assert not can_join(realtime, execution_topic(a_run), user=USER_A)

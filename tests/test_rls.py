"""Who may do what, from Python: the RLS matrix, the four user functions, grants on
both kinds of Supabase project, and what Supabase Realtime lets each subscriber see."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.types.json import Jsonb

from aef_db.runner import Runner

from . import factories as f
from .conftest import Database
from .factories import OTHER, OWNER

ACTORS = ("anon", "owner", "other", "service_role")


@dataclass
class World:
    execution: uuid.UUID  # running, with one log row, a pending checkpoint and a session
    spare: uuid.UUID  # an idle execution with no children, for deletes
    checkpoint: uuid.UUID
    session: str
    sop: uuid.UUID


@pytest.fixture
def world(migrated: Database) -> World:
    session = f.session(migrated, session_data={"cookie": "secret"})
    execution = f.execution(migrated, status="running", browser_session_id=session)
    f.log(migrated, execution, 1)
    return World(execution, f.execution(migrated), f.checkpoint(migrated, execution), session, f.sop(migrated))


def act(db: Database, actor: str):  # type: ignore[no-untyped-def]
    role = {"anon": "anon", "owner": "authenticated", "other": "authenticated", "service_role": "service_role"}[actor]
    return db.acting(role, {"owner": OWNER, "other": OTHER}.get(actor))


# (table, operation) -> SQL, and the outcome per actor: an int is a row count, a str an SQLSTATE
MATRIX: dict[tuple[str, str], tuple[str, dict[str, int | str]]] = {
    ("executions", "select"): ("select * from public.aef_executions where id = %(execution)s",
                               {"anon": "42501", "owner": 1, "other": 0, "service_role": 1}),
    ("executions", "insert"): ("insert into public.aef_executions (sop_id, user_id) values (%(sop)s, %(owner)s)",
                               {"anon": "42501", "owner": 1, "other": "42501", "service_role": 1}),
    ("executions", "update"): ("update public.aef_executions set current_step_id = 'x' where id = %(execution)s",
                               {"anon": "42501", "owner": "42501", "other": "42501", "service_role": 1}),
    ("executions", "delete"): ("delete from public.aef_executions where id = %(spare)s",
                               {"anon": "42501", "owner": "42501", "other": "42501", "service_role": 1}),
    ("logs", "select"): ("select * from public.aef_execution_logs where execution_id = %(execution)s",
                         {"anon": "42501", "owner": 1, "other": 0, "service_role": 1}),
    ("logs", "insert"): ("insert into public.aef_execution_logs (execution_id, event_type) values (%(execution)s, 'user_input')",
                         {"anon": "42501", "owner": "42501", "other": "42501", "service_role": 1}),
    ("logs", "update"): ("update public.aef_execution_logs set data = '{}' where execution_id = %(execution)s",
                         {"anon": "42501", "owner": "42501", "other": "42501", "service_role": "42501"}),
    ("logs", "delete"): ("delete from public.aef_execution_logs where execution_id = %(execution)s",
                         {"anon": "42501", "owner": "42501", "other": "42501", "service_role": "42501"}),
    ("checkpoints", "select"): ("select * from public.aef_checkpoints where id = %(checkpoint)s",
                                {"anon": "42501", "owner": 1, "other": 0, "service_role": 1}),
    ("checkpoints", "insert"): ("insert into public.aef_checkpoints (execution_id, checkpoint_type) values (%(spare)s, 'custom')",
                                {"anon": "42501", "owner": "42501", "other": "42501", "service_role": 1}),
    ("checkpoints", "update"): ("update public.aef_checkpoints set status = 'approved' where id = %(checkpoint)s",
                                {"anon": "42501", "owner": "42501", "other": "42501", "service_role": 1}),
    ("checkpoints", "delete"): ("delete from public.aef_checkpoints where id = %(checkpoint)s",
                                {"anon": "42501", "owner": "42501", "other": "42501", "service_role": 1}),
    ("sessions", "select"): ("select id, status, last_active from public.aef_browser_sessions where id = %(session)s",
                             {"anon": "42501", "owner": 1, "other": 0, "service_role": 1}),
    ("sessions", "select session_data"): ("select session_data from public.aef_browser_sessions where id = %(session)s",
                                          {"anon": "42501", "owner": "42501", "other": "42501", "service_role": 1}),
    ("sessions", "insert"): ("insert into public.aef_browser_sessions (user_id) values (%(owner)s)",
                             {"anon": "42501", "owner": "42501", "other": "42501", "service_role": 1}),
    ("sessions", "update"): ("update public.aef_browser_sessions set status = 'idle' where id = %(session)s",
                             {"anon": "42501", "owner": "42501", "other": "42501", "service_role": 1}),
    ("sessions", "delete"): ("delete from public.aef_browser_sessions where id = %(session)s",
                             {"anon": "42501", "owner": "42501", "other": "42501", "service_role": 1}),
}  # fmt: skip


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("case", list(MATRIX), ids=lambda c: "-".join(c).replace(" ", "_"))
def test_rls_matrix(migrated: Database, world: World, case: tuple[str, str], actor: str) -> None:
    statement, outcomes = MATRIX[case]
    expected = outcomes[actor]
    params = {**world.__dict__, "owner": OWNER}
    if isinstance(expected, int):
        with act(migrated, actor) as conn:
            cur = conn.execute(statement, params)
            assert cur.rowcount == expected
    else:
        with pytest.raises(psycopg.Error) as excinfo, act(migrated, actor) as conn:
            conn.execute(statement, params)
        assert excinfo.value.sqlstate == expected


def test_owner_inserts_only_idle_executions_of_their_own_visible_sops(migrated: Database, world: World) -> None:
    theirs = f.sop(migrated, OTHER)
    with act(migrated, "owner") as conn:
        row = conn.execute("insert into public.aef_executions (sop_id) values (%s) returning user_id, status::text", (world.sop,)).fetchone()
    assert row == {"user_id": OWNER, "status": "idle"}  # user_id defaults to the caller
    for statement, params in [
        ("insert into public.aef_executions (sop_id, user_id) values (%s, %s)", (world.sop, OTHER)),  # another user's id
        ("insert into public.aef_executions (sop_id) values (%s)", (theirs,)),  # an SOP they cannot see
        ("insert into public.aef_executions (sop_id, status) values (%s, 'running')", (world.sop,)),  # not idle
        ("insert into public.aef_executions (sop_id, browser_session_id) values (%s, %s)", (world.sop, world.session)),  # column not granted
        ("insert into public.aef_executions (sop_id) values (%s)", (uuid.uuid4(),)),  # no such SOP
    ]:
        with pytest.raises(psycopg.Error) as excinfo, act(migrated, "owner") as conn:
            conn.execute(statement, params)
        assert excinfo.value.sqlstate == "42501", statement
    assert f.one(migrated, "select count(*) from public.aef_executions where user_id = %s", (OWNER,)) == 3


# -- the four functions -------------------------------------------------------------------


def test_pause_resume_cancel_as_owner_return_the_row_and_log_the_action(migrated: Database, world: World) -> None:
    with act(migrated, "owner") as conn:
        paused = conn.execute("select * from public.aef_pause_execution(%s)", (world.execution,)).fetchone()
        resumed = conn.execute("select * from public.aef_resume_execution(%s)", (world.execution,)).fetchone()
        cancelled = conn.execute("select * from public.aef_cancel_execution(%s)", (world.execution,)).fetchone()
    assert (paused["status"], resumed["status"], cancelled["status"]) == ("paused", "running", "cancelled")
    assert cancelled["completed_at"] is not None and cancelled["id"] == world.execution
    with migrated.connect() as conn:
        actions = conn.execute(
            "select data ->> 'action' as action, data ->> 'by' as by, event_type::text from public.aef_execution_logs"
            " where execution_id = %s and event_type = 'user_input' order by seq", (world.execution,)
        ).fetchall()  # fmt: skip
    assert actions == [{"action": a, "by": str(OWNER), "event_type": "user_input"} for a in ("pause", "resume", "cancel")]


@pytest.mark.parametrize("function", ["aef_pause_execution", "aef_resume_execution", "aef_cancel_execution"])
def test_execution_functions_refuse_other_users_and_anon(migrated: Database, world: World, function: str) -> None:
    with pytest.raises(psycopg.Error) as excinfo, act(migrated, "other") as conn:
        conn.execute(f"select public.{function}(%s)", (world.execution,))
    assert excinfo.value.sqlstate == "P0002" and "that you own" in str(excinfo.value)
    with pytest.raises(psycopg.Error) as excinfo, act(migrated, "anon") as conn:
        conn.execute(f"select public.{function}(%s)", (world.execution,))
    assert excinfo.value.sqlstate == "42501"
    with pytest.raises(psycopg.Error) as excinfo, migrated.acting("authenticated") as conn:  # no JWT subject
        conn.execute(f"select public.{function}(%s)", (world.execution,))
    assert excinfo.value.sqlstate == "P0002"
    assert f.one(migrated, "select status::text from public.aef_executions where id = %s", (world.execution,)) == "running"


def test_execution_functions_check_state(migrated: Database, world: World) -> None:
    idle = f.execution(migrated)
    with pytest.raises(psycopg.Error) as excinfo, act(migrated, "owner") as conn:  # resume is not a way to start
        conn.execute("select public.aef_resume_execution(%s)", (idle,))
    assert excinfo.value.sqlstate == "AE001" and "acts on paused executions only" in str(excinfo.value)
    with act(migrated, "owner") as conn:
        conn.execute("select public.aef_pause_execution(%s)", (world.execution,))
    with pytest.raises(psycopg.Error) as excinfo, act(migrated, "owner") as conn:
        conn.execute("select public.aef_pause_execution(%s)", (world.execution,))
    assert excinfo.value.sqlstate == "AE001" and "already paused" in str(excinfo.value)
    with act(migrated, "owner") as conn:
        conn.execute("select public.aef_cancel_execution(%s)", (world.execution,))
    with pytest.raises(psycopg.Error) as excinfo, act(migrated, "owner") as conn:
        conn.execute("select public.aef_resume_execution(%s)", (world.execution,))
    assert excinfo.value.sqlstate == "AE001" and "is cancelled; it acts on paused executions only" in str(excinfo.value)


def test_the_engine_may_act_without_a_user(migrated: Database, world: World) -> None:
    with act(migrated, "service_role") as conn:
        row = conn.execute("select status::text from public.aef_pause_execution(%s)", (world.execution,)).fetchone()
    assert row["status"] == "paused"


def test_resolve_checkpoint_once_with_a_clear_loser(migrated: Database, world: World) -> None:
    with act(migrated, "owner") as conn:
        row = conn.execute("select * from public.aef_resolve_checkpoint(%s, 'approved', %s)",
                           (world.checkpoint, Jsonb({"comment": "looks right"}))).fetchone()  # fmt: skip
    assert row["status"] == "approved" and row["resolved_by"] == OWNER and row["resolved_at"] is not None
    assert row["user_response"] == {"comment": "looks right"}
    with pytest.raises(psycopg.Error) as excinfo, act(migrated, "owner") as conn:
        conn.execute("select public.aef_resolve_checkpoint(%s, 'rejected')", (world.checkpoint,))
    assert excinfo.value.sqlstate == "AE002" and "already resolved as approved" in str(excinfo.value)
    logged = f.one(migrated, "select data from public.aef_execution_logs where data ->> 'action' = 'resolve_checkpoint'")
    assert logged == {"action": "resolve_checkpoint", "checkpoint_id": str(world.checkpoint), "decision": "approved", "by": str(OWNER)}


@pytest.mark.parametrize("decision", ["pending", "timeout"])
def test_resolve_refuses_decisions_a_person_cannot_make(migrated: Database, world: World, decision: str) -> None:
    with pytest.raises(psycopg.Error) as excinfo, act(migrated, "owner") as conn:
        conn.execute("select public.aef_resolve_checkpoint(%s, %s)", (world.checkpoint, decision))
    assert excinfo.value.sqlstate == "22023"


def test_resolve_refuses_other_users_and_anon(migrated: Database, world: World) -> None:
    with pytest.raises(psycopg.Error) as excinfo, act(migrated, "other") as conn:
        conn.execute("select public.aef_resolve_checkpoint(%s, 'approved')", (world.checkpoint,))
    assert excinfo.value.sqlstate == "P0002"
    with pytest.raises(psycopg.Error) as excinfo, act(migrated, "anon") as conn:
        conn.execute("select public.aef_resolve_checkpoint(%s, 'approved')", (world.checkpoint,))
    assert excinfo.value.sqlstate == "42501"
    assert f.one(migrated, "select status::text from public.aef_checkpoints where id = %s", (world.checkpoint,)) == "pending"


def test_two_simultaneous_resolves_have_exactly_one_winner(migrated: Database, world: World) -> None:
    first = migrated.connect()
    second = migrated.connect()
    try:
        for conn in (first, second):
            conn.execute("begin")
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps({"sub": str(OWNER)}),))
        first.execute("select public.aef_resolve_checkpoint(%s, 'approved')", (world.checkpoint,))
        second.execute("set local lock_timeout = '5s'")

        outcome: dict[str, BaseException | None] = {}

        def loser() -> None:
            try:
                second.execute("select public.aef_resolve_checkpoint(%s, 'rejected')", (world.checkpoint,))
                outcome["error"] = None
            except psycopg.Error as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=loser)
        thread.start()
        thread.join(0.3)
        assert thread.is_alive()  # waiting on the winner's row lock
        first.execute("commit")
        thread.join(10)
        error = outcome["error"]
        assert isinstance(error, psycopg.Error) and error.sqlstate == "AE002"
        second.execute("rollback")
    finally:
        first.close()
        second.close()
    assert f.one(migrated, "select status::text from public.aef_checkpoints where id = %s", (world.checkpoint,)) == "approved"


# -- grants on both kinds of project ----------------------------------------------------


ACL_QUERY = """
select c.relname, c.relacl::text as acl,
       (select array_agg(a.attname || '=' || a.attacl::text order by a.attname) from pg_attribute a
         where a.attrelid = c.oid and a.attacl is not null) as column_acls
  from pg_class c where c.relnamespace = 'public'::regnamespace and c.relname like 'aef\\_%%' and c.relkind = 'r'
 order by c.relname
"""
FUNCTION_ACL_QUERY = """
select p.oid::regprocedure::text as fn, p.proacl::text as acl from pg_proc p
 where p.pronamespace in ('public'::regnamespace, 'aef_private'::regnamespace) and p.proname like 'aef\\_%%'
 order by 1
"""


def _acls(db: Database) -> tuple[list, list]:
    with db.connect() as conn:
        return conn.execute(ACL_QUERY).fetchall(), conn.execute(FUNCTION_ACL_QUERY).fetchall()


def test_grants_are_the_same_with_and_without_supabases_old_default_privileges(cluster, template: str) -> None:
    from .conftest import _create, _drop

    old, new = _create(cluster, template), _create(cluster, template)
    try:
        with old.connect() as conn:  # what projects created before 2026 still have
            for kind in ("tables", "functions", "sequences"):
                conn.execute(f"alter default privileges for role postgres in schema public grant all on {kind} to anon, authenticated, service_role")
        Runner(old.url).up()
        Runner(new.url).up()
        assert _acls(old) == _acls(new)
        with old.connect() as conn:
            anon = conn.execute(
                "select count(*) as n from pg_class c where c.relname like 'aef\\_%%' and c.relkind = 'r'"
                " and has_table_privilege('anon', c.oid, 'select,insert,update,delete,truncate,references,trigger')"
            ).fetchone()["n"]
            anon_fn = conn.execute(
                "select count(*) as n from pg_proc p where p.proname like 'aef\\_%%' and has_function_privilege('anon', p.oid, 'execute')"
            ).fetchone()["n"]
        assert (anon, anon_fn) == (0, 0)
    finally:
        _drop(old)
        _drop(new)


# -- realtime ---------------------------------------------------------------------------------


def test_all_four_tables_are_published_without_session_data(migrated: Database) -> None:
    with migrated.connect() as conn:
        rows = conn.execute(
            "select tablename, attnames from pg_publication_tables where pubname = 'supabase_realtime' order by tablename"
        ).fetchall()
        identity = {
            r["relname"]: r["relreplident"]
            for r in conn.execute("select relname, relreplident from pg_class where relname like 'aef\\_%%' and relkind = 'r'")
        }
    published = {r["tablename"]: r["attnames"] for r in rows}
    assert set(published) == {"aef_executions", "aef_execution_logs", "aef_checkpoints", "aef_browser_sessions"}
    assert "session_data" not in published["aef_browser_sessions"]
    assert "status" in published["aef_browser_sessions"]
    assert identity == {"aef_executions": "f", "aef_checkpoints": "f", "aef_execution_logs": "d", "aef_browser_sessions": "d"}


def test_realtime_shows_each_change_to_its_owner_only(migrated: Database) -> None:
    """Decode the WAL with wal2json, as Supabase Realtime does, then run its per-subscriber
    check for each change: act as the subscriber and select the row by primary key."""
    slot = f"aef_test_{uuid.uuid4().hex[:8]}"
    with migrated.connect() as conn:
        conn.execute("select pg_create_logical_replication_slot(%s, 'wal2json')", (slot,))
    try:
        session = f.session(migrated, session_data={"cookie": "secret"})
        execution = f.execution(migrated, status="running", browser_session_id=session)
        checkpoint = f.checkpoint(migrated, execution)
        f.log(migrated, execution, 1)
        with migrated.connect() as conn:
            changes = [
                json.loads(r["data"])
                for r in conn.execute(
                    "select data from pg_logical_slot_get_changes(%s, null, null, 'format-version', '2',"
                    " 'add-tables', 'public.aef_executions,public.aef_execution_logs,public.aef_checkpoints,public.aef_browser_sessions')",
                    (slot,),
                )
            ]
        changes = [c for c in changes if c.get("action") in ("I", "U")]
        assert {c["table"] for c in changes} == {"aef_executions", "aef_execution_logs", "aef_checkpoints", "aef_browser_sessions"}
        for change in changes:
            pk = next(col["value"] for col in change["columns"] if col["name"] == "id")
            visible = {}
            for actor in ("owner", "other"):
                with act(migrated, actor) as conn:
                    visible[actor] = conn.execute(
                        f"select exists(select 1 from public.{change['table']} where id = %s) as seen", (pk,)
                    ).fetchone()["seen"]
            assert visible == {"owner": True, "other": False}, change["table"]
        # the column Realtime would show the owner: only those it may select
        with migrated.connect() as conn:
            selectable = conn.execute(
                "select has_column_privilege('authenticated', 'public.aef_browser_sessions', 'session_data', 'select') as s"
            ).fetchone()["s"]
        assert selectable is False
        assert checkpoint
    finally:
        with migrated.connect() as conn:
            conn.execute("select pg_drop_replication_slot(%s)", (slot,))

"""The red-team findings, each as the attack that worked: every one must now fail.

The temp-schema hijack of the definers has its own file (test_attacks.py); the CLI's
password redaction is in test_redaction.py and rotation's skipping in test_secrets.py.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.types.json import Jsonb

from aef_db.audit.verify import verify

from .. import factories as f
from ..conftest import Database
from ..factories import OTHER, OWNER


def sqlstate(db: Database, role: str, user: uuid.UUID | None, sql: str, params: object = None) -> str | None:
    """Run one statement as role (and JWT subject); the SQLSTATE it failed with, or None."""
    try:
        with db.acting(role, user) as conn:
            conn.execute(sql, params)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        return exc.sqlstate
    return None


@pytest.fixture
def custom_role(migrated: Database) -> Iterator[str]:
    """A tier role as Supabase projects make them: it inherits authenticated."""
    with migrated.connect(superuser=True) as conn:
        conn.execute("drop role if exists aef_test_premium")
        conn.execute("create role aef_test_premium nologin inherit in role authenticated")
        conn.execute("grant aef_test_premium to postgres")
    yield "aef_test_premium"
    with migrated.connect(superuser=True) as conn:
        conn.execute("drop owned by aef_test_premium")
        conn.execute("drop role aef_test_premium")


def as_role(db: Database, role: str, sql: str, params: object = None) -> str | None:
    """One statement after SET ROLE, with no JWT claims at all."""
    try:
        with db.connect() as conn, conn.transaction():
            conn.execute(f"set local role {role}")
            conn.execute(sql, params)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        return exc.sqlstate
    return None


# -- 2. the user functions fail closed for custom roles ----------------------------------


def test_a_custom_role_without_a_subject_is_not_the_engine(migrated: Database, custom_role: str) -> None:
    victim = f.execution(migrated, OTHER, status="running")
    checkpoint = f.checkpoint(migrated, f.execution(migrated, OTHER, status="paused"))
    assert as_role(migrated, custom_role, "select public.aef_cancel_execution(%s)", (victim,)) == "P0002"
    assert (
        as_role(migrated, custom_role, "select public.aef_resolve_checkpoint(%s, 'approved')", (checkpoint,)) == "P0002"
    )
    assert f.one(migrated, "select status::text from public.aef_executions where id = %s", (victim,)) == "running"
    assert f.one(migrated, "select status::text from public.aef_checkpoints where id = %s", (checkpoint,)) == "pending"
    # with a subject it acts as that user, on that user's rows only
    with migrated.acting("authenticated", OTHER) as conn:
        conn.execute(f"set local role {custom_role}")
        conn.execute("select public.aef_pause_execution(%s)", (victim,))
    assert f.one(migrated, "select status::text from public.aef_executions where id = %s", (victim,)) == "paused"


def test_engine_roles_are_a_list_the_project_can_extend(migrated: Database) -> None:
    execution = f.execution(migrated, OTHER, status="running")
    with migrated.connect(superuser=True) as conn:
        conn.execute("drop role if exists aef_test_worker")
        conn.execute("create role aef_test_worker nologin inherit in role service_role")
        conn.execute("grant aef_test_worker to postgres")
    try:
        assert as_role(migrated, "aef_test_worker", "select public.aef_pause_execution(%s)", (execution,)) == "P0002"
        with migrated.connect() as conn:
            conn.execute("insert into aef_private.engine_roles (role_name) values ('aef_test_worker')")
        assert as_role(migrated, "aef_test_worker", "select public.aef_pause_execution(%s)", (execution,)) is None
        assert as_role(migrated, "service_role", "select public.aef_resume_execution(%s)", (execution,)) is None
    finally:
        with migrated.connect(superuser=True) as conn:
            conn.execute("delete from aef_private.engine_roles where role_name = 'aef_test_worker'")
            conn.execute("drop role aef_test_worker")


# -- 3. users cannot plant strings shaped like sealed secrets ----------------------------


@pytest.mark.parametrize("column", ["execution_context", "config"])
@pytest.mark.parametrize("doc", [{"password": "aef:v1:k0:AAAA"}, {"steps": [1, {"deep": ["aef:v1:zz"]}]}])
def test_users_cannot_write_sealed_looking_strings(migrated: Database, column: str, doc: dict) -> None:
    sop = f.sop(migrated, OWNER)
    sql = f"insert into public.aef_executions (sop_id, user_id, {column}) values (%s, %s, %s)"
    assert sqlstate(migrated, "authenticated", OWNER, sql, (sop, OWNER, Jsonb(doc))) == "42501"
    # the same text not at the start of a string is data like any other
    assert sqlstate(migrated, "authenticated", OWNER, sql, (sop, OWNER, Jsonb({"note": "see aef:v1:"}))) is None


# -- 4. caps measure the real size, and nesting is capped --------------------------------


def test_a_value_arriving_compressed_is_measured_at_its_real_size(migrated: Database) -> None:
    sop = f.sop(migrated, OWNER)
    with (
        pytest.raises(psycopg.errors.CheckViolation, match="aef_executions_execution_context_size"),
        migrated.acting("service_role") as conn,
    ):
        conn.execute("set local default_toast_compression = pglz")
        conn.execute("create temp table big (j jsonb) on commit drop")
        conn.execute("insert into big select jsonb_build_object('a', repeat('x', 3000000))")
        stored = conn.execute("select pg_column_size(j) as n from big").fetchone()["n"]
        assert stored < 1048576  # what the old cap measured
        conn.execute(
            "insert into public.aef_executions (sop_id, user_id, execution_context) select %s, %s, j from big",
            (sop, OWNER),
        )
    assert f.one(migrated, "select count(*) from public.aef_executions") == 0


def deep(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


def test_deep_json_is_refused_through_rls_and_the_functions(migrated: Database) -> None:
    sop = f.sop(migrated, OWNER)
    insert = "insert into public.aef_executions (sop_id, user_id, execution_context) values (%s, %s, jsonb_build_object('a', %s::jsonb))"
    assert sqlstate(migrated, "authenticated", OWNER, insert, (sop, OWNER, deep(5000))) == "23514"
    assert sqlstate(migrated, "authenticated", OWNER, insert, (sop, OWNER, deep(63))) is None
    checkpoint = f.checkpoint(migrated, f.execution(migrated, OWNER, status="paused"))
    resolve = "select public.aef_resolve_checkpoint(%s, 'approved', %s::jsonb)"
    assert sqlstate(migrated, "authenticated", OWNER, resolve, (checkpoint, deep(65))) == "23514"
    assert sqlstate(migrated, "authenticated", OWNER, resolve, (checkpoint, deep(64))) is None


def test_timestamps_must_be_finite(migrated: Database) -> None:
    execution = f.execution(migrated, OWNER, status="running")
    session = f.session(migrated, OWNER, mode="pooled")
    lease = (
        "update public.aef_browser_sessions set lease_execution_id = %s, lease_holder = 'w',"
        " lease_expires_at = 'infinity' where id = %s"
    )
    assert sqlstate(migrated, "service_role", None, lease, (execution, session)) == "23514"
    timeout = "insert into public.aef_checkpoints (execution_id, checkpoint_type, timeout_at) values (%s, 'custom', 'infinity')"
    assert sqlstate(migrated, "service_role", None, timeout, (execution,)) == "23514"


# -- 5. nobody outside can stall the log's writers ---------------------------------------


def test_an_advisory_lock_on_the_old_key_blocks_no_writer(migrated: Database) -> None:
    execution = f.execution(migrated, OWNER, status="running")
    due = f.checkpoint(migrated, f.execution(migrated, OWNER, status="paused"))
    f.one(
        migrated,
        "update public.aef_checkpoints set timeout_at = now() + interval '1 ms' where id = %s returning id",
        (due,),
    )
    with migrated.acting("authenticated", OWNER) as holder:
        holder.execute("select pg_advisory_lock(16709, hashtext(%s::text))", (str(execution),))
        with migrated.acting("service_role") as conn:
            conn.execute("set local lock_timeout = '2s'")
            conn.execute(
                "insert into public.aef_execution_logs (execution_id, event_type) values (%s, 'step_started')",
                (execution,),
            )
            conn.execute("select pg_sleep(0.01)")
            assert conn.execute("select public.aef_expire_checkpoints() as n").fetchone()["n"] == 1
        holder.execute("select pg_advisory_unlock_all()")


def test_users_cannot_take_the_row_lock_the_writers_serialize_on(migrated: Database) -> None:
    execution = f.execution(migrated, OWNER, status="running")
    for mode in ("update", "no key update", "share"):
        sql = f"select 1 from public.aef_executions where id = %s for {mode}"
        assert sqlstate(migrated, "authenticated", OWNER, sql, (execution,)) == "42501", mode


@pytest.mark.slow
def test_one_statement_fills_the_logs_of_20000_executions(migrated: Database) -> None:
    with migrated.connect() as conn:
        sop = f.sop(migrated, OWNER)
        conn.execute(
            "insert into public.aef_executions (sop_id, user_id) select %s, %s from generate_series(1, 20000)",
            (sop, OWNER),
        )
        conn.execute(
            "insert into public.aef_execution_logs (execution_id, event_type, data)"
            " select e.id, 'step_started', jsonb_build_object('n', g)"
            " from public.aef_executions e, generate_series(1, 2) g order by g"  # interleaved
        )
        assert conn.execute("select count(*) as n from public.aef_execution_logs").fetchone()["n"] == 40000
    report = verify(migrated.connect())
    assert report.intact and report.chains == 20000


def test_concurrent_fill_writers_of_one_execution_stay_gapless(migrated: Database) -> None:
    execution = f.execution(migrated, OWNER, status="running")

    def write() -> None:
        with migrated.connect() as conn:
            for _ in range(20):
                conn.execute(
                    "insert into public.aef_execution_logs (execution_id, event_type)"
                    " select %s, 'step_started' from generate_series(1, 5)",
                    (execution,),
                )

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = f.one(migrated, "select array_agg(seq order by seq) from public.aef_execution_logs")
    assert seqs == list(range(1, 401))
    assert verify(migrated.connect()).intact


# -- 7. ids cannot be probed ---------------------------------------------------------------


def test_users_cannot_choose_an_execution_id(migrated: Database) -> None:
    taken = f.execution(migrated, OTHER)
    sop = f.sop(migrated, OWNER)
    probe = "insert into public.aef_executions (id, sop_id, user_id) values (%s, %s, %s) on conflict do nothing"
    assert sqlstate(migrated, "authenticated", OWNER, probe, (taken, sop, OWNER)) == "42501"
    assert sqlstate(migrated, "authenticated", OWNER, probe, (uuid.uuid4(), sop, OWNER)) == "42501"


def function_calls(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("select schemaname || '.' || funcname as f, calls from pg_stat_xact_user_functions")
    return {r["f"]: r["calls"] for r in rows}


@pytest.mark.parametrize(
    "call",
    ["select public.aef_pause_execution(%s)", "select public.aef_resolve_checkpoint(%s, 'approved')"],
)
def test_not_yours_and_missing_take_the_same_path(migrated: Database, call: str) -> None:
    """Same error, and the same functions run to completion (the old code asked whose the
    row was only when it existed): nothing to time."""
    theirs = f.execution(migrated, OTHER, status="running")
    if "checkpoint" in call:
        theirs = f.checkpoint(migrated, theirs)
    with migrated.connect(superuser=True) as conn:
        conn.execute(f"alter database {migrated.name} set track_functions = 'all'")
    with migrated.acting("authenticated", OWNER) as conn:  # the counting works: a call that completes shows
        conn.execute("select public.aef_pause_execution(%s)", (f.execution(migrated, OWNER, status="running"),))
        assert function_calls(conn).get("public.aef_pause_execution") == 1
    outcomes = []
    for target in (theirs, uuid.uuid4()):
        with migrated.acting("authenticated", OWNER) as conn:
            before = function_calls(conn)
            with pytest.raises(psycopg.Error) as excinfo, conn.transaction():
                conn.execute(call, (target,))
            after = function_calls(conn)
        ran = {name: n - before.get(name, 0) for name, n in after.items() if n != before.get(name, 0)}
        outcomes.append((excinfo.value.sqlstate, str(excinfo.value).replace(str(target), "<id>"), ran))
    assert outcomes[0] == outcomes[1]


# -- 8. a final execution takes no answer, and an archived log no event ----------------------


def test_a_final_execution_closes_its_pending_checkpoint(migrated: Database) -> None:
    execution = f.execution(migrated, OWNER, status="paused")
    checkpoint = f.checkpoint(migrated, execution)
    with migrated.acting("authenticated", OWNER) as conn:
        conn.execute("select public.aef_cancel_execution(%s)", (execution,))
        row = conn.execute(
            "select status::text, resolved_at from public.aef_checkpoints where id = %s", (checkpoint,)
        ).fetchone()
        assert row["status"] == "skipped" and row["resolved_at"] is not None  # same transaction
    events = f.one(
        migrated,
        "select array_agg(data order by seq) from public.aef_execution_logs"
        " where execution_id = %s and event_type = 'decision_made'",
        (execution,),
    )
    assert events == [{"decision": "skipped", "checkpoint_id": str(checkpoint), "reason": "execution cancelled"}]


def test_cancel_archive_resolve_cannot_restart_the_chain(migrated: Database) -> None:
    execution = f.execution(migrated, OWNER, status="paused")
    f.log(migrated, execution, 3)
    checkpoint = f.checkpoint(migrated, execution)
    with migrated.acting("authenticated", OWNER) as conn:
        conn.execute("select public.aef_cancel_execution(%s)", (execution,))
    with migrated.acting("service_role") as conn:
        conn.execute("select aef_audit.archive_execution_logs(%s, 'file:///archive')", (execution,))
    resolve = "select public.aef_resolve_checkpoint(%s, 'approved')"
    assert sqlstate(migrated, "authenticated", OWNER, resolve, (checkpoint,)) == "AE002"
    append = "insert into public.aef_execution_logs (execution_id, event_type) values (%s, 'user_input')"
    assert sqlstate(migrated, "service_role", None, append, (execution,)) == "AE010"
    assert f.one(migrated, "select count(*) from public.aef_execution_logs where execution_id = %s", (execution,)) == 0
    report = verify(migrated.connect())
    assert report.intact and report.archived == [str(execution)]


def test_verify_reports_an_event_after_a_tombstone(migrated: Database) -> None:
    execution = f.execution(migrated, OWNER, status="running")
    f.log(migrated, execution, 2)
    f.one(migrated, "update public.aef_executions set status = 'completed' where id = %s returning id", (execution,))
    with migrated.acting("service_role") as conn:
        conn.execute("select aef_audit.archive_execution_logs(%s, 'file:///archive')", (execution,))
    # a superuser writes past every guard: a fresh chain after the tombstone
    with migrated.connect(superuser=True) as conn, conn.transaction():
        conn.execute("set local session_replication_role = replica")
        conn.execute(
            'insert into public.aef_execution_logs (execution_id, event_type, user_id, seq, hash, "timestamp")'
            " select %(e)s, 'user_input', %(u)s, 1,"
            "  aef_private.log_hash(%(e)s, 1, null, 'user_input', t, '{}', null, null), t"
            " from (select now() as t) n",
            {"e": execution, "u": OWNER},
        )
    report = verify(migrated.connect())
    assert not report.intact
    assert report.first is not None and report.first.kind == "inserted"
    assert re.search("archived", report.first.detail)

"""The database's own rules: status machines, maintained timestamps, owner copies,
immutable columns, log numbering and the append-only log. Every writer meets them,
so they are tested as the table owner (postgres) and the engine (service_role)."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb

from .. import factories as f
from ..conftest import Database
from ..factories import OTHER, OWNER

EXECUTION_STATES = ["idle", "running", "paused", "completed", "error", "cancelled"]
ALLOWED = {
    ("idle", "running"),
    ("idle", "cancelled"),
    ("running", "paused"),
    ("running", "completed"),
    ("running", "error"),
    ("running", "cancelled"),
    ("paused", "running"),
    ("paused", "cancelled"),
    ("paused", "error"),
}


def status_of(db: Database, execution_id: uuid.UUID) -> str:
    return f.one(db, "select status::text from public.aef_executions where id = %s", (execution_id,))


# -- seed-column inserts --------------------------------------------------------------


def test_inserts_naming_only_the_seed_columns_work(migrated: Database) -> None:
    sop_id = f.sop(migrated)
    with migrated.connect() as conn:
        conn.execute(
            "insert into public.aef_browser_sessions (id, user_id, status, created_at, last_active, session_data)"
            " values ('bs_seed', %s, 'active', now(), now(), '{}')",
            (OWNER,),
        )
        execution_id = conn.execute(
            "insert into public.aef_executions (id, sop_id, user_id, status, started_at, completed_at, current_step_id,"
            " execution_context, browser_session_id, config)"
            " values (gen_random_uuid(), %s, %s, 'idle', null, null, 'step-1', '{}', 'bs_seed', '{}') returning id",
            (sop_id, OWNER),
        ).fetchone()["id"]
        conn.execute(
            "insert into public.aef_execution_logs (id, execution_id, step_id, event_type, timestamp, data, browser_state)"
            " values (gen_random_uuid(), %s, 'step-1', 'step_started', now(), '{}', '{}')",
            (execution_id,),
        )
        conn.execute(
            "insert into public.aef_checkpoints (id, execution_id, step_id, checkpoint_type, status, user_response,"
            " created_at, resolved_at) values (gen_random_uuid(), %s, 'step-1', 'manual_review', 'pending', null, now(), null)",
            (execution_id,),
        )
        log = conn.execute("select user_id, seq from public.aef_execution_logs").fetchone()
        cp = conn.execute("select user_id, timeout_policy, request from public.aef_checkpoints").fetchone()
    assert log == {"user_id": OWNER, "seq": 1}
    assert cp == {"user_id": OWNER, "timeout_policy": "fail_execution", "request": {}}


def test_every_table_and_column_has_a_comment(migrated: Database) -> None:
    with migrated.connect() as conn:
        missing = conn.execute(
            "select c.relname, a.attname from pg_class c join pg_attribute a on a.attrelid = c.oid"
            " where c.relnamespace = 'public'::regnamespace and c.relname like 'aef\\_%%' and c.relkind = 'r'"
            " and a.attnum > 0 and not a.attisdropped and col_description(c.oid, a.attnum) is null"
        ).fetchall()
        tables = conn.execute(
            "select relname from pg_class where relnamespace = 'public'::regnamespace and relname like 'aef\\_%%'"
            " and relkind = 'r' and obj_description(oid, 'pg_class') is null"
        ).fetchall()
    assert missing == [] and tables == []


# -- executions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target"), [p for p in itertools.product(EXECUTION_STATES, EXECUTION_STATES) if p[0] != p[1]]
)
def test_execution_transitions_follow_the_state_machine(migrated: Database, start: str, target: str) -> None:
    execution_id = f.execution(migrated, status=start)
    update = "update public.aef_executions set status = %s where id = %s"
    if (start, target) in ALLOWED:
        with migrated.connect() as conn:
            conn.execute(update, (target, execution_id))
        assert status_of(migrated, execution_id) == target
    else:
        with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
            conn.execute(update, (target, execution_id))
        assert excinfo.value.sqlstate == "AE001"
        assert f"illegal status transition {start} -> {target}" in str(excinfo.value)
        assert status_of(migrated, execution_id) == start


def test_started_at_and_completed_at_are_maintained(migrated: Database) -> None:
    execution_id = f.execution(migrated)

    def row():
        return f.one(
            migrated,
            "select row(started_at, completed_at)::text from public.aef_executions where id = %s",
            (execution_id,),
        )

    assert row() == "(,)"
    with migrated.connect() as conn:
        # writers cannot set them: the database does
        conn.execute(
            "update public.aef_executions set started_at = '2000-01-01', completed_at = '2000-01-01' where id = %s",
            (execution_id,),
        )
        assert (
            conn.execute("select started_at from public.aef_executions where id = %s", (execution_id,)).fetchone()[
                "started_at"
            ]
            is None
        )
        conn.execute("update public.aef_executions set status = 'running' where id = %s", (execution_id,))
        first = conn.execute("select started_at from public.aef_executions where id = %s", (execution_id,)).fetchone()[
            "started_at"
        ]
        assert first is not None
        conn.execute("update public.aef_executions set status = 'paused' where id = %s", (execution_id,))
        conn.execute("update public.aef_executions set status = 'running' where id = %s", (execution_id,))
        again = conn.execute(
            "select started_at, completed_at from public.aef_executions where id = %s", (execution_id,)
        ).fetchone()
        assert again == {"started_at": first, "completed_at": None}  # the first run's time is kept
        conn.execute("update public.aef_executions set status = 'completed' where id = %s", (execution_id,))
        done = conn.execute(
            "select started_at, completed_at from public.aef_executions where id = %s", (execution_id,)
        ).fetchone()
    assert done["started_at"] == first and done["completed_at"] >= first


def test_a_final_execution_cannot_change(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="completed")
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute("update public.aef_executions set current_step_id = 'later' where id = %s", (execution_id,))
    assert excinfo.value.sqlstate == "AE001" and "which is final" in str(excinfo.value)


@pytest.mark.parametrize("column", ["user_id", "sop_id", "created_at", "id"])
def test_execution_identity_is_immutable(migrated: Database, column: str) -> None:
    execution_id = f.execution(migrated)
    value = {
        "user_id": OTHER,
        "sop_id": f.sop(migrated),
        "created_at": dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        "id": uuid.uuid4(),
    }[column]
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(f"update public.aef_executions set {column} = %s where id = %s", (value, execution_id))
    assert excinfo.value.sqlstate == "AE004"


def test_an_execution_is_created_idle_or_running_with_an_sop(migrated: Database) -> None:
    sop_id = f.sop(migrated)
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(
            "insert into public.aef_executions (sop_id, user_id, status) values (%s, %s, 'completed')", (sop_id, OWNER)
        )
    assert excinfo.value.sqlstate == "AE001"
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute("insert into public.aef_executions (user_id) values (%s)", (OWNER,))
    assert excinfo.value.sqlstate == "23502" and "sop_id is required" in str(excinfo.value)
    running = f.one(
        migrated,
        "insert into public.aef_executions (sop_id, user_id, status) values (%s, %s, 'running')"
        " returning started_at is not null",
        (sop_id, OWNER),
    )
    assert running is True


def test_deleting_an_sop_keeps_the_history(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="completed")
    sop_id = f.one(migrated, "select sop_id from public.aef_executions where id = %s", (execution_id,))
    f.one(migrated, "delete from public.sops where id = %s returning id", (sop_id,))
    assert f.one(migrated, "select sop_id from public.aef_executions where id = %s", (execution_id,)) is None


def test_an_execution_cannot_use_another_users_session(migrated: Database) -> None:
    theirs = f.session(migrated, OTHER)
    with pytest.raises(psycopg.Error) as excinfo:
        f.execution(migrated, browser_session_id=theirs)
    assert excinfo.value.sqlstate == "AE006" and "belongs to another user" in str(excinfo.value)
    execution_id = f.execution(migrated)
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute("update public.aef_executions set browser_session_id = %s where id = %s", (theirs, execution_id))
    assert excinfo.value.sqlstate == "AE006"


# -- checkpoints -------------------------------------------------------------------------


def test_a_checkpoint_resolves_once(migrated: Database) -> None:
    checkpoint_id = f.checkpoint(migrated, f.execution(migrated, status="running"))
    with migrated.connect() as conn:
        conn.execute(
            "update public.aef_checkpoints set status = 'approved', user_response = '{\"ok\": true}' where id = %s",
            (checkpoint_id,),
        )
        row = conn.execute(
            "select resolved_at, user_response from public.aef_checkpoints where id = %s", (checkpoint_id,)
        ).fetchone()
    assert row["resolved_at"] is not None and row["user_response"] == {"ok": True}
    for change in ("status = 'rejected'", "status = 'pending'", "user_response = '{}'", "timeout_policy = 'skip'"):
        with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
            conn.execute(f"update public.aef_checkpoints set {change} where id = %s", (checkpoint_id,))
        assert excinfo.value.sqlstate == "AE002", change
        assert "already resolved as approved" in str(excinfo.value)


def test_checkpoint_owner_is_copied_and_checked(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")
    checkpoint_id = f.checkpoint(migrated, execution_id)
    assert f.one(migrated, "select user_id from public.aef_checkpoints where id = %s", (checkpoint_id,)) == OWNER
    f.one(migrated, "update public.aef_checkpoints set status = 'skipped' where id = %s returning id", (checkpoint_id,))
    with pytest.raises(psycopg.Error) as excinfo:
        f.checkpoint(migrated, execution_id, user_id=OTHER)
    assert excinfo.value.sqlstate == "AE006"
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute("update public.aef_checkpoints set user_id = %s where id = %s", (OTHER, checkpoint_id))
    assert excinfo.value.sqlstate == "AE004"


def test_checkpoint_creation_rules(migrated: Database) -> None:
    running = f.execution(migrated, status="running")
    with pytest.raises(psycopg.Error) as excinfo:
        f.checkpoint(migrated, running, status="approved")
    assert excinfo.value.sqlstate == "AE002" and "created pending" in str(excinfo.value)
    with pytest.raises(psycopg.Error) as excinfo:
        f.checkpoint(migrated, f.execution(migrated, status="completed"))
    assert excinfo.value.sqlstate == "AE002" and "which is final" in str(excinfo.value)
    with pytest.raises(psycopg.Error) as excinfo:
        f.checkpoint(migrated, uuid.uuid4())
    assert excinfo.value.sqlstate == "23503"
    f.checkpoint(migrated, running)
    with pytest.raises(psycopg.Error) as excinfo:
        f.checkpoint(migrated, running)
    assert excinfo.value.sqlstate == "23505" and "aef_checkpoints_one_pending_per_execution" in str(excinfo.value)


@pytest.mark.parametrize("timeout", ["now() - interval '1 second'", "now()", "'2000-01-01'::timestamptz"])
def test_a_past_timeout_is_refused(migrated: Database, timeout: str) -> None:
    execution_id = f.execution(migrated, status="running")
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(
            "insert into public.aef_checkpoints (execution_id, checkpoint_type, timeout_at)"
            f" values (%s, 'manual_review', {timeout})",
            (execution_id,),
        )
    assert excinfo.value.sqlstate == "AE008" and "timeout_at must be in the future" in str(excinfo.value)
    assert f.one(migrated, "select count(*) from public.aef_checkpoints") == 0


def test_a_checkpoint_times_out_only_after_its_timeout(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")
    checkpoint_id = f.checkpoint(migrated, execution_id, timeout_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute("update public.aef_checkpoints set status = 'timeout' where id = %s", (checkpoint_id,))
    assert excinfo.value.sqlstate == "AE002" and "cannot time out before" in str(excinfo.value)


@pytest.mark.parametrize(
    ("policy", "execution_after"), [("fail_execution", "error"), ("cancel_execution", "cancelled"), ("skip", "paused")]
)
def test_the_sweeper_expires_due_checkpoints_and_applies_their_policy(
    migrated: Database, policy: str, execution_after: str
) -> None:
    execution_id = f.execution(migrated, status="paused")
    checkpoint_id = f.checkpoint(
        migrated,
        execution_id,
        timeout_policy=policy,
        timeout_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    assert f.one(migrated, "select public.aef_expire_checkpoints()") == 0  # not due yet
    # due in 1 ms: a slow machine only makes it more due (no margin to lose under load)
    f.one(
        migrated,
        "update public.aef_checkpoints set timeout_at = clock_timestamp() + interval '1 ms' where id = %s returning id",
        (checkpoint_id,),
    )
    f.one(migrated, "select pg_sleep(0.01)")
    assert f.one(migrated, "select public.aef_expire_checkpoints()") == 1
    assert (
        f.one(migrated, "select status::text from public.aef_checkpoints where id = %s", (checkpoint_id,)) == "timeout"
    )
    assert status_of(migrated, execution_id) == execution_after
    event = f.one(
        migrated,
        "select data from public.aef_execution_logs where execution_id = %s and event_type = 'decision_made'",
        (execution_id,),
    )
    assert event == {"decision": "timeout", "checkpoint_id": str(checkpoint_id), "policy": policy}
    assert f.one(migrated, "select public.aef_expire_checkpoints()") == 0
    with pytest.raises(psycopg.Error) as excinfo:
        f.one(migrated, "select public.aef_expire_checkpoints(0)")
    assert excinfo.value.sqlstate == "22023"


# -- browser sessions ---------------------------------------------------------------------


SESSION_STATES = ["active", "idle", "terminated", "error"]
SESSION_ALLOWED = {
    ("active", "idle"),
    ("idle", "active"),
    ("active", "terminated"),
    ("active", "error"),
    ("idle", "terminated"),
    ("idle", "error"),
}


@pytest.mark.parametrize(("start", "target"), [(a, b) for a in SESSION_STATES for b in SESSION_STATES if a != b])
def test_session_transitions_follow_the_state_machine(migrated: Database, start: str, target: str) -> None:
    session_id = f.session(migrated)
    path = {"active": [], "idle": ["idle"], "terminated": ["terminated"], "error": ["error"]}[start]
    with migrated.connect() as conn:
        for step in path:
            conn.execute("update public.aef_browser_sessions set status = %s where id = %s", (step, session_id))
    if (start, target) in SESSION_ALLOWED:
        f.one(
            migrated,
            "update public.aef_browser_sessions set status = %s where id = %s returning id",
            (target, session_id),
        )
        ended = f.one(
            migrated, "select ended_at is not null from public.aef_browser_sessions where id = %s", (session_id,)
        )
        assert ended is (target in ("terminated", "error"))
    else:
        with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
            conn.execute("update public.aef_browser_sessions set status = %s where id = %s", (target, session_id))
        assert excinfo.value.sqlstate == "AE003"
        assert f"illegal status transition {start} -> {target}" in str(excinfo.value)


def test_leases_stay_with_one_execution_of_the_same_user(migrated: Database) -> None:
    session_id = f.session(migrated, mode="pooled")
    first, second = f.execution(migrated, status="running"), f.execution(migrated, status="running")
    lease = "update public.aef_browser_sessions set lease_execution_id = %s, lease_holder = 'w1', lease_expires_at = %s where id = %s"
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    with migrated.connect() as conn:
        conn.execute(lease, (first, soon, session_id))
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(lease, (second, soon, session_id))
    assert excinfo.value.sqlstate == "AE003" and f"leased to execution {first}" in str(excinfo.value)
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(lease, (f.execution(migrated, OTHER, status="running"), soon, f.session(migrated, mode="pooled")))
    assert excinfo.value.sqlstate == "AE006"
    # an expired lease may be taken over; terminating releases it
    with migrated.connect() as conn:
        conn.execute(
            "update public.aef_browser_sessions set lease_expires_at = now() - interval '1 second' where id = %s",
            (session_id,),
        )
        conn.execute(lease, (second, soon, session_id))
        conn.execute("update public.aef_browser_sessions set status = 'terminated' where id = %s", (session_id,))
        row = conn.execute(
            "select lease_execution_id, ended_at from public.aef_browser_sessions where id = %s", (session_id,)
        ).fetchone()
    assert row["lease_execution_id"] is None and row["ended_at"] is not None


def test_a_lease_binds_the_execution_to_its_session_for_every_writer(migrated: Database) -> None:
    session_id, execution_id = f.session(migrated, mode="pooled"), f.execution(migrated, status="running")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    with migrated.acting("service_role") as conn:
        conn.execute(
            "update public.aef_browser_sessions set lease_execution_id = %s, lease_holder = 'w1', lease_expires_at = %s"
            " where id = %s",
            (execution_id, soon, session_id),
        )
    assert (
        f.one(migrated, "select browser_session_id from public.aef_executions where id = %s", (execution_id,))
        == session_id
    )


def test_a_session_is_created_free_and_a_final_execution_leases_none(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    with pytest.raises(psycopg.Error) as excinfo:
        f.session(migrated, lease_execution_id=execution_id, lease_holder="w1", lease_expires_at=soon)
    assert excinfo.value.sqlstate == "AE003" and "created without a lease" in str(excinfo.value)
    assert f.one(migrated, "select count(*) from public.aef_browser_sessions") == 0
    session_id = f.session(migrated, mode="pooled")
    f.one(migrated, "update public.aef_executions set status = 'completed' where id = %s returning id", (execution_id,))
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(
            "update public.aef_browser_sessions set lease_execution_id = %s, lease_holder = 'w1', lease_expires_at = %s"
            " where id = %s",
            (execution_id, soon, session_id),
        )
    assert excinfo.value.sqlstate == "AE003" and "which is completed" in str(excinfo.value)
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(
            "update public.aef_browser_sessions set lease_execution_id = %s, lease_holder = 'w1', lease_expires_at = %s"
            " where id = %s",
            (uuid.uuid4(), soon, session_id),
        )
    assert excinfo.value.sqlstate == "23503" and "does not exist" in str(excinfo.value)
    assert (
        f.one(migrated, "select browser_session_id from public.aef_executions where id = %s", (execution_id,)) is None
    )


def test_last_active_never_moves_backwards(migrated: Database) -> None:
    session_id = f.session(migrated)
    before = f.one(migrated, "select last_active from public.aef_browser_sessions where id = %s", (session_id,))
    after = f.one(
        migrated,
        "update public.aef_browser_sessions set last_active = '2000-01-01' where id = %s returning last_active",
        (session_id,),
    )
    assert after == before


# -- logs -------------------------------------------------------------------------------------


def test_the_database_numbers_each_executions_log(migrated: Database) -> None:
    a, b = f.execution(migrated, status="running"), f.execution(migrated, status="running")
    assert f.log(migrated, a, 3) == [1, 2, 3]
    assert f.log(migrated, b, 2) == [1, 2]
    assert f.log(migrated, a, 1) == [4]
    # one statement interleaving two executions
    with migrated.connect() as conn:
        rows = conn.execute(
            "insert into public.aef_execution_logs (execution_id, event_type) select case when g %% 2 = 0 then %s else %s end::uuid,"
            " 'browser_action' from generate_series(1, 6) g returning execution_id, seq",
            (a, b),
        ).fetchall()
    assert sorted(r["seq"] for r in rows if r["execution_id"] == a) == [5, 6, 7]
    assert sorted(r["seq"] for r in rows if r["execution_id"] == b) == [3, 4, 5]


def test_a_writer_may_supply_seq_and_owner_and_the_database_checks_them(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")
    insert = "insert into public.aef_execution_logs (execution_id, user_id, seq, event_type) values (%s, %s, %s, 'step_started')"
    with migrated.connect() as conn, conn.cursor() as cur:
        cur.executemany(insert, [(execution_id, OWNER, n) for n in (1, 2, 3)])
    for seq, user, state in [(5, OWNER, "AE007"), (3, OWNER, "23505"), (4, OTHER, "AE006"), (0, OWNER, "23514")]:
        with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
            conn.execute(insert, (execution_id, user, seq))
        assert excinfo.value.sqlstate == state, (seq, user)
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(
            "insert into public.aef_execution_logs (execution_id, user_id, seq, event_type)"
            " values (%s, %s, 4, 'step_started'), (%s, %s, 6, 'step_started')",
            (execution_id, OWNER, execution_id, OWNER),
        )
    assert excinfo.value.sqlstate == "AE007" and "without gaps" in str(excinfo.value)
    assert f.one(migrated, "select max(seq) from public.aef_execution_logs") == 3
    assert f.log(migrated, execution_id, 1) == [4]


def test_log_for_a_missing_execution_is_a_foreign_key_error(migrated: Database) -> None:
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(
            "insert into public.aef_execution_logs (execution_id, event_type) values (%s, 'step_started')",
            (uuid.uuid4(),),
        )
    assert excinfo.value.sqlstate == "23503"


@pytest.mark.parametrize(
    "statement",
    [
        "update public.aef_execution_logs set data = '{\"forged\": true}'",
        "delete from public.aef_execution_logs",
        "truncate public.aef_execution_logs",
    ],
)
def test_the_log_is_append_only_for_its_owner_and_a_superuser_in_replica_mode(
    migrated: Database, statement: str
) -> None:
    f.log(migrated, f.execution(migrated, status="running"), 2)
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(statement)
    assert excinfo.value.sqlstate == "AE005" and "append-only" in str(excinfo.value)
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect(superuser=True) as conn, conn.transaction():
        conn.execute("set local session_replication_role = replica")
        conn.execute(statement)
    assert excinfo.value.sqlstate == "AE005"
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 2


@pytest.mark.parametrize(
    "statement",
    [
        "update public.aef_execution_logs set data = '{}'",
        "delete from public.aef_execution_logs",
        "truncate public.aef_execution_logs",
    ],
)
def test_the_log_is_append_only_for_the_engine(migrated: Database, statement: str) -> None:
    f.log(migrated, f.execution(migrated, status="running"), 1)
    with pytest.raises(psycopg.Error) as excinfo, migrated.acting("service_role") as conn:
        conn.execute(statement)
    assert excinfo.value.sqlstate in ("42501", "AE005")  # no privilege at all, and the trigger behind it
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 1


# -- bad input --------------------------------------------------------------------------------


BAD_EXECUTION_INPUT = [
    ("status", "'finished'", "22P02"),  # unknown enum label
    ("config", "'[1, 2]'", "23514"),  # not an object
    ("config", "'\"text\"'", "23514"),
    ("execution_context", "'null'", "23514"),
    ("config", '\'{"context_level": "everything"}\'', "23514"),
    ("execution_context", "jsonb_build_object('blob', repeat('x', 2000000))", "23514"),  # over the 1 MiB cap
    ("config", "jsonb_build_object('blob', repeat('y', 70000))", "23514"),  # over the 64 KiB cap
    ("current_step_id", "''", "23514"),
    ("current_step_id", "repeat('s', 300)", "22001"),  # longer than varchar(256): no silent truncation
    ("current_step_id", "E'step\\\\x00'", None),  # a backslash-zero is text, not NUL; accepted
]


@pytest.mark.parametrize(("column", "value", "sqlstate"), BAD_EXECUTION_INPUT)
def test_bad_execution_input_is_refused_and_nothing_is_written(
    migrated: Database, column: str, value: str, sqlstate: str | None
) -> None:
    sop_id = f.sop(migrated)
    insert = f"insert into public.aef_executions (sop_id, user_id, {column}) values (%s, %s, {value})"
    if sqlstate is None:
        f.one(migrated, insert + " returning id", (sop_id, OWNER))
        return
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(insert, (sop_id, OWNER))
    assert excinfo.value.sqlstate == sqlstate
    assert f.one(migrated, "select count(*) from public.aef_executions") == 0


def test_nul_characters_are_refused_in_text_and_json(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")
    # psycopg refuses to send NUL in text at all; the server refuses it from any other client
    with pytest.raises(psycopg.DataError, match="cannot contain NUL"), migrated.connect() as conn:
        conn.execute(
            "update public.aef_executions set current_step_id = %s where id = %s", ("step\x00one", execution_id)
        )
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(
            "update public.aef_executions set current_step_id = E'step\\x00one' where id = %s", (execution_id,)
        )
    assert excinfo.value.sqlstate == "22021"
    assert f.one(migrated, "select current_step_id from public.aef_executions where id = %s", (execution_id,)) is None
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(
            "insert into public.aef_execution_logs (execution_id, event_type, data) values (%s, 'user_input', %s)",
            (execution_id, Jsonb({"text": "a\x00b"})),
        )
    assert excinfo.value.sqlstate == "22P05"
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 0


def test_bad_log_and_checkpoint_payloads_are_refused(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")
    cases = [
        ("insert into public.aef_execution_logs (execution_id, event_type) values (%s, 'step_exploded')", "22P02"),
        (
            "insert into public.aef_execution_logs (execution_id, event_type, data) values (%s, 'user_input', '[]')",
            "23514",
        ),
        (
            "insert into public.aef_execution_logs (execution_id, event_type, data) values (%s, 'user_input',"
            " jsonb_build_object('x', repeat('z', 300000)))",
            "23514",
        ),
        (
            "insert into public.aef_execution_logs (execution_id, event_type, browser_state) values (%s, 'user_input', '1')",
            "23514",
        ),
        ("insert into public.aef_checkpoints (execution_id, checkpoint_type) values (%s, 'coffee_break')", "22P02"),
        (
            "insert into public.aef_checkpoints (execution_id, checkpoint_type, request) values (%s, 'custom', '\"x\"')",
            "23514",
        ),
        (
            "insert into public.aef_checkpoints (execution_id, checkpoint_type, timeout_policy) values (%s, 'custom', 'shrug')",
            "23514",
        ),
    ]
    for statement, sqlstate in cases:
        with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
            conn.execute(statement, (execution_id,))
        assert excinfo.value.sqlstate == sqlstate, statement
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 0
    assert f.one(migrated, "select count(*) from public.aef_checkpoints") == 0


def test_bad_session_input_is_refused(migrated: Database) -> None:
    cases = [
        ({"id": "has space"}, "23514"),
        ({"id": ""}, "23514"),
        ({"id": "x" * 129}, "22001"),  # the column's varchar(128)
        ({"mode": "shared"}, "23514"),
        ({"status": "terminated"}, "AE003"),
        ({"session_data": Jsonb([1])}, "23514"),
        ({"lease_holder": "w1"}, "23514"),  # a lease is all three fields or none
    ]
    for columns, sqlstate in cases:
        with pytest.raises(psycopg.Error) as excinfo:
            f.session(migrated, **columns)
        assert excinfo.value.sqlstate == sqlstate, columns
    assert f.one(migrated, "select count(*) from public.aef_browser_sessions") == 0

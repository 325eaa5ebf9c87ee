"""The audit chain and its tamper catalogue: each attack is blocked or detected, never silent."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aef_db.audit import digest as audit_digest
from aef_db.audit.canonical import event_hash, jsonb_text, micros
from aef_db.audit.verify import Report, verify
from aef_db.cluster import find_pg_bin
from aef_db.connection import connect

from .. import factories as f
from ..conftest import API_ROLES, Database
from ..factories import OWNER


def chain(db: Database, n: int = 5, executions: int = 2) -> list[uuid.UUID]:
    """Executions with n events each, written by the database's fill path."""
    ids = [f.execution(db, status="running") for _ in range(executions)]
    for execution_id in ids:
        f.log(db, execution_id, n)
    return ids


def check(db: Database, **kwargs: object) -> Report:
    with db.connect() as conn:
        return verify(conn, **kwargs)  # type: ignore[arg-type]


def as_superuser_without_triggers(db: Database, *statements: tuple[str, tuple]) -> None:
    """What a superuser can do: switch the log's triggers off and edit it."""
    with db.connect(superuser=True) as conn, conn.transaction():
        conn.execute("alter table public.aef_execution_logs drop constraint aef_execution_logs_hash_covers_event")
        conn.execute("alter table public.aef_execution_logs disable trigger all")
        for sql, params in statements:
            conn.execute(sql, params)  # type: ignore[arg-type]
        conn.execute("alter table public.aef_execution_logs enable trigger all")
        conn.execute("alter table public.aef_execution_logs enable always trigger aef_30_append_only")
        conn.execute("alter table public.aef_execution_logs enable always trigger aef_31_append_only_truncate")


def finding(report: Report) -> tuple[str, int, str]:
    assert report.first is not None, "tampering went unnoticed"
    return report.first.execution_id, report.first.seq, report.first.kind


# -- the chain itself ---------------------------------------------------------------------


def test_every_writer_gets_a_chain_and_a_healthy_database_verifies(
    migrated: Database,
) -> None:
    a, b = chain(migrated)
    rows = [r for r in migrated_rows(migrated) if r["execution_id"] == a]
    assert rows[0]["prev_hash"] is None and all(r["hash"] is not None and len(r["hash"]) == 32 for r in rows)
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(rows))
    report = check(migrated)
    assert report.intact and report.chains == 2 and report.events == 10
    head = f.one(
        migrated,
        "select last_seq from aef_audit.log_heads where execution_id = %s",
        (b,),
    )
    assert head == 5


def migrated_rows(db: Database) -> list[dict]:
    with db.connect(superuser=True) as conn:
        return conn.execute("select * from public.aef_execution_logs order by execution_id, seq").fetchall()


def test_python_and_the_database_encode_an_event_alike(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")
    data = {
        "zz": 1,
        "a": [1.5, 1e-7, -0.0, True, None, 'line\nquote"é\u0001'],
        "bb": {"k": 10**30},
    }
    state = {"url": "https://example.com/ü"}
    with migrated.connect() as conn:
        conn.execute(
            "insert into public.aef_execution_logs (execution_id, step_id, event_type, data, browser_state)"
            " values (%s, %s, 'step_started', %s::jsonb, %s::jsonb)",
            (execution_id, 'step\t1 "x"', json.dumps(data), json.dumps(state)),
        )
        row = conn.execute(
            "select *, data::text as data_text, browser_state::text as state_text from public.aef_execution_logs"
        ).fetchone()
    assert row["data_text"] == jsonb_text(data) and row["state_text"] == jsonb_text(state)
    ours = event_hash(
        execution_id,
        1,
        row["step_id"],
        "step_started",
        micros(row["timestamp"]),
        jsonb_text(data),
        jsonb_text(state),
        None,
    )
    assert ours == row["hash"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",))),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=6), inner, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_jsonb_text_is_what_postgresql_prints(migrated_conn: psycopg.Connection, value: object) -> None:
    printed = migrated_conn.execute("select %s::jsonb::text as t", (jsonb_text(value),)).fetchone()["t"]
    assert printed == jsonb_text(value)


_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=12)
events = st.fixed_dictionaries(
    {
        "execution_id": st.uuids(),
        "seq": st.integers(1, 2**62),
        "step_id": st.none() | _text.filter(bool),
        "event_type": st.sampled_from(["step_started", "browser_action", "user_input"]),
        "ts": st.datetimes(
            min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 1, 1), timezones=st.just(dt.UTC)
        ),
        "data": st.dictionaries(_text, json_values, max_size=4),
        "browser_state": st.none() | st.dictionaries(_text, json_values, max_size=3),
        "prev": st.none() | st.binary(min_size=32, max_size=32),
    }
)


@settings(max_examples=100, deadline=None)
@given(event=events)
def test_one_encoding_for_the_fill_path_the_check_and_python(migrated_conn: psycopg.Connection, event: dict) -> None:
    """The encoding is defined by aef_private.log_hash, and spelled out for speed in the check
    constraint and the fill trigger; canonical.py computes it for verify. This proves log_hash,
    the constraint and Python one function; the fill trigger's copy must match the constraint
    for every filled row, or the insert fails (test_interleaved_writers_are_filled_from_the_slots_and_verify
    compares it with log_hash directly)."""
    data, state = (
        jsonb_text(event["data"]),
        None if event["browser_state"] is None else jsonb_text(event["browser_state"]),
    )
    ours = event_hash(
        event["execution_id"],
        event["seq"],
        event["step_id"],
        event["event_type"],
        micros(event["ts"]),
        data,
        state,
        event["prev"],
    )
    args = {**event, "data": data, "state": state}
    fill = migrated_conn.execute(
        "select aef_private.log_hash(%(execution_id)s, %(seq)s, %(step_id)s, %(event_type)s, %(ts)s,"
        " %(data)s::jsonb, %(state)s::jsonb, %(prev)s) as h",
        args,
    ).fetchone()["h"]
    assert fill == ours
    with migrated_conn.transaction(force_rollback=True):  # the check, on a table with the log's constraints only
        migrated_conn.execute(
            "create temp table probe (like public.aef_execution_logs including constraints including defaults)"
        )
        migrated_conn.execute(
            'insert into probe (id, execution_id, user_id, seq, step_id, event_type, "timestamp", data, browser_state,'
            " prev_hash, hash) values (gen_random_uuid(), %(execution_id)s, gen_random_uuid(), %(seq)s, %(step_id)s,"
            " %(event_type)s, %(ts)s, %(data)s::jsonb, %(state)s::jsonb, %(prev)s, %(hash)s)",
            {**args, "hash": ours},
        )


@pytest.fixture(scope="module")
def migrated_conn(cluster, migrated_template: str):  # type: ignore[no-untyped-def]
    from ..conftest import _create, _drop

    db = _create(cluster, migrated_template)
    with db.connect() as conn:
        yield conn
    _drop(db)


# -- blocked ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "sqlstate", "rule"),
    [
        ("hash", "23514", "aef_execution_logs_hash_covers_event"),
        ("prev_hash", "AE009", "does not continue the audit chain"),
    ],
)
def test_forged_hashes_are_refused_on_insert(migrated: Database, column: str, sqlstate: str, rule: str) -> None:
    execution_id = chain(migrated, 2, 1)[0]
    with migrated.connect() as conn:
        last = conn.execute("select seq, hash from public.aef_execution_logs where seq = 2").fetchone()
    # a writer that supplies everything, honestly computed, with one field forged
    when = dt.datetime.now(dt.UTC)
    prev = b"\x01" * 32 if column == "prev_hash" else last["hash"]  # a forged link, hashed consistently
    row = {"prev_hash": prev, "hash": event_hash(execution_id, 3, None, "step_started", micros(when), "{}", None, prev)}
    if column == "hash":
        row["hash"] = b"\x01" * 32
    with pytest.raises(psycopg.Error) as excinfo, migrated.acting("service_role") as conn:
        conn.execute(
            'insert into public.aef_execution_logs (execution_id, user_id, seq, event_type, "timestamp", data, prev_hash, hash)'
            " values (%s, %s, 3, 'step_started', %s, '{}', %s, %s)",
            (execution_id, OWNER, when, row["prev_hash"], row["hash"]),
        )
    assert excinfo.value.sqlstate == sqlstate and rule in str(excinfo.value)
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 2


def test_interleaved_writers_are_filled_from_the_slots_and_verify(migrated: Database) -> None:
    """One statement interleaving 600 executions row by row (more than the fill's 256 slots of 4
    hold, so some are looked up again), then, in the same transaction, a supplied event and a
    second filled statement: every hash is aef_private.log_hash of its row, every chain intact."""
    ids = [f.execution(migrated, status="running") for _ in range(600)]
    with migrated.connect() as conn, conn.transaction():
        conn.execute(
            "insert into public.aef_execution_logs (execution_id, step_id, event_type, data)"
            " select e, 's' || g, 'step_started', jsonb_build_object('g', g)"
            " from generate_series(1, 3) g, unnest(%s::uuid[]) e",
            (ids,),
        )
        head = conn.execute(
            "select seq, hash from public.aef_execution_logs where execution_id = %s order by seq desc limit 1",
            (ids[0],),
        ).fetchone()
        event = {"e": ids[0], "seq": head["seq"] + 1, "prev": head["hash"], "t": dt.datetime.now(dt.UTC)}
        conn.execute(
            'insert into public.aef_execution_logs (execution_id, user_id, seq, event_type, "timestamp", prev_hash, hash)'
            " select %(e)s, e.user_id, %(seq)s, 'user_input', %(t)s, %(prev)s,"
            "  aef_private.log_hash(%(e)s, %(seq)s, null, 'user_input', %(t)s, '{}', null, %(prev)s)"
            " from public.aef_executions e where e.id = %(e)s",
            event,
        )
        conn.execute(
            "insert into public.aef_execution_logs (execution_id, event_type)"
            " select e, 'step_completed' from unnest(%s::uuid[]) e, generate_series(1, 2)",
            (ids[:300],),
        )
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 600 * 3 + 1 + 600
    assert f.one(migrated, "select max(seq) from public.aef_execution_logs where execution_id = %s", (ids[0],)) == 6
    assert (
        f.one(
            migrated,
            "select count(*) from public.aef_execution_logs l where l.hash <> aef_private.log_hash(l.execution_id,"
            ' l.seq, l.step_id, l.event_type, l."timestamp", l.data, l.browser_state, l.prev_hash)',
        )
        == 0
    )
    assert check(migrated).intact


@pytest.mark.parametrize(("forged", "sqlstate"), [(None, None), ("prev_hash", "AE009"), ("user_id", "AE006")])
def test_an_interleaved_supplied_batch_is_checked_link_by_link(
    migrated: Database, forged: str | None, sqlstate: str | None
) -> None:
    """Supplied events interleaved row by row (the statement check reads such a batch sorted):
    a healthy batch goes in, one forged link or owner anywhere in it is refused."""
    ids = chain(migrated, 1, 40)
    statement = """
        with head as (
          select l.execution_id as e, l.user_id as u, l.hash as h, x.n from public.aef_execution_logs l
           join unnest(%(ids)s::uuid[]) with ordinality x(e, n) on x.e = l.execution_id),
        second as (
          select e, u, h as prev, aef_private.log_hash(e, 2, null, 'user_input', %(t)s, '{}', null, h) as h, n from head),
        third as (
          select e, u, case when %(forged)s = 'prev_hash' and n = 33 then sha256('forged') else h end as prev, n from second)
        insert into public.aef_execution_logs
          (execution_id, user_id, seq, event_type, "timestamp", prev_hash, hash)
        select e, u, seq, 'user_input', %(t)s, prev, aef_private.log_hash(e, seq, null, 'user_input', %(t)s, '{}', null, prev)
          from (select e, u, 2 as seq, prev, n from second
                union all
                select e, case when %(forged)s = 'user_id' and n = 33 then gen_random_uuid() else u end, 3, prev, n
                  from third) rows
         order by seq, n"""
    params = {"ids": ids, "t": dt.datetime.now(dt.UTC), "forged": forged}
    if sqlstate is None:
        with migrated.connect() as conn:
            conn.execute(statement, params)
        assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 40 * 3
        assert check(migrated).intact
        return
    with pytest.raises(psycopg.Error) as excinfo, migrated.connect() as conn:
        conn.execute(statement, params)
    assert excinfo.value.sqlstate == sqlstate, excinfo.value


def test_a_forged_seq_is_refused(migrated: Database) -> None:
    execution_id = chain(migrated, 2, 1)[0]
    for seq, state in [(2, "23505"), (4, "AE007")]:
        with (
            pytest.raises(psycopg.Error) as excinfo,
            migrated.acting("service_role") as conn,
        ):
            conn.execute(
                "insert into public.aef_execution_logs (execution_id, seq, event_type) values (%s, %s, 'step_started')",
                (execution_id, seq),
            )
        assert excinfo.value.sqlstate == state


# -- the statement check, one row and many ----------------------------------------------
# A one-row statement is checked against its chain's head (one update of aef_audit.log_heads);
# anything that update does not take, and every multi-row statement, gets the set-based check.


def head(db: Database, execution_id: uuid.UUID) -> tuple[int, bytes] | None:
    row = (
        db.shared()
        .execute("select last_seq, last_hash from aef_audit.log_heads where execution_id = %s", (execution_id,))
        .fetchone()
    )
    return None if row is None else (row["last_seq"], row["last_hash"])


def supplied_rows(
    execution_id: uuid.UUID, after: tuple[int, bytes | None], n: int, broken: str | None = None
) -> list[tuple]:
    """n honest events continuing the chain after (seq, hash); the last one broken as asked."""
    when = dt.datetime.now(dt.UTC)
    seq, prev = after
    rows = []
    for i in range(n):
        seq, user, link = seq + 1, OWNER, prev
        if i == n - 1 and broken == "prev_hash":
            link = b"\x01" * 32  # a forged link, hashed consistently
        elif i == n - 1 and broken == "seq":
            seq += 1  # a gap
        elif i == n - 1 and broken == "user_id":
            user = f.OTHER
        prev = event_hash(execution_id, seq, None, "user_input", micros(when), "{}", None, link)
        rows.append((execution_id, user, seq, when, link, prev))
    return rows


def insert_supplied(conn: psycopg.Connection, rows: list[tuple]) -> None:
    """One INSERT statement carrying every row."""
    values = ", ".join(["(%s, %s, %s, 'user_input', %s, '{}', %s, %s)"] * len(rows))
    conn.execute(
        'insert into public.aef_execution_logs (execution_id, user_id, seq, event_type, "timestamp", data, prev_hash, hash)'
        f" values {values}",
        [v for row in rows for v in row],
    )


BREAKS = [(None, None), ("prev_hash", "AE009"), ("user_id", "AE006"), ("seq", "AE007")]


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize(("broken", "sqlstate"), BREAKS)
def test_a_supplied_statement_is_checked_one_row_or_many(
    migrated: Database, rows: int, broken: str | None, sqlstate: str | None
) -> None:
    """A broken link, a foreign owner or a gap is refused with its SQLSTATE, whether the statement
    carries one row (checked against the head) or several (checked set-based); the head stays."""
    execution_id = chain(migrated, 2, 1)[0]
    before = head(migrated, execution_id)
    assert before is not None and before[0] == 2
    batch = supplied_rows(execution_id, before, rows, broken)
    if sqlstate is None:
        with migrated.acting("service_role") as conn:
            insert_supplied(conn, batch)
        assert head(migrated, execution_id) == (2 + rows, batch[-1][-1])
        assert check(migrated).intact
        return
    with pytest.raises(psycopg.Error) as excinfo, migrated.acting("service_role") as conn:
        insert_supplied(conn, batch)
    assert excinfo.value.sqlstate == sqlstate, excinfo.value
    assert head(migrated, execution_id) == before
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 2


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize(("forged", "sqlstate"), [("hash", "AE009"), ("owner", "AE006"), ("seq", "AE007")])
def test_a_forged_fill_cursor_is_caught_one_row_or_many(
    migrated: Database, rows: int, forged: str, sqlstate: str
) -> None:
    """Any role can set the fill's cursor; a filled statement built on a forged one is refused
    by the statement check, on the one-row path as on the set-based one."""
    execution_id = chain(migrated, 2, 1)[0]
    before = head(migrated, execution_id)
    assert before is not None
    parts = {"owner": str(OWNER), "seq": "2", "hash": before[1].hex()}
    parts[forged] = {"owner": str(f.OTHER), "seq": "4", "hash": "01" * 32}[forged]
    cursor = "|".join([str(execution_id), parts["owner"], parts["seq"], parts["hash"]])
    with pytest.raises(psycopg.Error) as excinfo, migrated.acting("service_role") as conn:
        conn.execute("select pg_catalog.set_config('aef.log_cursor', %s, true)", (cursor,))
        conn.execute(
            "insert into public.aef_execution_logs (execution_id, event_type)"
            " select %s, 'user_input' from generate_series(1, %s)",
            (execution_id, rows),
        )
    assert excinfo.value.sqlstate == sqlstate, excinfo.value
    assert head(migrated, execution_id) == before


@pytest.mark.parametrize("rows", [1, 2])
@pytest.mark.parametrize("path", ["filled", "supplied"])
def test_an_archived_log_takes_no_new_chain(migrated: Database, rows: int, path: str) -> None:
    """After archiving, a new chain (seq 1) is refused with AE010 on either path, one row or
    many; a supplied event continuing the archived seqs has no event before it (AE007)."""
    execution_id = chain(migrated, 3, 1)[0]
    f.one(migrated, "update public.aef_executions set status = 'completed' where id = %s returning id", (execution_id,))
    with migrated.acting("service_role") as conn:
        conn.execute("select aef_audit.archive_execution_logs(%s, 'file:///archive')", (execution_id,))
    assert head(migrated, execution_id) is None
    with pytest.raises(psycopg.Error) as excinfo, migrated.acting("service_role") as conn:
        if path == "filled":
            conn.execute(
                "insert into public.aef_execution_logs (execution_id, event_type)"
                " select %s, 'user_input' from generate_series(1, %s)",
                (execution_id, rows),
            )
        else:
            insert_supplied(conn, supplied_rows(execution_id, (0, None), rows))
    assert excinfo.value.sqlstate == "AE010", excinfo.value
    if path == "supplied":
        with pytest.raises(psycopg.Error) as excinfo, migrated.acting("service_role") as conn:
            insert_supplied(conn, supplied_rows(execution_id, (3, b"\x02" * 32), rows))
        assert excinfo.value.sqlstate == "AE007", excinfo.value
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 0
    assert head(migrated, execution_id) is None


def test_a_head_behind_the_log_falls_back_to_the_log(migrated: Database) -> None:
    """A superuser's insert with the triggers off leaves the head behind; the next one-row
    append is then checked against the log itself, and the head catches up."""
    execution_id = chain(migrated, 2, 1)[0]
    before = head(migrated, execution_id)
    assert before is not None
    third = supplied_rows(execution_id, before, 1)
    with migrated.connect(superuser=True) as conn, conn.transaction():
        conn.execute("set local session_replication_role = replica")
        insert_supplied(conn, third)
    assert head(migrated, execution_id) == before
    # a row continuing the stale head (seq 3 again) is a duplicate; one after the real last event goes in
    with pytest.raises(psycopg.Error) as excinfo, migrated.acting("service_role") as conn:
        insert_supplied(conn, supplied_rows(execution_id, before, 1))
    assert excinfo.value.sqlstate == "23505"
    fourth = supplied_rows(execution_id, (3, third[0][-1]), 1)
    with migrated.acting("service_role") as conn:
        insert_supplied(conn, fourth)
    assert head(migrated, execution_id) == (4, fourth[0][-1])
    assert check(migrated).intact


def test_no_api_role_can_write_a_chain_head(migrated: Database) -> None:
    """The one-row check trusts aef_audit.log_heads: only the statement check and archiving write it."""
    execution_id = chain(migrated, 1, 1)[0]
    for role in API_ROLES:
        for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
            assert not f.one(
                migrated, "select has_table_privilege(%s, 'aef_audit.log_heads', %s)", (role, privilege)
            ), (role, privilege)
    with pytest.raises(psycopg.Error) as excinfo, migrated.acting("service_role") as conn:
        conn.execute("update aef_audit.log_heads set last_seq = 9 where execution_id = %s", (execution_id,))
    assert excinfo.value.sqlstate == "42501"


@pytest.mark.parametrize(
    "statement",
    [
        "update public.aef_execution_logs set data = '{\"x\": 1}'",
        "delete from public.aef_execution_logs",
        "truncate public.aef_execution_logs",
    ],
)
@pytest.mark.parametrize("who", ["service_role", "owner", "superuser_replica"])
def test_update_delete_and_truncate_are_blocked(migrated: Database, statement: str, who: str) -> None:
    chain(migrated, 2, 1)
    with pytest.raises(psycopg.Error) as excinfo:
        if who == "service_role":
            with migrated.acting("service_role") as conn:
                conn.execute(statement)
        else:
            with migrated.connect(superuser=who != "owner") as conn, conn.transaction():
                if who == "superuser_replica":
                    conn.execute("set local session_replication_role = replica")
                conn.execute(statement)
    assert excinfo.value.sqlstate in ("AE005", "42501")
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 2


# -- detected without a digest ------------------------------------------------------------


def test_edited_data_in_the_middle_is_altered(migrated: Database) -> None:
    a, _ = chain(migrated)
    as_superuser_without_triggers(
        migrated,
        (
            "update public.aef_execution_logs set data = '{\"n\": 99}' where execution_id = %s and seq = 3",
            (a,),
        ),
    )
    assert finding(check(migrated)) == (str(a), 3, "altered")


def test_a_deleted_middle_row_is_deleted(migrated: Database) -> None:
    a, _ = chain(migrated)
    as_superuser_without_triggers(
        migrated,
        (
            "delete from public.aef_execution_logs where execution_id = %s and seq = 2",
            (a,),
        ),
    )
    assert finding(check(migrated)) == (str(a), 2, "deleted")


def test_two_swapped_rows_are_reordered(migrated: Database) -> None:
    a, _ = chain(migrated)
    as_superuser_without_triggers(
        migrated,
        ("update public.aef_execution_logs set seq = seq + 1000 where execution_id = %s and seq in (3, 4)", (a,)),
        (
            "update public.aef_execution_logs set seq = case seq when 1003 then 4 else 3 end where execution_id = %s and seq > 1000",
            (a,),
        ),
    )
    assert finding(check(migrated)) == (str(a), 3, "reordered")


def test_a_forged_row_is_inserted(migrated: Database) -> None:
    a, _ = chain(migrated)
    as_superuser_without_triggers(
        migrated,
        (
            "insert into public.aef_execution_logs (execution_id, user_id, seq, event_type, prev_hash, hash)"
            " select execution_id, user_id, 6, 'step_completed', hash, sha256('forged') from public.aef_execution_logs"
            " where execution_id = %s and seq = 5",
            (a,),
        ),
    )
    assert finding(check(migrated)) == (str(a), 6, "inserted")


def test_a_cut_tail_without_its_head_is_truncated(migrated: Database) -> None:
    a, _ = chain(migrated)
    as_superuser_without_triggers(
        migrated,
        (
            "delete from public.aef_execution_logs where execution_id = %s and seq >= 4",
            (a,),
        ),
    )
    assert finding(check(migrated)) == (str(a), 4, "truncated tail")


# -- detected only with a digest ----------------------------------------------------------


def cut_tail_and_head(db: Database, execution_id: uuid.UUID) -> None:
    as_superuser_without_triggers(
        db,
        (
            "delete from public.aef_execution_logs where execution_id = %s and seq = 5",
            (execution_id,),
        ),
    )
    with db.connect(superuser=True) as conn:
        conn.execute(
            "update aef_audit.log_heads h set last_seq = 4, last_hash = l.hash from public.aef_execution_logs l"
            " where h.execution_id = %s and l.execution_id = h.execution_id and l.seq = 4",
            (execution_id,),
        )


def rewrite_whole_chain(db: Database, execution_id: uuid.UUID) -> None:
    """Change event 2, then recompute every hash after it and the head: a consistent forgery."""
    statements = [
        (
            "update public.aef_execution_logs set data = '{\"n\": 42}' where execution_id = %s and seq = 2",
            (execution_id,),
        )
    ]
    for seq in range(2, 6):
        statements.append(
            (
                "update public.aef_execution_logs l set prev_hash = p.hash,"
                ' hash = aef_private.log_hash(l.execution_id, l.seq, l.step_id, l.event_type, l."timestamp", l.data, l.browser_state, p.hash)'
                " from public.aef_execution_logs p where l.execution_id = %s and l.seq = %s and p.execution_id = l.execution_id and p.seq = l.seq - 1",
                (execution_id, seq),
            )
        )
    as_superuser_without_triggers(db, *statements)
    with db.connect(superuser=True) as conn:
        conn.execute(
            "update aef_audit.log_heads h set last_hash = l.hash from public.aef_execution_logs l"
            " where h.execution_id = %s and l.execution_id = h.execution_id and l.seq = 5",
            (execution_id,),
        )


@pytest.mark.parametrize(
    ("attack", "kind", "seq"),
    [(cut_tail_and_head, "truncated tail", 5), (rewrite_whole_chain, "altered", 5)],
)
def test_consistent_rewrites_are_caught_only_by_a_digest(
    migrated: Database, tmp_path: Path, attack, kind: str, seq: int
) -> None:  # type: ignore[no-untyped-def]
    a, _ = chain(migrated)
    with migrated.connect() as conn:
        taken = audit_digest.take(conn)
    path = tmp_path / "digest.json"
    path.write_text(taken.to_json())
    attack(migrated, a)
    assert check(migrated).intact, "without a digest this rewrite is consistent"
    assert finding(check(migrated, digest=audit_digest.load(path))) == (
        str(a),
        seq,
        kind,
    )


def test_a_digest_file_that_was_edited_is_refused(migrated: Database, tmp_path: Path) -> None:
    chain(migrated)
    with migrated.connect() as conn:
        doc = json.loads(audit_digest.take(conn).to_json())
    first = next(iter(doc["heads"]))
    doc["heads"][first][0] -= 1
    path = tmp_path / "digest.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(audit_digest.DigestError, match="do not produce its root"):
        audit_digest.load(path)


# -- not flagged --------------------------------------------------------------------------


def test_a_dump_and_restore_round_trip_still_verifies(migrated: Database, cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    chain(migrated, 20, 3)
    dump = tmp_path / "db.dump"
    subprocess.run(
        [
            str(find_pg_bin() / "pg_dump"),
            "-Fc",
            "-f",
            str(dump),
            "-d",
            migrated.superuser_url,
        ],
        check=True,
    )
    name = f"restored_{uuid.uuid4().hex[:8]}"
    with connect(cluster.url(superuser=True)) as conn:
        conn.execute(f"create database {name} owner postgres")
    try:
        restored = subprocess.run(
            [str(find_pg_bin() / "pg_restore"), "-d", cluster.url(superuser=True, database=name), str(dump)],
            capture_output=True,
            text=True,
        )
        assert restored.returncode == 0, restored.stderr
        with connect(cluster.url(superuser=True, database=name)) as conn:
            report = verify(conn)
        assert report.intact and report.events == 60
    finally:
        with connect(cluster.url(superuser=True)) as conn:
            conn.execute(f"drop database {name} with (force)")


# -- retention ----------------------------------------------------------------------------


def test_archiving_leaves_a_tombstone_that_verify_accepts(migrated: Database, tmp_path: Path) -> None:
    a, _ = chain(migrated)
    with migrated.connect() as conn:
        taken = audit_digest.take(conn)
    f.one(
        migrated,
        "update public.aef_executions set status = 'completed' where id = %s returning id",
        (a,),
    )
    with migrated.acting("service_role") as conn:
        stone = conn.execute(
            "select * from aef_audit.archive_execution_logs(%s, 's3://audit/a.jsonl')",
            (a,),
        ).fetchone()
    assert stone["last_seq"] == 5 and "service_role" in stone["archived_by"]
    report = check(migrated, digest=taken)
    assert report.intact and report.archived == [str(a)] and report.events == 5


def test_archiving_is_for_final_executions_and_the_engine_only(
    migrated: Database,
) -> None:
    a, _ = chain(migrated)
    with (
        pytest.raises(psycopg.Error) as excinfo,
        migrated.acting("service_role") as conn,
    ):
        conn.execute("select aef_audit.archive_execution_logs(%s, 'x')", (a,))
    assert excinfo.value.sqlstate == "AE010" and "running" in str(excinfo.value)
    f.one(
        migrated,
        "update public.aef_executions set status = 'completed' where id = %s returning id",
        (a,),
    )
    with (
        pytest.raises(psycopg.Error) as excinfo,
        migrated.acting("service_role") as conn,
    ):
        conn.execute("select aef_audit.archive_execution_logs(%s, '  ')", (a,))
    assert excinfo.value.sqlstate == "AE010"
    for role in ("authenticated", "anon"):
        with (
            pytest.raises(psycopg.Error) as excinfo,
            migrated.acting(role, OWNER) as conn,
        ):
            conn.execute("select aef_audit.archive_execution_logs(%s, 'x')", (a,))
        assert excinfo.value.sqlstate == "42501", role
    with (
        pytest.raises(psycopg.Error) as excinfo,
        migrated.acting("service_role") as conn,
    ):
        conn.execute(
            "insert into aef_audit.log_tombstones (execution_id, last_seq, head_hash, archived_by, location)"
            " values (%s, 5, sha256(''), 'me', 'x')",
            (a,),
        )
    assert excinfo.value.sqlstate == "42501"
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 10


# -- the command line ---------------------------------------------------------------------


def test_the_audit_commands_exit_0_1_and_2(migrated: Database, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aef_db.cli import main

    a, _ = chain(migrated)
    runner, url = CliRunner(), ["--database-url", migrated.url]
    path = tmp_path / "digest.json"
    result = runner.invoke(main, ["audit", "digest", "-o", str(path), *url])
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["executions"] == 2
    result = runner.invoke(main, ["audit", "verify", "--json", "--digest", str(path), *url])
    assert result.exit_code == 0 and json.loads(result.stdout)["intact"] is True
    as_superuser_without_triggers(
        migrated, ("update public.aef_execution_logs set data = '{}' where execution_id = %s and seq = 2", (a,))
    )
    result = runner.invoke(main, ["audit", "verify", "--json", *url])
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["first"] == {
        "execution_id": str(a),
        "seq": 2,
        "kind": "altered",
        "detail": report["first"]["detail"],
    }
    result = runner.invoke(main, ["audit", "verify", "--execution", str(uuid.uuid4()), *url])
    assert result.exit_code == 0 and "0 chains" in result.stdout
    result = runner.invoke(main, ["audit", "verify", "--database-url", "postgresql://nobody@127.0.0.1:1/none"])
    assert result.exit_code == 2
    path.write_text("{}")
    result = runner.invoke(main, ["audit", "verify", "--digest", str(path), *url])
    assert result.exit_code == 2 and "not an aef-digest-v1 file" in result.output
    result = runner.invoke(main, ["audit", "archive", str(a), "--location", "s3://x", *url])
    assert result.exit_code == 1 and "only a final execution" in result.output


def test_verify_since_checks_only_the_chains_that_moved(migrated: Database) -> None:
    a, _b = chain(migrated)
    with migrated.connect(superuser=True) as conn:
        conn.execute(
            "update aef_audit.log_heads set updated_at = now() - interval '2 days' where execution_id = %s", (a,)
        )
    report = check(migrated, since=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    assert report.chains == 1 and report.events == 5 and report.intact


def _log_scans(db: Database, executions: list[uuid.UUID]) -> list[str]:
    """The nested plans' scan nodes on the log while one statement fills interleaved events."""
    nodes: list[str] = []

    def collect(diag: psycopg.errors.Diagnostic) -> None:
        text = diag.message_primary or ""
        if "plan:" in text:
            stack = [json.loads(text[text.index("{") :])["Plan"]]
            while stack:
                node = stack.pop()
                stack += node.get("Plans", [])
                if node.get("Relation Name") == "aef_execution_logs" and "Scan" in node["Node Type"]:
                    nodes.append(node["Node Type"])

    with db.connect(superuser=True) as conn:
        for setting in (
            "load 'auto_explain'",
            "set auto_explain.log_min_duration = 0",
            "set auto_explain.log_nested_statements = on",
            "set auto_explain.log_format = json",
            "set auto_explain.log_level = notice",
        ):
            conn.execute(setting)
        conn.add_notice_handler(collect)
        conn.execute(
            "insert into public.aef_execution_logs (execution_id, event_type)"
            " select e, 'step_started' from generate_series(1, 4) g, unnest(%s::uuid[]) e",
            (executions,),
        )
    return nodes


def test_a_log_analyzed_empty_is_still_filled_through_its_index(migrated: Database) -> None:
    """PL/pgSQL keeps a plan per query for the session: one made while the log looked empty
    must not scan the whole log for every row (an interleaved import grew quadratic)."""
    executions = [f.execution(migrated, status="running") for _ in range(10)]
    with migrated.connect() as conn:
        conn.execute("vacuum analyze public.aef_execution_logs")  # reltuples 0: "empty", says the planner
    scans = _log_scans(migrated, executions)
    assert scans and "Seq Scan" not in scans, scans
    with migrated.connect() as conn:  # the same, without the fill's setting: the test can fail
        conn.execute("alter function aef_private.logs_fill() reset enable_seqscan")
        conn.execute("alter function aef_private.logs_verify_batch() reset enable_seqscan")
    assert "Seq Scan" in _log_scans(migrated, [f.execution(migrated, status="running") for _ in range(10)])

"""Plan regression on the SQL aef-db actually sends, as PgQueuer's test_query_plan_regression does.

- ``sql/store/queries.sql``: what the store sends. STORE_CASES names, for each query that
  reads or locks rows, the role the store sends it as, parameters shaped as the store module
  passes them, and the indexes its plan must use; EXEMPT gives every other query its reason.
  A query added to that file with neither fails test_every_store_query_has_a_plan_decision.
- ``sql/hot/queries.sql``: what a UI sends and the store does not (supabase-js as
  ``authenticated``: RLS only, no user filter). Each names its index in its comment.

Every plan is read with ``enable_seqscan = off`` (a few thousand rows must not hide a
missing index) and must name its indexes and contain no sequential scan. A query that calls
a function (or whose triggers do the reading) is run instead, in a transaction rolled back,
and auto_explain hands back the plan of every statement it runs, down to the functions'
and triggers' own. test_each_plan_test_fails_without_its_index drops each expected index
in a throw-away copy of the database and checks that the same assertion then fails.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from aef_db import sql as package_sql
from aef_db.audit.canonical import jsonb_text
from aef_db.store.base import ENGINE_ROLE
from aef_db.store.base import Q as STORE
from aef_db.store.events import ChainedEvent, append_params, chain_after
from aef_db.store.heads import Head

from ..conftest import Database

pytestmark = pytest.mark.slow  # builds 100k-row fixtures and plans every store query

USER_ROLE = "authenticated"
MIGRATOR = "postgres"  # key rotation runs on the URL it is given, without SET ROLE (the CLI's: postgres)
HOT = package_sql.queries("hot/queries.sql")
HOT_INDEX = {
    name: re.search(r"Index: (\w+)", block).group(1)  # type: ignore[union-attr]
    for name, block in re.findall(r"-- name: (\w+)\n((?:--.*\n)+)", package_sql.text("hot/queries.sql"))
}


def md5_uuid(text: str) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(text.encode()).hexdigest())


USER = md5_uuid("user1")
TTL = timedelta(seconds=30)  # sessions.DEFAULT_TTL


# ---------------------------------------------------------------------------
# The store's queries: a plan decision for every one
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    query: str
    role: str  # ENGINE_ROLE (the engine), USER_ROLE (Store.as_user), MIGRATOR (key rotation)
    indexes: tuple[str, ...]  # each must appear in the plan ("a|b": one of them)
    params: Callable[[dict[str, Any]], dict[str, Any]]  # from the populated database's ids
    run: bool = False  # run it (rolled back) and read every nested statement's plan through auto_explain
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.query}[{self.role}{',' + self.variant if self.variant else ''}]"


def lease(ids: dict[str, Any], mode: str = "pooled") -> dict[str, Any]:
    """BrowserSessions.lease's parameters: one dict for lease_free_session, count_sessions, take_lease."""
    return {"user_id": USER, "mode": mode, "execution_id": ids["to_lease"], "holder": "worker-1", "ttl": TTL}


def next_event(ids: dict[str, Any]) -> dict[str, Any]:
    """append_log's parameters as Logs.append builds them: numbered and hashed onto the head."""
    head = Head(USER, ids["logged_seq"], ids["logged_hash"])
    return append_params(
        ids["logged"],
        head,
        "step_started",
        "login",
        jsonb_text({"url": "https://example.com"}),
        None,
        datetime.now(UTC),
    )


def next_batch(ids: dict[str, Any], n: int) -> dict[str, Any]:
    """insert_logs' parameters as Logs.write builds them: n events chained onto the head, by column."""
    head, events = Head(USER, ids["logged_seq"], ids["logged_hash"]), []
    for k in range(n):
        events.append(
            chain_after(head, ids["logged"], "browser_action", None, jsonb_text({"k": k}), None, datetime.now(UTC))
        )
        head = events[-1].head
    return {name: list(column) for name, column in zip(ChainedEvent._fields, zip(*events, strict=True), strict=True)}


E, U = ENGINE_ROLE, USER_ROLE
EXECUTIONS_PK, CHECKPOINTS_PK, SESSIONS_PK, LOGS_PK = (
    "aef_executions_pkey",
    "aef_checkpoints_pkey",
    "aef_browser_sessions_pkey",
    "aef_execution_logs_pkey",
)
LOG_SEQ = "aef_execution_logs_execution_seq_key"  # unique (execution_id, seq): an execution's log in order
ONE_PENDING = "aef_checkpoints_one_pending_per_execution"  # unique (execution_id) where pending
SESSION_BY_ID_OR_HOLDER = "aef_browser_sessions_pkey|aef_browser_sessions_lease_execution_id_idx"  # "|": either will do

STORE_CASES = [
    # executions (store/executions.py); get, recent, pause/resume/cancel also as a user
    Case("get_execution", E, (EXECUTIONS_PK,), lambda i: {"id": i["running"]}),
    Case("get_execution", U, (EXECUTIONS_PK,), lambda i: {"id": i["running"]}),
    Case("recent_executions", E, ("aef_executions_user_recent_idx",), lambda i: {"user_id": USER, "limit": 20}),
    Case("recent_executions", U, ("aef_executions_user_recent_idx",), lambda i: {"user_id": USER, "limit": 20}),
    Case("run_execution", E, (EXECUTIONS_PK,), lambda i: {"id": i["idle"]}),
    Case(
        "finish_execution",
        E,
        (EXECUTIONS_PK,),
        lambda i: {"id": i["running"], "status": "completed", "execution_context": None},
    ),
    Case(
        "update_context",
        E,
        (EXECUTIONS_PK,),
        lambda i: {"id": i["running"], "execution_context": Jsonb({"step": 2}), "current_step_id": None},
    ),
    # the user functions: one owner-scoped lookup by key; cancel closes the pending checkpoint
    # (executions_close_checkpoints) and each logs an event (logs_fill reads the log's head)
    Case("cancel_execution", U, (EXECUTIONS_PK, ONE_PENDING, LOG_SEQ), lambda i: {"id": i["running"]}, run=True),
    Case("cancel_execution", E, (EXECUTIONS_PK, ONE_PENDING, LOG_SEQ), lambda i: {"id": i["running"]}, run=True),
    Case("pause_execution", U, (EXECUTIONS_PK, LOG_SEQ), lambda i: {"id": i["running"]}, run=True),
    Case("resume_execution", U, (EXECUTIONS_PK, LOG_SEQ), lambda i: {"id": i["paused"]}, run=True),
    # the log (store/logs.py)
    Case("log_head", E, (EXECUTIONS_PK, LOG_SEQ), lambda i: {"execution_id": i["logged"]}),
    Case("log_hash_at", E, (LOG_SEQ,), lambda i: {"execution_id": i["logged"], "seq": i["logged_seq"]}),
    Case("logs_stored", E, (LOGS_PK,), lambda i: {"ids": i["log_ids"]}),
    Case("read_logs", E, (LOG_SEQ,), lambda i: {"execution_id": i["logged"], "after_seq": 0, "limit": 100}),
    Case(
        "read_logs",
        U,
        ("aef_execution_logs_user_page_idx",),
        lambda i: {"execution_id": i["logged"], "after_seq": 0, "limit": 100},
    ),
    # the append path, one row: the statement check updates the chain's head by key where it
    # continues it, with the execution's owner by key (docs/audit.md, "The chain")
    Case("append_log", E, ("log_heads_pkey", EXECUTIONS_PK), next_event, run=True),
    # the LogWriter's batch: one statement, the same statement check
    Case("insert_logs", E, (LOG_SEQ, EXECUTIONS_PK), lambda i: next_batch(i, 3), run=True),
    # the fill path (no seq given), an execution's first event: the execution locked by key, the
    # last event by (execution_id, seq) and, at seq 1, the archive's tombstones by execution
    Case(
        "checkpoint_reached",
        E,
        (EXECUTIONS_PK, LOG_SEQ, "log_tombstones_execution_id_idx"),
        lambda i: {
            "execution_id": i["running"],
            "step_id": "review",
            "checkpoint_id": i["checkpoint"],
            "checkpoint_type": "manual_review",
        },
        run=True,
    ),
    # checkpoints (store/checkpoints.py)
    Case(
        "insert_checkpoint",
        E,
        (EXECUTIONS_PK,),
        lambda i: {
            "execution_id": i["to_lease"],
            "step_id": "review",
            "checkpoint_type": "manual_review",
            "request": Jsonb({}),
            "timeout": timedelta(hours=1),
            "timeout_policy": "fail_execution",
        },
        run=True,
    ),
    Case("get_checkpoint", E, (CHECKPOINTS_PK,), lambda i: {"id": i["checkpoint"]}),
    Case("get_checkpoint", U, (CHECKPOINTS_PK,), lambda i: {"id": i["checkpoint"]}),
    Case("pending_checkpoints", U, ("aef_checkpoints_user_pending_idx",), lambda i: {}),
    # the engine's "all of them": no index orders every user's pending checkpoints by created_at,
    # so the plan reads a whole partial index of pending ones (pending rows only) and sorts
    Case("pending_checkpoints", E, (f"aef_checkpoints_user_pending_idx|{ONE_PENDING}",), lambda i: {}),
    Case(
        "resolve_checkpoint",
        U,
        (CHECKPOINTS_PK, EXECUTIONS_PK, LOG_SEQ),
        lambda i: {"id": i["checkpoint"], "decision": "approved", "response": Jsonb({"comment": "ok"})},
        run=True,
    ),
    # the sweeper: due checkpoints by timeout_at, then each by key, its execution ended by key
    Case(
        "expire_checkpoints",
        E,
        ("aef_checkpoints_due_idx", CHECKPOINTS_PK, EXECUTIONS_PK, LOG_SEQ),
        lambda i: {"max_rows": 1000},
        run=True,
    ),
    # browser sessions (store/sessions.py): the engine's only (session_data is withheld from users).
    # The lease finds a free session among the user's live ones (user_id, status): its order (the
    # execution's last session first) and its "or expired" keep aef_browser_sessions_free_pooled_idx out
    Case("get_session", E, (SESSIONS_PK,), lambda i: {"id": i["free_session"]}),
    Case(
        "lease_free_session",
        E,
        ("aef_browser_sessions_user_status_idx", EXECUTIONS_PK, SESSIONS_PK),
        lease,
        variant="pooled",
    ),
    Case(
        "lease_free_session",
        E,
        ("aef_browser_sessions_user_status_idx", EXECUTIONS_PK, SESSIONS_PK),
        lambda i: lease(i, "persistent"),
        variant="persistent",
    ),
    # the lease run for real: the guard reads the execution by key and binds it to the session
    Case(
        "lease_free_session",
        E,
        ("aef_browser_sessions_user_status_idx", EXECUTIONS_PK, SESSIONS_PK),
        lease,
        run=True,
        variant="guard",
    ),
    Case("count_sessions", E, ("aef_browser_sessions_user_status_idx",), lease),
    Case("take_lease", E, (SESSIONS_PK,), lambda i: {"id": i["free_session"], **lease(i)}),
    # by id and lease holder: both are one-row lookups, and the planner takes the holder's index
    Case(
        "renew_lease",
        E,
        (SESSION_BY_ID_OR_HOLDER,),
        lambda i: {"id": i["leased_session"], "execution_id": i["lease_holder"], "ttl": TTL},
    ),
    Case(
        "release_lease",
        E,
        (SESSION_BY_ID_OR_HOLDER,),
        lambda i: {"id": i["leased_session"], "execution_id": i["lease_holder"]},
    ),
    Case("reclaim_leases", E, ("aef_browser_sessions_lease_expiry_idx", SESSIONS_PK), lambda i: {"max_rows": 1000}),
    Case("set_session_status", E, (SESSIONS_PK,), lambda i: {"id": i["free_session"], "status": "terminated"}),
    Case(
        "set_session_data",
        E,
        (SESSIONS_PK,),
        lambda i: {"id": i["free_session"], "session_data": Jsonb({"sealed": "x"})},
    ),
    # key rotation (rotation.py): each row it re-seals, by key
    Case(
        "reseal_execution",
        MIGRATOR,
        (EXECUTIONS_PK,),
        lambda i: {"id": i["running"], "execution_context": Jsonb({}), "config": Jsonb({})},
    ),
    Case("reseal_session", MIGRATOR, (SESSIONS_PK,), lambda i: {"id": i["free_session"], "session_data": Jsonb({})}),
]

EXEMPT = {
    "act_as_user": "sets the role and the JWT claims: reads no table",
    "set_engine_role": "sets the role: reads no table",
    "lock_user_sessions": "an advisory lock: reads no table",
    "insert_execution": "an insert; its only reads are the foreign key checks, by the referenced primary keys",
    "insert_execution_as_user": "an insert; RLS's check reads sops by its primary key",
    "insert_session": "an insert of a free session: its guard reads nothing",
    "sealed_executions": "key rotation reads every execution on purpose (a LIKE on the documents): a sequential scan is its plan",
    "sealed_sessions": "key rotation reads every session on purpose: a sequential scan is its plan",
}


def test_every_store_query_has_a_plan_decision() -> None:
    assert undecided(set(STORE)) == set()
    assert undecided(set(STORE) | {"a_new_query"}) == {"a_new_query"}  # what a new query without a decision meets
    assert set(EXEMPT) <= set(STORE), "an exemption names a query store/queries.sql no longer has"
    assert not set(EXEMPT) & {c.query for c in STORE_CASES}, "a query is both tested and exempt"


def undecided(names: set[str]) -> set[str]:
    return names - {c.query for c in STORE_CASES} - set(EXEMPT)


# ---------------------------------------------------------------------------
# The database: a few thousand rows over 50 users, in every state the store meets
# ---------------------------------------------------------------------------
POPULATE = """
insert into public.sops (id, user_id, name)
select md5('sop' || u)::uuid, md5('user' || u)::uuid, 'SOP ' || u from generate_series(1, 50) u;
-- 100 executions per user, one minute apart; by (g / 50) % 10: 0 idle, 1 paused, 2-3 running,
-- 4 error, 5 cancelled before it ran, 6-9 completed
insert into public.aef_executions (id, sop_id, user_id, status, created_at)
select md5('execution' || g)::uuid, md5('sop' || (g % 50 + 1))::uuid, md5('user' || (g % 50 + 1))::uuid,
       (case when (g / 50) % 10 in (0, 5) then 'idle' else 'running' end)::public.execution_status,
       now() - (5000 - g) * interval '1 minute'
  from generate_series(1, 5000) g;
-- 50 events each for the first 200 executions (four per user)
insert into public.aef_execution_logs (execution_id, user_id, seq, event_type, data)
select md5('execution' || e)::uuid, md5('user' || (e % 50 + 1))::uuid, s, 'browser_action', jsonb_build_object('n', s)
  from generate_series(1, 200) e, generate_series(1, 50) s
 order by e, s;
-- a checkpoint for most executions that ran, half of them with a timeout; those of
-- executions that end are closed (skipped) by the database
insert into public.aef_checkpoints (execution_id, checkpoint_type, timeout_at)
select md5('execution' || g)::uuid, 'manual_review', case when g % 2 = 0 then now() + interval '1 hour' end
  from generate_series(1, 5000) g where (g / 50) % 10 not in (0, 3, 5);
update public.aef_executions set status = 'paused'
 where id in (select md5('execution' || g)::uuid from generate_series(1, 5000) g where (g / 50) % 10 = 1);
update public.aef_executions set status = 'error'
 where id in (select md5('execution' || g)::uuid from generate_series(1, 5000) g where (g / 50) % 10 = 4);
update public.aef_executions set status = 'cancelled'
 where id in (select md5('execution' || g)::uuid from generate_series(1, 5000) g where (g / 50) % 10 = 5);
update public.aef_executions set status = 'completed'
 where id in (select md5('execution' || g)::uuid from generate_series(1, 5000) g where (g / 50) % 10 >= 6);
-- 20 sessions per user; by (s / 50) % 10: 0-3 isolated (ended), 4 persistent, 5-9 pooled
insert into public.aef_browser_sessions (id, user_id, mode, last_active)
select 'bs_' || md5('session' || s), md5('user' || (s % 50 + 1))::uuid,
       case when (s / 50) % 10 < 4 then 'isolated' when (s / 50) % 10 = 4 then 'persistent' else 'pooled' end,
       now() - s * interval '1 second'
  from generate_series(1, 1000) s;
update public.aef_browser_sessions set status = 'terminated' where mode = 'isolated';
update public.aef_browser_sessions set status = 'idle' where mode = 'persistent';
-- per user, three pooled sessions leased to running executions, the third lease expired
with s as (select id, user_id, row_number() over (partition by user_id order by id) as rn
             from public.aef_browser_sessions where mode = 'pooled'),
     e as (select id, user_id, row_number() over (partition by user_id order by id) as rn
             from public.aef_executions where status = 'running')
update public.aef_browser_sessions b
   set lease_execution_id = e.id, lease_holder = 'worker-' || s.rn,
       lease_expires_at = now() + case when s.rn = 3 then interval '-1 minute' else interval '30 seconds' end
  from s join e using (user_id, rn)
 where b.id = s.id and s.rn <= 3;
"""

# a few checkpoints past their timeout, for the sweeper (the guard refuses a timeout in the past)
OVERDUE = """
set session_replication_role = replica;
update public.aef_checkpoints set created_at = now() - interval '2 hours', timeout_at = now() - interval '1 minute'
 where id in (select id from public.aef_checkpoints where status = 'pending' and timeout_at is not null
               order by id limit 20);
reset session_replication_role;
"""

IDS = """
select
  (select id from public.aef_executions where user_id = %(u)s and status = 'idle' order by id limit 1) as idle,
  (select id from public.aef_executions where user_id = %(u)s and status = 'paused' order by id limit 1) as paused,
  (select e.id from public.aef_executions e join public.aef_checkpoints c on c.execution_id = e.id and c.status = 'pending'
    where e.user_id = %(u)s and e.status = 'running' and e.browser_session_id is null
    order by e.id limit 1) as running,
  (select e.id from public.aef_executions e
    where e.user_id = %(u)s and e.status = 'running' and e.browser_session_id is null
      and not exists (select 1 from public.aef_checkpoints c where c.execution_id = e.id and c.status = 'pending')
    order by e.id limit 1) as to_lease,
  (select id from public.aef_browser_sessions
    where user_id = %(u)s and mode = 'pooled' and lease_execution_id is null order by id limit 1) as free_session,
  (select id from public.aef_browser_sessions
    where user_id = %(u)s and lease_expires_at > now() order by id limit 1) as leased_session
"""


@pytest.fixture(scope="module")
def populated(cluster, migrated_template: str) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    """Shared by the module's tests, analyzed as autovacuum leaves it (all-visible: index-only scans count)."""
    from ..conftest import _create, _drop

    db = _create(cluster, migrated_template)
    with db.connect() as conn:
        conn.execute(POPULATE)
    with db.connect(superuser=True) as conn:
        conn.execute(OVERDUE)
        conn.execute("vacuum analyze")
    yield db
    _drop(db)


@pytest.fixture(scope="module")
def ids(populated: Database) -> dict[str, Any]:
    """The rows each case's parameters name: USER's, in the state the store meets them in."""
    with populated.connect() as conn:
        found = dict(conn.execute(IDS, {"u": USER}).fetchone())
        found["checkpoint"] = conn.execute(
            "select id from public.aef_checkpoints where execution_id = %s and status = 'pending'", (found["running"],)
        ).fetchone()["id"]
        found["lease_holder"] = conn.execute(
            "select lease_execution_id from public.aef_browser_sessions where id = %s", (found["leased_session"],)
        ).fetchone()["lease_execution_id"]
        found["logged"] = md5_uuid("execution100")  # USER's, running, 50 events
        head = conn.execute(
            "select last_seq, last_hash from aef_audit.log_heads where execution_id = %s", (found["logged"],)
        ).fetchone()
        found["logged_seq"], found["logged_hash"] = head["last_seq"], head["last_hash"]
        found["log_ids"] = [
            r["id"]
            for r in conn.execute(
                "select id from public.aef_execution_logs where execution_id = %s order by seq limit 100",
                (found["logged"],),
            )
        ]
    assert all(v is not None for v in found.values()), found
    return found


@pytest.fixture(scope="module")
def throwaway(cluster, populated: Database) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    """A copy of the populated database, whose indexes the mutation test drops."""
    from ..conftest import _create, _drop

    db = _create(cluster, populated.name)
    yield db
    _drop(db)


# ---------------------------------------------------------------------------
# Reading plans
# ---------------------------------------------------------------------------
@contextmanager
def transaction(db: Database, *, traced: bool) -> Iterator[psycopg.Connection]:
    """One transaction, always rolled back. Traced: auto_explain hands back the plan of every
    statement, nested ones too, as notices (loading it takes a superuser; the role is set after)."""
    with db.connect(superuser=traced) as conn:
        if traced:
            conn.execute("load 'auto_explain'")
            conn.execute("set auto_explain.log_min_duration = 0")
            conn.execute("set auto_explain.log_nested_statements = on")
            conn.execute("set auto_explain.log_format = json")
            conn.execute("set auto_explain.log_level = notice")
        with conn.transaction(force_rollback=True):
            yield conn


def act(conn: psycopg.Connection, role: str) -> None:
    """As the store acts: the engine's role (set_engine_role), or a user's role and claims (act_as_user)."""
    if role == ENGINE_ROLE:
        conn.execute(STORE["set_engine_role"], {"role": role})
    elif role == USER_ROLE:
        conn.execute(STORE["act_as_user"], {"claims": json.dumps({"sub": str(USER), "role": role})})
    else:
        assert role == MIGRATOR and conn.info.user == MIGRATOR
    conn.execute("set local enable_seqscan = off")  # small tables must not hide a missing index


def plans(conn: psycopg.Connection, statement: str, params: dict[str, Any], *, traced: bool) -> list[dict[str, Any]]:
    if not traced:
        return [conn.execute("explain (format json) " + statement, params).fetchone()["QUERY PLAN"][0]["Plan"]]
    found: list[dict[str, Any]] = []

    def collect(diag: psycopg.errors.Diagnostic) -> None:
        text = diag.message_primary or ""
        if "plan:" in text:
            found.append(json.loads(text[text.index("{") :])["Plan"])

    conn.add_notice_handler(collect)
    with conn.cursor() as cur:
        cur.execute(statement, params)
        assert cur.rowcount > 0, "the statement did nothing: its parameters do not fit the data"
    conn.remove_notice_handler(collect)
    assert len(found) > 1, "auto_explain handed back no nested plan"
    return found


def scans(nodes: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """The indexes the plans use, and the relations they read sequentially."""
    indexes: set[str] = set()
    sequential: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        if "Index Name" in node:
            indexes.add(node["Index Name"])
        if node["Node Type"] == "Seq Scan":
            sequential.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    for node in nodes:
        walk(node)
    return indexes, sequential


def check(
    conn: psycopg.Connection,
    label: str,
    statement: str,
    params: dict[str, Any],
    expected: tuple[str, ...],
    *,
    traced: bool,
) -> None:
    indexes, sequential = scans(plans(conn, statement, params, traced=traced))
    missing = [i for i in expected if not indexes & set(i.split("|"))]
    assert not missing and not sequential, (
        f"{label}: expected {', '.join(missing) or 'its indexes'}; the plan uses {sorted(indexes)}"
        f" and reads {sorted(sequential) or 'nothing'} sequentially"
    )


def check_case(
    db: Database, case: Case, ids: dict[str, Any], before: Callable[[psycopg.Connection], None] | None = None
) -> None:
    with transaction(db, traced=case.run) as conn:
        if before:
            before(conn)
        act(conn, case.role)
        check(conn, case.id, STORE[case.query], case.params(ids), case.indexes, traced=case.run)


def check_hot(
    db: Database, name: str, ids: dict[str, Any], before: Callable[[psycopg.Connection], None] | None = None
) -> None:
    params = {"execution_id": ids["logged"], "after_seq": 0, "status": "active"}
    with transaction(db, traced=False) as conn:
        if before:
            before(conn)
        act(conn, USER_ROLE)
        check(conn, f"hot {name}", HOT[name], params, (HOT_INDEX[name],), traced=False)


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", STORE_CASES, ids=lambda c: c.id)
def test_store_query_uses_its_index(populated: Database, ids: dict[str, Any], case: Case) -> None:
    check_case(populated, case, ids)


def test_every_hot_query_names_its_index() -> None:
    assert set(HOT_INDEX) == set(HOT)


@pytest.mark.parametrize("name", sorted(HOT))
def test_hot_query_uses_its_index(populated: Database, ids: dict[str, Any], name: str) -> None:
    check_hot(populated, name, ids)


def drop(expected: str) -> Callable[[psycopg.Connection], None]:
    """Drop an index (each of "a|b"), or the constraint it backs with what depends on it, in the open
    transaction. A published table that loses the primary key its replica identity uses leaves its publication."""

    def run(conn: psycopg.Connection) -> None:
        for index in expected.split("|"):
            row = conn.execute(
                "select i.indexrelid::regclass::text as idx, i.indrelid::regclass::text as tab, c.conname, c.contype,"
                " t.relreplident from pg_catalog.pg_index i join pg_catalog.pg_class t on t.oid = i.indrelid"
                "  left join pg_catalog.pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid"
                " where i.indexrelid = (select oid from pg_catalog.pg_class where relname = %s and relkind = 'i')",
                (index,),
            ).fetchone()
            assert row is not None, f"no index {index}"
            if row["contype"] == "p" and row["relreplident"] == "d":  # a published update needs it
                for pub in conn.execute(
                    "select p.pubname from pg_catalog.pg_publication_rel r join pg_catalog.pg_publication p"
                    " on p.oid = r.prpubid where r.prrelid = %s::regclass",
                    (row["tab"],),
                ).fetchall():
                    conn.execute(f"alter publication {pub['pubname']} drop table {row['tab']}")
            if row["conname"]:
                conn.execute(f"alter table {row['tab']} drop constraint {row['conname']} cascade")
            else:
                conn.execute(f"drop index {row['idx']}")

    return run


MUTATIONS = [pytest.param(case, index, id=f"{case.id}-{index}") for case in STORE_CASES for index in case.indexes]


@pytest.mark.parametrize(("case", "index"), MUTATIONS)
def test_each_plan_test_fails_without_its_index(
    throwaway: Database, ids: dict[str, Any], case: Case, index: str
) -> None:
    with pytest.raises(AssertionError, match=f"expected [^;]*{re.escape(index)}"):
        check_case(throwaway, case, ids, before=drop(index))


@pytest.mark.parametrize("name", sorted(HOT))
def test_each_hot_plan_test_fails_without_its_index(throwaway: Database, ids: dict[str, Any], name: str) -> None:
    with pytest.raises(AssertionError, match=f"expected [^;]*{re.escape(HOT_INDEX[name])}"):
        check_hot(throwaway, name, ids, before=drop(HOT_INDEX[name]))


def test_every_foreign_key_is_indexed(populated: Database) -> None:
    from aef_db import doctor

    with populated.connect() as conn:
        assert doctor.unindexed_foreign_keys(conn) == []


@pytest.mark.parametrize(
    ("helper", "column", "table"),
    [
        ("execution_transition_allowed", "status", "aef_executions"),
        ("session_transition_allowed", "status", "aef_browser_sessions"),
    ],
)
def test_the_state_machine_helpers_are_inlined(populated: Database, helper: str, column: str, table: str) -> None:
    """Not inlined, a SQL function is parsed and planned again at every call from a guard
    (it was, while it compared enums as text: decision 29)."""
    with populated.connect() as conn:
        plan = "\n".join(
            r["QUERY PLAN"]
            for r in conn.execute(
                f"explain (verbose, costs off) select aef_private.{helper}({column}, {column}) from public.{table}"
            ).fetchall()
        )
    assert helper not in plan and "'idle'::" in plan  # the rule itself, inlined


def test_the_log_hash_is_inlined(populated: Database) -> None:
    """The chain's hash is computed for every event: it must cost an expression, not a function call."""
    with populated.connect() as conn:
        plan = "\n".join(
            r["QUERY PLAN"]
            for r in conn.execute(
                'explain (verbose, costs off) select aef_private.log_hash(execution_id, seq, step_id, event_type, "timestamp",'
                " data, browser_state, prev_hash) from public.aef_execution_logs"
            ).fetchall()
        )
    assert "log_hash" not in plan and "sha256(" in plan

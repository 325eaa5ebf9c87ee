"""Plan regression: each hot query (sql/hot/queries.sql) uses the index it was made for,
run as the role that runs it in production, as PgQueuer's test_query_plan_regression does."""

from __future__ import annotations

import re
import uuid

import pytest

from aef_db import sql as package_sql

from .conftest import Database
from .factories import OWNER

HOT = package_sql.queries("hot/queries.sql")
EXPECTED_INDEX = {
    name: re.search(r"Index: (\w+)", block).group(1)  # type: ignore[union-attr]
    for name, block in re.findall(r"-- name: (\w+)\n((?:--.*\n)+)", package_sql.text("hot/queries.sql"))
}
USER_QUERIES = {"recent_executions", "execution_status_counts", "log_page", "pending_checkpoints", "my_sessions"}


@pytest.fixture(scope="module")
def populated(cluster, migrated_template: str):  # type: ignore[no-untyped-def]
    """A few thousand rows over 50 users, analyzed, shared by the module's tests."""
    from .conftest import _create, _drop

    db = _create(cluster, migrated_template)
    with db.connect() as conn:
        conn.execute(
            """
            insert into public.sops (id, user_id, name)
            select md5('sop' || u)::uuid, md5('user' || u)::uuid, 'SOP ' || u from generate_series(1, 50) u;
            insert into public.aef_browser_sessions (user_id, mode)
            select md5('user' || (g % 50 + 1))::uuid, case when g % 2 = 0 then 'pooled' else 'isolated' end
              from generate_series(1, 500) g;
            insert into public.aef_executions (sop_id, user_id, status)
            select md5('sop' || (g % 50 + 1))::uuid, md5('user' || (g % 50 + 1))::uuid, 'running'
              from generate_series(1, 5000) g;
            update public.aef_executions set status = 'completed' where random() < 0.8;
            insert into public.aef_checkpoints (execution_id, checkpoint_type, timeout_at)
            select id, 'manual_review', now() + interval '1 hour' from public.aef_executions where status = 'running';
            insert into public.aef_execution_logs (execution_id, user_id, seq, event_type)
            select e.id, e.user_id, g, 'browser_action'
              from (select id, user_id from public.aef_executions limit 200) e, generate_series(1, 50) g;
            """
        )
        conn.execute("vacuum analyze")  # as autovacuum leaves a table: all-visible, so index-only scans count
    yield db
    _drop(db)


def plan_indexes(db: Database, name: str) -> set[str]:
    status = "active" if name == "my_sessions" else "running"
    params = {"execution_id": uuid.uuid4(), "after_seq": 0, "status": status, "user_id": OWNER}
    role, user = ("authenticated", uuid.UUID(md5_uuid("user1"))) if name in USER_QUERIES else ("service_role", None)
    with db.acting(role, user) as conn:
        conn.execute("set local enable_seqscan = off")  # small tables must not hide a missing index
        plan = conn.execute("explain (format json) " + HOT[name], params).fetchone()["QUERY PLAN"]
    found: set[str] = set()

    def walk(node: dict) -> None:
        if "Index Name" in node:
            found.add(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def md5_uuid(text: str) -> str:
    import hashlib

    return str(uuid.UUID(hashlib.md5(text.encode()).hexdigest()))


def test_every_hot_query_names_its_index() -> None:
    assert set(EXPECTED_INDEX) == set(HOT)


@pytest.mark.parametrize("name", sorted(HOT))
def test_hot_query_uses_its_index(populated: Database, name: str) -> None:
    assert EXPECTED_INDEX[name] in plan_indexes(populated, name)


def test_every_foreign_key_is_indexed(populated: Database) -> None:
    from aef_db import doctor

    with populated.connect() as conn:
        assert doctor.unindexed_foreign_keys(conn) == []


@pytest.mark.parametrize(("helper", "column", "table"), [
    ("execution_transition_allowed", "status", "aef_executions"),
    ("session_transition_allowed", "status", "aef_browser_sessions"),
])  # fmt: skip
def test_the_state_machine_helpers_are_inlined(populated: Database, helper: str, column: str, table: str) -> None:
    """Not inlined, a SQL function is parsed and planned again at every call from a guard
    (it was, while it compared enums as text: decision 29)."""
    with populated.connect() as conn:
        plan = "\n".join(r["QUERY PLAN"] for r in conn.execute(
            f"explain (verbose, costs off) select aef_private.{helper}({column}, {column}) from public.{table}"  # noqa: S608 (test constants)
        ).fetchall())  # fmt: skip
    assert helper not in plan and "'idle'::" in plan  # the rule itself, inlined


def test_the_log_hash_is_inlined(populated: Database) -> None:
    """The chain's hash is computed for every event: it must cost an expression, not a function call."""
    with populated.connect() as conn:
        plan = "\n".join(r["QUERY PLAN"] for r in conn.execute(
            "explain (verbose, costs off) select aef_private.log_hash(execution_id, seq, step_id, event_type, \"timestamp\","
            " data, browser_state, prev_hash) from public.aef_execution_logs"
        ).fetchall())  # fmt: skip
    assert "log_hash" not in plan and "sha256(" in plan

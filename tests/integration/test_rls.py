"""Who may do what, where pgTAP cannot say it: two people resolving one checkpoint at
once, grants on both kinds of Supabase project, and what Supabase Realtime lets each
subscriber see through logical decoding.

The RLS matrix itself, (table, operation) x (anon, owner, another user, service_role),
and the four user functions are tested in pgTAP, in supabase/tests/database/ (run by
tests/integration/test_pgtap.py with pg_prove, and by `supabase test db` on a team's project):
02 to 05 hold one file per table, 06 the functions.
"""

from __future__ import annotations

import json
import threading
import uuid

import psycopg

from aef_db.runner import Runner

from .. import factories as f
from ..conftest import Database
from ..factories import OTHER, OWNER


def act(db: Database, actor: str):  # type: ignore[no-untyped-def]
    role = {"anon": "anon", "owner": "authenticated", "other": "authenticated", "service_role": "service_role"}[actor]
    return db.acting(role, {"owner": OWNER, "other": OTHER}.get(actor))


# -- two people, one checkpoint: needs two connections and a thread ----------------------


def test_two_simultaneous_resolves_have_exactly_one_winner(migrated: Database) -> None:
    checkpoint = f.checkpoint(migrated, f.execution(migrated, status="running"))
    first = migrated.connect()
    second = migrated.connect()
    try:
        for conn in (first, second):
            conn.execute("begin")
            conn.execute("set local role authenticated")
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps({"sub": str(OWNER)}),))
        first.execute("select public.aef_resolve_checkpoint(%s, 'approved')", (checkpoint,))
        second.execute("set local lock_timeout = '5s'")

        outcome: dict[str, BaseException | None] = {}

        def loser() -> None:
            try:
                second.execute("select public.aef_resolve_checkpoint(%s, 'rejected')", (checkpoint,))
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
    assert f.one(migrated, "select status::text from public.aef_checkpoints where id = %s", (checkpoint,)) == "approved"


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
    from ..conftest import _create, _drop

    old, new = _create(cluster, template), _create(cluster, template)
    try:
        with old.connect() as conn:  # what projects created before 2026 still have
            for kind in ("tables", "functions", "sequences"):
                conn.execute(
                    f"alter default privileges for role postgres in schema public grant all on {kind} to anon, authenticated, service_role"
                )
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
# (which tables are published, and their replica identity: pgTAP, 01-schema.sql; Realtime's
# own poll, subscriber by subscriber: test_realtime_emulation.py)


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
                    "select data from pg_logical_slot_get_changes(%s, null, null, 'format-version', '2', 'add-tables',"
                    " (select string_agg(schemaname || '.' || tablename, ',') from pg_publication_tables"
                    "   where pubname = 'supabase_realtime'))",
                    (slot,),
                )
            ]
        changes = [c for c in changes if c.get("action") in ("I", "U")]
        # sessions are not published for Realtime (wal2json would decode session_data)
        assert {c["table"] for c in changes} == {"aef_executions", "aef_execution_logs", "aef_checkpoints"}
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

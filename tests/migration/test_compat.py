"""The Supabase compatibility layer on plain PostgreSQL, and its no-op on Supabase."""

from __future__ import annotations

import uuid

import pytest

from aef_db import compat
from aef_db.errors import PrivilegeError
from aef_db.runner import Runner

from ..conftest import Database

ALL_OBJECTS = (
    "schema auth",
    "function auth.uid()",
    "function auth.role()",
    "function auth.jwt()",
    "schema extensions",
    "extension pgcrypto",
    "publication supabase_realtime",
)


def test_plain_postgres_is_detected_with_what_is_missing(plain_database: Database) -> None:
    with plain_database.connect() as conn:
        status = compat.detect(conn)
    assert status.mode is compat.Mode.MISSING
    assert status.missing == ALL_OBJECTS  # the roles are cluster-wide and already exist


def test_install_completes_plain_postgres_and_runs_again_harmlessly(plain_database: Database) -> None:
    with plain_database.connect() as conn:
        assert compat.install(conn).mode is compat.Mode.COMPAT
    first = plain_database.dump("--schema-only")
    with plain_database.connect() as conn:
        assert compat.install(conn).mode is compat.Mode.COMPAT
    assert plain_database.dump("--schema-only") == first
    assert (
        plain_database.scalar("select pubowner::regrole::text from pg_publication where pubname = 'supabase_realtime'")
        == "postgres"
    )


def test_migrate_up_installs_the_layer_where_it_is_missing(plain_database: Database) -> None:
    notes: list[str] = []
    Runner(plain_database.url, report=notes.append).up()
    assert any(n.startswith("installing the Supabase compatibility layer") for n in notes)
    assert "mode: compat: plain PostgreSQL with aef-db's Supabase compatibility layer" in notes


def test_auth_helpers_read_the_claims_as_supabase_does(database: Database) -> None:
    user = uuid.uuid4()
    with database.connect() as conn, conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (f'{{"sub":"{user}","role":"authenticated","email":"a@b.c"}}',),
        )
        row = conn.execute("select auth.uid() as uid, auth.role() as role, auth.jwt() ->> 'email' as email").fetchone()
    assert row == {"uid": user, "role": "authenticated", "email": "a@b.c"}
    with database.connect() as conn, conn.transaction():
        conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (str(user),))
        assert conn.execute("select auth.uid() as uid").fetchone()["uid"] == user
    with database.connect() as conn:
        assert conn.execute("select auth.uid() as uid, auth.jwt() as jwt").fetchone() == {"uid": None, "jwt": None}


def test_the_api_roles_have_supabases_attributes(database: Database) -> None:
    with database.connect() as conn:
        rows = {
            r["rolname"]: (r["rolcanlogin"], r["rolbypassrls"], r["rolsuper"])
            for r in conn.execute(
                "select rolname, rolcanlogin, rolbypassrls, rolsuper from pg_roles"
                " where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')"
            )
        }
    assert rows == {
        "anon": (False, False, False),
        "authenticated": (False, False, False),
        "service_role": (False, True, False),
        "authenticator": (True, False, False),
    }


def test_on_a_supabase_database_nothing_changes(database: Database) -> None:
    # Supabase's own auth schema carries no aef-db marker
    with database.connect(superuser=True) as conn:
        conn.execute("comment on schema auth is 'Supabase Auth'")
    before = database.dump("--schema-only")
    with database.connect() as conn:
        assert compat.detect(conn).mode is compat.Mode.SUPABASE
        assert compat.install(conn).mode is compat.Mode.SUPABASE
    notes: list[str] = []
    Runner(database.url, report=notes.append).up()
    Runner(database.url).down(all_=True)
    assert database.dump("--schema-only") == before
    assert not any("installing" in n for n in notes)
    assert "mode: supabase: Supabase's own objects are present; the compatibility layer is not needed" in notes


def test_a_role_that_may_not_install_the_layer_gets_a_clear_error(plain_database: Database) -> None:
    before = plain_database.dump("--schema-only")
    with plain_database.login_role("aef_weak") as weak_url, pytest.raises(PrivilegeError) as failure:
        Runner(weak_url).up()
    message = str(failure.value)
    assert "the Supabase compatibility layer is missing (schema auth" in message
    assert "role aef_weak may not create it" in message and "aef-db compat install" in message
    assert plain_database.dump("--schema-only") == before

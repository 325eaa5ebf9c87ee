"""The pgTAP suite in supabase/tests/database, run with pg_prove as `supabase test db` runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..conftest import Database

pytestmark = pytest.mark.slow  # pg_prove over the whole pgTAP suite, twice

SUITE = Path(__file__).resolve().parents[2] / "supabase" / "tests" / "database"
FILES = sorted(SUITE.glob("*.sql"))


@pytest.fixture
def with_pgtap(migrated: Database) -> Database:
    # pgTAP is not a trusted extension: Supabase provides it, here the superuser does
    with migrated.connect(superuser=True) as conn:
        conn.execute("create extension if not exists pgtap with schema extensions")
    return migrated


def test_the_suite_is_there() -> None:
    assert len(FILES) >= 8
    assert shutil.which("pg_prove"), "pg_prove comes from Debian's libtap-parser-sourcehandler-pgtap-perl"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_pgtap_file_passes_as_postgres(with_pgtap: Database, path: Path) -> None:
    result = subprocess.run(
        ["pg_prove", "--verbose", "--dbname", with_pgtap.url, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Result: PASS" in result.stdout


# A team's own sops, as on the Supabase project aef-db is deployed into: other columns
# than aef-db's minimal one (no name), owned by users in auth.users, with its own RLS.
TEAM_AUTH_USERS = """
create table auth.users (
  id uuid primary key,
  email text not null,
  raw_user_meta_data jsonb,
  created_at timestamptz default now()
);
grant all on table auth.users to postgres;
"""
TEAM_SOPS = """
create table public.sops (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id),
  title text not null,
  steps jsonb not null,
  created_at timestamptz not null default now()
);
alter table public.sops enable row level security;
revoke all on table public.sops from public, anon, authenticated, service_role;
grant select on table public.sops to authenticated;
grant all on table public.sops to service_role;
create policy "Owners read their own SOPs" on public.sops for select to authenticated using (user_id = (select auth.uid()));
"""


@pytest.fixture
def team_project(database: Database) -> Database:
    """A Supabase-like project with its own auth.users and sops, then aef-db migrated into it."""
    from aef_db.runner import Runner

    with database.connect(superuser=True) as conn:  # auth belongs to Supabase, not to postgres
        conn.execute(TEAM_AUTH_USERS)
    with database.connect() as conn:  # the team's own migration, as postgres
        conn.execute(TEAM_SOPS)
    Runner(database.url).up()
    with database.connect(superuser=True) as conn:
        conn.execute("create extension if not exists pgtap with schema extensions")
    return database


def test_the_suite_passes_on_a_team_project_with_its_own_sops_and_auth_users(team_project: Database) -> None:
    assert (
        team_project.scalar("select obj_description('public.sops'::regclass, 'pg_class')") is None
    )  # the team's, kept
    result = subprocess.run(
        ["pg_prove", "--verbose", "--dbname", team_project.url, *map(str, FILES)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert "Result: PASS" in result.stdout
    assert team_project.scalar("select count(*) from public.sops") == 0  # every file rolled back

"""doctor's checks of the AEF schema: each passes on a fresh migration and fails when broken."""

from __future__ import annotations

import pytest

from aef_db import doctor

from ..conftest import Database

BREAKAGE = {
    "RLS enabled": "alter table public.aef_checkpoints disable row level security",
    "no grants to anon": "grant select (id) on public.aef_executions to anon",
    "realtime publication": "alter publication supabase_realtime drop table public.aef_execution_logs",
    "foreign keys indexed": "drop index public.aef_checkpoints_execution_id_idx",
    "policies wrap auth calls": 'create policy "Bare" on public.aef_checkpoints for select to authenticated using (user_id = auth.uid())',
    "log triggers enabled": "alter table public.aef_execution_logs disable trigger aef_30_append_only",
    "definers pin search_path": "alter function public.aef_pause_execution(uuid) set search_path = ''",
}


def checks(db: Database) -> dict[str, doctor.Check]:
    return {c.name: c for c in doctor.run(db.url)}


def test_a_fresh_schema_passes_every_check(migrated: Database) -> None:
    found = checks(migrated)
    assert not doctor.failed(list(found.values())), [c for c in found.values() if c.level is doctor.Level.FAIL]
    for name in BREAKAGE:
        assert found[name].level is doctor.Level.OK


@pytest.mark.parametrize("name", list(BREAKAGE))
def test_each_breakage_is_reported(migrated: Database, name: str) -> None:
    with migrated.connect() as conn:
        conn.execute(BREAKAGE[name])
    found = checks(migrated)
    assert found[name].level is doctor.Level.FAIL, found[name]
    assert [n for n, c in found.items() if c.level is doctor.Level.FAIL] == [name]


def test_before_migrations_the_schema_checks_wait(database: Database) -> None:
    found = checks(database)
    assert found["AEF schema"].level is doctor.Level.INFO

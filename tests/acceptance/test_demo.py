"""The main job's sample execution runs end to end on a migrated database."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from aef_db.cli import main

from .. import factories as f
from ..conftest import Database


def test_demo_runs_a_sample_sop_and_stores_no_secret_in_clear(migrated: Database, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AEF_DB_HOME", str(tmp_path))
    monkeypatch.delenv("AEF_DB_ENCRYPTION_KEY", raising=False)
    result = CliRunner().invoke(main, ["demo", "--database-url", migrated.url], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "secrets stored in plaintext │ none" in result.output
    assert "manual_review -> approved by the user" in result.output and "data_validation -> timeout" in result.output
    live = [line.split()[1:3] for line in result.output.splitlines() if line.startswith("live ")]
    assert live[0] == ["aef_executions", "insert"] and live[-1] == ["aef_executions", "update"]
    assert ["aef_checkpoints", "update"] in live and ["aef_browser_sessions", "update"] in live
    assert "aef-db watch" in result.output
    statuses = f.one(migrated, "select string_agg(status::text, ',' order by status) from public.aef_checkpoints")
    assert statuses == "approved,timeout"
    assert f.one(migrated, "select status::text from public.aef_executions") == "completed"
    assert (tmp_path / "demo-keys.json").stat().st_mode & 0o777 == 0o600


def test_demo_does_not_use_database_url_from_the_environment(migrated: Database, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AEF_DB_HOME", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", migrated.url)
    result = CliRunner().invoke(main, ["demo"], terminal_width=200)
    assert result.exit_code == 2, result.output
    assert "does not use $DATABASE_URL: pass --database-url URL" in result.output
    assert f.one(migrated, "select count(*) from public.aef_executions") == 0
    assert not (tmp_path / "demo-keys.json").exists()


def test_demo_does_not_migrate_a_database_it_was_given(database: Database, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AEF_DB_HOME", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["demo", "--database-url", database.url], terminal_width=200)
    assert result.exit_code == 2, result.output
    assert "pending migration(s)" in result.output and "aef-db migrate up --database-url URL" in result.output
    assert database.scalar("select to_regclass('public.aef_executions') is null")  # the schema was left alone


@pytest.mark.slow
def test_demo_starts_and_migrates_its_own_embedded_cluster(
    workdir: Path, aef_cli: list[str], cli_env: dict[str, str]
) -> None:
    env = {**cli_env, "AEF_DB_HOME": str(workdir / "demo-home"), "COLUMNS": "200"}
    try:
        result = subprocess.run([*aef_cli, "demo"], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "started the embedded cluster in" in result.stderr and "applying " in result.stderr
        assert "secrets stored in plaintext │ none" in result.stdout
    finally:
        subprocess.run([*aef_cli, "db", "stop"], env=env, check=True)

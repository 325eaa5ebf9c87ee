"""The main job's sample execution runs end to end on a migrated database."""

from __future__ import annotations

from click.testing import CliRunner

from aef_db.cli import main

from . import factories as f
from .conftest import Database


def test_demo_runs_a_sample_sop_and_stores_no_secret_in_clear(migrated: Database, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AEF_DB_HOME", str(tmp_path))
    monkeypatch.delenv("AEF_DB_ENCRYPTION_KEY", raising=False)
    result = CliRunner().invoke(main, ["demo", "--database-url", migrated.url], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "secrets stored in plaintext │ none" in result.output
    assert "manual_review -> approved by the user" in result.output and "data_validation -> timeout" in result.output
    statuses = f.one(migrated, "select string_agg(status::text, ',' order by status) from public.aef_checkpoints")
    assert statuses == "approved,timeout"
    assert f.one(migrated, "select status::text from public.aef_executions") == "completed"
    assert (tmp_path / "demo-keys.json").stat().st_mode & 0o777 == 0o600

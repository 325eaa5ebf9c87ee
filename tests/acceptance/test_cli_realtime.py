"""`aef-db realtime ...` and what `aef-db doctor` says about the live paths and replication slots."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from click.testing import CliRunner

from aef_db.cli import main

from ..conftest import Database

STUB = Path(__file__).resolve().parents[1] / "sql" / "realtime_stub.sql"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"DATABASE_URL": None})
    return result.exit_code, result.stdout, result.stderr


def doctor(db: Database) -> dict[str, dict]:
    _, stdout, _ = run("doctor", "--json", "--database-url", db.url)
    return {c["check"]: c for c in json.loads(stdout)}


def install_stub(db: Database) -> None:
    with db.connect(superuser=True) as conn:
        conn.execute(STUB.read_text())


def test_without_realtime_enable_says_so_exits_0_and_changes_nothing(migrated: Database) -> None:
    schema = migrated.dump("--schema-only")
    code, _, stderr = run("realtime", "enable-broadcast", "--database-url", migrated.url)
    assert code == 0, stderr
    assert "no schema realtime" in stderr and "Nothing was changed" in stderr
    assert migrated.dump("--schema-only") == schema
    code, _, stderr = run("realtime", "disable-broadcast", "--database-url", migrated.url)
    assert code == 0 and "nothing to remove" in stderr
    assert migrated.dump("--schema-only") == schema
    code, stdout, _ = run("realtime", "status", "--database-url", migrated.url)
    assert code == 3 and "unavailable" in stdout


def test_enable_status_disable(migrated: Database) -> None:
    install_stub(migrated)
    schema = migrated.dump("--schema-only")
    code, stdout, _ = run("realtime", "status", "--database-url", migrated.url)
    assert code == 3 and "disabled" in stdout
    for _ in range(2):  # twice: harmless
        code, _, stderr = run("realtime", "enable-broadcast", "--database-url", migrated.url)
        assert code == 0 and "broadcast enabled: 10 statement triggers on 4 tables, 3 policies" in stderr, stderr
        assert "***" in stderr and ":pw@" not in stderr  # the URL is redacted
    code, stdout, _ = run("realtime", "status", "--database-url", migrated.url)
    assert code == 0 and "enabled" in stdout
    migrated.shared(superuser=True).execute(
        "drop trigger aef_90_broadcast_insert on public.aef_execution_logs"
    )  # someone removed one by hand
    code, stdout, _ = run("realtime", "status", "--database-url", migrated.url)
    assert code == 1 and "partial: missing aef_execution_logs.aef_90_broadcast_insert" in stdout
    code, _, stderr = run("realtime", "disable-broadcast", "--database-url", migrated.url)
    assert code == 0 and "removed" in stderr
    assert migrated.dump("--schema-only") == schema


def test_realtime_commands_never_start_the_embedded_cluster(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(
        main, ["realtime", "enable-broadcast"], env={"DATABASE_URL": None, "AEF_DB_HOME": str(home)}
    )
    assert result.exit_code == 1 and "is not running" in result.stderr
    assert not home.exists() or not any(home.iterdir())


def test_doctor_reports_the_live_paths(migrated: Database) -> None:
    checks = doctor(migrated)
    published = checks["live path: postgres_changes"]
    assert published["level"] == "ok" and "aef_executions" in published["detail"], published
    assert checks["live path: broadcast"]["level"] == "info"
    assert "no schema realtime" in checks["live path: broadcast"]["detail"]

    install_stub(migrated)
    assert checks["live path: broadcast"] != doctor(migrated)["live path: broadcast"]
    assert "disabled" in doctor(migrated)["live path: broadcast"]["detail"]
    run("realtime", "enable-broadcast", "--database-url", migrated.url)
    checks = doctor(migrated)
    enabled = checks["live path: broadcast"]
    assert enabled["level"] == "ok" and enabled["detail"].startswith("enabled"), enabled
    assert checks["definers pin search_path"]["level"] == "ok", checks["definers pin search_path"]
    migrated.shared(superuser=True).execute("drop function aef_private.broadcast_masked(jsonb) cascade")
    partial = doctor(migrated)["live path: broadcast"]
    assert partial["level"] == "warn" and "broadcast_masked" in partial["detail"], partial


def test_doctor_warns_about_an_inactive_persistent_slot_and_not_a_temporary_one(migrated: Database) -> None:
    assert doctor(migrated)["replication slots"]["level"] == "ok"
    leaked, temporary = f"aef_test_leak_{uuid.uuid4().hex[:8]}", f"aef_test_temp_{uuid.uuid4().hex[:8]}"
    admin = migrated.shared(superuser=True)
    with migrated.connect(superuser=True) as holder:
        admin.execute("select pg_create_logical_replication_slot(%s, 'pgoutput')", (leaked,))
        holder.execute("select pg_create_logical_replication_slot(%s, 'pgoutput', true)", (temporary,))
        try:
            check = doctor(migrated)["replication slots"]
        finally:
            admin.execute("select pg_drop_replication_slot(%s)", (leaked,))
    assert check["level"] == "warn", check
    assert f"{leaked} on {migrated.name} (" in check["detail"] and "of WAL retained" in check["detail"], check
    assert temporary not in check["detail"]
    assert doctor(migrated)["replication slots"]["level"] == "ok"

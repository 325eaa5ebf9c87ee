"""The command line: help, exit codes, JSON output and doctor."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from aef_db.cli import main
from aef_db.connection import check_server_version
from aef_db.errors import ServerTooOld
from aef_db.migrations import load

from ..conftest import Database


def leaf_commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= leaf_commands(command, f"{prefix}{name} ")
        else:
            found[prefix + name] = command
    return found


def doctor_json(runner: CliRunner, *args: str) -> tuple[int, dict[str, dict]]:
    """Exit code and checks by name of `aef-db doctor --json ARGS`."""
    result = runner.invoke(main, ["doctor", "--json", *args])
    return result.exit_code, {c["check"]: c for c in json.loads(result.stdout)}


def test_help_lists_every_command_with_a_one_line_description() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    commands = leaf_commands(main)
    assert {
        "db start",
        "db stop",
        "db status",
        "db url",
        "migrate up",
        "migrate down",
        "migrate status",
        "migrate export",
        "compat status",
        "compat install",
        "doctor",
    } <= set(commands)
    lines = result.output.splitlines()
    for name, command in commands.items():
        line = next((ln for ln in lines if ln.strip().startswith(name + " ")), None)
        assert line is not None, f"{name} missing from --help"
        description = line.strip()[len(name) :].strip()
        assert description and description == command.get_short_help_str(limit=200)


def test_down_needs_exactly_one_target() -> None:
    result = CliRunner().invoke(main, ["migrate", "down", "--database-url", "postgresql://x@127.0.0.1:1/x"])
    assert result.exit_code == 2
    assert "give exactly one of --to VERSION, --all or --steps N" in result.output


def test_doctor_fails_on_pending_migrations_and_passes_after_up(database: Database) -> None:
    runner = CliRunner()
    code, checks = doctor_json(runner, "--database-url", database.url)
    assert code == 1
    assert checks["pending migrations"]["level"] == "fail"
    assert checks["wal_level"] == {"check": "wal_level", "level": "ok", "detail": "logical"}
    assert checks["compatibility mode"]["level"] == "ok"
    assert checks["extension pgcrypto"]["level"] == "ok"

    assert runner.invoke(main, ["migrate", "up", "--database-url", database.url]).exit_code == 0
    healthy = runner.invoke(main, ["doctor", "--json", "--database-url", database.url])
    assert healthy.exit_code == 0, healthy.output
    assert all(c["level"] != "fail" for c in json.loads(healthy.stdout))


def test_doctor_fails_on_a_changed_file(database: Database, migrations_copy: Path) -> None:
    runner = CliRunner()
    args = ["--database-url", database.url, "--migrations-dir", str(migrations_copy)]
    assert runner.invoke(main, ["migrate", "up", *args]).exit_code == 0
    path = migrations_copy / "20261126000100_aef_types.sql"
    path.write_text(path.read_text().replace("Lifecycle", "Life cycle"))
    code, checks = doctor_json(runner, *args)
    assert code == 1
    assert checks["changed migration files"] == {
        "check": "changed migration files",
        "level": "fail",
        "detail": "20261126000100",
    }
    status = json.loads(runner.invoke(main, ["migrate", "status", "--json", *args]).stdout)
    assert status["summary"]["changed"] == 1


def test_doctor_fails_on_plain_postgres_and_an_unreachable_server(plain_database: Database) -> None:
    runner = CliRunner()
    code, checks = doctor_json(runner, "--database-url", plain_database.url)
    assert code == 1
    assert checks["compatibility mode"]["level"] == "fail"
    assert "missing: plain PostgreSQL" in checks["compatibility mode"]["detail"]
    down = runner.invoke(main, ["doctor", "--json", "--database-url", "postgresql://postgres:pw@127.0.0.1:1/postgres"])
    assert down.exit_code == 1
    assert json.loads(down.stdout)[0]["level"] == "fail"


def test_status_json_and_export(database: Database, tmp_path: Path) -> None:
    runner = CliRunner()
    status = runner.invoke(main, ["migrate", "status", "--json", "--database-url", database.url])
    assert status.exit_code == 0
    data = json.loads(status.stdout)
    assert data["mode"] == "compat"
    shipped = load()
    assert [(m["version"], m["state"]) for m in data["migrations"]] == [(m.version, "pending") for m in shipped]
    export = runner.invoke(main, ["migrate", "export", str(tmp_path / "out")])
    assert export.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [m.filename for m in shipped]


def test_errors_print_one_clear_line_and_no_traceback() -> None:
    result = CliRunner().invoke(main, ["migrate", "status", "--database-url", "postgresql://u:secret@127.0.0.1:1/db"])
    assert result.exit_code == 1
    assert "error: cannot connect to postgresql://u:***@127.0.0.1:1/db" in result.output
    assert "secret" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("num", "text"), [(140009, "14.9"), (130000, "13.0"), (90624, "9.6.24")])
def test_servers_older_than_15_are_refused(num: int, text: str) -> None:
    with pytest.raises(ServerTooOld, match=f"PostgreSQL {text} is too old: aef-db needs PostgreSQL 15 or newer"):
        check_server_version(num, text)


@pytest.mark.parametrize("num", [150000, 150018, 170004])
def test_servers_from_15_on_are_accepted(num: int) -> None:
    check_server_version(num, str(num))


def test_squawk_lints_every_migration_clean() -> None:
    import shutil
    import sys

    from aef_db.migrations import package_directory

    squawk = Path(sys.executable).with_name("squawk")
    assert squawk.exists() or shutil.which("squawk"), "squawk-cli is a test dependency"
    files = sorted(str(p) for p in Path(str(package_directory())).glob("*.sql"))
    assert files
    config = Path(__file__).resolve().parents[2] / ".squawk.toml"
    result = subprocess.run([str(squawk), "--config", str(config), *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_squawk_would_catch_an_unwaived_problem(tmp_path: Path) -> None:
    import sys

    bad = tmp_path / "20990101000000_bad.sql"
    bad.write_text("create table public.t (id int primary key, at timestamp);\n")
    config = Path(__file__).resolve().parents[2] / ".squawk.toml"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("squawk")), "--config", str(config), str(bad)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "prefer-timestamp-tz" in result.stdout


def test_doctor_reports_pg_cron_preloading_to_a_superuser(database: Database) -> None:
    from aef_db.cluster import find_pg_bin

    libdir = subprocess.run(
        [str(find_pg_bin() / "pg_config"), "--pkglibdir"], capture_output=True, text=True
    ).stdout.strip()
    expected = "yes" if (Path(libdir) / "pg_cron.so").exists() else "no (checkpoint sweeps then run from the worker)"
    _, checks = doctor_json(CliRunner(), "--database-url", database.superuser_url)
    assert checks["pg_cron preloaded"]["detail"] == expected
    _, checks = doctor_json(CliRunner(), "--database-url", database.url)
    assert checks["pg_cron preloaded"]["detail"].startswith("unknown")

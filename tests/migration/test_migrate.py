"""The migration runner against a real cluster, as the non-superuser `postgres`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aef_db import migrations as migration_files
from aef_db.connection import connect
from aef_db.errors import (
    ConnectionFailed,
    LockTimeout,
    MigrationFailed,
    MigrationSourceError,
    NothingToRevert,
    OutOfOrder,
    PrivilegeError,
    UnknownVersion,
)
from aef_db.runner import Runner, State

from ..conftest import TESTS, Database

SEED_ENUMS = {
    "execution_status": ["idle", "running", "paused", "completed", "error", "cancelled"],
    "log_event_type": [
        "step_started",
        "step_completed",
        "step_failed",
        "browser_action",
        "user_input",
        "checkpoint_reached",
        "loop_iteration",
        "decision_made",
        "error_occurred",
    ],
    "checkpoint_type": [
        "before_execution",
        "after_execution",
        "on_error",
        "manual_review",
        "data_validation",
        "custom",
    ],
    "checkpoint_status": ["pending", "approved", "rejected", "skipped", "timeout"],
    "browser_session_status": ["active", "idle", "terminated", "error"],
}

USER_OBJECTS = ("-t", "public.sops", "-t", "public.profiles", "-t", "supabase_migrations.schema_migrations")
SHIPPED = migration_files.load()
VERSIONS = [m.version for m in SHIPPED]
FIRST, LAST = VERSIONS[0], VERSIONS[-1]


def enum_labels(db: Database) -> dict[str, list[str]]:
    with db.connect() as conn:
        rows = conn.execute(
            "select t.typname, array_agg(e.enumlabel order by e.enumsortorder) as labels"
            " from pg_type t join pg_enum e on e.enumtypid = t.oid"
            " where t.typnamespace = 'public'::regnamespace group by t.typname"
        ).fetchall()
    return {r["typname"]: r["labels"] for r in rows}


def history(db: Database) -> dict[str, str]:
    with db.connect() as conn:
        if conn.execute("select to_regclass('supabase_migrations.schema_migrations') as t").fetchone()["t"] is None:
            return {}
        return {
            r["version"]: r["name"]
            for r in conn.execute("select version, name from supabase_migrations.schema_migrations")
        }


def row_checksums(db: Database) -> dict[str, str]:
    with db.connect(superuser=True) as conn:
        return {
            table: conn.execute(
                f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h from {table} t"
            ).fetchone()["h"]
            for table in ("public.sops", "public.profiles", "supabase_migrations.schema_migrations")
        }


def load_supabase_like(db: Database) -> None:
    with db.connect() as conn, conn.transaction():
        conn.execute((TESTS / "sql" / "supabase_like.sql").read_text())


def cli_up(aef_cli: list[str], env: dict[str, str], db: Database, migrations: Path) -> subprocess.CompletedProcess[str]:
    """`aef-db migrate up` in its own process, on the given migrations directory."""
    return subprocess.run(
        [*aef_cli, "migrate", "up", "--database-url", db.url, "--migrations-dir", str(migrations)],
        env=env,
        capture_output=True,
        text=True,
    )


def add_migration(folder: Path, version: str, name: str, forward: str, rollback: str) -> None:
    (folder / f"{version}_{name}.sql").write_text(forward)
    (folder / f"{version}_{name}.rollback.sql").write_text(rollback)


# -- up ---------------------------------------------------------------------------


def test_up_on_an_empty_database_applies_the_seed_enums(database: Database) -> None:
    applied = Runner(database.url).up()

    assert [m.version for m in applied] == VERSIONS
    assert enum_labels(database) == SEED_ENUMS
    status = Runner(database.url).status()
    assert [m.state for m in status.migrations] == [State.APPLIED] * len(VERSIONS)
    assert {m.applied_by for m in status.migrations} == {"postgres"}
    with database.connect() as conn:
        row = conn.execute(
            "select name, statements from supabase_migrations.schema_migrations where version = %s", (FIRST,)
        ).fetchone()
        assert row["name"] == "aef_types"
        # the CLI's format: one array element per statement of the file
        assert len(row["statements"]) == len(applied[0].statements) == 18
        assert row["statements"][2].startswith("create type public.execution_status")
        assert not conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()["rolsuper"]


def test_up_is_idempotent(database: Database) -> None:
    Runner(database.url).up()
    before = database.dump("--schema-only")
    assert Runner(database.url).up() == []
    assert database.dump("--schema-only") == before


def test_up_on_a_supabase_like_database_leaves_its_objects_byte_identical(database: Database) -> None:
    load_supabase_like(database)
    dump_before, rows_before = database.dump(*USER_OBJECTS), row_checksums(database)
    grants_before = database.dump("--schema-only", "-n", "public", "--no-comments")

    Runner(database.url).up()

    assert _without_aef_history(database.dump(*USER_OBJECTS)) == dump_before
    rows_after = row_checksums(database)
    assert rows_after["public.sops"] == rows_before["public.sops"]
    assert rows_after["public.profiles"] == rows_before["public.profiles"]
    assert set(history(database)) == {"20250101000000", *VERSIONS}
    # policies, grants and the trigger are untouched; only the enums were added to public
    grants_after = database.dump("--schema-only", "-n", "public", "--no-comments")
    for line in grants_before.splitlines():
        assert line in grants_after


def _without_aef_history(dump: str) -> str:
    """A data dump minus the rows the runner adds to the CLI's history table (one line each)."""
    return "\n".join(line for line in dump.split("\n") if not line.startswith(tuple(v + "\t" for v in VERSIONS)))


def add_probe(directory: Path) -> None:
    """A migration newer than the package's: creates public.probe, and its rollback drops it."""
    add_migration(
        directory,
        "20990101000000",
        "probe",
        "create table public.probe (id bigint);\n",
        "-- squawk-ignore ban-drop-table\ndrop table public.probe;\n",
    )


def test_up_to_stops_at_the_given_version(database: Database, migrations_copy: Path) -> None:
    add_probe(migrations_copy)
    runner = Runner(database.url, migration_files.load(migrations_copy))
    assert [m.version for m in runner.up(to=FIRST)] == [FIRST]
    assert database.scalar("select to_regclass('public.probe')") is None
    assert [m.version for m in runner.up()] == [*VERSIONS[1:], "20990101000000"]


# -- down ---------------------------------------------------------------------------


def test_down_all_restores_the_schema_dump_exactly(database: Database) -> None:
    before = database.dump("--schema-only")
    Runner(database.url).up()
    assert database.dump("--schema-only") != before
    assert Runner(database.url).down(all_=True) == VERSIONS[::-1]
    assert database.dump("--schema-only") == before


def test_down_all_keeps_the_teams_own_history(database: Database) -> None:
    load_supabase_like(database)
    before, rows = database.dump("--schema-only"), row_checksums(database)
    Runner(database.url).up()
    Runner(database.url).down(all_=True)
    assert database.dump("--schema-only") == before
    assert row_checksums(database) == rows
    assert history(database) == {"20250101000000": "team_sops"}


def test_up_down_up(database: Database) -> None:
    runner = Runner(database.url)
    runner.up()
    first = database.dump("--schema-only")
    runner.down(all_=True)
    runner.up()
    assert database.dump("--schema-only").replace(" ", "") == first.replace(" ", "")
    assert enum_labels(database) == SEED_ENUMS


def test_every_rollback_restores_the_exact_previous_schema(database: Database) -> None:
    """Each shipped migration, one at a time: up to it, then down to the one before."""
    runner = Runner(database.url)
    previous: str | None = None
    for migration in runner.migrations:
        before = database.dump("--schema-only")
        runner.up(to=migration.version)
        if previous is None:
            runner.down(all_=True)
        else:
            runner.down(to=previous)
        assert database.dump("--schema-only") == before, migration.filename
        runner.up(to=migration.version)
        previous = migration.version


def test_down_to_reverts_only_newer_migrations(database: Database, migrations_copy: Path) -> None:
    add_probe(migrations_copy)
    runner = Runner(database.url, migration_files.load(migrations_copy))
    runner.up()
    assert runner.down(to=LAST) == ["20990101000000"]
    assert database.scalar("select to_regclass('public.probe')") is None
    assert set(history(database)) == set(VERSIONS)
    assert runner.down(to=FIRST) == VERSIONS[:0:-1]
    assert enum_labels(database) == SEED_ENUMS
    assert set(history(database)) == {FIRST}


def test_down_uses_the_rollback_stored_at_apply_time(database: Database, migrations_copy: Path) -> None:
    runner = Runner(database.url, migration_files.load(migrations_copy))
    runner.up()
    (migrations_copy / "20261126000100_aef_types.rollback.sql").write_text("select 1/0;\n")
    Runner(database.url, migration_files.load(migrations_copy)).down(all_=True)
    assert enum_labels(database) == {}


# -- concurrency ------------------------------------------------------------------


@pytest.mark.slow
def test_four_concurrent_up_processes_apply_each_file_once(
    database: Database, migrations_copy: Path, aef_cli: list[str], cli_env: dict[str, str]
) -> None:
    # a slow file widens the window in which the runners overlap
    add_migration(
        migrations_copy,
        "20990101000000",
        "slow",
        "select pg_sleep(1);\ncreate table public.slow (id bigint);\n",
        "-- squawk-ignore ban-drop-table\ndrop table public.slow;\n",
    )
    cmd = [*aef_cli, "migrate", "up", "--database-url", database.url, "--migrations-dir", str(migrations_copy)]
    procs = [
        subprocess.Popen(cmd, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]  # type: ignore[union-attr]

    assert [code for code, _ in results] == [0, 0, 0, 0], results
    outputs = [out for _, out in results]
    assert sum(f"applied {len(VERSIONS) + 1} migration(s)" in out for out in outputs) == 1, outputs
    assert sum("nothing to apply" in out for out in outputs) == 3, outputs
    assert set(history(database)) == {*VERSIONS, "20990101000000"}
    assert database.scalar("select count(*) from aef_meta.migrations") == len(VERSIONS) + 1


def test_a_held_lock_times_out_without_changes(database: Database) -> None:
    with connect(database.url) as holder:
        holder.execute("select pg_advisory_lock(hashtextextended('aef-db migrate', 0))")
        with pytest.raises(LockTimeout, match="held the lock"):
            Runner(database.url, lock_timeout_s=0.3).up()
    assert history(database) == {}


# -- failures -----------------------------------------------------------------------


def test_a_failing_file_rolls_back_and_names_file_and_statement(database: Database, migrations_copy: Path) -> None:
    add_migration(
        migrations_copy,
        "20990101000000",
        "broken",
        "-- probe\ncreate table public.broken_probe (id bigint);\n\ninsert into public.broken_probe values (1 / 0);\n",
        "-- squawk-ignore ban-drop-table\ndrop table public.broken_probe;\n",
    )
    runner = Runner(database.url, migration_files.load(migrations_copy))
    runner.up(to=LAST)
    before = database.dump("--schema-only")
    history_before = history(database)

    with pytest.raises(MigrationFailed) as failure:
        runner.up()

    err = failure.value
    assert (err.filename, err.index, err.line, err.sqlstate) == ("20990101000000_broken.sql", 2, 4, "22012")
    assert "division by zero" in str(err) and "insert into public.broken_probe" in str(err)
    assert database.dump("--schema-only") == before
    assert history(database) == history_before


def test_cli_reports_a_failing_file_and_exits_1(
    database: Database, migrations_copy: Path, aef_cli: list[str], cli_env: dict[str, str]
) -> None:
    add_migration(
        migrations_copy,
        "20990101000000",
        "broken",
        "create table public.x (id bigint);\nselect no_such_function();\n",
        "-- squawk-ignore ban-drop-table\ndrop table public.x;\n",
    )
    result = cli_up(aef_cli, cli_env, database, migrations_copy)
    assert result.returncode == 1
    assert "20990101000000_broken.sql: statement 2 (line 2) failed [SQLSTATE 42883]" in result.stderr
    assert "Traceback" not in result.stderr
    assert database.scalar("select to_regclass('public.x')") is None
    assert set(history(database)) == set(VERSIONS)  # files before the failing one stay applied


def test_status_flags_a_file_changed_after_it_was_applied(database: Database, migrations_copy: Path) -> None:
    Runner(database.url, migration_files.load(migrations_copy)).up()
    path = migrations_copy / "20261126000100_aef_types.sql"
    path.write_text(path.read_text() + "\n-- edited afterwards\n")
    status = Runner(database.url, migration_files.load(migrations_copy)).status()
    assert [m.state for m in status.migrations] == [State.CHANGED] + [State.APPLIED] * (len(VERSIONS) - 1)


def test_status_reports_an_applied_migration_whose_file_is_gone(database: Database, migrations_copy: Path) -> None:
    add_migration(
        migrations_copy,
        "20990101000000",
        "gone",
        "create table public.gone (id bigint);\n",
        "-- squawk-ignore ban-drop-table\ndrop table public.gone;\n",
    )
    Runner(database.url, migration_files.load(migrations_copy)).up()
    status = Runner(database.url).status()
    assert [(m.version, m.state) for m in status.migrations] == [
        *((v, State.APPLIED) for v in VERSIONS),
        ("20990101000000", State.MISSING_FILE),
    ]
    # the stored rollback still reverts it, though the file is gone
    Runner(database.url).down(all_=True)
    assert database.scalar("select to_regclass('public.gone')") is None


def test_a_pending_migration_older_than_an_applied_one_is_refused(database: Database, migrations_copy: Path) -> None:
    add_migration(
        migrations_copy,
        "20990101000000",
        "late",
        "create table public.late (id bigint);\n",
        "-- squawk-ignore ban-drop-table\ndrop table public.late;\n",
    )
    Runner(database.url, migration_files.load(migrations_copy)).up()
    add_migration(
        migrations_copy,
        "20980101000000",
        "older",
        "create table public.older (id bigint);\n",
        "-- squawk-ignore ban-drop-table\ndrop table public.older;\n",
    )
    with pytest.raises(OutOfOrder, match=r"20980101000000_older\.sql is pending but older"):
        Runner(database.url, migration_files.load(migrations_copy)).up()
    assert database.scalar("select to_regclass('public.older')") is None


def test_unknown_to_version_changes_nothing(database: Database) -> None:
    before = database.dump("--schema-only")
    with pytest.raises(UnknownVersion, match="--to 20000101000000"):
        Runner(database.url).up(to="20000101000000")
    Runner(database.url).up()
    with pytest.raises(UnknownVersion, match="use --all"):
        Runner(database.url).down(to="20000101000000")
    assert enum_labels(database) == SEED_ENUMS
    Runner(database.url).down(all_=True)
    assert database.dump("--schema-only") == before


def test_down_past_the_first_migration_is_refused(database: Database) -> None:
    Runner(database.url).up()
    after_up = database.dump("--schema-only")
    with pytest.raises(NothingToRevert, match="past the first migration"):
        Runner(database.url).down(steps=len(VERSIONS) + 1)
    with pytest.raises(NothingToRevert):
        Runner(database.url).down(steps=0)
    assert database.dump("--schema-only") == after_up
    assert Runner(database.url).down(steps=1) == [LAST]


def test_down_all_with_nothing_applied_is_a_no_op(database: Database) -> None:
    before = database.dump("--schema-only")
    assert Runner(database.url).down(all_=True) == []
    assert database.dump("--schema-only") == before


def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(ConnectionFailed) as failure:
        Runner("postgresql://postgres:s3cret@127.0.0.1:1/postgres").status()
    message = str(failure.value)
    assert "cannot connect to postgresql://postgres:***@127.0.0.1:1/postgres" in message
    assert "s3cret" not in message


def test_a_role_without_privileges_gets_a_clear_error_and_nothing_is_written(database: Database) -> None:
    before = database.dump("--schema-only")
    with (
        database.login_role("aef_weak") as weak_url,
        pytest.raises(PrivilegeError, match="may not create aef-db's migration history"),
    ):
        Runner(weak_url).up()
    assert database.dump("--schema-only") == before


# -- non-transactional files ------------------------------------------------------


def test_a_concurrently_file_runs_outside_a_transaction(database: Database, migrations_copy: Path) -> None:
    add_migration(
        migrations_copy,
        "20990101000000",
        "table",
        "create table public.c (id bigint);\n",
        "-- squawk-ignore ban-drop-table\ndrop table public.c;\n",
    )
    add_migration(
        migrations_copy,
        "20990101000001",
        "index",
        "set lock_timeout = '5s';\ncreate index concurrently c_id on public.c (id);\n",
        "drop index concurrently public.c_id;\n",
    )
    runner = Runner(database.url, migration_files.load(migrations_copy))
    runner.up()
    assert database.scalar("select to_regclass('public.c_id')") is not None
    runner.down(steps=1)
    assert database.scalar("select to_regclass('public.c_id')") is None


# -- the migration files themselves -------------------------------------------------


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {
                "20990101000000_a.sql": "select 1;",
                "20990101000000_a.rollback.sql": "select 1;",
                "20990101000000_b.sql": "select 1;",
                "20990101000000_b.rollback.sql": "select 1;",
            },
            "two migration files share version 20990101000000: 20990101000000_a.sql and 20990101000000_b.sql",
        ),
        ({"20990101000000_a.sql": "select 1;"}, "20990101000000_a.sql has no rollback file"),
        ({"20990101000000_a.rollback.sql": "select 1;"}, "has no migration file"),
        ({"2099_short.sql": "select 1;"}, "must be named <14-digit version>_<name>.sql"),
        ({"20990101000000_Bad-Name.sql": "select 1;"}, "must be named"),
        (
            {"20990101000000_a.sql": "select 1;\ncreate tabel x ();", "20990101000000_a.rollback.sql": "select 1;"},
            "20990101000000_a.sql (line 2): cannot parse",
        ),
        (
            {
                "20990101000000_a.sql": "create table t (id bigint);\ncreate index concurrently i on t (id);",
                "20990101000000_a.rollback.sql": "select 1;",
            },
            "must be alone in its file",
        ),
    ],
)
def test_bad_migration_directories_are_rejected_before_any_connection(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(MigrationSourceError) as failure:
        migration_files.load(tmp_path)
    assert message in str(failure.value)


def test_a_missing_migrations_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MigrationSourceError, match="does not exist"):
        migration_files.load(tmp_path / "nope")


def test_cli_duplicate_versions_exit_1_and_touch_nothing(
    database: Database, migrations_copy: Path, aef_cli: list[str], cli_env: dict[str, str]
) -> None:
    (migrations_copy / "20261126000100_twin.sql").write_text("select 1;\n")
    (migrations_copy / "20261126000100_twin.rollback.sql").write_text("select 1;\n")
    result = cli_up(aef_cli, cli_env, database, migrations_copy)
    assert result.returncode == 1
    assert "two migration files share version 20261126000100" in result.stderr
    assert history(database) == {}


# -- export ---------------------------------------------------------------------------


def test_export_writes_the_supabase_cli_layout(tmp_path: Path) -> None:
    written = migration_files.export(migration_files.load(), tmp_path / "supabase" / "migrations")
    assert [p.name for p in written] == [m.filename for m in SHIPPED]
    assert [p.read_text() for p in written] == [m.sql for m in SHIPPED]
    # again: identical files are fine; a different file of the same name is not
    migration_files.export(migration_files.load(), tmp_path / "supabase" / "migrations")
    written[0].write_text("-- a teammate's file\n")
    with pytest.raises(MigrationSourceError, match="--force"):
        migration_files.export(migration_files.load(), tmp_path / "supabase" / "migrations")
    migration_files.export(migration_files.load(), tmp_path / "supabase" / "migrations", force=True)
    assert written[0].read_text() == migration_files.load()[0].sql


def test_exported_files_applied_like_supabase_db_push_match_the_runner(
    database: Database, cluster, template: str, tmp_path: Path
) -> None:
    """`supabase db push` runs each file in one transaction; psql -1 does the same."""
    from aef_db.cluster import find_pg_bin

    from ..conftest import _create, _drop

    Runner(database.url).up()
    pushed = _create(cluster, template)
    try:
        for path in migration_files.export(migration_files.load(), tmp_path):
            subprocess.run(
                [str(find_pg_bin() / "psql"), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", str(path), pushed.url],
                check=True,
                capture_output=True,
            )
        for schema in ("public", "aef_private"):
            assert pushed.dump("--schema-only", "-n", schema) == database.dump("--schema-only", "-n", schema)
        # and aef-db sees what the CLI would have recorded as applied, then reverts it
        with pushed.connect() as conn:
            conn.execute("create schema supabase_migrations")
            conn.execute(
                "create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text)"
            )
            for m in SHIPPED:
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name) values (%s, %s)",
                    (m.version, m.name),
                )
        status = Runner(pushed.url).status()
        assert [(m.state, m.recorded_by) for m in status.migrations] == [(State.APPLIED, "supabase-cli")] * len(SHIPPED)
        Runner(pushed.url).down(all_=True)
        assert enum_labels(pushed) == {}
    finally:
        _drop(pushed)

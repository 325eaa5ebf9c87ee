"""`aef-db doctor`: is this database fit for aef-db? One Check per question."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aef_db import compat
from aef_db import sql as package_sql
from aef_db.connection import MIN_SERVER_VERSION, connect
from aef_db.errors import AefDbError
from aef_db.migrations import Migration
from aef_db.runner import Runner, State

_Q = package_sql.queries("doctor/queries.sql")
_RQ = package_sql.queries("runner/queries.sql")
REQUIRED_EXTENSIONS = ("pgcrypto",)
AEF_TABLES = ["aef_executions", "aef_execution_logs", "aef_checkpoints", "aef_browser_sessions"]
OPTIONAL_EXTENSIONS = ("pg_cron", "pgtap")


class Level(StrEnum):
    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "level": self.level.value, "detail": self.detail}


def failed(checks: list[Check]) -> bool:
    return any(c.level is Level.FAIL for c in checks)


def run(url: str, migrations: list[Migration] | None = None) -> list[Check]:
    try:
        conn = connect(url)
    except AefDbError as exc:
        return [Check("connection", Level.FAIL, str(exc))]
    checks = [Check("connection", Level.OK, "connected")]
    with conn:
        version = conn.execute(_RQ["server_version"]).fetchone()
        assert version is not None
        ok = version["num"] >= MIN_SERVER_VERSION
        checks.append(
            Check(
                "server version",
                Level.OK if ok else Level.FAIL,
                f"PostgreSQL {version['text']}" + ("" if ok else " (aef-db needs 15 or newer)"),
            )
        )
        if not ok:
            return checks
        settings = conn.execute(_Q["settings"]).fetchone()
        assert settings is not None
        logical = settings["wal_level"] == "logical"
        checks.append(
            Check(
                "wal_level",
                Level.OK if logical else Level.FAIL,
                settings["wal_level"] + ("" if logical else " (realtime needs logical)"),
            )
        )
        checks.append(
            Check(
                "role",
                Level.OK if settings["can_create"] else Level.WARN,
                f"{settings['role']} on {settings['database']}"
                + ("" if settings["can_create"] else " (may not CREATE in this database: migrations will fail)"),
            )
        )
        checks.extend(_extension_checks(conn, settings["preload"]))
        status = compat.detect(conn)
        checks.append(
            Check(
                "compatibility mode", Level.FAIL if status.mode is compat.Mode.MISSING else Level.OK, status.describe()
            )
        )
        checks.extend(_schema_checks(conn))
        checks.extend(_live_path_checks(conn))
        checks.append(_slot_check(conn))
    checks.extend(_migration_checks(url, migrations))
    return checks


def _extension_checks(conn: Any, preload: str | None) -> list[Check]:
    rows = {
        r["name"]: r for r in conn.execute(_Q["extensions"], {"names": list(REQUIRED_EXTENSIONS + OPTIONAL_EXTENSIONS)})
    }
    checks = []
    for name in REQUIRED_EXTENSIONS + OPTIONAL_EXTENSIONS:
        row = rows.get(name)
        required = name in REQUIRED_EXTENSIONS
        if row is None:
            checks.append(
                Check(f"extension {name}", Level.FAIL if required else Level.INFO, "not available on this server")
            )
        elif row["installed_version"]:
            checks.append(Check(f"extension {name}", Level.OK, f"installed ({row['installed_version']})"))
        else:
            checks.append(
                Check(
                    f"extension {name}",
                    Level.FAIL if required else Level.INFO,
                    f"available ({row['default_version']}), not installed",
                )
            )
    if preload is None:
        checks.append(
            Check("pg_cron preloaded", Level.INFO, "unknown: this role may not read shared_preload_libraries")
        )
    else:
        preloaded = "pg_cron" in [p.strip() for p in preload.split(",")]
        checks.append(
            Check(
                "pg_cron preloaded",
                Level.OK if preloaded else Level.INFO,
                "yes" if preloaded else "no (checkpoint sweeps then run from the worker)",
            )
        )
    return checks


def unindexed_foreign_keys(conn: Any) -> list[str]:
    return [r["constraint_name"] for r in conn.execute(_Q["unindexed_foreign_keys"], {"tables": AEF_TABLES})]


def _names(conn: Any, query: str, column: str = "relname") -> list[str]:
    return [r[column] for r in conn.execute(_Q[query], {"tables": AEF_TABLES})]


def _schema_checks(conn: Any) -> list[Check]:
    """The AEF schema's own invariants, once it is installed."""
    installed = conn.execute(_Q["schema_installed"]).fetchone()
    if not installed or not installed["installed"]:
        return [Check("AEF schema", Level.INFO, "not installed yet (aef-db migrate up)")]
    found = {
        "RLS enabled": (_names(conn, "rls_disabled"), "on all four tables", "disabled on "),
        "no grants to anon": (_names(conn, "anon_grants"), "anon has nothing", "anon has privileges on "),
        "realtime publication": (
            _names(conn, "unpublished"),
            "executions, logs and checkpoints in supabase_realtime; sessions not",
            "",
        ),
        "foreign keys indexed": (unindexed_foreign_keys(conn), "every one", "no index for "),
        "policies wrap auth calls": (
            _names(conn, "unwrapped_auth_calls", "policy"),
            "(select auth.uid()) everywhere",
            "bare auth call (once per row) in ",
        ),
        "log triggers enabled": (
            _names(conn, "log_triggers_off"),
            "fill, check and append-only all firing",
            "not firing: ",
        ),
        "definers pin search_path": (
            _names(conn, "unpinned_definers"),
            "pg_catalog, pg_temp on every one",
            "the caller's temp schema can shadow types in ",
        ),
    }
    return [
        Check(name, Level.FAIL if bad else Level.OK, (prefix + ", ".join(bad)) if bad else good)
        for name, (bad, good, prefix) in found.items()
    ]


def _live_path_checks(conn: Any) -> list[Check]:
    """Which live path front ends can use: postgres_changes (the publication), Broadcast (the triggers)."""
    from aef_db.realtime import broadcast

    checks = []
    installed = conn.execute(_Q["schema_installed"]).fetchone()
    if installed and installed["installed"]:
        published = _names(conn, "published_tables")
        checks.append(
            Check(
                "live path: postgres_changes",
                Level.OK if published else Level.INFO,
                f"active: supabase_realtime publishes {', '.join(published)}"
                if published
                else "inactive: no aef-db table in the publication supabase_realtime",
            )
        )
    state = broadcast.status(conn)
    level = {
        broadcast.State.ENABLED: Level.OK,
        broadcast.State.PARTIAL: Level.WARN,
    }.get(state.state, Level.INFO)
    checks.append(Check("live path: broadcast", level, state.describe()))
    return checks


def _slot_check(conn: Any) -> Check:
    """Inactive persistent logical slots: each holds WAL until someone drops it."""
    slots = conn.execute(_Q["inactive_slots"]).fetchall()
    if not slots:
        return Check("replication slots", Level.OK, "no inactive persistent logical slot")
    held = ", ".join(
        f"{s['slot_name']} on {s['database']} ("
        + (f"{s['retained']} of WAL retained" if s["retained"] is not None else "invalidated")
        + ")"
        for s in slots
    )
    return Check(
        "replication slots",
        Level.WARN,
        f"inactive, not temporary: {held}. A slot nobody reads keeps WAL forever: drop an unused one with"
        " select pg_drop_replication_slot('<name>')",
    )


def _migration_checks(url: str, migrations: list[Migration] | None) -> list[Check]:
    report = Runner(url, migrations).status()
    pending, changed, missing = (
        report.count(State.PENDING),
        report.count(State.CHANGED),
        report.count(State.MISSING_FILE),
    )
    return [
        Check(
            "pending migrations",
            Level.FAIL if pending else Level.OK,
            f"{pending} pending (run aef-db migrate up)" if pending else "none",
        ),
        Check(
            "changed migration files",
            Level.FAIL if changed else Level.OK,
            ", ".join(m.version for m in report.migrations if m.state is State.CHANGED) or "none",
        ),
        Check(
            "applied migrations without files",
            Level.FAIL if missing else Level.OK,
            ", ".join(m.version for m in report.migrations if m.state is State.MISSING_FILE) or "none",
        ),
    ]

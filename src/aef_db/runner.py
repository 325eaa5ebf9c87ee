"""The migration runner: up, down and status, with the Supabase CLI's history.

Each file runs in one transaction, after ``RESET ALL``, exactly as the Supabase
CLI runs it, and its history row is written in that same transaction. A session
advisory lock makes concurrent runners queue, so each file is applied once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from aef_db import compat
from aef_db import migrations as migration_files
from aef_db import sql as package_sql
from aef_db.connection import Connection, connect, require_supported_server, run_script, run_statements
from aef_db.errors import (
    LockTimeout,
    MigrationFailed,
    NothingToRevert,
    OutOfOrder,
    PrivilegeError,
    UnknownVersion,
)
from aef_db.migrations import Migration
from aef_db.statements import Statement, split

_Q = package_sql.queries("runner/queries.sql")
Report = Callable[[str], None]


class State(StrEnum):
    APPLIED = "applied"
    PENDING = "pending"
    CHANGED = "changed"  # applied, but the file differs from what was applied
    MISSING_FILE = "missing-file"  # applied by aef-db, but no longer shipped


@dataclass(frozen=True)
class MigrationStatus:
    version: str
    name: str
    state: State
    applied_at: datetime | None = None
    applied_by: str | None = None
    recorded_by: str | None = None  # "aef-db", or "supabase-cli" when only the CLI history has it

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "name": self.name,
            "state": self.state.value,
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
            "applied_by": self.applied_by,
            "recorded_by": self.recorded_by,
        }


@dataclass(frozen=True)
class StatusReport:
    compat: compat.CompatStatus
    migrations: list[MigrationStatus]

    def count(self, state: State) -> int:
        return sum(1 for m in self.migrations if m.state is state)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.compat.mode.value,
            "missing_compat_objects": list(self.compat.missing),
            "migrations": [m.as_dict() for m in self.migrations],
            "summary": {state.value: self.count(state) for state in State},
        }


@dataclass
class _Applied:
    history: dict[str, str] = field(default_factory=dict)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)

    def versions(self, known: dict[str, Migration]) -> list[str]:
        """aef-db's applied versions: its own bookkeeping, plus CLI rows of versions it ships."""
        return sorted(set(self.meta) | {v for v in self.history if v in known})


class Runner:
    def __init__(
        self,
        url: str,
        migrations: list[Migration] | None = None,
        *,
        lock_timeout_s: float = 60.0,
        report: Report | None = None,
    ) -> None:
        self.url = url
        self.migrations = migration_files.load() if migrations is None else migrations
        self.known = {m.version: m for m in self.migrations}
        self.lock_timeout_s = lock_timeout_s
        self.report: Report = report or (lambda _msg: None)

    # -- public API -------------------------------------------------------

    def status(self) -> StatusReport:
        with connect(self.url) as conn:
            require_supported_server(conn)
            return StatusReport(compat.detect(conn), self._statuses(self._applied(conn)))

    def up(self, to: str | None = None) -> list[Migration]:
        """Apply pending migrations (up to and including ``to``); returns those applied."""
        if to is not None and to not in self.known:
            raise UnknownVersion(f"--to {to}: no migration has this version (known: {', '.join(self.known) or 'none'})")
        with self._locked() as conn:
            self._ensure_compat(conn)
            self._ensure_bookkeeping(conn)
            applied = self._applied(conn)
            done = applied.versions(self.known)
            pending = [m for m in self.migrations if m.version not in done and (to is None or m.version <= to)]
            if pending and done and pending[0].version < done[-1]:
                raise OutOfOrder(
                    f"{pending[0].filename} is pending but older than the applied {done[-1]}."
                    " Revert to before it (migrate down --to) or give it a newer version. Nothing was changed."
                )
            for migration in pending:
                self.report(f"applying {migration.filename}")
                self._apply(conn, migration)
            return pending

    def down(self, *, to: str | None = None, all_: bool = False, steps: int | None = None) -> list[str]:
        """Revert applied migrations, newest first; returns the reverted versions."""
        if sum((to is not None, all_, steps is not None)) != 1:
            raise ValueError("down takes exactly one of to, all_ or steps")
        with self._locked() as conn:
            applied = self._applied(conn)
            done = applied.versions(self.known)
            if all_:
                targets = done
            elif steps is not None:
                if steps < 1 or steps > len(done):
                    raise NothingToRevert(
                        f"--steps {steps}: cannot go past the first migration;"
                        f" {len(done)} aef-db migration(s) are applied. Nothing was changed."
                    )
                targets = done[-steps:]
            else:
                assert to is not None
                if to not in self.known and to not in applied.meta:
                    raise UnknownVersion(
                        f"--to {to}: no migration has this version (known: {', '.join(self.known) or 'none'})."
                        " To revert every migration use --all. Nothing was changed."
                    )
                targets = [v for v in done if v > to]
            if targets:
                self._ensure_bookkeeping(conn)  # migrations pushed by the Supabase CLI have none yet
            for version in reversed(targets):
                self.report(f"reverting {version}")
                self._revert(conn, version, applied)
            if targets and targets == done:  # nothing of aef-db's is left: remove its bookkeeping too
                run_script(conn, "runner/cleanup.sql")
            return list(reversed(targets))

    # -- internals ----------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        with connect(self.url) as conn:
            require_supported_server(conn)
            deadline = time.monotonic() + self.lock_timeout_s
            waiting = False
            while not conn.execute(_Q["try_lock"]).fetchone()["locked"]:  # type: ignore[index]
                if not waiting:
                    self.report("waiting for another aef-db migration run to finish")
                    waiting = True
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"another aef-db migration run held the lock for over {self.lock_timeout_s:.0f}s. Nothing was changed."
                    )
                time.sleep(0.1)
            try:
                yield conn
            finally:
                if not conn.closed and not conn.broken:
                    conn.execute(_Q["unlock"])

    def _ensure_compat(self, conn: Connection) -> None:
        status = compat.detect(conn)
        if status.mode is compat.Mode.MISSING:
            self.report("installing the Supabase compatibility layer (" + ", ".join(status.missing) + ")")
            status = compat.install(conn)
        self.report(f"mode: {status.describe()}")

    def _ensure_bookkeeping(self, conn: Connection) -> None:
        try:
            run_script(conn, "runner/init.sql")
        except MigrationFailed as exc:
            if exc.sqlstate == "42501":
                raise PrivilegeError(
                    f"this role may not create aef-db's migration history: {exc.detail}."
                    " Run migrations as the database owner (postgres on Supabase). Nothing was changed."
                ) from exc
            raise

    def _applied(self, conn: Connection) -> _Applied:
        present = conn.execute(_Q["tables_present"]).fetchone()
        assert present is not None
        applied = _Applied()
        if present["history"]:
            applied.history = {r["version"]: r["name"] for r in conn.execute(_Q["history"])}
        if present["meta"]:
            applied.meta = {r["version"]: r for r in conn.execute(_Q["meta"])}
        return applied

    def _statuses(self, applied: _Applied) -> list[MigrationStatus]:
        result = []
        for m in self.migrations:
            meta = applied.meta.get(m.version)
            if meta is not None:
                state = State.APPLIED if meta["checksum"] == m.checksum else State.CHANGED
                result.append(
                    MigrationStatus(m.version, m.name, state, meta["applied_at"], meta["applied_by"], "aef-db")
                )
            elif m.version in applied.history:
                result.append(MigrationStatus(m.version, m.name, State.APPLIED, recorded_by="supabase-cli"))
            else:
                result.append(MigrationStatus(m.version, m.name, State.PENDING))
        for version, meta in applied.meta.items():
            if version not in self.known:
                result.append(
                    MigrationStatus(
                        version, meta["name"], State.MISSING_FILE, meta["applied_at"], meta["applied_by"], "aef-db"
                    )
                )
        return sorted(result, key=lambda s: s.version)

    def _apply(self, conn: Connection, m: Migration) -> None:
        started = time.monotonic()
        if all(s.transactional for s in m.statements):
            with conn.transaction():
                conn.execute(_Q["reset_all"])
                run_statements(conn, m.statements, m.filename)
                self._record(conn, m, started)
        else:  # a CONCURRENTLY file: its statement cannot run inside a transaction
            conn.execute(_Q["reset_all"])
            run_statements(conn, m.statements, m.filename)
            with conn.transaction():
                self._record(conn, m, started)

    def _record(self, conn: Connection, m: Migration, started: float) -> None:
        conn.execute(
            _Q["record_history"],
            {"version": m.version, "name": m.name, "statements": [s.text for s in m.statements]},
        )
        conn.execute(
            _Q["record_meta"],
            {
                "version": m.version,
                "name": m.name,
                "checksum": m.checksum,
                "rollback": m.rollback_sql,
                "duration_ms": int((time.monotonic() - started) * 1000),
            },
        )

    def _revert(self, conn: Connection, version: str, applied: _Applied) -> None:
        # Prefer the rollback stored when the migration was applied: it matches what is in the database.
        meta = applied.meta.get(version)
        if meta is not None:
            filename = f"{version}_{meta['name']}.rollback.sql"
            statements: list[Statement] = split(meta["rollback"], filename)
        else:
            migration = self.known[version]
            filename, statements = migration.rollback_filename, migration.rollback_statements
        if all(s.transactional for s in statements):
            with conn.transaction():
                conn.execute(_Q["reset_all"])
                run_statements(conn, statements, filename)
                self._forget(conn, version)
        else:
            conn.execute(_Q["reset_all"])
            run_statements(conn, statements, filename)
            with conn.transaction():
                self._forget(conn, version)

    def _forget(self, conn: Connection, version: str) -> None:
        conn.execute(_Q["forget_history"], {"version": version})
        conn.execute(_Q["forget_meta"], {"version": version})

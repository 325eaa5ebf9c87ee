"""The Supabase compatibility layer: detect what a database is, and complete it.

Modes:
- ``supabase``: every object aef-db relies on exists and none was created by
  aef-db. A real Supabase project; the layer changes nothing.
- ``compat``: the objects exist and aef-db's layer created (some of) them:
  plain PostgreSQL made Supabase-like, such as the embedded cluster.
- ``missing``: some objects are missing; ``install`` creates exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aef_db import sql as package_sql
from aef_db.connection import Connection, run_script
from aef_db.errors import MigrationFailed, PrivilegeError

_Q = package_sql.queries("compat/queries.sql")
INSTALL_SCRIPT = "compat/install.sql"


class Mode(StrEnum):
    SUPABASE = "supabase"
    COMPAT = "compat"
    MISSING = "missing"


@dataclass(frozen=True)
class CompatStatus:
    mode: Mode
    missing: tuple[str, ...]

    def describe(self) -> str:
        if self.mode is Mode.SUPABASE:
            return "supabase: Supabase's own objects are present; the compatibility layer is not needed"
        if self.mode is Mode.COMPAT:
            return "compat: plain PostgreSQL with aef-db's Supabase compatibility layer"
        return "missing: plain PostgreSQL without the compatibility layer (missing: " + ", ".join(self.missing) + ")"


def detect(conn: Connection) -> CompatStatus:
    missing = tuple(row["object"] for row in conn.execute(_Q["missing_objects"]))
    if missing:
        return CompatStatus(Mode.MISSING, missing)
    marked = conn.execute(_Q["installed_by_aef"]).fetchone()
    return CompatStatus(Mode.COMPAT if marked and marked["marked"] else Mode.SUPABASE, ())


def install(conn: Connection) -> CompatStatus:
    """Create whatever is missing, in one transaction. Needs a superuser on PostgreSQL 15."""
    before = detect(conn)
    if before.mode is not Mode.MISSING:
        return before
    try:
        run_script(conn, INSTALL_SCRIPT)
    except MigrationFailed as exc:
        if exc.sqlstate == "42501":  # insufficient_privilege
            role = conn.execute(_Q["current_role"]).fetchone()
            raise PrivilegeError(
                "the Supabase compatibility layer is missing ("
                + ", ".join(before.missing)
                + f") and role {role['role'] if role else '?'} may not create it: {exc.detail}."
                " Install it once as a superuser: aef-db compat install --database-url <superuser URL>."
                " Nothing was changed."
            ) from exc
        raise
    return detect(conn)

"""Connecting to PostgreSQL, and running SQL scripts statement by statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import psycopg
from psycopg.rows import dict_row

from aef_db import sql as package_sql
from aef_db.errors import ConnectionFailed, MigrationFailed, ServerTooOld
from aef_db.redaction import redact, scrub
from aef_db.statements import Statement, split

# every connection aef-db opens returns rows as dicts
Connection: TypeAlias = psycopg.Connection[dict[str, Any]]

MIN_SERVER_VERSION = 150000
CONNECT_TIMEOUT_S = 5


def connect(url: str, *, autocommit: bool = True) -> Connection:
    """A dict-row connection, or ConnectionFailed naming the (redacted) URL and the cause."""
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="aef-db",
            row_factory=dict_row,
        )
    except psycopg.Error as exc:
        cause = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ConnectionFailed(f"cannot connect to {redact(url)}: {scrub(cause, url)}") from exc


def check_server_version(num: int, text: str) -> None:
    """Refuse servers older than PostgreSQL 15 before touching anything."""
    if num < MIN_SERVER_VERSION:
        raise ServerTooOld(
            f"PostgreSQL {text} is too old: aef-db needs PostgreSQL 15 or newer"
            " (Supabase runs 15 and 17). Nothing was changed."
        )


def require_supported_server(conn: Connection) -> None:
    row = conn.execute(package_sql.queries("runner/queries.sql")["server_version"]).fetchone()
    assert row is not None
    check_server_version(row["num"], row["text"])


def run_statements(conn: Connection, statements: Sequence[Statement], filename: str) -> None:
    """Run statements on ``conn`` in the caller's transaction; a failure names file, statement and line."""
    for index, statement in enumerate(statements, start=1):
        try:
            conn.execute(statement.text)
        except psycopg.Error as exc:
            diag = exc.diag
            detail = diag.message_primary or str(exc).strip()
            if diag.message_detail:
                detail += f" ({diag.message_detail})"
            raise MigrationFailed(
                filename=filename,
                index=index,
                line=statement.line,
                statement=statement.text,
                sqlstate=exc.sqlstate,
                detail=detail,
            ) from exc


def run_file(conn: Connection, path: str) -> None:
    """Run one of the package's SQL files in the caller's transaction."""
    run_statements(conn, split(package_sql.text(path), path), path)


def run_script(conn: Connection, path: str) -> None:
    """Run one of the package's SQL files in a transaction of its own."""
    with conn.transaction():
        run_file(conn, path)

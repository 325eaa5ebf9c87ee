"""Connecting to PostgreSQL, and running SQL scripts statement by statement."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from aef_db import sql as package_sql
from aef_db.errors import ConnectionFailed, MigrationFailed, ServerTooOld
from aef_db.statements import Statement, split

MIN_SERVER_VERSION = 150000
CONNECT_TIMEOUT_S = 5


MASK = "***"
_URI = re.compile(r"\s*postgres(?:ql)?://", re.IGNORECASE)
# user:password@ up to the last "@": a malformed URL may hold "/", "?" or "#" in its password
_USERINFO = re.compile(r"\s*postgres(?:ql)?://[^:@/?#]*:(.*)@", re.IGNORECASE | re.DOTALL)
# libpq's keyword = value, the value bare (backslash escapes) or quoted (possibly never closed)
_KEYWORD = re.compile(r"(?:^|(?<=\s))password\s*=\s*('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)*)", re.IGNORECASE | re.DOTALL)
_QUOTED = re.compile(r'"([^"]*)"')
# Outside its field a password is masked only where it stands alone (so "postgres" leaves
# "postgresql://" whole) and only from 4 characters on: masking every "a" of a message would
# destroy it, and such a password protects nothing anyway.
_MASK_ANYWHERE = 4


def _password_spans(conninfo: str) -> list[tuple[int, int]]:
    """Where passwords are written in a URL or keyword/value string, well-formed or not."""
    if not _URI.match(conninfo):
        return [m.span(1) for m in _KEYWORD.finditer(conninfo) if m.group(1)]
    spans: list[tuple[int, int]] = []
    start = 0
    if (userinfo := _USERINFO.match(conninfo)) and userinfo.group(1):
        spans.append(userinfo.span(1))
        start = userinfo.end()
    query = conninfo.find("?", start)
    if query >= 0:
        offset = query + 1
        for param in conninfo[offset:].split("&"):
            name, eq, value = param.partition("=")
            # libpq percent-decodes parameter names too; any case, for safety's sake
            if eq and value and unquote(name).strip().lower() == "password":
                spans.append((offset + len(name) + 1, offset + len(param)))
            offset += len(param) + 1
    return spans


def _passwords(conninfo: str) -> set[str]:
    """Every spelling of the passwords in ``conninfo``: as written, decoded, and as libpq reads them."""
    found: set[str] = set()
    for begin, end in _password_spans(conninfo):
        raw = conninfo[begin:end]
        found |= {raw, unquote(raw), raw.strip("'"), re.sub(r"\\(.)", r"\1", raw.strip("'"))}
    try:
        found.add(conninfo_to_dict(conninfo).get("password") or "")
    except Exception:  # malformed (or a NUL, or a lone surrogate): the spans above are all there is
        pass
    return found - {""}


def redact(conninfo: str) -> str:
    """The connection string with its passwords replaced by ***, for messages. Never raises."""
    text = conninfo
    for begin, end in sorted(_password_spans(conninfo), reverse=True):
        text = text[:begin] + MASK + text[end:]
    return _mask(text, _passwords(conninfo))  # a password may also be the user's or database's name


def _mask(text: str, passwords: set[str]) -> str:
    for password in sorted(passwords, key=len, reverse=True):
        if len(password) >= _MASK_ANYWHERE:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(password)}(?![A-Za-z0-9])", MASK, text)
    return text


def scrub(text: str, conninfo: str | None) -> str:
    """``text`` (an error message, say) without the passwords of ``conninfo``.

    libpq and psycopg quote the conninfo, or a fragment of it, in some errors: a
    malformed URI whole, or a "port" that was really the start of a password.
    """
    if not conninfo:
        return text
    passwords = _passwords(conninfo)
    text = _mask(text.replace(conninfo, redact(conninfo)), passwords)
    return _QUOTED.sub(lambda m: f'"{MASK}"' if m.group(1) and any(m.group(1) in p for p in passwords) else m.group(0), text)


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection:
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


def require_supported_server(conn: psycopg.Connection) -> None:
    row = conn.execute(package_sql.queries("runner/queries.sql")["server_version"]).fetchone()
    assert row is not None
    check_server_version(row["num"], row["text"])


def run_statements(conn: psycopg.Connection, statements: Sequence[Statement], filename: str) -> None:
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


def run_file(conn: psycopg.Connection, path: str) -> None:
    """Run one of the package's SQL files in the caller's transaction."""
    run_statements(conn, split(package_sql.text(path), path), path)


def run_script(conn: psycopg.Connection, path: str) -> None:
    """Run one of the package's SQL files in a transaction of its own."""
    with conn.transaction():
        run_file(conn, path)

"""`aef-db secrets rotate`: re-seal every stored secret under the active key.

Run it after adding a new key in front of AEF_DB_ENCRYPTION_KEY (or making it
active in the keyfile); once it reports nothing left under old keys, they may be
retired. Final executions and ended sessions accept this change and no other: the
database compares them with their tokens masked (aef_private.without_sealed).

A token that does not open (garbage, a key id not in the keyring, a token altered or
copied from another row) must not hold every other secret hostage under an old key:
its row is left exactly as it is and reported, and every other row is rotated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from psycopg.types.json import Jsonb

from aef_db import sql as package_sql
from aef_db.connection import connect
from aef_db.secrets import Cipher, SecretsError, config_aad, context_aad, is_sealed, session_aad

_Q = package_sql.queries("store/queries.sql")


@dataclass(frozen=True)
class Skipped:
    """A token that did not open, so its whole row was left untouched."""

    table: str  # aef_executions or aef_browser_sessions
    id: str  # the execution's or the session's id
    path: str  # where in the row, e.g. execution_context.login.password
    reason: str  # unknown key id 'k9' / authentication failed / malformed token

    def __str__(self) -> str:
        kind = "execution" if self.table == "aef_executions" else "session"
        return f"{kind} {self.id}: {self.path}: {self.reason}"


@dataclass(frozen=True)
class RotationReport:
    executions: int
    sessions: int
    tokens: int
    skipped: tuple[Skipped, ...] = ()  # one entry per token that did not open

    @property
    def skipped_ids(self) -> list[str]:
        return list(dict.fromkeys(s.id for s in self.skipped))


def _reason(exc: Exception, token: str, cipher: Cipher) -> str:
    # Cipher.open chains InvalidTag when the key is there but the token does not
    # authenticate, and a ValueError when the token does not even parse
    if isinstance(exc.__cause__, InvalidTag):
        return "authentication failed (wrong key, or the token was altered or copied from another row)"
    if isinstance(exc, SecretsError) and exc.__cause__ is None:
        return f"unknown key id {cipher.key_id(token)!r}"
    return "malformed token"


def _reseal(cipher: Cipher, value: Any, aad: str, path: str, bad: list[tuple[str, str]]) -> tuple[Any, int]:
    """``value`` with every token not under the active key re-sealed, and how many were; a token
    that does not open is kept as it is and noted in ``bad`` with its path."""
    if is_sealed(value):
        if cipher.key_id(value) == cipher.active:
            return value, 0
        try:
            return cipher.seal(cipher.open(value, aad), aad), 1
        except (SecretsError, ValueError) as exc:  # ValueError: a body too short to hold a nonce
            bad.append((path, _reason(exc, value, cipher)))
            return value, 0
    if isinstance(value, dict):
        items = {k: _reseal(cipher, v, aad, f"{path}.{k}", bad) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, sum(n for _, n in items.values())
    if isinstance(value, list):
        pairs = [_reseal(cipher, v, aad, f"{path}[{i}]", bad) for i, v in enumerate(value)]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    return value, 0


def rotate(url: str, cipher: Cipher) -> RotationReport:
    """Re-seal, row by row in one transaction, every token not under ``cipher.active``.

    A row with a token that does not open is not written at all (no half-rotated row)
    and is listed in the report's ``skipped``.
    """
    executions = sessions = tokens = 0
    skipped: list[Skipped] = []
    with connect(url) as conn, conn.transaction():
        for row in conn.execute(_Q["sealed_executions"]).fetchall():
            bad: list[tuple[str, str]] = []
            context, n1 = _reseal(cipher, row["execution_context"], context_aad(row["id"]), "execution_context", bad)
            config, n2 = _reseal(cipher, row["config"], config_aad(row["id"]), "config", bad)
            if bad:
                skipped += [Skipped("aef_executions", str(row["id"]), path, reason) for path, reason in bad]
            elif n1 + n2:
                conn.execute(
                    _Q["reseal_execution"],
                    {"id": row["id"], "execution_context": Jsonb(context), "config": Jsonb(config)},
                )
                executions += 1
                tokens += n1 + n2
        for row in conn.execute(_Q["sealed_sessions"]).fetchall():
            bad = []
            data, n = _reseal(cipher, row["session_data"], session_aad(row["id"]), "session_data", bad)
            if bad:
                skipped += [Skipped("aef_browser_sessions", str(row["id"]), path, reason) for path, reason in bad]
            elif n:
                conn.execute(_Q["reseal_session"], {"id": row["id"], "session_data": Jsonb(data)})
                sessions += 1
                tokens += n
    return RotationReport(executions, sessions, tokens, tuple(skipped))

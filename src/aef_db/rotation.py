"""`aef-db secrets rotate`: re-seal every stored secret under the active key.

Run it after adding a new key in front of AEF_DB_ENCRYPTION_KEY (or making it
active in the keyfile); once it reports nothing left under old keys, they may be
retired. Final executions and ended sessions accept this change and no other: the
database compares them with their tokens masked (aef_private.without_sealed).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.types.json import Jsonb

from aef_db import sql as package_sql
from aef_db.connection import connect
from aef_db.secrets import Cipher, config_aad, context_aad, session_aad

_Q = package_sql.queries("store/queries.sql")


@dataclass(frozen=True)
class RotationReport:
    executions: int
    sessions: int
    tokens: int


def rotate(url: str, cipher: Cipher) -> RotationReport:
    """Re-seal, row by row in one transaction, every token not under ``cipher.active``."""
    executions = sessions = tokens = 0
    with connect(url) as conn, conn.transaction():
        for row in conn.execute(_Q["sealed_executions"]).fetchall():
            context, n1 = cipher.reseal_tree(row["execution_context"], context_aad(row["id"]))
            config, n2 = cipher.reseal_tree(row["config"], config_aad(row["id"]))
            if n1 + n2:
                conn.execute(_Q["reseal_execution"], {"id": row["id"], "execution_context": Jsonb(context), "config": Jsonb(config)})
                executions += 1
                tokens += n1 + n2
        for row in conn.execute(_Q["sealed_sessions"]).fetchall():
            data, n = cipher.reseal_tree(row["session_data"], session_aad(row["id"]))
            if n:
                conn.execute(_Q["reseal_session"], {"id": row["id"], "session_data": Jsonb(data)})
                sessions += 1
                tokens += n
    return RotationReport(executions, sessions, tokens)

"""A digest: every chain head at one moment, and one root hash over them all.

Kept outside the database (git, object storage, a ticket), it lets ``verify``
catch what no check inside the database can: a superuser who rewrote a whole
chain consistently, or cut its tail together with its head. The root is
sha256 over the heads sorted by execution id, one line each,
``<execution id> <seq> <hash hex>\\n`` (docs/audit.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from aef_db import sql as package_sql
from aef_db.errors import AefDbError

FORMAT = "aef-digest-v1"
Q = package_sql.queries("audit/queries.sql")


class DigestError(AefDbError):
    """A digest file that cannot be read, or does not match its own root."""

    exit_code = 2


@dataclass(frozen=True)
class Digest:
    created_at: str
    database: dict[str, Any]
    heads: dict[str, tuple[int, str]]  # execution id -> (seq, hash hex)

    @property
    def root(self) -> str:
        return root_of(self.heads)

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "format": FORMAT,
                    "created_at": self.created_at,
                    "database": self.database,
                    "executions": len(self.heads),
                    "root": self.root,
                    "heads": {k: [seq, h] for k, (seq, h) in sorted(self.heads.items())},
                },
                indent=1,
            )
            + "\n"
        )


def root_of(heads: dict[str, tuple[int, str]]) -> str:
    digest = hashlib.sha256()
    for execution_id in sorted(heads):
        seq, hash_hex = heads[execution_id]
        digest.update(f"{execution_id} {seq} {hash_hex}\n".encode())
    return digest.hexdigest()


def take(conn: psycopg.Connection[Any]) -> Digest:
    """Every head, read in one snapshot."""
    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read, read only")
        identity = conn.execute(Q["identity"]).fetchone()
        rows = conn.execute(Q["heads"], {"execution_id": None, "since": None}).fetchall()
    heads = {r["execution_id"]: (r["last_seq"], bytes(r["last_hash"]).hex()) for r in rows}
    return Digest(datetime.now(UTC).isoformat(timespec="seconds"), dict(identity or {}), heads)


def load(path: Path) -> Digest:
    """Read a digest file, refusing one whose heads no longer produce its root."""
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != FORMAT:
            raise DigestError(f"{path}: not an {FORMAT} file (format is {doc.get('format')!r})")
        heads = {k: (int(v[0]), str(v[1])) for k, v in doc["heads"].items()}
        digest = Digest(doc["created_at"], doc.get("database", {}), heads)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise DigestError(f"{path}: cannot read the digest: {exc}") from exc
    if digest.root != doc.get("root"):
        raise DigestError(f"{path}: its heads do not produce its root {doc.get('root')}: the file was changed")
    return digest

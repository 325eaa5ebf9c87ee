"""``aef-db audit archive``: remove a final execution's log, leaving a tombstone.

The database does the work (``aef_audit.archive_execution_logs``, the only path
past the log's append-only guard); this module calls it and turns its refusals
into one clear error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import psycopg

from aef_db.audit.digest import Q
from aef_db.connection import connect
from aef_db.errors import AefDbError


@dataclass(frozen=True)
class Tombstone:
    execution_id: uuid.UUID
    last_seq: int
    head_hash: str  # hex
    location: str
    archived_at: datetime
    archived_by: str


def archive(url: str, execution_id: uuid.UUID, location: str) -> Tombstone:
    """Archive the log of ``execution_id``; ``location`` says where its events went."""
    with connect(url) as conn:
        try:
            found = conn.execute(Q["archive"], {"execution_id": execution_id, "location": location}).fetchone()
        except psycopg.Error as exc:
            raise AefDbError(f"archive refused: {exc.diag.message_primary or exc}") from exc
    row = cast("dict[str, Any] | None", found)  # connect() makes dict rows
    assert row is not None  # the function returns its tombstone or raises
    return Tombstone(
        row["execution_id"], row["last_seq"], row["head_hash"], row["location"], row["archived_at"], row["archived_by"]
    )

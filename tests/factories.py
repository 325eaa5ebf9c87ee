"""Rows for the schema tests, written as postgres (the table owner, BYPASSRLS)."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from .conftest import Database

OWNER = uuid.UUID("11111111-1111-4111-8111-111111111111")
OTHER = uuid.UUID("22222222-2222-4222-8222-222222222222")

# the shortest legal path from idle to each status
PATH = {
    "idle": [],
    "running": ["running"],
    "paused": ["running", "paused"],
    "completed": ["running", "completed"],
    "error": ["running", "error"],
    "cancelled": ["cancelled"],
}


def one(db: Database, query: str, params: Any = None) -> Any:
    row = db.shared().execute(query, params).fetchone()
    return None if row is None else next(iter(row.values()))


def insert(db: Database, table: str, columns: dict[str, Any], returning: str = "id") -> Any:
    """INSERT one row of ``columns`` (dicts as jsonb) and return one column of it."""
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    values = [Jsonb(v) if isinstance(v, dict) else v for v in columns.values()]
    return one(db, f"insert into public.{table} ({names}) values ({marks}) returning {returning}", values)


def sop(db: Database, user: uuid.UUID = OWNER) -> uuid.UUID:
    return one(db, "insert into public.sops (user_id, name) values (%s, 'Invoice run') returning id", (user,))


def execution(db: Database, user: uuid.UUID = OWNER, status: str = "idle", **columns: Any) -> uuid.UUID:
    execution_id = insert(db, "aef_executions", {"sop_id": sop(db, user), "user_id": user, **columns})
    for step in PATH[status]:
        one(db, "update public.aef_executions set status = %s where id = %s returning id", (step, execution_id))
    return execution_id


def checkpoint(db: Database, execution_id: uuid.UUID, **columns: Any) -> uuid.UUID:
    return insert(
        db,
        "aef_checkpoints",
        {"execution_id": execution_id, "checkpoint_type": "manual_review", "step_id": "review", **columns},
    )


def session(db: Database, user: uuid.UUID = OWNER, **columns: Any) -> str:
    return insert(db, "aef_browser_sessions", {"user_id": user, **columns})


def log(db: Database, execution_id: uuid.UUID, n: int = 1, event_type: str = "step_started") -> list[int]:
    rows = (
        db.shared()
        .execute(
            "insert into public.aef_execution_logs (execution_id, step_id, event_type, data)"
            " select %s, 'step-' || g, %s, jsonb_build_object('n', g) from generate_series(1, %s) g returning seq",
            (execution_id, event_type, n),
        )
        .fetchall()
    )
    return [r["seq"] for r in rows]

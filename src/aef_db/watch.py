"""`aef-db watch`: the executions that are not finished, their current step and last
events, and the pending checkpoints with their time left, kept live by the change feed.

The board starts from a snapshot read after subscribing, so nothing committed in
between is missed; a log event the snapshot already holds is not counted twice (its
seq is not newer). ``--json`` prints each change as one line instead, for scripts.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from rich.console import Console, Group
from rich.table import Table

from aef_db import sql as package_sql
from aef_db.realtime.feed import Change
from aef_db.store import Store

Q = package_sql.queries("watch/queries.sql")
FINAL = {"completed", "error", "cancelled"}
LAST_EVENTS = 3


@dataclass
class _Execution:
    status: str
    user_id: uuid.UUID
    current_step: str | None = None
    last_seq: int = 0
    events: deque[str] = field(default_factory=lambda: deque(maxlen=LAST_EVENTS))


@dataclass
class _Checkpoint:
    execution_id: uuid.UUID
    checkpoint_type: str
    step_id: str | None
    timeout_at: datetime | None


class Board:
    """What the live view shows, built from a snapshot and then from changes."""

    def __init__(self) -> None:
        self.executions: dict[uuid.UUID, _Execution] = {}
        self.checkpoints: dict[uuid.UUID, _Checkpoint] = {}

    def load(self, executions: list[dict[str, Any]], checkpoints: list[dict[str, Any]]) -> None:
        for row in executions:
            entry = self.executions[row["id"]] = _Execution(row["status"], row["user_id"], row["current_step_id"])
            entry.last_seq = row["last_seq"] or 0
            entry.events.extend(row["last_events"] or [])
        for row in checkpoints:
            self._checkpoint(row)

    def apply(self, change: Change) -> None:
        row = change.row
        if change.table == "aef_executions":
            if change.op == "delete" or row.get("status") in FINAL:
                self.executions.pop(row["id"], None)
            else:
                entry = self.executions.setdefault(row["id"], _Execution(row["status"], row["user_id"]))
                entry.status = row["status"]
                entry.current_step = row.get("current_step_id") or entry.current_step
        elif change.table == "aef_execution_logs" and change.op == "insert":
            entry_or_none = self.executions.get(row["execution_id"])
            if entry_or_none is not None and row["seq"] > entry_or_none.last_seq:
                entry_or_none.last_seq = row["seq"]
                entry_or_none.events.append(row["event_type"])
                entry_or_none.current_step = row.get("step_id") or entry_or_none.current_step
        elif change.table == "aef_checkpoints":
            if change.op == "delete" or row.get("status") != "pending":
                self.checkpoints.pop(row["id"], None)
            else:
                self._checkpoint(row)

    def _checkpoint(self, row: dict[str, Any]) -> None:
        self.checkpoints[row["id"]] = _Checkpoint(
            row["execution_id"], row["checkpoint_type"], row.get("step_id"), row.get("timeout_at")
        )

    def render(self, now: datetime | None = None) -> Group:
        now = now or datetime.now(UTC)
        runs = Table("execution", "user", "status", "step", "last events", title="Executions not finished")
        for execution_id, e in self.executions.items():
            runs.add_row(_short(execution_id), _short(e.user_id), e.status, e.current_step or "", ", ".join(e.events))
        waiting = Table("checkpoint", "execution", "type", "step", "times out in", title="Pending checkpoints")
        for checkpoint_id, c in self.checkpoints.items():
            left = "never" if c.timeout_at is None else _countdown((c.timeout_at - now).total_seconds())
            waiting.add_row(_short(checkpoint_id), _short(c.execution_id), c.checkpoint_type, c.step_id or "", left)
        return Group(runs, waiting)


def _short(value: uuid.UUID) -> str:
    return str(value)[:8]


def _countdown(seconds: float) -> str:
    if seconds <= 0:
        return "due"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def change_json(change: Change) -> str:
    """One change as one line of JSON: uuids, times and bytes as text."""
    return json.dumps(
        {
            "table": change.table,
            "op": change.op,
            "position": str(change.position),
            "commit_time": change.commit_time.isoformat(),
            "new": change.new,
            "old": change.old,
        },
        default=_text,
        sort_keys=True,
    )


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


async def watch(
    url: str,
    *,
    user_id: uuid.UUID | None,
    execution_id: uuid.UUID | None,
    as_json: bool,
    console: Console,
    count: int | None = None,
) -> int:
    """Follow the changes until Ctrl-C (or ``count`` changes); returns how many were shown."""
    from rich.live import Live

    seen = 0
    async with (
        Store(url, cipher=None, min_size=1, max_size=1) as store,
        store.subscribe(user_id=user_id, execution_id=execution_id) as changes,
    ):
        if as_json:
            async for change in changes:
                console.print(change_json(change), markup=False, highlight=False, soft_wrap=True)
                seen += 1
                if count is not None and seen >= count:
                    break
            return seen
        board = Board()
        board.load(*await _snapshot(url, user_id, execution_id))
        with Live(board.render(), console=console, refresh_per_second=4) as live:
            while count is None or seen < count:
                try:
                    change = await asyncio.wait_for(anext(changes), 1.0)
                except TimeoutError:  # the countdowns move on their own
                    live.update(board.render())
                    continue
                board.apply(change)
                seen += 1
                live.update(board.render())
    return seen


async def _snapshot(
    url: str, user_id: uuid.UUID | None, execution_id: uuid.UUID | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    params = {"user_id": user_id, "execution_id": execution_id, "last_events": LAST_EVENTS}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row) as conn:
        executions = await (await conn.execute(Q["unfinished_executions"], params)).fetchall()
        checkpoints = await (await conn.execute(Q["pending_checkpoints"], params)).fetchall()
    return executions, checkpoints

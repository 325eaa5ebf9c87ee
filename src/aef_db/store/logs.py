"""The execution log: durable single appends, and the head cache every appender numbers from.

Appends number their own events (seq and owner supplied, the database verifies them), so
they take the database's fast path (docs/decisions.md, 16). When another writer got there
first, the database says so (SeqConflict); the head is reloaded and the append retried once.
Batches go through the ``LogWriter`` (aef_db.store.log_writer).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from aef_db.models import ExecutionLog, LogEventType
from aef_db.store.base import Actor, Core, Q, Scoped
from aef_db.store.errors import NotFound, SeqConflict
from aef_db.store.events import ChainedEvent, chain_after, new_event
from aef_db.store.heads import Head, HeadCache
from aef_db.store.log_writer import LogWriter


class Logs(Scoped):
    """The log of every execution, and the only keeper of its head cache."""

    def __init__(self, core: Core, actor: Actor, heads: HeadCache | None = None) -> None:
        super().__init__(core, actor)
        self._heads = HeadCache() if heads is None else heads

    async def head(self, execution_id: uuid.UUID, *, reload: bool = False) -> Head:
        """Owner, last seq and last hash of an execution's log, from the cache unless ``reload``."""
        cached = None if reload else self._heads.get(execution_id)
        if cached is not None:
            return cached
        head = _head(execution_id, await self.fetch_one("log_head", {"execution_id": execution_id}))
        self._heads.remember(execution_id, head)
        return head

    async def head_in(self, conn: psycopg.AsyncConnection[dict[str, Any]], execution_id: uuid.UUID) -> Head:
        """The head as the caller's transaction sees it, never cached: its own statements may have logged."""
        row = await (await conn.execute(Q["log_head"], {"execution_id": execution_id})).fetchone()
        return _head(execution_id, row)

    def created(self, execution_id: uuid.UUID, owner: uuid.UUID) -> None:
        """This store just created the execution: its log is empty (true history, like any
        cached head), so its first append or writer event needs no lookup."""
        self._heads.remember(execution_id, Head(owner, 0, None))

    def invalidate_head(self, execution_id: uuid.UUID) -> None:
        """The database logged for this execution by itself (a state function, a checkpoint):
        the next append reads the head again instead of being refused once."""
        self._heads.forget(execution_id)

    async def hash_before(self, execution_id: uuid.UUID, seq: int) -> bytes | None:
        """The hash of event ``seq - 1`` (None for the first event)."""
        if seq == 1:
            return None
        head = self._heads.get(execution_id)
        if head is not None and head.seq == seq - 1:
            return head.hash
        row = await self.fetch_one("log_hash_at", {"execution_id": execution_id, "seq": seq - 1})
        return None if row is None else row["hash"]

    async def append(
        self,
        execution_id: uuid.UUID,
        event_type: LogEventType | str,
        *,
        step_id: str | None = None,
        data: dict[str, Any] | None = None,
        browser_state: dict[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> ExecutionLog:
        """Append one event and return it once it is durable (committed)."""
        event = new_event(event_type, step_id, data, browser_state, timestamp)
        data_text, state_text = event.texts
        when = event.timestamp or datetime.now(UTC)
        for attempt in (1, 2):
            head = await self.head(execution_id, reload=attempt == 2)
            chained = chain_after(
                head, execution_id, event.event_type.value, event.step_id, data_text, state_text, when
            )
            try:
                await self.execute("append_log", chained._asdict())
            except SeqConflict:
                if attempt == 2:
                    raise
                continue
            self._heads.remember(execution_id, chained.head)
            # every column is what was sent and validated: no row comes back to parse
            return ExecutionLog.model_construct(
                id=chained.id,
                execution_id=execution_id,
                step_id=event.step_id,
                event_type=event.event_type,
                timestamp=when,
                data=event.data,
                browser_state=event.browser_state,
                user_id=chained.user_id,
                seq=chained.seq,
            )
        raise AssertionError("unreachable")

    async def write(self, events: Sequence[ChainedEvent]) -> None:
        """Store chained events in one statement and one commit, then remember the heads they make.

        For the engine (autocommit) that is one round trip; a user's view sends it in a
        transaction acting as the user. The database checks every link, as for append.
        When the answer is lost, the events may or may not be stored: ``stored_ids`` tells.
        """
        params = dict(zip(ChainedEvent._fields, (list(column) for column in zip(*events, strict=True)), strict=True))
        await self.execute("insert_logs", params)
        for event in events:
            self._heads.remember(event.execution_id, event.head)

    async def stored_ids(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these event ids are stored (after a commit whose answer was lost)."""
        return {row["id"] for row in await self.fetch_all("logs_stored", {"ids": list(ids)})}

    async def read(self, execution_id: uuid.UUID, after_seq: int = 0, limit: int = 100) -> list[ExecutionLog]:
        rows = await self.fetch_all("read_logs", {"execution_id": execution_id, "after_seq": after_seq, "limit": limit})
        return [ExecutionLog.model_validate(r) for r in rows]

    def writer(self, *, max_batch: int = 1000, max_delay: float = 0.2, max_buffer: int = 10_000) -> LogWriter:
        """A batching writer: see LogWriter."""
        return LogWriter(self, max_batch=max_batch, max_delay=max_delay, max_buffer=max_buffer)


def _head(execution_id: uuid.UUID, row: dict[str, Any] | None) -> Head:
    if row is None:
        raise NotFound(f"no execution {execution_id} visible here", "P0002")
    return Head(row["user_id"], row["last_seq"], row["last_hash"])

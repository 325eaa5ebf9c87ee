"""The execution log: durable single appends, and a batching writer with bounded size and delay.

Both number their own events (seq and owner supplied, the database verifies them), so
appends take the database's fast path (docs/decisions.md, 16). When another writer got
there first, the database says so (SeqConflict); the head is reloaded and the append
retried once.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from aef_db.models import FLUSHING_EVENTS, ExecutionLog, LogEvent, LogEventType
from aef_db.secrets import SecretsError, contains_secret
from aef_db.store.base import Q, Scoped
from aef_db.store.errors import ConstraintViolation, NotFound, SeqConflict, StoreError


class Logs(Scoped):
    async def head(self, execution_id: uuid.UUID, *, reload: bool = False) -> tuple[uuid.UUID, int]:
        """(owner, last seq) of an execution's log, from the cache unless ``reload``."""
        cached = None if reload else self.core.heads.get(execution_id)
        if cached is not None:
            return cached
        row = await self.one("log_head", {"execution_id": execution_id})
        if row is None:
            raise NotFound(f"no execution {execution_id} visible here", "P0002")
        self.core.heads.set(execution_id, row["user_id"], row["last_seq"])
        return row["user_id"], row["last_seq"]

    def _payload(self, execution_id: uuid.UUID, event: LogEvent) -> Any:
        if contains_secret(event.data):
            # the log is append-only, so a secret in it could never be re-sealed under a new key
            raise SecretsError("data: a Secret does not belong in the audit log; keep it in the execution context")
        return event.data

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
        event = _event(event_type, step_id, data, browser_state, timestamp)
        payload = self._payload(execution_id, event)
        for attempt in (1, 2):
            owner, last_seq = await self.head(execution_id, reload=attempt == 2)
            try:
                row = await self.one("append_log", {
                    "id": uuid.uuid4(), "execution_id": execution_id, "user_id": owner, "seq": last_seq + 1,
                    "step_id": event.step_id, "event_type": event.event_type.value, "timestamp": event.timestamp,
                    "data": Jsonb(payload), "browser_state": Jsonb(event.browser_state) if event.browser_state is not None else None,
                })  # fmt: skip
            except SeqConflict:
                if attempt == 2:
                    raise
                continue
            assert row is not None
            self.core.heads.set(execution_id, owner, row["seq"])
            return self._row(row)
        raise AssertionError("unreachable")

    async def read(self, execution_id: uuid.UUID, after_seq: int = 0, limit: int = 100) -> list[ExecutionLog]:
        rows = await self.all("read_logs", {"execution_id": execution_id, "after_seq": after_seq, "limit": limit})
        return [self._row(r) for r in rows]

    def _row(self, row: dict[str, Any]) -> ExecutionLog:
        return ExecutionLog.model_validate(row)

    def writer(self, *, max_batch: int = 1000, max_delay: float = 0.2, max_buffer: int = 10_000) -> LogWriter:
        """A batching writer: see LogWriter."""
        return LogWriter(self, max_batch=max_batch, max_delay=max_delay, max_buffer=max_buffer)



def _event(event_type: LogEventType | str, step_id: str | None, data: dict[str, Any] | None,
           browser_state: dict[str, Any] | None, timestamp: datetime | None) -> LogEvent:  # fmt: skip
    """One validated event: the same rules for append and for the writer."""
    return LogEvent(event_type=event_type, step_id=step_id, data=data or {}, browser_state=browser_state, timestamp=timestamp)


@dataclass(frozen=True)
class _Pending:
    id: uuid.UUID
    execution_id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    step_id: str | None
    event_type: str
    timestamp: datetime
    data: Any
    browser_state: Any


class LogWriter:
    """Batches events and writes them with COPY, one transaction per batch.

    - Bounded: at most ``max_buffer`` events wait; ``log`` waits for a flush beyond that.
    - Bounded delay: a batch is flushed at the latest ``max_delay`` seconds after its
      first event, or as soon as it holds ``max_batch`` events.
    - step_completed, step_failed, checkpoint_reached and error_occurred, and
      ``close``, flush before returning: when they return, the event is durable.
    - Events of one execution keep their order (seq is assigned as they are logged).
    - A failed flush raises and keeps its events for the next flush; nothing that a
      flush acknowledged is ever lost, and a retry after a commit whose answer was
      lost does not write twice (event ids are checked).
    - When another writer appended to the same execution meanwhile (the database
      says AE007 or a taken seq), the unacknowledged events are numbered again after
      the new head, keeping their order, and the flush is retried.
    """

    def __init__(self, logs: Logs, *, max_batch: int, max_delay: float, max_buffer: int) -> None:
        if not (1 <= max_batch <= max_buffer) or max_delay <= 0:
            raise ValueError("need 1 <= max_batch <= max_buffer and max_delay > 0")
        self.logs = logs
        self.max_batch, self.max_delay, self.max_buffer = max_batch, max_delay, max_buffer
        self._buffer: list[_Pending] = []
        self._next_seq: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}
        self._flush_lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._background: asyncio.Task[Any] | None = None
        self.error: BaseException | None = None  # the last background flush failure
        self.flushed = 0

    async def log(
        self,
        execution_id: uuid.UUID,
        event_type: LogEventType | str,
        *,
        step_id: str | None = None,
        data: dict[str, Any] | None = None,
        browser_state: dict[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        event = _event(event_type, step_id, data, browser_state, timestamp)
        while len(self._buffer) >= self.max_buffer:
            await self.flush()
        owner, last = self._next_seq.get(execution_id) or await self.logs.head(execution_id)
        self._next_seq[execution_id] = (owner, last + 1)
        self._buffer.append(_Pending(
            uuid.uuid4(), execution_id, owner, last + 1, event.step_id, event.event_type.value,
            event.timestamp or datetime.now(UTC), Jsonb(self.logs._payload(execution_id, event)),
            Jsonb(event.browser_state) if event.browser_state is not None else None,
        ))  # fmt: skip
        if event.event_type in FLUSHING_EVENTS or len(self._buffer) >= self.max_batch:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_delay, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        self._background = asyncio.ensure_future(self._background_flush())

    async def _background_flush(self) -> None:
        try:
            await self.flush()
        except StoreError as exc:  # kept for the caller: the next log/flush/close retries
            self.error = exc

    async def flush(self) -> int:
        """Write everything buffered; returns how many events became durable."""
        async with self._flush_lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            total = 0
            while self._buffer:
                batch = self._buffer[: self.max_batch]
                await self._write(batch)
                del self._buffer[: len(batch)]
                total += len(batch)
                self.flushed += len(batch)
            self.error = None
            return total

    async def _write(self, batch: list[_Pending]) -> None:
        for attempt in range(1, 4):
            try:
                async with self.logs.transaction() as conn:
                    async with conn.cursor().copy(Q["copy_logs"]) as copy:
                        for e in batch:
                            await copy.write_row((e.id, e.execution_id, e.user_id, e.seq, e.step_id, e.event_type,
                                                  e.timestamp, e.data, e.browser_state))  # fmt: skip
            except (SeqConflict, ConstraintViolation) as exc:
                if exc.sqlstate not in ("AE007", "23505"):
                    raise
                # a commit whose answer was lost already stored this batch: then it is done
                present = await self.logs.one("logs_present", {"ids": [e.id for e in batch]})
                if present is not None and present["n"] == len(batch):
                    break
                if attempt == 3:
                    raise
                # someone else (a user function, another writer) appended meanwhile:
                # number the unacknowledged events again after the new head, in order
                batch = await self._renumber({e.execution_id for e in batch}, len(batch))
                continue
            break
        for e in batch:
            self.logs.core.heads.set(e.execution_id, e.user_id, e.seq)

    async def _renumber(self, execution_ids: set[uuid.UUID], batch_size: int) -> list[_Pending]:
        heads = {eid: await self.logs.head(eid, reload=True) for eid in execution_ids}
        renumbered = []
        for e in self._buffer:
            if e.execution_id in heads:
                owner, last = heads[e.execution_id]
                heads[e.execution_id] = (owner, last + 1)
                e = replace(e, seq=last + 1)
            renumbered.append(e)
        self._buffer = renumbered
        self._next_seq.update(heads)
        return self._buffer[:batch_size]

    async def close(self) -> None:
        """Flush what is left; the writer may not be used afterwards."""
        if self._background is not None:
            await asyncio.gather(self._background, return_exceptions=True)
        await self.flush()

    async def __aenter__(self) -> LogWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __len__(self) -> int:
        return len(self._buffer)

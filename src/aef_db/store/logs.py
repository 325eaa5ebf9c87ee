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

from aef_db.audit.canonical import event_hash, jsonb_text, micros
from aef_db.models import FLUSHING_EVENTS, ExecutionLog, LogEvent, LogEventType
from aef_db.secrets import SecretsError, contains_secret
from aef_db.store.base import Head, Q, Scoped
from aef_db.store.errors import ConstraintViolation, NotFound, SeqConflict, StoreError


class Logs(Scoped):
    async def head(self, execution_id: uuid.UUID, *, reload: bool = False) -> Head:
        """Owner, last seq and last hash of an execution's log, from the cache unless ``reload``."""
        cached = None if reload else self.core.heads.get(execution_id)
        if cached is not None:
            return cached
        row = await self.one("log_head", {"execution_id": execution_id})
        if row is None:
            raise NotFound(f"no execution {execution_id} visible here", "P0002")
        head = Head(row["user_id"], row["last_seq"], row["last_hash"])
        self.core.heads.set(execution_id, head)
        return head

    async def hash_before(self, execution_id: uuid.UUID, seq: int) -> bytes | None:
        """The hash of event ``seq - 1`` (None for the first event)."""
        if seq == 1:
            return None
        head = self.core.heads.get(execution_id)
        if head is not None and head.seq == seq - 1:
            return head.hash
        row = await self.one("log_hash_at", {"execution_id": execution_id, "seq": seq - 1})
        return None if row is None else row["hash"]

    def _texts(self, execution_id: uuid.UUID, event: LogEvent) -> tuple[str, str | None]:
        """data and browser_state as the jsonb text the database will store, and hash."""
        if contains_secret(event.data):
            # the log is append-only, so a secret in it could never be re-sealed under a new key
            raise SecretsError("data: a Secret does not belong in the audit log; keep it in the execution context")
        return jsonb_text(event.data), None if event.browser_state is None else jsonb_text(event.browser_state)

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
        data_text, state_text = self._texts(execution_id, event)
        when = event.timestamp or datetime.now(UTC)
        for attempt in (1, 2):
            head = await self.head(execution_id, reload=attempt == 2)
            seq = head.seq + 1
            params = chained(execution_id, head, event.event_type.value, event.step_id, data_text, state_text, when)
            try:
                row = await self.one("append_log", params)
            except SeqConflict:
                if attempt == 2:
                    raise
                continue
            assert row is not None
            self.core.heads.set(execution_id, Head(head.owner, seq, params["hash"]))
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


def chained(
    execution_id: uuid.UUID,
    head: Head,
    event_type: str,
    step_id: str | None,
    data_text: str,
    state_text: str | None,
    when: datetime,
) -> dict[str, Any]:
    """The append_log parameters of the event after ``head``: numbered and hashed onto it."""
    seq = head.seq + 1
    return {
        "id": uuid.uuid4(),
        "execution_id": execution_id,
        "user_id": head.owner,
        "seq": seq,
        "step_id": step_id,
        "event_type": event_type,
        "timestamp": when,
        "data": data_text,
        "browser_state": state_text,
        "prev_hash": head.hash,
        "hash": event_hash(execution_id, seq, step_id, event_type, micros(when), data_text, state_text, head.hash),
    }


def _event(
    event_type: LogEventType | str,
    step_id: str | None,
    data: dict[str, Any] | None,
    browser_state: dict[str, Any] | None,
    timestamp: datetime | None,
) -> LogEvent:
    """One validated event: the same rules for append and for the writer."""
    return LogEvent(
        event_type=event_type, step_id=step_id, data=data or {}, browser_state=browser_state, timestamp=timestamp
    )


@dataclass(frozen=True)
class _Pending:
    id: uuid.UUID
    execution_id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    step_id: str | None
    event_type: str
    timestamp: datetime
    data: str  # jsonb text, as hashed
    browser_state: str | None


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
        if execution_id not in self._next_seq:
            head = await self.logs.head(execution_id)
            self._next_seq[execution_id] = (head.owner, head.seq)
        owner, last = self._next_seq[execution_id]
        self._next_seq[execution_id] = (owner, last + 1)
        data_text, state_text = self.logs._texts(execution_id, event)
        self._buffer.append(
            _Pending(
                uuid.uuid4(),
                execution_id,
                owner,
                last + 1,
                event.step_id,
                event.event_type.value,
                event.timestamp or datetime.now(UTC),
                data_text,
                state_text,
            )
        )
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

    async def _chain(self, batch: list[_Pending]) -> list[tuple[Any, ...]]:
        """The batch's COPY rows, each event hashed onto the one before it, each
        execution's events together (the database then checks each run's links
        against the row before, and probes the table once per run)."""
        last: dict[uuid.UUID, bytes | None] = {}
        rows = []
        for e in sorted(batch, key=lambda e: (e.execution_id, e.seq)):
            prev = (
                last[e.execution_id] if e.execution_id in last else await self.logs.hash_before(e.execution_id, e.seq)
            )
            digest = event_hash(
                e.execution_id, e.seq, e.step_id, e.event_type, micros(e.timestamp), e.data, e.browser_state, prev
            )
            last[e.execution_id] = digest
            rows.append(
                (
                    e.id,
                    e.execution_id,
                    e.user_id,
                    e.seq,
                    e.step_id,
                    e.event_type,
                    e.timestamp,
                    e.data,
                    e.browser_state,
                    prev,
                    digest,
                )
            )
        return rows

    async def _write(self, batch: list[_Pending]) -> None:
        for attempt in range(1, 4):
            rows = await self._chain(batch)
            try:
                async with self.logs.transaction() as conn, conn.cursor().copy(Q["copy_logs"]) as copy:
                    for row in rows:
                        await copy.write_row(row)
            except (SeqConflict, ConstraintViolation) as exc:
                if exc.sqlstate not in ("AE007", "AE009", "23505"):
                    raise
                # a commit whose answer was lost already stored this batch: then it is done
                present = await self.logs.one("logs_present", {"ids": [e.id for e in batch]})
                if present is not None and present["n"] == len(batch):
                    break
                if attempt == 3:
                    raise
                # someone else (a user function, another writer) appended meanwhile:
                # number and chain the unacknowledged events again after the new head, in order
                batch = await self._renumber({e.execution_id for e in batch}, len(batch))
                continue
            break
        for row in rows:
            self.logs.core.heads.set(row[1], Head(row[2], row[3], row[10]))

    async def _renumber(self, execution_ids: set[uuid.UUID], batch_size: int) -> list[_Pending]:
        heads = {eid: await self.logs.head(eid, reload=True) for eid in execution_ids}
        next_seq = {eid: (head.owner, head.seq) for eid, head in heads.items()}
        renumbered = []
        for e in self._buffer:
            if e.execution_id in next_seq:
                owner, last = next_seq[e.execution_id]
                next_seq[e.execution_id] = (owner, last + 1)
                e = replace(e, seq=last + 1)
            renumbered.append(e)
        self._buffer = renumbered
        self._next_seq.update(next_seq)
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

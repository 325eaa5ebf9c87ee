"""The batching log writer: bounded size and delay, COPY per batch, renumbering on conflict."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aef_db.models import FLUSHING_EVENTS, LogEventType
from aef_db.store.errors import TAKEN, ConstraintViolation, SeqConflict, StoreError
from aef_db.store.events import ChainedEvent, chain_after, new_event, stored_texts
from aef_db.store.heads import Head

if TYPE_CHECKING:
    from aef_db.store.logs import Logs


@dataclass(frozen=True)
class _Pending:
    """An event numbered when it was logged, chained only when its batch is written."""

    id: uuid.UUID  # kept across retries: a retry after a lost commit finds it stored
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
        self._last_seq: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}  # per execution: owner, last seq handed out
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
        event = new_event(event_type, step_id, data, browser_state, timestamp)
        while len(self._buffer) >= self.max_buffer:
            await self.flush()
        if execution_id not in self._last_seq:
            head = await self.logs.head(execution_id)
            self._last_seq[execution_id] = (head.owner, head.seq)
        owner, last = self._last_seq[execution_id]
        self._last_seq[execution_id] = (owner, last + 1)
        data_text, state_text = stored_texts(event)
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

    async def _chain(self, batch: list[_Pending]) -> list[ChainedEvent]:
        """The batch chained, each event hashed onto the one before it, each execution's
        events together (the database then checks each run's links against the row
        before, and probes the table once per run)."""
        last: dict[uuid.UUID, bytes | None] = {}
        chained = []
        for e in sorted(batch, key=lambda e: (e.execution_id, e.seq)):
            prev = (
                last[e.execution_id] if e.execution_id in last else await self.logs.hash_before(e.execution_id, e.seq)
            )
            event = chain_after(
                Head(e.user_id, e.seq - 1, prev),
                e.execution_id,
                e.event_type,
                e.step_id,
                e.data,
                e.browser_state,
                e.timestamp,
                event_id=e.id,
            )
            last[e.execution_id] = event.hash
            chained.append(event)
        return chained

    async def _write(self, batch: list[_Pending]) -> None:
        for attempt in range(1, 4):
            try:
                await self.logs.copy(await self._chain(batch))
                return
            except (SeqConflict, ConstraintViolation) as exc:
                if exc.sqlstate not in TAKEN or attempt == 3:
                    raise
            # someone else (a user function, another writer) appended meanwhile:
            # number and chain the unacknowledged events again after the new head, in order
            batch = await self._renumber({e.execution_id for e in batch}, len(batch))

    async def _renumber(self, execution_ids: set[uuid.UUID], batch_size: int) -> list[_Pending]:
        heads = {eid: await self.logs.head(eid, reload=True) for eid in execution_ids}
        last_seq = {eid: (head.owner, head.seq) for eid, head in heads.items()}
        renumbered = []
        for e in self._buffer:
            if e.execution_id in last_seq:
                owner, last = last_seq[e.execution_id]
                last_seq[e.execution_id] = (owner, last + 1)
                e = replace(e, seq=last + 1)
            renumbered.append(e)
        self._buffer = renumbered
        self._last_seq.update(last_seq)
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

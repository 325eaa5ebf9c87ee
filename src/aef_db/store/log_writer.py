"""The batching log writer: group commit across tasks, one statement per batch, recovery by event id."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg_pool

from aef_db.models import FLUSHING_EVENTS, LogEventType
from aef_db.store.errors import TAKEN, NotFound, StoreError
from aef_db.store.events import ChainedEvent, chain_after, new_event
from aef_db.store.heads import Head

if TYPE_CHECKING:
    from aef_db.store.logs import Logs

_RETRY_CAP = 5.0  # seconds: the longest a failed background flush waits before it tries again
_UNKNOWN_OWNER = uuid.UUID(int=0)  # an event logged during an outage, until its execution's head is read


@dataclass(frozen=True)
class _Pending:
    """An event numbered when it was logged, chained only when its batch is written."""

    n: int  # its place among every event this writer logged (1, 2, 3...): flushes go in this order
    id: uuid.UUID  # kept across retries: a retry after a lost commit finds it stored
    execution_id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    step_id: str | None
    event_type: str
    timestamp: datetime
    data: str  # jsonb text, as hashed
    browser_state: str | None


@dataclass
class _Flight:
    """A flush: it carries every event logged before it starts writing (``upto``)."""

    task: asyncio.Task[None] | None = None
    upto: int | None = None  # set when it starts: tasks scheduled before then still join it


class LogWriter:
    """Batches events from any number of tasks; one flush in flight at a time (group commit).

    - Group commit: a flush takes every buffered event and writes it in one statement
      per ``max_batch`` events, each its own commit. Events logged while a flush is in
      flight, by any task, go together in the next flush, which starts when the one in
      flight ends.
    - step_completed, step_failed, checkpoint_reached and error_occurred, ``flush`` and
      ``close`` return once the flush that carries their events has committed.
    - Bounded: at most ``max_buffer`` events wait (``log`` waits for room beyond that);
      a batch goes out at the latest ``max_delay`` seconds after its first event.
    - Events of one execution keep their order (seq is assigned as they are logged).
    - A failed flush raises to the callers whose events it carried and keeps its
      events; a failed background flush is retried (backing off up to 5 s). Nothing a
      flush acknowledged is lost.
    - After a commit whose answer was lost, the retry is refused (the event ids or
      seqs are taken); the writer then asks which of its events are stored, by id,
      counts those as written and numbers the others after the stored head. So a
      writer carries on after a server restart by itself, and writes nothing twice.
    - When another writer appended to the same execution meanwhile (the database
      says AE007, AE009 or a taken seq), the unacknowledged events are numbered again
      after the new head, keeping their order, and the batch is retried.
    """

    def __init__(self, logs: Logs, *, max_batch: int, max_delay: float, max_buffer: int) -> None:
        if not (1 <= max_batch <= max_buffer) or max_delay <= 0:
            raise ValueError("need 1 <= max_batch <= max_buffer and max_delay > 0")
        self.logs = logs
        self.max_batch, self.max_delay, self.max_buffer = max_batch, max_delay, max_buffer
        self._buffer: list[_Pending] = []  # logged, not yet written, in order of n
        self._logged = 0  # the n of the last event logged
        self._durable = 0  # every event up to this n is stored
        # per execution with buffered events: owner, last seq handed out
        self._last_seq: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}
        self._buffered: Counter[uuid.UUID] = Counter()  # buffered events per execution
        self._headless: set[uuid.UUID] = set()  # logged during an outage, numbered before their first write
        self._refused: dict[int, StoreError] = {}  # durable events refused at their flush, for their callers
        self._flight: _Flight | None = None  # the flush in flight (or about to start)
        self._timer: asyncio.TimerHandle | None = None
        self._background: asyncio.Task[Any] | None = None
        self._retry_delay = max_delay
        self.error: BaseException | None = None  # the last flush failure, until a flush succeeds
        self.flushed = 0
        self.flushes = 0  # committed batches: flushed / flushes is the mean batch

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
        data_text, state_text = event.texts
        when = event.timestamp or datetime.now(UTC)
        while True:  # room in the buffer and a known head, both at once (no await between them and the append)
            if len(self._buffer) >= self.max_buffer:
                await self._durable_through(self._buffer[len(self._buffer) - self.max_buffer].n)
            elif execution_id not in self._last_seq:
                await self._learn_head(execution_id)
            else:
                break
        owner, last = self._last_seq[execution_id]
        self._last_seq[execution_id] = (owner, last + 1)
        self._buffered[execution_id] += 1
        self._logged += 1
        n = self._logged
        self._buffer.append(
            _Pending(
                n, uuid.uuid4(), execution_id, owner, last + 1, event.step_id, event.event_type.value, when, data_text,
                state_text,
            )
        )  # fmt: skip
        if event.event_type in FLUSHING_EVENTS:
            await self._durable_through(n)
        elif len(self._buffer) >= self.max_batch and self._flight is None:
            self._flush_soon()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_delay, self._on_timer)

    async def _learn_head(self, execution_id: uuid.UUID) -> None:
        """Where an execution new to the writer stands. While the database is away, its
        events are buffered unnumbered (owner unknown, seq from 1) and numbered after its
        head once a flush reaches the database: an outage does not refuse events."""
        if not (self.error is not None and _unreachable(self.error)):
            try:
                head = await self.logs.head(execution_id)
            except StoreError as exc:
                if not _unreachable(exc):
                    raise
                self.error = exc  # the next execution new to it does not wait for the pool again
            else:
                self._last_seq.setdefault(execution_id, (head.owner, head.seq))
                return
        self._headless.add(execution_id)
        self._last_seq.setdefault(execution_id, (_UNKNOWN_OWNER, 0))

    async def flush(self) -> int:
        """Write everything logged so far; returns how many events became durable meanwhile."""
        before = self._durable
        await self._durable_through(self._logged)
        return self._durable - before

    async def _durable_through(self, n: int) -> None:
        """Return once every event up to ``n`` is stored: join the flush in flight when it
        carries them, else wait for it to end and join (or lead) the next one."""
        while self._durable < n:
            flight = self._flight or self._start_flush()
            assert flight.task is not None
            try:
                await asyncio.shield(flight.task)
            except Exception:
                if flight.upto is not None and flight.upto >= n and self._durable < n:
                    raise  # our events were in it: the caller learns they are not durable
        if n in self._refused:
            raise self._refused.pop(n)

    def _start_flush(self) -> _Flight:
        flight = self._flight = _Flight()
        flight.task = asyncio.ensure_future(self._flush_all(flight))
        flight.task.add_done_callback(self._landed)
        return flight

    def _landed(self, flight: asyncio.Task[None]) -> None:
        if flight.cancelled():
            return
        self.error = flight.exception()  # retrieved here, so a failure nobody awaited is still kept
        if self.error is None:
            self._retry_delay = self.max_delay
            if len(self._buffer) >= self.max_batch:  # a full batch waited for this flush: next one now
                self._flush_soon()
        elif self._buffer and self._timer is None:  # tried again later, with or without another log call
            self._timer = asyncio.get_running_loop().call_later(self._retry_delay, self._on_timer)
            self._retry_delay = min(self._retry_delay * 2, max(_RETRY_CAP, self.max_delay))

    def _on_timer(self) -> None:
        self._timer = None
        self._flush_soon()

    def _flush_soon(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.ensure_future(self._background_flush())

    async def _background_flush(self) -> None:
        # a failure is kept in self.error (_landed), and the flush tried again after a pause
        with contextlib.suppress(Exception):
            await self._durable_through(self._logged)

    async def _flush_all(self, flight: _Flight) -> None:
        """The flush in flight: every event buffered when it starts, one commit per max_batch events."""
        flight.upto = upto = self._logged
        if self._timer is not None:  # it takes everything buffered
            self._timer.cancel()
            self._timer = None
        try:
            while self._buffer and self._buffer[0].n <= upto:
                size = sum(1 for e in itertools.islice(self._buffer, self.max_batch) if e.n <= upto)
                size = await self._write(size)
                batch = self._buffer[:size]
                del self._buffer[:size]
                if batch:
                    self._durable = batch[-1].n
                    self.flushed += size
                    self.flushes += 1
                self._forget(batch)
            # what is left of [.. upto] was stored, or refused (an execution that does not exist)
            self._durable = max(self._durable, min(upto, self._buffer[0].n - 1) if self._buffer else upto)
        finally:
            self._flight = None

    def _forget(self, events: list[_Pending]) -> None:
        """These events left the buffer (stored or refused)."""
        for e in events:
            self._buffered[e.execution_id] -= 1
            if not self._buffered[e.execution_id]:  # nothing of it buffered: the head cache knows it
                del self._buffered[e.execution_id]
                self._last_seq.pop(e.execution_id, None)

    async def _write(self, size: int) -> int:
        """Store the first ``size`` buffered events (one statement, one commit) or raise.
        Returns how many of them are stored: fewer when some were refused and left the buffer."""
        stored: set[uuid.UUID] = set()
        taken, lost = 0, 0
        while True:
            if headless := self._headless & {e.execution_id for e in self._buffer[:size]}:
                size -= await self._number_headless(headless, size)
            batch = [e for e in self._buffer[:size] if e.id not in stored]
            if not batch:
                return size
            try:
                await self.logs.write(await self._chain(batch))
                return size
            except StoreError as exc:
                if exc.sqlstate in TAKEN and taken < 3:
                    taken += 1
                elif _connection_lost(exc) and lost < 1:
                    # the pool handed out a connection the server dropped (a restart): the pool
                    # drops every such one, and the batch is tried once more
                    lost += 1
                    await self.logs.core.pool.check()
                    continue
                else:
                    raise
            # Refused because something holds our seqs or ids: a commit of ours whose answer
            # was lost, or another writer. Ours are stored: count them as written. The others
            # are numbered and chained again after the stored head, in order.
            stored |= await self.logs.stored_ids([e.id for e in batch])
            await self._renumber({e.execution_id for e in batch}, stored)

    async def _number_headless(self, headless: set[uuid.UUID], size: int) -> int:
        """Number the events logged during an outage after their execution's head. Those of
        an execution that does not exist leave the buffer: their durable callers get
        NotFound, and the error is kept. Returns how many of the first ``size`` left."""
        gone: dict[uuid.UUID, StoreError] = {}
        for execution_id in headless:
            try:
                await self.logs.head(execution_id, reload=True)
            except NotFound as exc:
                gone[execution_id] = exc
        await self._renumber(headless - gone.keys(), set())
        self._headless -= headless
        if not gone:
            return 0
        refused = [e for e in self._buffer if e.execution_id in gone]
        in_batch = sum(1 for e in self._buffer[:size] if e.execution_id in gone)
        self._buffer = [e for e in self._buffer if e.execution_id not in gone]
        self._forget(refused)
        for e in refused:
            if LogEventType(e.event_type) in FLUSHING_EVENTS:
                self._refused[e.n] = gone[e.execution_id]
        self.error = next(iter(gone.values()))
        return in_batch

    async def _renumber(self, execution_ids: set[uuid.UUID], stored: set[uuid.UUID]) -> None:
        heads = {eid: await self.logs.head(eid, reload=True) for eid in execution_ids}
        last_seq = {eid: (head.owner, head.seq) for eid, head in heads.items()}
        for i, e in enumerate(self._buffer):  # no await from here on: log() sees all of it or none
            if e.execution_id in last_seq and e.id not in stored:
                owner, last = last_seq[e.execution_id]
                last_seq[e.execution_id] = (owner, last + 1)
                self._buffer[i] = replace(e, seq=last + 1, user_id=owner)
        self._last_seq.update({eid: last for eid, last in last_seq.items() if eid in self._buffered})

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

    async def close(self) -> None:
        """Flush what is left; the writer may not be used afterwards."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._background is not None:
            await asyncio.gather(self._background, return_exceptions=True)
        await self.flush()

    async def __aenter__(self) -> LogWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __len__(self) -> int:
        return len(self._buffer)


def _unreachable(exc: BaseException) -> bool:
    """The database could not be reached: a broken connection, or none from the pool in time."""
    return isinstance(exc, StoreError) and isinstance(exc.__cause__, psycopg.OperationalError)


def _connection_lost(exc: StoreError) -> bool:
    """The connection broke (not a refusal, not a pool that found no server in time)."""
    cause = exc.__cause__
    return isinstance(cause, psycopg.OperationalError) and not isinstance(cause, psycopg_pool.PoolTimeout)

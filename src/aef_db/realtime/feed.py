"""The change feed behind ``Store.subscribe``: one logical decoding slot per Store,
fanned out in process to any number of subscribers (docs/realtime.md, decision 49).

- Writers pay nothing beyond ``wal_level = logical``: no trigger, no NOTIFY, no table.
- One *temporary* pgoutput slot, on a connection of its own, polled with
  ``pg_logical_slot_get_binary_changes``. A temporary slot dies with its session, so
  a feed that crashes or is killed holds no WAL afterwards; while it runs, each poll
  consumes what it read.
- Routing is by each row's ``user_id``: every select policy on the four tables is
  ``user_id = auth.uid()``, so a user's subscription gets exactly the rows its RLS
  shows, minus the columns ``authenticated`` may not select. A change is one dict
  lookup per change, not one query per subscriber.
- Changes arrive whole transactions at a time, in commit order; a position is the
  commit's LSN and the change's place in its transaction. The last ``window`` changes
  are kept, so a subscriber that comes back with its last position gets what it
  missed, without gap or duplicate, as long as the feed still holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import pq
from psycopg.rows import dict_row

from aef_db import sql as package_sql
from aef_db.errors import AefDbError
from aef_db.realtime import pgoutput
from aef_db.realtime.sources import PollSource, Source, StreamSource

Q = package_sql.queries("realtime/feed.sql")

TABLES = ("aef_executions", "aef_execution_logs", "aef_checkpoints", "aef_browser_sessions")
OPERATIONS = ("insert", "update", "delete")
_EXECUTION_KEY = {  # the column that names a change's execution, per table
    "aef_executions": "id",
    "aef_execution_logs": "execution_id",
    "aef_checkpoints": "execution_id",
    "aef_browser_sessions": "lease_execution_id",
}


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a change sits in commit order: its transaction's commit LSN, then its place in it."""

    lsn: int
    index: int

    def __str__(self) -> str:
        return f"{self.lsn >> 32:X}/{self.lsn & 0xFFFFFFFF:X}:{self.index}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """The inverse of ``str``: ``"16/B374D848:3"``."""
        try:
            lsn, index = text.rsplit(":", 1)
            high, low = lsn.split("/")
            return cls((int(high, 16) << 32) | int(low, 16), int(index))
        except ValueError:
            raise ValueError(f"position: {text!r} is not of the form 'XX/XXXXXXXX:N'") from None


@dataclass(frozen=True, slots=True)
class Change:
    """One row changed by a committed transaction. ``old`` is the row before an update or
    delete: whole for executions and checkpoints (replica identity full), the key alone
    for logs and sessions. A session's ``session_data`` is never part of a change."""

    table: str
    op: str  # insert, update, delete
    new: dict[str, Any] | None
    old: dict[str, Any] | None
    commit_time: datetime
    position: Position

    @property
    def row(self) -> dict[str, Any]:
        """The row as it is now, or as it was before a delete."""
        return self.new if self.new is not None else (self.old or {})

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.row.get("user_id")

    @property
    def execution_id(self) -> uuid.UUID | None:
        return self.row.get(_EXECUTION_KEY[self.table])


class FeedError(AefDbError):
    """The feed cannot give this subscriber a gap-free stream; ``position`` is the last
    change it delivered (None before the first), to subscribe again ``after`` it."""

    def __init__(self, message: str, position: Position | None = None) -> None:
        super().__init__(message)
        self.position = position


class PositionLost(FeedError):
    """``after`` is older than what the feed still holds: read the tables again."""


class FeedInterrupted(FeedError):
    """The feed's connection broke; changes committed meanwhile were not decoded."""


class SubscriberTooSlow(FeedError):
    """The subscriber's queue filled up: it was dropped so the others keep going."""


@dataclass(frozen=True, slots=True)
class Filter:
    """What a subscription asks for. ``user_id`` None means every user's rows (the engine only)."""

    user_id: uuid.UUID | None = None
    execution_id: uuid.UUID | None = None
    tables: frozenset[str] = frozenset(TABLES)
    events: frozenset[str] = frozenset(OPERATIONS)
    user_view: bool = False  # a signed-in user's: the columns authenticated may select

    @classmethod
    def of(
        cls,
        *,
        user_id: uuid.UUID | None,
        execution_id: uuid.UUID | None,
        tables: Iterable[str] | None,
        events: Iterable[str] | None,
        user_view: bool = False,
    ) -> Filter:
        chosen_tables = frozenset(TABLES if tables is None else tables)
        chosen_events = frozenset(OPERATIONS if events is None else events)
        if unknown := sorted(chosen_tables - set(TABLES)):
            raise ValueError(f"tables: {unknown} are not among {list(TABLES)}")
        if unknown := sorted(chosen_events - set(OPERATIONS)):
            raise ValueError(f"events: {unknown} are not among {list(OPERATIONS)}")
        if not chosen_tables or not chosen_events:
            raise ValueError("tables and events: each needs at least one value")
        if user_view and user_id is None:
            raise ValueError("user_id: a user's view needs the user")
        return cls(user_id, execution_id, chosen_tables, chosen_events, user_view)

    def admits(self, change: Change) -> bool:
        return (
            change.table in self.tables
            and change.op in self.events
            and (self.execution_id is None or change.execution_id == self.execution_id)
        )


_END = object()  # queued to end a subscription


class Subscription:
    """An async iterator of ``Change``; ``async with`` starts the feed and leaves it.

    Entering returns once the feed decodes: every change committed after that is
    delivered, in commit order. ``position`` is the last change delivered.
    """

    def __init__(self, feed: ChangeFeed, want: Filter, after: Position | None, queue_size: int) -> None:
        self._feed, self.filter, self.position = feed, want, after
        # a deque and one waiter rather than asyncio.Queue: the feed offers every change
        # to every subscriber it concerns, so this is the fan-out's inner loop
        self._queue: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.queue_size = queue_size
        self._state = "new"  # new -> attached -> ended

    async def __aenter__(self) -> Subscription:
        if self._state == "new":
            await self._feed.attach(self)
            self._state = "attached"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Leave the feed; changes already queued are dropped."""
        if self._state != "ended":
            self._state = "ended"
            self._feed.detach(self)
            self._queue.clear()
            self._push(_END)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Change:
        if self._state == "new":
            await self.__aenter__()
        while not self._queue:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._queue[0]
        if item is _END:  # left queued: every later call ends too
            raise StopAsyncIteration
        if isinstance(item, FeedError):
            self._queue[0] = _END
            raise item
        self._queue.popleft()
        self.position = item.position
        return item  # type: ignore[no-any-return]

    def _push(self, item: object) -> None:
        self._queue.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def offer(self, change: Change) -> bool:
        """Queue a change; False (and the subscription ended) when ``queue_size`` already wait."""
        if len(self._queue) >= self.queue_size:
            last = self._queue[-1].position if self._queue else self.position
            self.end(SubscriberTooSlow(f"more than {self.queue_size} changes waited", last))
            return False
        self._push(change)
        return True

    def end(self, reason: FeedError | None = None) -> None:
        """Deliver what is queued, then stop (or raise ``reason``)."""
        self._feed.detach(self)
        self._state = "ended"
        self._push(_END if reason is None else reason)


@dataclass
class _Table:
    name: str
    columns: tuple[str, ...]
    loaders: tuple[Callable[[bytes], Any], ...]
    user_columns: frozenset[str]  # what authenticated may select
    user_sees_all: bool = field(init=False)  # every column: a user's view needs no copy

    def __post_init__(self) -> None:
        self.user_sees_all = self.user_columns.issuperset(self.columns)


@dataclass
class _Transaction:
    lsn: int
    commit_time: datetime
    rows: list[tuple[_Table, pgoutput.RowChange]] = field(default_factory=list)


class ChangeFeed:
    """One per Store: a temporary slot on a connection of its own, started by the first
    subscription and stopped ``linger`` seconds after the last one leaves."""

    def __init__(
        self,
        url: str,
        *,
        window: int = 10_000,
        poll_interval: float = 0.01,
        max_changes: int = 1_000,
        linger: float = 30.0,
        queue_size: int = 10_000,
    ) -> None:
        self.url, self.window, self.poll_interval = url, window, poll_interval
        self.max_changes, self.linger, self.queue_size = max_changes, linger, queue_size
        self.closed = False
        self.slot: str | None = None
        self.decoded = 0  # changes decoded since the feed was created: for tests and benchmarks
        self._source: Source | None = None
        self.mode: str | None = None  # "stream" or "poll", once started
        self.prefer_stream = True
        self._task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._ring: deque[Change] = deque(maxlen=window)
        self._horizon = Position(0, 0)  # the feed holds every change after this
        self._relations: dict[int, _Table] = {}
        self._user_columns: dict[str, frozenset[str]] = {}
        self._by_user: dict[uuid.UUID | None, set[Subscription]] = {}
        self._stopper: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Future[None] | None = None

    def subscribe(
        self,
        *,
        user_id: uuid.UUID | None = None,
        execution_id: uuid.UUID | None = None,
        tables: Iterable[str] | None = None,
        events: Iterable[str] | None = None,
        after: Position | str | None = None,
        user_view: bool = False,
    ) -> Subscription:
        want = Filter.of(user_id=user_id, execution_id=execution_id, tables=tables, events=events, user_view=user_view)
        start = Position.parse(after) if isinstance(after, str) else after
        return Subscription(self, want, start, self.queue_size)

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self._by_user.values())

    # -- subscribers coming and going -------------------------------------------

    async def attach(self, sub: Subscription) -> None:
        if self.closed:
            raise FeedError("the store is closed")
        await self._start()
        # no await from here on: the poll loop sees the subscriber with its replay, or not at all
        after = sub.position
        if after is not None:
            if after < self._horizon:
                raise PositionLost(f"the feed holds changes after {self._horizon} only, not after {after}", after)
            for change in self._ring:
                if change.position > after and self._admits(sub, change) and not sub.offer(self._shaped(sub, change)):
                    return
        self._by_user.setdefault(sub.filter.user_id, set()).add(sub)
        if self._stopper is not None:
            self._stopper.cancel()
            self._stopper = None

    def detach(self, sub: Subscription) -> None:
        group = self._by_user.get(sub.filter.user_id)
        if group is not None:
            group.discard(sub)
            if not group:
                del self._by_user[sub.filter.user_id]
        if not self._by_user and self._task is not None and self._stopper is None and not self.closed:
            self._stopper = asyncio.get_running_loop().call_later(self.linger, self._stop_soon)

    def _stop_soon(self) -> None:
        self._stopper = None
        if not self._by_user:
            self._stopping = asyncio.ensure_future(self._stop())

    # -- the slot ------------------------------------------------------------------

    async def _start(self) -> None:
        async with self._start_lock:
            if self._task is not None:
                return
            async with await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, row_factory=dict_row, application_name="aef-db change feed"
            ) as conn:
                await self._preflight(conn)
                self._user_columns = {
                    r["table_name"]: frozenset(r["columns"])
                    for r in await (await conn.execute(Q["feed_user_columns"])).fetchall()
                }
            # unique per feed: two stores in one process, or two processes, never clash
            self.slot = f"aef_feed_{os.getpid()}_{uuid.uuid4().hex[:12]}"
            source = await self._open_source(self.slot)
            self._source = source
            self.mode = source.mode
            self._horizon = Position(source.start_lsn, 0)
            self._ring.clear()
            self._relations.clear()
            self._task = asyncio.ensure_future(self._read_loop(source))

    async def _open_source(self, slot: str) -> Source:
        """A replication stream where the server takes replication connections, else polling."""
        if self.prefer_stream:
            try:
                return await StreamSource.open(self.url, slot, "aef-db change feed")
            except psycopg.OperationalError:
                pass  # e.g. a pooler, or pg_hba without a replication line
        source = await PollSource.open(self.url, slot, "aef-db change feed")
        source.interval, source.max_changes = self.poll_interval, self.max_changes
        return source

    @staticmethod
    async def _preflight(conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        found = await (await conn.execute(Q["feed_preflight"])).fetchone()
        assert found is not None
        if not found["published"]:
            raise FeedError("the change feed needs the publication aef_changes: run aef-db migrate up")
        if not found["may_decode"]:
            raise FeedError(
                "the change feed decodes the WAL, which needs a login role with REPLICATION"
                " (Supabase's postgres has it; service_role and authenticated do not)"
            )

    async def _stop(self, reason: FeedError | None = None) -> None:
        task, source = self._task, self._source
        self._task, self._source = None, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if source is not None:
            with contextlib.suppress(Exception):
                await source.close()  # the temporary slot goes with the session
        if reason is not None:
            for sub in [s for group in self._by_user.values() for s in group]:
                sub.end(reason)

    async def close(self) -> None:
        """End every subscription and drop the slot."""
        self.closed = True
        if self._stopper is not None:
            self._stopper.cancel()
            self._stopper = None
        subs = [s for group in self._by_user.values() for s in group]
        for sub in subs:
            sub.end()
        await self._stop()

    async def _read_loop(self, source: Source) -> None:
        pending: _Transaction | None = None
        try:
            async for batch in source.batches():
                for data in batch:
                    message = pgoutput.parse(data)
                    pending = self._read(message, pending)
                    if isinstance(message, pgoutput.Commit):
                        source.confirm(message.end_lsn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            last = self._ring[-1].position if self._ring else self._horizon
            await self._stop(FeedInterrupted(f"the change feed lost its connection: {exc}", last))

    def _read(self, message: pgoutput.Message, pending: _Transaction | None) -> _Transaction | None:
        if isinstance(message, pgoutput.Begin):
            return _Transaction(message.final_lsn, message.commit_time)
        if isinstance(message, pgoutput.Relation):
            self._relations[message.oid] = self._table(message)
        elif isinstance(message, pgoutput.RowChange) and pending is not None:
            pending.rows.append((self._relations[message.relation_oid], message))
        elif isinstance(message, pgoutput.Commit) and pending is not None:
            self._publish(pending)
            return None
        return pending

    def _table(self, relation: pgoutput.Relation) -> _Table:
        assert self._source is not None
        conn = self._source.connection
        adapters = conn.adapters
        loaders: list[Callable[[bytes], Any]] = []
        for column in relation.columns:
            loader_class = adapters.get_loader(column.type_oid, pq.Format.TEXT)
            if loader_class is None:  # an enum: its label
                loaders.append(_text)
            else:
                loaders.append(loader_class(column.type_oid, conn).load)
        return _Table(
            relation.name,
            tuple(c.name for c in relation.columns),
            tuple(loaders),
            self._user_columns.get(relation.name, frozenset()),
        )

    # -- fan-out ---------------------------------------------------------------------

    def _publish(self, txn: _Transaction) -> None:
        for index, (table, raw) in enumerate(txn.rows):
            old = _row(table, raw.old, None, key_only=raw.old_is_key)
            new = _row(table, raw.new, old)
            change = Change(table.name, raw.op, new, old, txn.commit_time, Position(txn.lsn, index))
            self.decoded += 1
            if len(self._ring) == self._ring.maxlen:
                self._horizon = self._ring[0].position
            self._ring.append(change)
            owner = change.user_id
            # one copy per change for every user view, and none when a user may see every column
            seen_by_user: Change | None = change if table.user_sees_all else None
            for key in (None, owner) if owner is not None else (None,):
                for sub in list(self._by_user.get(key, ())):
                    if not sub.filter.admits(change):
                        continue
                    if sub.filter.user_view:
                        seen_by_user = seen_by_user or self._as_user_sees(change)
                        sub.offer(seen_by_user)
                    else:
                        sub.offer(change)

    def _admits(self, sub: Subscription, change: Change) -> bool:
        mine = sub.filter.user_id is None or change.user_id == sub.filter.user_id
        return mine and sub.filter.admits(change)

    def _shaped(self, sub: Subscription, change: Change) -> Change:
        return self._as_user_sees(change) if sub.filter.user_view else change

    def _as_user_sees(self, change: Change) -> Change:
        """The change with the columns ``authenticated`` may select."""
        allowed = self._user_columns.get(change.table, frozenset())
        return Change(
            change.table,
            change.op,
            None if change.new is None else {k: v for k, v in change.new.items() if k in allowed},
            None if change.old is None else {k: v for k, v in change.old.items() if k in allowed},
            change.commit_time,
            change.position,
        )


def _text(data: bytes) -> str:
    return data.decode()


def _row(
    table: _Table, values: tuple[object, ...] | None, old: dict[str, Any] | None, *, key_only: bool = False
) -> dict[str, Any] | None:
    if values is None:
        return None
    if not key_only and pgoutput.UNCHANGED not in values:  # most rows: every value sent
        return {
            name: None if value is None else load(value)  # type: ignore[arg-type]
            for name, load, value in zip(table.columns, table.loaders, values, strict=True)
        }
    row: dict[str, Any] = {}
    for name, load, value in zip(table.columns, table.loaders, values, strict=True):
        if value is pgoutput.UNCHANGED:
            if old is not None and name in old:  # a large value the update left alone
                row[name] = old[name]
        elif value is None:
            if not key_only:  # a key-only old tuple sends every other column as null: not values
                row[name] = None
        else:
            row[name] = load(value)  # type: ignore[arg-type]
    return row

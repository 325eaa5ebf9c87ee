"""Where the change feed reads pgoutput messages from: a replication stream, or polling.

- ``StreamSource`` (preferred): a replication connection (``replication=database``)
  with ``START_REPLICATION``. The server decodes each transaction once, as it
  commits, and sends it at once; the feed reports what it has processed, so the slot
  and the WAL it holds move on.
- ``PollSource`` (fallback, where replication connections are refused, e.g. through a
  pooler): ``pg_logical_slot_get_binary_changes`` every few milliseconds. Each call
  decodes again from the slot's restart_lsn, which PostgreSQL 15 moves only every 15
  seconds, so it costs far more server CPU and latency.

Both use a temporary slot, which dies with its session: a feed that dies holds no WAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

import psycopg
from psycopg import pq
from psycopg.rows import dict_row

from aef_db import sql as package_sql

Q = package_sql.queries("realtime/feed.sql")
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
_STATUS_EVERY = 1.0  # seconds between standby status updates (well under wal_sender_timeout)


class Source(Protocol):
    mode: str
    start_lsn: int  # decoding starts here: every transaction committing after it is delivered
    connection: psycopg.AsyncConnection[Any]  # its session: the slot lives as long as it does

    def batches(self) -> AsyncIterator[list[bytes]]:
        """pgoutput messages, in order, as many at a time as have arrived (one resumption
        of the reader per batch, not per message)."""
        ...

    def confirm(self, lsn: int) -> None:
        """Everything up to ``lsn`` has been processed."""

    async def close(self) -> None: ...


def parse_lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def _lsn_text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


class StreamSource:
    """A temporary slot streamed over a replication connection."""

    mode = "stream"

    def __init__(self, conn: psycopg.AsyncConnection[Any], slot: str, start_lsn: int) -> None:
        self._conn = self.connection = conn
        self.slot, self.start_lsn = slot, start_lsn
        self._flushed = start_lsn
        self._ready: asyncio.Future[None] | None = None
        self._watching = False
        self._ticker: asyncio.TimerHandle | None = None
        self._last_status = 0.0

    @classmethod
    async def open(cls, url: str, slot: str, application_name: str) -> StreamSource:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, replication="database", application_name=application_name
        )
        try:
            # replication commands go through the simple query protocol: no parameters
            created = await (await conn.execute(Q["stream_create_slot"].replace("{slot}", _ident(slot)))).fetchone()
            assert created is not None
            source = cls(conn, slot, parse_lsn(created[1]))
            start = Q["stream_start"].replace("{slot}", _ident(slot)).replace("{lsn}", _lsn_text(source.start_lsn))
            await source._start(start)
        except BaseException:
            await conn.close()
            raise
        return source

    async def _start(self, command: str) -> None:
        pg = self._conn.pgconn
        pg.send_query(command.encode())
        while pg.flush():
            await self._readable()
        while True:
            pg.consume_input()
            if not pg.is_busy():
                break
            await self._readable()
        result = pg.get_result()
        if result is None or result.status != pq.ExecStatus.COPY_BOTH:
            message = (result.error_message if result is not None else pg.error_message).decode(errors="replace")
            raise psycopg.OperationalError(f"START_REPLICATION failed: {message.strip()}")

    async def _readable(self) -> None:
        """Until the socket has data, or the next tick (every ``_STATUS_EVERY`` seconds).
        The reader and the tick stay registered between calls: the stream waits once per
        burst of messages, at every commit, and a timer per wait cost more than the wait."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._ready = ready
        if not self._watching:
            loop.add_reader(self._conn.pgconn.socket, self._wake)
            self._tick()
            self._watching = True
        await ready

    def _wake(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    def _tick(self) -> None:
        self._wake()
        self._ticker = asyncio.get_running_loop().call_later(_STATUS_EVERY, self._tick)

    def _unwatch(self) -> None:
        if self._watching:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._conn.pgconn.socket)
            if self._ticker is not None:
                self._ticker.cancel()
            self._watching = False

    async def batches(self) -> AsyncIterator[list[bytes]]:
        pg = self._conn.pgconn
        while True:
            batch: list[bytes] = []
            while True:  # every message whole in libpq's buffer
                size, data = pg.get_copy_data(1)
                if size == 0:
                    break
                if size < 0:
                    raise psycopg.OperationalError(
                        f"the replication stream ended: {pg.error_message.decode(errors='replace').strip()}"
                    )
                kind = data[0]
                if kind == 0x77:  # 'w' XLogData: start, end, send time, then the message
                    batch.append(bytes(data[25:]))
                elif kind == 0x6B and data[17]:  # 'k' keepalive asking for an answer now
                    self._status(force=True)
            if batch:
                yield batch
                pg.consume_input()  # the socket may hold more already: read it before waiting on it
                continue
            self._status(force=False)
            await self._readable()
            pg.consume_input()

    def confirm(self, lsn: int) -> None:
        self._flushed = max(self._flushed, lsn)
        self._status(force=False)

    def _status(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_status < _STATUS_EVERY:
            return
        self._last_status = now
        sent_at = time.time_ns() // 1000 - _PG_EPOCH_US
        message = b"r" + struct.pack("!QQQqB", self._flushed, self._flushed, self._flushed, sent_at, 0)
        pg = self._conn.pgconn
        pg.put_copy_data(message)
        pg.flush()

    async def close(self) -> None:
        """End the stream and drop the slot on the same session, so that it is gone when
        this returns (a walsender that exits drops a temporary slot only a moment later)."""
        try:
            await asyncio.wait_for(self._end_stream(), 2.0)
            self._unwatch()
            await self._conn.execute(Q["stream_drop_slot"].replace("{slot}", _ident(self.slot)))
        except Exception:  # a broken session: its end drops the slot
            pass
        finally:
            self._unwatch()  # before the socket closes
            await self._conn.close()

    async def _end_stream(self) -> None:
        pg = self._conn.pgconn
        pg.put_copy_end()
        while pg.flush():
            await self._readable()
        while True:
            pg.consume_input()
            size, _ = pg.get_copy_data(1)
            if size > 0:
                continue  # what the server sent before it saw the end
            if size == 0:
                await self._readable()
                continue
            break
        while True:  # START_REPLICATION's own result, then none
            pg.consume_input()
            if pg.is_busy():
                await self._readable()
                continue
            if pg.get_result() is None:
                return


class PollSource:
    """A temporary slot read with pg_logical_slot_get_binary_changes, on a plain connection."""

    mode = "poll"

    def __init__(self, conn: psycopg.AsyncConnection[dict[str, Any]], slot: str, start_lsn: int) -> None:
        self._conn = self.connection = conn
        self.slot, self.start_lsn = slot, start_lsn
        self.interval, self.max_changes = 0.01, 1_000

    @classmethod
    async def open(cls, url: str, slot: str, application_name: str) -> PollSource:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, row_factory=dict_row, application_name=application_name
        )
        try:
            row = await (await conn.execute(Q["feed_create_slot"], {"slot": slot})).fetchone()
            assert row is not None
        except BaseException:
            await conn.close()
            raise
        return cls(conn, slot, int(row["lsn"]))

    async def batches(self) -> AsyncIterator[list[bytes]]:
        params = {"slot": self.slot, "max_changes": self.max_changes}
        while True:
            rows = await (await self._conn.execute(Q["feed_poll"], params)).fetchall()
            if rows:
                yield [bytes(r["data"]) for r in rows]
            else:
                await asyncio.sleep(self.interval)

    def confirm(self, lsn: int) -> None:
        """Reading consumed it already."""

    async def close(self) -> None:
        """Drop the slot on its own session, so that it is gone when this returns (a backend
        that exits drops a temporary slot only a moment later: a DROP DATABASE right after
        would find it still active)."""
        try:
            await asyncio.wait_for(self._conn.execute(Q["feed_drop_slot"], {"slot": self.slot}), 2.0)
        except Exception:  # a broken session: its end drops the slot
            pass
        finally:
            await self._conn.close()


def _ident(name: str) -> str:
    """A slot name as the replication grammar takes it (the feed makes them: [a-z0-9_])."""
    if not name.replace("_", "").isalnum() or not name.islower():
        raise ValueError(f"slot: {name!r} is not a plain lower-case name")
    return name

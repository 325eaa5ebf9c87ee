"""The batched log writer: bounded delay and size, forced flushes, order, concurrency,
failure and a writer killed mid-batch."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest
from psycopg_pool import PoolTimeout

from aef_db.store import SeqConflict, Store, StoreError

from .. import factories as f
from ..conftest import Database
from ..store_helpers import run


def seqs(db: Database, execution_id: uuid.UUID) -> list[int]:
    with db.connect() as conn:
        return [
            r["seq"]
            for r in conn.execute(
                "select seq from public.aef_execution_logs where execution_id = %s order by seq", (execution_id,)
            )
        ]


def test_buffered_events_flush_after_the_delay(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")

    async def body(store: Store) -> tuple[int, int]:
        # 1.5 s: a loaded machine must not reach the delay before the first count; then
        # wait for the flush by polling (up to 30 s), not by a fixed sleep
        async with store.logs.writer(max_delay=1.5) as writer:
            for i in range(5):
                await writer.log(execution_id, "browser_action", data={"i": i})
            before = f.one(migrated, "select count(*) from public.aef_execution_logs")
            after = before
            for _ in range(300):
                await asyncio.sleep(0.1)
                after = f.one(migrated, "select count(*) from public.aef_execution_logs")
                if after:
                    break
        return before, after

    assert run(migrated, body) == (0, 5)
    assert seqs(migrated, execution_id) == [1, 2, 3, 4, 5]


def test_forcing_events_are_durable_when_log_returns(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")

    async def body(store: Store) -> list[int]:
        counts = []
        writer = store.logs.writer(max_delay=60)
        await writer.log(execution_id, "step_started", step_id="a")
        counts.append(f.one(migrated, "select count(*) from public.aef_execution_logs"))
        for event in ("step_completed", "step_failed", "checkpoint_reached", "error_occurred"):
            await writer.log(execution_id, event, step_id="a")
            counts.append(f.one(migrated, "select count(*) from public.aef_execution_logs"))
        await writer.log(execution_id, "loop_iteration")
        counts.append(f.one(migrated, "select count(*) from public.aef_execution_logs"))
        await writer.close()
        counts.append(f.one(migrated, "select count(*) from public.aef_execution_logs"))
        return counts

    assert run(migrated, body) == [0, 2, 3, 4, 5, 5, 6]


def test_the_buffer_is_bounded(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")

    async def body(store: Store) -> int:
        peak = 0
        async with store.logs.writer(max_batch=10, max_buffer=25, max_delay=60) as writer:
            for i in range(200):
                await writer.log(execution_id, "browser_action", data={"i": i})
                peak = max(peak, len(writer))
        return peak

    assert run(migrated, body) <= 25
    assert seqs(migrated, execution_id) == list(range(1, 201))


def test_a_failed_flush_raises_and_keeps_its_events(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")

    async def body(store: Store) -> tuple[int, int]:
        writer = store.logs.writer(max_delay=60)
        await writer.log(execution_id, "browser_action")
        await writer.log(execution_id, "browser_action")
        with migrated.connect(superuser=True) as conn:  # the database refuses writes for a moment
            conn.execute("alter table public.aef_execution_logs add constraint no_writes check (false) not valid")
        with pytest.raises(StoreError):
            await writer.flush()
        kept = len(writer)
        with migrated.connect(superuser=True) as conn:
            conn.execute("alter table public.aef_execution_logs drop constraint no_writes")
        await writer.close()
        return kept, len(writer)

    assert run(migrated, body) == (2, 0)
    assert seqs(migrated, execution_id) == [1, 2]


def test_a_writer_renumbers_after_another_writer_and_keeps_its_order(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")

    async def body(store: Store) -> None:
        writer = store.logs.writer(max_delay=60)
        await writer.log(execution_id, "browser_action", data={"mine": 1})  # numbered 1 from the head
        await writer.log(execution_id, "browser_action", data={"mine": 2})
        f.log(migrated, execution_id, 2)  # someone else takes seqs 1 and 2 meanwhile
        assert await writer.flush() == 2

    run(migrated, body)
    with migrated.connect() as conn:
        rows = conn.execute(
            "select seq, data from public.aef_execution_logs where execution_id = %s order by seq", (execution_id,)
        ).fetchall()
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert [r["data"].get("mine") for r in rows] == [None, None, 1, 2]


def test_eight_writers_on_their_own_executions_and_two_on_one(migrated: Database) -> None:
    own = [f.execution(migrated, status="running") for _ in range(8)]
    shared = f.execution(migrated, status="running")

    async def body(store: Store) -> None:
        async def writer_on(execution_id: uuid.UUID, n: int, tag: str) -> None:
            async with store.logs.writer(max_batch=50, max_delay=0.05) as writer:
                for i in range(n):
                    await writer.log(execution_id, "browser_action", data={"tag": tag, "i": i})

        async def appender(tag: str) -> None:
            rng = random.Random(tag)
            deadline = asyncio.get_running_loop().time() + 30
            for i in range(100):
                while True:  # the other writer of this execution may take the seq first: back off, jittered
                    try:
                        await store.logs.append(shared, "browser_action", data={"tag": tag, "i": i})
                        break
                    except SeqConflict:
                        if asyncio.get_running_loop().time() > deadline:
                            raise AssertionError("never got a seq") from None
                        await asyncio.sleep(rng.uniform(0, 0.005))

        await asyncio.gather(*(writer_on(e, 300, f"w{k}") for k, e in enumerate(own)), appender("a"), appender("b"))

    run(migrated, body, max_size=10)
    for execution_id in own:
        assert seqs(migrated, execution_id) == list(range(1, 301))
    with migrated.connect() as conn:
        shared_rows = conn.execute(
            "select seq, data from public.aef_execution_logs where execution_id = %s order by seq", (shared,)
        ).fetchall()
    assert [r["seq"] for r in shared_rows] == list(range(1, 201))
    for tag in ("a", "b"):  # nothing lost, and each writer's events in its own order
        assert [r["data"]["i"] for r in shared_rows if r["data"]["tag"] == tag] == list(range(100))


WRITER_SCRIPT = textwrap.dedent("""
    import asyncio, sys, uuid
    from aef_db.store import Store

    async def main(url, execution_id):
        async with Store(url, cipher=None) as store:
            writer = store.logs.writer(max_delay=3600, max_batch=100000, max_buffer=100000)
            for i in range(50):
                await writer.log(uuid.UUID(execution_id), "browser_action", data={"i": i})
            await writer.log(uuid.UUID(execution_id), "step_completed")   # forced: durable
            print("acknowledged", 51, flush=True)
            for i in range(50):
                await writer.log(uuid.UUID(execution_id), "browser_action", data={"i": 100 + i})
            print("buffered", flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""")


def test_a_writer_killed_mid_batch_loses_nothing_it_acknowledged(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, migrated.url, str(execution_id)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["acknowledged", "51"]
        assert proc.stdout.readline().strip() == "buffered"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seqs(migrated, execution_id) == list(range(1, 52))  # acknowledged: all there; unflushed: none


def test_tasks_sharing_a_writer_commit_their_durable_events_together(migrated: Database) -> None:
    """Group commit: eight tasks, one writer, 25 steps each; a step_completed returns once
    its own commit is done, and the events of tasks that wait at the same time share it."""
    executions = [f.execution(migrated, status="running") for _ in range(8)]

    async def body(store: Store) -> tuple[int, int]:
        writer = store.logs.writer(max_delay=60)

        async def task(execution_id: uuid.UUID) -> None:
            for i in range(25):
                await writer.log(execution_id, "step_started", step_id=f"s{i}")
                await writer.log(execution_id, "step_completed", step_id=f"s{i}")
                assert len(writer) == 0 or all(e.execution_id != execution_id for e in writer._buffer)

        await asyncio.gather(*(task(e) for e in executions))
        assert len(writer) == 0  # nothing left: every task's last event was durable
        return writer.flushed, writer.flushes

    flushed, flushes = run(migrated, body)
    assert flushed == 400
    for execution_id in executions:
        assert seqs(migrated, execution_id) == list(range(1, 51))
    # one commit per transaction id: rows committed together share their xmin
    commits = f.one(migrated, "select count(distinct xmin::text) from public.aef_execution_logs")
    assert commits == flushes
    # 200 durable events; one commit each without group commit. Eight tasks waiting at
    # once share a commit: a few more than 200 / 8 commits, far fewer than 200
    assert commits <= 200 / 3, f"{commits} commits for 200 durable events"


async def reconnected(store: Store) -> None:
    """psycopg_pool reconnects with a backoff (about 1 s, then doubling): on a loaded machine
    its next attempt can come later than a 1 s pool timeout. Wait for it instead of racing it."""
    for _ in range(60):
        try:
            async with store.core.pool.connection(timeout=1):
                return
        except PoolTimeout:
            continue
    raise AssertionError("the pool did not reconnect within a minute")


def test_events_of_an_execution_new_to_the_writer_are_taken_during_an_outage(migrated: Database) -> None:
    """The database refuses the store's logins and its sessions are cut: log() still buffers
    events of an execution it never saw, numbers them after the stored head once the
    database is back, and refuses only the events of an execution that does not exist."""
    known = f.execution(migrated, status="running")
    fresh = f.execution(migrated, status="running")
    f.log(migrated, fresh, 2)  # written by someone else: the writer must number after them
    missing = uuid.uuid4()
    name = migrated.url.rsplit("/", 1)[1].split("?")[0]

    def outage(on: bool) -> None:
        with migrated.connect(superuser=True) as conn:
            conn.execute(f"alter database {name} connection limit {0 if on else -1}")
            if on:
                conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity"
                    " where application_name = 'aef-db store' and datname = current_database()"
                )

    async def body(store: Store) -> tuple[BaseException | None, int]:
        writer = store.logs.writer(max_delay=60)
        await writer.log(known, "step_completed")
        outage(True)
        try:
            await writer.log(fresh, "browser_action")
            await writer.log(missing, "browser_action")
            await writer.log(known, "browser_action")
            with pytest.raises(StoreError, match="connection"):  # a durable event cannot be, meanwhile
                await writer.log(fresh, "step_completed")
            assert len(writer) == 4
        finally:
            outage(False)
        await reconnected(store)
        # the writer has not reached the database since: this one is numbered at its flush too
        refused = await asyncio.gather(writer.log(missing, "step_completed"), return_exceptions=True)
        await writer.log(fresh, "step_completed")  # it carries on
        await writer.close()
        return refused[0], len(writer)

    error, left = run(migrated, body, pool_timeout=1)
    assert isinstance(error, StoreError) and error.sqlstate == "P0002", error
    assert left == 0
    assert seqs(migrated, fresh) == [1, 2, 3, 4, 5]
    assert seqs(migrated, known) == [1, 2]
    assert f.one(migrated, "select count(*) from public.aef_execution_logs where execution_id = %s", (missing,)) == 0

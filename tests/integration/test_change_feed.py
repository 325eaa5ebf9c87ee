"""Store.subscribe: the change feed decoded from a temporary pgoutput slot (docs/realtime.md)."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aef_db.store import Change, FeedInterrupted, Position, PositionLost, Store, SubscriberTooSlow, Subscription

from .. import factories as f
from ..conftest import Database
from ..store_helpers import run

OTHER = uuid.UUID(int=0xB0B)
TABLES = ("aef_executions", "aef_execution_logs", "aef_checkpoints", "aef_browser_sessions")


async def take(sub: Subscription, n: int, timeout: float = 10.0) -> list[Change]:
    """The next ``n`` changes, or fail after ``timeout`` seconds."""
    got: list[Change] = []

    async def collect() -> None:
        async for change in sub:
            got.append(change)
            if len(got) == n:
                return

    try:
        await asyncio.wait_for(collect(), timeout)
    except TimeoutError:
        pytest.fail(f"received {len(got)} of {n} changes: {[(c.table, c.op) for c in got]}")
    return got


async def quiet(sub: Subscription, seconds: float = 0.5) -> list[Change]:
    """Whatever arrives within ``seconds`` (for checks that nothing does)."""
    got: list[Change] = []
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(_drain(sub, got), seconds)
    return got


async def _drain(sub: Subscription, into: list[Change]) -> None:
    async for change in sub:
        into.append(change)


def in_thread(db: Database, work: Callable[[], Any]) -> Awaitable[Any]:
    return asyncio.get_running_loop().run_in_executor(None, work)


def slots(db: Database) -> list[dict[str, Any]]:
    return (
        db.shared(superuser=True)
        .execute("select slot_name, temporary, active from pg_replication_slots where slot_name like 'aef_feed_%'")
        .fetchall()
    )


def test_the_owner_sees_each_change_of_their_rows_in_commit_order(migrated: Database) -> None:
    async def body(store: Store) -> list[Change]:
        async with store.as_user(f.OWNER).subscribe() as sub:
            execution = f.execution(migrated, status="running")
            f.log(migrated, execution, 3)
            f.checkpoint(migrated, execution)
            # the insert, its move to running, 3 log events, the checkpoint; then nothing more
            changes = await take(sub, 6)
            assert await quiet(sub, 0.3) == []
            return changes

    changes = run(migrated, body)
    assert all(c.user_id == f.OWNER for c in changes)
    assert changes == sorted(changes, key=lambda c: c.position)
    assert len({c.position for c in changes}) == len(changes)
    first = changes[0]
    assert (first.table, first.op) == ("aef_executions", "insert")
    logs = [c for c in changes if c.table == "aef_execution_logs"]
    seqs = [c.new["seq"] for c in logs if c.new is not None]
    assert seqs == sorted(seqs) and len(seqs) >= 3
    assert isinstance(first.new and first.new["id"], uuid.UUID)


def test_updates_carry_the_old_row_for_executions(migrated: Database) -> None:
    async def body(store: Store) -> list[Change]:
        execution = f.execution(migrated)
        async with store.subscribe(tables=["aef_executions"], events=["update"]) as sub:
            migrated.shared().execute("update public.aef_executions set status = 'running' where id = %s", (execution,))
            return await take(sub, 1)

    (change,) = run(migrated, body)
    assert change.old is not None and change.new is not None
    assert (change.old["status"], change.new["status"]) == ("idle", "running")


FILTERS = [
    {"tables": tables, "events": events, "execution": execution}
    for tables, events, execution in itertools.product(
        [None, ["aef_executions"], ["aef_execution_logs", "aef_checkpoints"]],
        [None, ["insert"], ["update", "delete"]],
        [False, True],
    )
]


def test_user_b_never_receives_a_row_of_user_a_through_any_filter(migrated: Database) -> None:
    async def body(store: Store) -> list[Change]:
        a_execution = f.execution(migrated, f.OWNER)
        b_execution = f.execution(migrated, OTHER)
        subs = []
        for spec in FILTERS:
            # B asking for A's execution by id must still get nothing of it
            target = a_execution if spec["execution"] else None
            sub = store.as_user(OTHER).subscribe(tables=spec["tables"], events=spec["events"], execution_id=target)
            subs.append(await sub.__aenter__())
        engine_for_b = await store.subscribe(user_id=OTHER).__aenter__()
        f.log(migrated, a_execution, 2)
        f.checkpoint(migrated, a_execution)
        f.session(migrated, f.OWNER, session_data={"cookie": "a-secret"})
        f.log(migrated, b_execution, 1)  # B's own change: proves the subscriptions are live
        b_seen = await take(engine_for_b, 1)
        received = []
        for sub in subs:
            received += await quiet(sub, 0.05)
            await sub.close()
        await engine_for_b.close()
        return received + b_seen

    received = run(migrated, body)
    assert received, "B's own log insert should have reached B's engine-side subscription"
    assert all(c.user_id == OTHER for c in received)


def test_a_user_view_cannot_ask_for_another_users_rows(migrated: Database) -> None:
    async def body(store: Store) -> None:
        with pytest.raises(ValueError, match="user_id"):
            store.as_user(f.OWNER).subscribe(user_id=OTHER)

    run(migrated, body)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"tables": ["sops"]}, "tables"), ({"events": ["truncate"]}, "events"), ({"tables": []}, "tables")],
)
def test_bad_filters_are_refused_naming_the_field(migrated: Database, options: dict[str, Any], field: str) -> None:
    async def body(store: Store) -> None:
        with pytest.raises(ValueError, match=field):
            store.subscribe(**options)

    run(migrated, body)


def test_session_data_never_reaches_any_subscriber(migrated: Database) -> None:
    async def body(store: Store) -> list[Change]:
        async with store.subscribe(tables=["aef_browser_sessions"]) as sub:
            session = f.session(migrated, session_data={"cookie": "sid=SECRET-COOKIE"})
            migrated.shared().execute(
                'update public.aef_browser_sessions set session_data = \'{"cookie": "sid=OTHER"}\' where id = %s',
                (session,),
            )
            return await take(sub, 2)

    changes = run(migrated, body)
    assert [c.op for c in changes] == ["insert", "update"]
    for change in changes:
        assert "session_data" not in (change.new or {}) and "session_data" not in (change.old or {})
        assert "SECRET-COOKIE" not in repr(change)
    assert changes[0].new is not None and changes[0].new["user_id"] == f.OWNER


def test_a_user_gets_only_the_columns_they_may_select(migrated: Database) -> None:
    selectable = {
        r["column_name"]
        for r in migrated.shared().execute(
            "select column_name from information_schema.columns where table_schema = 'public'"
            " and table_name = 'aef_executions'"
            " and has_column_privilege('authenticated', 'public.aef_executions', column_name, 'select')"
        )
    }

    async def body(store: Store) -> Change:
        async with store.as_user(f.OWNER).subscribe(tables=["aef_executions"]) as sub:
            f.execution(migrated)
            return (await take(sub, 1))[0]

    change = run(migrated, body)
    assert change.new is not None and set(change.new) == selectable


def test_a_subscriber_back_with_its_last_position_gets_no_gap_and_no_duplicate(migrated: Database) -> None:
    async def body(store: Store) -> tuple[list[Change], list[Change], list[Change]]:
        execution = f.execution(migrated, status="running")
        async with store.subscribe(tables=["aef_execution_logs"]) as first:
            f.log(migrated, execution, 5)
            before = await take(first, 5)
        f.log(migrated, execution, 4)  # while nobody listens
        resumed = store.subscribe(tables=["aef_execution_logs"], after=str(before[2].position))
        async with resumed:
            f.log(migrated, execution, 1)
            after = await take(resumed, 2 + 4 + 1)
        # a second consumer from the same place sees the same stream
        async with store.subscribe(tables=["aef_execution_logs"], after=before[2].position) as again:
            replay = await take(again, 7)
        return before, after, replay

    before, after, replay = run(migrated, body)
    seqs = [c.new["seq"] for c in [*before[:3], *after] if c.new]
    assert seqs == list(range(1, 11))
    assert [c.position for c in replay] == [c.position for c in after]


def test_a_position_older_than_the_window_is_refused(migrated: Database) -> None:
    async def body(store: Store) -> None:
        store.core.feed.window = 3
        store.core.feed._ring = type(store.core.feed._ring)(maxlen=3)
        execution = f.execution(migrated, status="running")
        async with store.subscribe(tables=["aef_execution_logs"]) as sub:
            f.log(migrated, execution, 1)
            (first,) = await take(sub, 1)
            f.log(migrated, execution, 5)
            await take(sub, 5)
        with pytest.raises(PositionLost) as lost:
            async with store.subscribe(after=first.position):
                pass
        assert lost.value.position == first.position

    run(migrated, body)


def test_positions_read_back_from_their_text() -> None:
    position = Position((0x16 << 32) | 0xB374D848, 3)
    assert str(position) == "16/B374D848:3"
    assert Position.parse(str(position)) == position
    with pytest.raises(ValueError, match="position"):
        Position.parse("16-B374D848")


def test_subscribers_come_and_go_a_thousand_times_and_leave_no_slot(migrated: Database) -> None:
    async def body(store: Store) -> tuple[int, int]:
        execution = f.execution(migrated, status="running")
        most = 0
        for i in range(1000):
            async with store.as_user(f.OWNER if i % 2 else OTHER).subscribe(execution_id=execution):
                if i % 100 == 0:
                    most = max(most, len(slots(migrated)))
        assert store.core.feed.subscribers == 0
        return most, len(slots(migrated))

    most, at_the_end = run(migrated, body)
    assert most == 1  # one slot for the whole store, however many subscriptions
    assert at_the_end == 1  # it lingers a while for the next subscriber
    assert slots(migrated) == []  # the store closed: the temporary slot went with its session
    retained = (
        migrated.shared(superuser=True)
        .execute("select count(*) as n from pg_replication_slots where slot_name like 'aef_feed_%'")
        .fetchone()
    )
    assert retained is not None and retained["n"] == 0


def test_a_feed_whose_connection_dies_tells_its_subscribers_and_holds_no_wal(migrated: Database) -> None:
    async def body(store: Store) -> FeedInterrupted:
        execution = f.execution(migrated, status="running")
        async with store.subscribe() as sub:
            f.log(migrated, execution, 1)
            (seen,) = await take(sub, 1)
            migrated.shared(superuser=True).execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'aef-db change feed'"
            )
            with pytest.raises(FeedInterrupted) as interrupted:
                await take(sub, 1)
            assert interrupted.value.position is not None and interrupted.value.position >= seen.position
        # the next subscription starts a new slot; the old one is gone
        async with store.subscribe() as again:
            f.log(migrated, execution, 1)
            await take(again, 1)
            assert len(slots(migrated)) == 1
        return interrupted.value

    assert isinstance(run(migrated, body), FeedInterrupted)


def test_a_subscriber_that_does_not_read_is_dropped_and_told_where_it_stopped(migrated: Database) -> None:
    async def body(store: Store) -> None:
        execution = f.execution(migrated, status="running")
        other = store.subscribe()
        store.core.feed.queue_size = 5
        async with store.subscribe(tables=["aef_execution_logs"]) as slow, other:
            f.log(migrated, execution, 8)
            await take(other, 8)
            received = []
            with pytest.raises(SubscriberTooSlow) as dropped:
                async for change in slow:
                    received.append(change)
            assert len(received) == 5
            assert dropped.value.position == received[-1].position

    run(migrated, body)


def test_what_a_user_receives_is_what_their_policies_show(migrated: Database) -> None:
    """Random writes by three users; each user's feed equals what RLS lets that user select."""
    users = [f.OWNER, OTHER, uuid.UUID(int=0xC0C)]
    rng = random.Random(7)

    async def body(store: Store) -> dict[uuid.UUID, set[tuple[str, uuid.UUID]]]:
        subs = {u: await store.as_user(u).subscribe(events=["insert"]).__aenter__() for u in users}
        expected = 0
        executions = []
        for _ in range(30):
            user = rng.choice(users)
            kind = rng.choice(["execution", "log", "checkpoint", "session"])
            if kind == "execution" or not executions:
                executions.append((user, f.execution(migrated, user, status="running")))
                expected += 1
            else:
                owner, execution = rng.choice(executions)
                if kind == "log":
                    f.log(migrated, execution, 1)
                elif kind == "checkpoint":
                    f.checkpoint(migrated, execution)
                else:
                    f.session(migrated, owner)
            expected += 1
        got: dict[uuid.UUID, set[tuple[str, uuid.UUID]]] = {}
        for user, sub in subs.items():
            changes = await quiet(sub, 1.0)
            got[user] = {(c.table, c.row["id"]) for c in changes}
            await sub.close()
        assert sum(len(v) for v in got.values()) >= 30
        return got

    got = run(migrated, body)
    for user in users:
        visible: set[tuple[str, uuid.UUID]] = set()
        with migrated.connect() as conn:
            conn.execute("set role authenticated")
            conn.execute("select set_config('request.jwt.claims', %s, false)", (f'{{"sub": "{user}"}}',))
            for table in TABLES:
                visible |= {(table, r["id"]) for r in conn.execute(f"select id from public.{table}")}
        # every row a user can see was inserted during the test (the database is fresh)
        assert got[user] == visible, user


def test_an_approval_reaches_a_waiting_engine_at_once_not_by_polling(migrated: Database) -> None:
    execution = f.execution(migrated, status="running")

    async def body(store: Store) -> tuple[float, int]:
        checkpoint = await store.checkpoints.create(execution, "manual_review")
        # a poll interval longer than the test's patience: only the feed can wake the wait
        waiting = asyncio.ensure_future(store.checkpoints.wait(checkpoint.id, poll=60, timeout=30))
        while store.core.feed.subscribers == 0:
            await asyncio.sleep(0.01)
        started = asyncio.get_running_loop().time()
        await store.as_user(f.OWNER).checkpoints.resolve(checkpoint.id, "approved")
        waited = await asyncio.wait_for(waiting, 10)
        assert waited.status.value == "approved"
        return asyncio.get_running_loop().time() - started, store.core.feed.subscribers

    elapsed, left = run(migrated, body)
    assert elapsed < 10  # generous on a loaded machine; the poll alone would take 60 s
    assert left == 0  # the wait left the feed


def test_wait_still_works_where_the_feed_cannot_run(migrated: Database) -> None:
    """A login without REPLICATION cannot decode: the wait falls back to reading."""
    execution = f.execution(migrated, status="running")
    db = migrated.shared(superuser=True)
    db.execute("create role aef_no_replication login password 'pw' in role postgres")
    url = migrated.url.replace(migrated.url.split("@")[0], "postgresql://aef_no_replication:pw")

    async def body() -> str:
        async with Store(url, cipher=None) as store:
            checkpoint = await store.checkpoints.create(execution, "manual_review")
            waiting = asyncio.ensure_future(store.checkpoints.wait(checkpoint.id, poll=0.05, timeout=30))
            await asyncio.sleep(0.2)
            assert slots(migrated) == [] and store.core.feed.subscribers == 0  # it is reading, not decoding
            await store.as_user(f.OWNER).checkpoints.resolve(checkpoint.id, "approved")
            return (await waiting).status.value

    try:
        assert asyncio.run(body()) == "approved"
    finally:
        db.execute("drop owned by aef_no_replication")
        db.execute("drop role aef_no_replication")


def test_the_feed_streams_and_reports_progress_so_the_slot_holds_no_old_wal(migrated: Database) -> None:
    async def body(store: Store) -> tuple[str | None, int, int]:
        execution = f.execution(migrated, status="running")
        async with store.subscribe(tables=["aef_execution_logs"]) as sub:
            f.log(migrated, execution, 50)
            changes = await take(sub, 50)
            last_commit = changes[-1].position.lsn
            deadline = asyncio.get_running_loop().time() + 10
            while True:  # the feed reports what it processed about every second
                row = (
                    migrated.shared(superuser=True)
                    .execute(
                        "select (confirmed_flush_lsn - '0/0')::int8 as confirmed from pg_replication_slots"
                        " where slot_name = %s",
                        (store.core.feed.slot,),
                    )
                    .fetchone()
                )
                assert row is not None
                if row["confirmed"] >= last_commit or asyncio.get_running_loop().time() > deadline:
                    return store.core.feed.mode, row["confirmed"], last_commit
                await asyncio.sleep(0.2)

    mode, confirmed, last_commit = run(migrated, body)
    assert mode == "stream"
    assert confirmed >= last_commit


def test_the_polling_fallback_delivers_the_same_stream(migrated: Database) -> None:
    async def body(store: Store) -> tuple[str | None, list[int]]:
        store.core.feed.prefer_stream = False  # as where replication connections are refused
        execution = f.execution(migrated, status="running")
        async with store.as_user(f.OWNER).subscribe(tables=["aef_execution_logs"]) as sub:
            f.log(migrated, execution, 5)
            changes = await take(sub, 5)
        return store.core.feed.mode, [c.new["seq"] for c in changes if c.new]

    mode, seqs = run(migrated, body)
    assert (mode, seqs) == ("poll", [1, 2, 3, 4, 5])
    # the store has closed: its slot is gone already, not a moment after its session ends
    assert f.one(migrated, "select count(*) from pg_catalog.pg_replication_slots") == 0

"""Browser sessions: the three modes, heartbeats, reclaim, and 16 workers leasing at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from aef_db.models import BrowserSessionStatus, SessionMode
from aef_db.store import LeaseLost, LeaseUnavailable, Store

from .. import factories as f
from ..conftest import Database
from ..factories import OTHER, OWNER
from ..store_helpers import run


def test_isolated_sessions_are_one_per_execution_and_end_on_release(migrated: Database) -> None:
    a, b = f.execution(migrated, status="running"), f.execution(migrated, status="running")

    async def body(store: Store):  # type: ignore[no-untyped-def]
        first = await store.sessions.lease(a, OWNER, holder="w1")
        second = await store.sessions.lease(b, OWNER, holder="w1")
        released = await store.sessions.release(first.id, a)
        return first, second, released, await store.executions.get(a)

    first, second, released, execution = run(migrated, body)
    assert first.id != second.id and first.mode is SessionMode.ISOLATED
    assert released.status is BrowserSessionStatus.TERMINATED and released.lease_execution_id is None
    assert execution.browser_session_id == first.id


def test_a_persistent_session_is_reused_by_one_execution_at_a_time(migrated: Database) -> None:
    a, b = f.execution(migrated, status="running"), f.execution(migrated, status="running")

    async def body(store: Store):  # type: ignore[no-untyped-def]
        first = await store.sessions.lease(a, OWNER, holder="w1", mode="persistent")
        with pytest.raises(LeaseUnavailable):
            await store.sessions.lease(b, OWNER, holder="w2", mode="persistent")
        await store.sessions.release(first.id, a)
        again = await store.sessions.lease(b, OWNER, holder="w2", mode="persistent")
        return first, again

    first, again = run(migrated, body)
    assert first.id == again.id and again.lease_execution_id == b


def test_pooled_sessions_grow_to_the_pool_size_and_never_cross_users(migrated: Database) -> None:
    mine = [f.execution(migrated, status="running") for _ in range(3)]
    theirs = f.execution(migrated, OTHER, status="running")

    async def body(store: Store):  # type: ignore[no-untyped-def]
        leased = [await store.sessions.lease(e, OWNER, holder="w", mode="pooled", pool_size=2) for e in mine[:2]]
        with pytest.raises(LeaseUnavailable):
            await store.sessions.lease(mine[2], OWNER, holder="w", mode="pooled", pool_size=2)
        other = await store.sessions.lease(theirs, OTHER, holder="w", mode="pooled", pool_size=2)
        await store.sessions.release(leased[0].id, mine[0])
        reused = await store.sessions.lease(mine[2], OWNER, holder="w", mode="pooled", pool_size=2)
        return leased, other, reused

    leased, other, reused = run(migrated, body)
    assert reused.id == leased[0].id
    assert other.id not in {s.id for s in leased} and other.user_id == OTHER


def test_heartbeats_keep_a_lease_and_a_silent_holder_loses_it(migrated: Database) -> None:
    a, b = f.execution(migrated, status="running"), f.execution(migrated, status="running")

    async def body(store: Store):  # type: ignore[no-untyped-def]
        # a minute of margin: a loaded machine must not expire the lease between these calls
        session = await store.sessions.lease(a, OWNER, holder="w1", mode="pooled", ttl=timedelta(minutes=1))
        beat = await store.sessions.heartbeat(session.id, a, ttl=timedelta(minutes=1))
        assert beat.lease_expires_at > session.lease_expires_at and beat.last_active >= session.last_active
        with pytest.raises(LeaseUnavailable):
            await store.sessions.lease(b, OWNER, holder="w2", mode="pooled", pool_size=1)
        # w1 stops heartbeating: its lease runs out (the clock moved by the test, not slept)
        f.one(
            migrated,
            "update public.aef_browser_sessions set lease_expires_at = now() - interval '1 second'"
            " where id = %s returning id",
            (session.id,),
        )
        assert await store.sessions.reclaim_expired() == 1
        taken = await store.sessions.lease(b, OWNER, holder="w2", mode="pooled", pool_size=1)
        with pytest.raises(LeaseLost):
            await store.sessions.heartbeat(session.id, a)
        return session, taken

    session, taken = run(migrated, body)
    assert taken.id == session.id and taken.lease_execution_id == b


def test_only_the_lease_waits_for_the_wal_flush(migrated: Database) -> None:
    """A lost release or heartbeat only brings a lease's expiry closer (decision 29); a lease must be durable."""
    from aef_db.store.base import Q

    execution_id, session_id = f.execution(migrated, status="running"), f.session(migrated, mode="pooled")
    params = {
        "id": session_id,
        "execution_id": execution_id,
        "user_id": OWNER,
        "mode": "pooled",
        "holder": "w1",
        "ttl": timedelta(seconds=30),
    }
    setting = []
    with migrated.connect() as conn:
        for query in ("lease_free_session", "renew_lease", "release_lease"):
            with conn.transaction():
                assert conn.execute(Q[query], params).fetchone() is not None, query
                setting.append(conn.execute("select current_setting('synchronous_commit') as s").fetchone()["s"])
    assert setting == ["on", "off", "off"]


def test_session_data_is_sealed_whole(migrated: Database) -> None:
    async def body(store: Store):  # type: ignore[no-untyped-def]
        session = await store.sessions.create(OWNER, session_data={"cookies": [{"name": "sid", "value": "abc123"}]})
        return session, await store.sessions.get(session.id)

    session, fetched = run(migrated, body)
    assert fetched.session_data == {"cookies": [{"name": "sid", "value": "abc123"}]}
    stored = f.one(migrated, "select session_data::text from public.aef_browser_sessions where id = %s", (session.id,))
    assert "abc123" not in stored and "sid" not in stored and '"sealed": "aef:v1:k1:' in stored


@pytest.mark.slow
def test_sixteen_workers_lease_and_release_ten_thousand_times_without_a_double_lease(migrated: Database) -> None:
    workers, total = 16, 10_000
    executions = [f.execution(migrated, status="running") for _ in range(workers)]
    held: dict[str, uuid.UUID] = {}
    double_leases = 0
    done = 0

    async def body(store: Store) -> None:
        async def worker(execution_id: uuid.UUID) -> None:
            nonlocal double_leases, done
            while done < total:
                try:
                    session = await store.sessions.lease(
                        execution_id, OWNER, holder=str(execution_id), mode="pooled", pool_size=6
                    )
                except LeaseUnavailable:
                    await asyncio.sleep(0)
                    continue
                if session.id in held:
                    double_leases += 1
                held[session.id] = execution_id
                await asyncio.sleep(0)
                del held[session.id]
                await store.sessions.release(session.id, execution_id)
                done += 1

        await asyncio.gather(*(worker(e) for e in executions))

    run(migrated, body, max_size=16)
    assert double_leases == 0 and done >= total
    assert f.one(migrated, "select count(*) from public.aef_browser_sessions where lease_execution_id is not null") == 0
    assert f.one(migrated, "select count(*) from public.aef_browser_sessions") <= 6  # the pool never outgrows its size

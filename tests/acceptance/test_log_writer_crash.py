"""The LogWriter across server crashes: the postmaster SIGKILLed at every point of a flush.

One writer object lives through every crash of a cluster of the test's own. Each cycle
logs, arranges a kill point, kills the server, logs more events during the outage,
restarts it, and then waits for the writer to catch up by itself (no flush call). Then
the log must hold every event the writer took, each once, in order, gapless, and the
chains verify. Each outage also logs the first event of an execution the writer has never
seen, which it can number only once the server is back.

Kill points (one flush in flight unless "idle"):
- idle: no flush in flight (events buffered after an acknowledged one);
- in_insert: the batch's statement blocked in a row trigger, before any row is in;
- after_insert: every row inserted and checked (the statement check ran), before the commit;
- commit_unanswered: the commit is in the WAL but the server waits for a synchronous
  standby that never comes (``synchronous_standby_names``), so the answer never leaves:
  after the restart the rows are there, and the writer finds them by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aef_db import compat
from aef_db.audit.verify import verify
from aef_db.cluster import Cluster
from aef_db.connection import connect
from aef_db.errors import ClusterError
from aef_db.runner import Runner
from aef_db.store import Store, StoreError

from .. import factories as f
from ..conftest import FAST_SETTINGS, Database

pytestmark = pytest.mark.slow  # a cluster of its own, killed and restarted eight times

KILL_POINTS = tuple(os.environ.get("KILL_POINTS", "idle,in_insert,after_insert,commit_unanswered").split(","))
CYCLES = int(os.environ.get("CYCLES", "2"))  # per kill point
HOLD_KEY = 4242
HOLD = f"""
create function public.zz_hold() returns trigger language plpgsql as $$
begin
  perform pg_advisory_xact_lock_shared({HOLD_KEY});
  return case when tg_when = 'BEFORE' then new end;
end $$;
"""
TRIGGERS = {
    "in_insert": "create trigger zz_hold before insert on public.aef_execution_logs"
    " for each row execute function public.zz_hold()",
    "after_insert": "create trigger zz_hold after insert on public.aef_execution_logs"  # after aef_20_verify
    " for each statement execute function public.zz_hold()",
}
WAITING = {"in_insert": "advisory", "after_insert": "advisory", "commit_unanswered": "SyncRep"}


@pytest.fixture
def crashable(workdir: Path) -> Iterator[Database]:
    cluster = Cluster(workdir / f"crash-{uuid.uuid4().hex[:8]}", settings=FAST_SETTINGS)
    cluster.start()
    try:
        with connect(cluster.url(superuser=True)) as conn:
            conn.execute("create database aef_crash owner postgres")
        with connect(cluster.url(superuser=True, database="aef_crash")) as conn:
            compat.install(conn)
            conn.execute(HOLD)
            # _until_commits_wait_for_the_standby's probe commits write here
            conn.execute("create table zz_probe (at timestamptz default now())")
        Runner(cluster.url(database="aef_crash")).up()
        db = Database("aef_crash", cluster)
        yield db
        db.close_shared()
    finally:
        with contextlib.suppress(ClusterError):
            cluster.stop()


def _wait_until(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _crash(cluster: Cluster) -> None:
    pid = cluster.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: _gone(pid), "the postmaster to die")


def _superuser(db: Database, *statements: str) -> None:
    with db.connect(superuser=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _waiting(db: Database, event: str) -> bool:
    with db.connect(superuser=True) as conn:
        row = conn.execute(
            "select count(*) as n from pg_stat_activity where application_name = 'aef-db store' and wait_event = %s",
            (event,),
        ).fetchone()
    return bool(row and row["n"])


def _until_commits_wait_for_the_standby(db: Database) -> None:
    """pg_reload_conf only signals: a commit waits for the standby once the checkpointer has
    read the new synchronous_standby_names, which can come after the writer's next flush has
    committed. Probe commits until one waits, then cancel its wait (it stays committed)."""
    deadline = time.monotonic() + 60
    while True:
        with db.connect(superuser=True) as probe, db.connect(superuser=True) as watcher:
            row = probe.execute("select pg_backend_pid() as pid").fetchone()
            assert row is not None
            # a commit waits for a standby only when its transaction wrote WAL
            committing = threading.Thread(target=probe.execute, args=("insert into zz_probe default values",))
            committing.start()
            while committing.is_alive():  # the commit returned (not in force yet) or waits
                waits = watcher.execute(
                    "select wait_event = 'SyncRep' as waits from pg_stat_activity where pid = %s", (row["pid"],)
                ).fetchone()
                if waits and waits["waits"]:
                    watcher.execute("select pg_cancel_backend(%s)", (row["pid"],))
                    committing.join()
                    return
                time.sleep(0.01)
            committing.join()
        assert time.monotonic() < deadline, "synchronous_standby_names never took effect"


def _tags(db: Database, execution_id: uuid.UUID) -> list[tuple[int, str]]:
    with db.connect() as conn:
        rows = conn.execute(
            "select seq, data->>'tag' as tag from public.aef_execution_logs where execution_id = %s order by seq",
            (execution_id,),
        ).fetchall()
    return [(r["seq"], r["tag"]) for r in rows]


def test_one_writer_survives_a_crash_at_every_point_of_a_flush(crashable: Database) -> None:
    db, cluster = crashable, crashable.cluster
    executions = [f.execution(db, status="running") for _ in range(2)]
    # one per outage, first logged while the server is down: the writer has never seen its head
    spares = [f.execution(db, status="running") for _ in range(CYCLES * len(KILL_POINTS))]
    db.close_shared()
    logged: dict[uuid.UUID, list[str]] = {e: [] for e in executions + spares}  # every event the writer took
    acknowledged: list[str] = []  # durable events whose log() returned
    found_stored: list[set[uuid.UUID]] = []  # what the writer found stored after a refused retry

    async def main() -> None:
        # a flush during the outage gives up after 5 s, not the default 30
        async with Store(db.url, cipher=None, max_size=4, pool_timeout=5) as store:
            stored_ids = store.logs.stored_ids

            async def recording(ids: Any) -> set[uuid.UUID]:
                found = await stored_ids(ids)
                found_stored.append(found)
                return found

            store.logs.stored_ids = recording  # type: ignore[method-assign]
            writer = store.logs.writer(max_delay=0.05)
            counter = iter(range(1_000_000))

            async def log(event_type: str) -> None:
                tag = f"t{next(counter)}"
                execution_id = executions[len(acknowledged) % 2] if event_type != "browser_action" else executions[0]
                logged[execution_id].append(tag)  # appended before any await: log() buffers it at once
                await writer.log(execution_id, event_type, data={"tag": tag})
                if event_type == "step_completed":
                    acknowledged.append(tag)

            async def attempt(event_type: str) -> None:
                with contextlib.suppress(StoreError):
                    await log(event_type)

            for _ in executions:  # both heads known: log() needs the database only for an execution new to it
                await log("step_completed")
            for cycle in range(CYCLES):
                for point in KILL_POINTS:
                    label = f"{point}, cycle {cycle}"
                    searches = len(found_stored)
                    for _ in range(3):
                        await log("browser_action")
                    await log("step_completed")
                    held = None
                    if point in TRIGGERS:
                        await asyncio.to_thread(_superuser, db, TRIGGERS[point])
                        holder = await asyncio.to_thread(db.connect, superuser=True)
                        holder.execute("select pg_advisory_lock(%s)", (HOLD_KEY,))
                    elif point == "commit_unanswered":
                        await asyncio.to_thread(
                            _superuser,
                            db,
                            "alter system set synchronous_standby_names = 'nonexistent'",
                            "select pg_reload_conf()",
                        )
                        await asyncio.to_thread(_until_commits_wait_for_the_standby, db)
                    if point != "idle":
                        for _ in range(2):
                            await log("browser_action")
                        held = asyncio.ensure_future(attempt("step_completed"))
                        await asyncio.to_thread(
                            _wait_until, lambda p=point: _waiting(db, WAITING[p]), f"{label}: the flush held"
                        )
                    await asyncio.to_thread(_crash, cluster)
                    if point in TRIGGERS:
                        holder.close()
                    # the outage: events buffered meanwhile, one durable one waiting or failing
                    for _ in range(4):
                        await log("browser_action")
                    spare, tag = spares.pop(), f"t{next(counter)}"
                    logged[spare].append(tag)
                    await writer.log(spare, "browser_action", data={"tag": tag})
                    during = asyncio.ensure_future(attempt("step_completed"))
                    await asyncio.to_thread(cluster.start)
                    cleanup = ["alter system reset synchronous_standby_names", "select pg_reload_conf()"]
                    await asyncio.to_thread(
                        _superuser, db, *cleanup, "drop trigger if exists zz_hold on public.aef_execution_logs"
                    )
                    await asyncio.gather(*(t for t in (held, during) if t is not None))
                    # no flush call: the writer's own retries catch up
                    expected = sum(len(tags) for tags in logged.values())
                    try:
                        await asyncio.to_thread(
                            _wait_until,
                            lambda n=expected: sum(len(_tags(db, e)) for e in logged) >= n and len(writer) == 0,
                            f"{label}: the writer to catch up by itself",
                        )
                    except AssertionError as exc:
                        stored_now = sum(len(_tags(db, e)) for e in logged)
                        raise AssertionError(
                            f"{exc}; {stored_now} of {expected} stored, {len(writer)} buffered, last error {writer.error!r}"
                        ) from None
                    await log("step_completed")  # and it takes durable events again
                    for execution_id in logged:
                        rows = await asyncio.to_thread(_tags, db, execution_id)
                        assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1)), label
                        assert [tag for _, tag in rows] == logged[execution_id], label  # each once, in order
                    if point == "commit_unanswered":
                        assert any(found_stored[searches:]), f"{label}: the unanswered commit was found stored"
            await writer.close()

    asyncio.run(main())
    with connect(db.url) as conn:
        report = verify(conn)
    assert report.findings == [] and report.events == sum(len(tags) for tags in logged.values())
    assert acknowledged
    stored = {tag for e in logged for _, tag in _tags(db, e)}
    assert set(acknowledged) <= stored

"""Store.subscribe's change feed: latency, what it costs writers, and Supabase Realtime's path, side by side in one run.

One embedded cluster with durable commits (fsync and synchronous_commit on, wal_level
logical). 100 users, each with running executions. Writers are plain INSERTs into
``public.aef_execution_logs`` naming the seed's columns (execution_id, step_id,
event_type, data), autocommit, one row per statement, as the table's owner: what
supabase-js or psql sends; the database fills seq, owner and the hash chain. They run
in a child process, the subscribers in this one, as an engine and a UI server would.

The feed runs as it ships (streaming its temporary slot over a replication connection)
and, side by side where it matters, made to poll (``feed.prefer_stream = False``: its
fallback where replication connections are refused). Targets are judged on the default.

1. Latency, commit to subscriber: a paced writer at a steady rate (1,000 events/s)
   over one execution per user; 100 subscribers, ``store.as_user(u).subscribe()`` for
   each of the 100 users. Latency = the subscriber's clock when ``async for`` hands it
   the change, less the writer's clock right after its INSERT returned (committed),
   keyed by the row's id (``returning id``). Both clocks are CLOCK_MONOTONIC, one
   system-wide clock on Linux, read in two processes; ``Change.commit_time`` (the
   server's clock) is not used. The first second is warm-up and not counted. Streamed,
   then polled.
2. Cost to writers: 8 writers (8 connections in the child, each its own execution)
   insert as fast as they can for a fixed time, realtime off (no Store, no slot) and on
   (a Store in this process with 100 subscribers attached, each change reaching its
   owner's subscriber), streamed and polled; rounds with the order rotating, ratio
   against off within a round, the median.
3. Against Realtime's own path: a backlog of N log inserts (one per transaction) over
   the subscribed users, committed while both paths wait, then delivered by each. Ours:
   the streamed feed with S subscribers (``as_user(u).subscribe()``, S / users per
   user), timed until every subscriber has received every change of its user.
   Realtime's: tests/sql/realtime_emulation.sql (``realtime.list_changes`` over a
   temporary wal2json slot, ``realtime.apply_rls`` with one ``select exists(...)`` per
   subscriber per change after setting ``role`` and ``request.jwt.claims``), S
   subscriptions to the log table with realistic JWT claims, polled back to back with
   upstream's arguments (100 changes, 1 MiB). Its slot starts before the backlog's last
   K = checks / S changes (at most N, at least 10), which it is timed over. Both count
   changes/s: changes of the backlog processed per second, each delivered to every
   subscriber whose RLS shows it (deliveries = changes × S / users).

Then what the feed costs the server when idle (transactions per second, the CPU of its
backend and of this process, 100 subscribers, no writes), streamed and polled, and what
an empty poll costs against the WAL it decodes again.

Usage: .venv/bin/python bench/realtime.py [--rate N] [--seconds S] [--connections N] [--writer-seconds S]
       [--rounds N] [--scaling-rounds N] [--backlog N] [--checks N] [--subscribers 10,100,1000]
       [--idle-seconds S] [--output PATH] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import psycopg  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from aef_db import sql as package_sql  # noqa: E402
from aef_db.connection import connect  # noqa: E402
from aef_db.runner import Runner  # noqa: E402
from aef_db.store import Store, Subscription  # noqa: E402
from engine import source_commit  # noqa: E402
from harness import md5_uuid, payload, temporary_cluster  # noqa: E402
from report import PERFORMANCE_MD, write_section  # noqa: E402
from store import BENCH_SQL  # noqa: E402

COMMAND = ".venv/bin/python bench/realtime.py"
EMULATION = HERE.parent / "tests" / "sql" / "realtime_emulation.sql"
DATABASE = "bench_realtime"
STATS_DB = "template1"  # counters are read from another database, so reading them counts nowhere
USERS = 100
WRITERS = 8
# execution number g belongs to user g % USERS + 1 (bench/sql/queries.sql); each phase has its block
LATENCY_BLOCK, BACKLOG_BLOCK, WRITER_BLOCK = 1, 2, 3
INSERT = (
    "insert into public.aef_execution_logs (execution_id, step_id, event_type, data)"
    " values (%s, %s, 'browser_action', %s) returning id"
)
THEIR_SLOT = "bench_realtime_wal2json"
THEIR_POLL = "select * from realtime.list_changes('aef_changes', %s, 100, 1048576)"  # upstream's arguments
FEED_APP = "aef-db change feed"
FEED_SQL = package_sql.queries("realtime/feed.sql")  # the feed's own statements


def clock() -> float:
    """CLOCK_MONOTONIC: one clock for every process on the machine (Linux)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def user(u: int) -> uuid.UUID:
    return md5_uuid(f"user{u}")


def execution(block: int, u: int) -> uuid.UUID:
    """User u's execution in a block (u from 1 to USERS)."""
    return md5_uuid(f"execution{block * USERS + u - 1}")


def claims(u: int, i: int) -> dict[str, Any]:
    """A signed-in user's verified JWT as Supabase Auth issues it (the whole of it reaches the policy)."""
    now = 1_790_000_000
    return {
        "iss": "https://bench.supabase.co/auth/v1",
        "sub": str(user(u)),
        "aud": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "email": f"user{u}@example.com",
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "session_id": str(md5_uuid(f"session{i}")),
        "is_anonymous": False,
    }


# -- writers, in a child process ------------------------------------------------


def writer_child(url: str, plan: dict[str, Any], out: Any) -> None:
    """Entry point of the writer process: runs the plan and sends back what it did."""
    try:
        out.send(asyncio.run(_paced(url, plan) if plan["mode"] == "paced" else _flat(url, plan)))
    except BaseException as exc:  # the parent waits on the pipe: it must hear of a failure
        out.send({"error": repr(exc)})
        raise


async def _connections(url: str, n: int) -> list[psycopg.AsyncConnection[Any]]:
    conns = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(n)]
    for conn in conns:  # a round trip each before the clock starts
        await conn.execute("select 1")
    return conns


async def _paced(url: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Event k is due at start + k / rate, over the executions in turn; each connection takes the
    next event when it is free (so a slow commit delays no other). Commit times by row id."""
    executions = [uuid.UUID(e) for e in plan["executions"]]
    rate, total = plan["rate"], int(plan["rate"] * plan["seconds"])
    conns = await _connections(url, plan["connections"])
    commits: list[tuple[uuid.UUID, float]] = []
    numbers = iter(range(total))
    start = clock() + 0.05

    async def run(conn: psycopg.AsyncConnection[Any]) -> None:
        for k in numbers:
            delay = start + k / rate - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            cur = await conn.execute(INSERT, (executions[k % len(executions)], f"step-{k % 7}", Jsonb(payload(k))))
            row = await cur.fetchone()
            commits.append((row[0], clock()))  # type: ignore[index]

    await asyncio.gather(*(run(c) for c in conns))
    ended = clock()
    for conn in conns:
        await conn.close()
    return {"commits": commits, "start": start, "ended": ended}


async def _flat(url: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Each connection inserts into its own execution as fast as it can for ``seconds``."""
    executions = [uuid.UUID(e) for e in plan["executions"]]
    conns = await _connections(url, len(executions))
    counts = [0] * len(conns)
    start = clock()
    end = start + plan["seconds"]

    async def run(i: int, conn: psycopg.AsyncConnection[Any]) -> None:
        k = 0
        while clock() < end:
            await conn.execute(INSERT, (executions[i], f"step-{k % 7}", Jsonb(payload(k))))
            k += 1
        counts[i] = k

    await asyncio.gather(*(run(i, c) for i, c in enumerate(conns)))
    elapsed = clock() - start
    for conn in conns:
        await conn.close()
    return {"events": sum(counts), "seconds": elapsed}


async def run_writers(url: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Runs the plan in a fresh process (spawned: nothing of this one's loop or pool in it)."""
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe(duplex=False)
    process = ctx.Process(target=writer_child, args=(url, plan, there))
    process.start()
    there.close()
    try:
        result: dict[str, Any] = await asyncio.get_running_loop().run_in_executor(None, here.recv)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, process.join)
    if "error" in result:
        raise RuntimeError(f"the writer process failed: {result['error']}")
    return result


# -- subscribers, in this process ------------------------------------------------

MODES = ("stream", "poll")
MODE_LABELS = {
    "stream": "streamed (the default: a replication connection, START_REPLICATION)",
    "poll": "polled (the fallback where replication connections are refused: pg_logical_slot_get_binary_changes)",
}


@contextlib.asynccontextmanager
async def feed_store(url: str, mode: str = "stream") -> AsyncIterator[Store]:
    """A Store whose feed streams its slot (the default) or polls it (the fallback, forced here)."""
    async with Store(url, cipher=None, min_size=1, max_size=2) as store:
        store.core.feed.prefer_stream = mode == "stream"
        yield store


class Subscribers:
    """S subscriptions over the first ``users`` users (S / users each), each consumed by a task."""

    def __init__(self, store: Store, count: int, users: int, on_change: Callable[[Any], None]) -> None:
        self.store, self.count, self.users, self.on_change = store, count, users, on_change
        self.subs: list[Subscription] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Subscribers:
        for i in range(self.count):
            sub = self.store.as_user(user(i % self.users + 1)).subscribe()
            self.subs.append(await sub.__aenter__())  # returns once the feed decodes
        self.tasks = [asyncio.ensure_future(self._consume(s)) for s in self.subs]
        want = "stream" if self.store.core.feed.prefer_stream else "poll"
        if self.store.core.feed.mode != want:  # never measure one mode under the other's name
            raise RuntimeError(f"the feed {self.store.core.feed.mode}s: this bench asked it to {want}")
        return self

    async def _consume(self, sub: Subscription) -> None:
        async for change in sub:
            self.on_change(change)

    async def __aexit__(self, *exc: object) -> None:
        for sub in self.subs:
            await sub.close()
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def machine_ticks() -> tuple[int, int]:
    """The machine's busy and total CPU ticks so far, from /proc/stat (busy: not idle, not waiting on I/O)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def feed_pid(stats_url: str) -> int:
    with connect(stats_url) as conn:
        row = conn.execute(
            "select pid from pg_stat_activity where application_name = %s and datname = %s"
            " order by backend_start desc limit 1",  # the source's session, not the feed's short-lived check
            (FEED_APP, DATABASE),
        ).fetchone()
    assert row is not None, "the change feed's backend is not connected"
    return int(row["pid"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (the feed's backend), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def slot_lag(stats: Any) -> tuple[int, int] | None:
    """The feed slot's WAL from restart_lsn to confirmed_flush_lsn (what every poll reads again
    before it reaches anything new), and from confirmed_flush_lsn to the end of WAL (not yet read)."""
    row = stats.execute(
        "select (confirmed_flush_lsn - restart_lsn)::int8 as reread,"
        " (pg_current_wal_lsn() - confirmed_flush_lsn)::int8 as behind"
        " from pg_replication_slots where slot_name like 'aef_feed_%%' and database = %s",
        (DATABASE,),
    ).fetchone()
    return None if row is None else (int(row["reread"]), int(row["behind"]))


class FeedWatch:
    """While it is entered: the feed backend's CPU, this process's CPU, and the slot's WAL from
    restart_lsn to confirmed_flush_lsn sampled twice a second from another connection."""

    def __init__(self, stats_url: str) -> None:
        self.stats_url = stats_url
        self.samples: list[tuple[int, int]] = []
        self._stop = asyncio.Event()

    async def __aenter__(self) -> FeedWatch:
        self.pid = feed_pid(self.stats_url)
        self._stats = connect(self.stats_url)  # one connection, used by one thread at a time
        self._task = asyncio.ensure_future(self._watch())
        self._cpu, self._client, self._wall = cpu_seconds(self.pid), time.process_time(), clock()
        return self

    async def _watch(self) -> None:
        while not self._stop.is_set():
            lag = await asyncio.get_running_loop().run_in_executor(None, slot_lag, self._stats)
            if lag is not None:
                self.samples.append(lag)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.5)

    async def __aexit__(self, *exc: object) -> None:
        wall = clock() - self._wall
        self.backend_cpu = (cpu_seconds(self.pid) - self._cpu) / wall
        self.client_cpu = (time.process_time() - self._client) / wall
        self._stop.set()
        await self._task
        self._stats.close()

    def figures(self) -> dict[str, Any]:
        reread = [s[0] for s in self.samples]
        return {
            "backend_cpu": self.backend_cpu,
            "client_cpu": self.client_cpu,
            "reread": statistics.median(reread) if reread else None,
            "reread_max": max(reread) if reread else None,
        }


# -- 1. latency -------------------------------------------------------------------


async def latency(url: str, stats_url: str, args: argparse.Namespace, mode: str) -> dict[str, Any]:
    received: dict[uuid.UUID, float] = {}

    def on_change(change: Any) -> None:
        received[change.new["id"]] = clock()

    plan = {
        "mode": "paced",
        "rate": args.rate,
        "seconds": args.seconds,
        "connections": args.connections,
        "executions": [str(execution(LATENCY_BLOCK, u)) for u in range(1, USERS + 1)],
    }
    async with (
        feed_store(url, mode) as store,
        Subscribers(store, USERS, USERS, on_change),
        FeedWatch(stats_url) as watch,  # once the feed runs
    ):
        wrote = await run_writers(url, plan)
        deadline = clock() + 5
        while len(received) < len(wrote["commits"]) and clock() < deadline:
            await asyncio.sleep(0.01)
    counted = [(i, t) for i, t in wrote["commits"] if t >= wrote["start"] + 1.0]  # the first second warms up
    lat = sorted(received[i] - t for i, t in counted if i in received)
    return {
        "events": len(wrote["commits"]),
        "counted": len(counted),
        "missing": sum(1 for i, _ in wrote["commits"] if i not in received),
        "rate": len(wrote["commits"]) / (wrote["ended"] - wrote["start"]),
        "p50": quantile(lat, 0.50) * 1000,
        "p99": quantile(lat, 0.99) * 1000,
        "max": lat[-1] * 1000 if lat else float("nan"),
        **watch.figures(),
    }


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


# -- 2. cost to writers ---------------------------------------------------------------


WRITER_MODES = ("off", *MODES)


async def writer_cost(url: str, stats_url: str, args: argparse.Namespace) -> dict[str, Any]:
    plan = {
        "mode": "flat",
        "seconds": args.writer_seconds,
        "executions": [str(execution(WRITER_BLOCK, u)) for u in range(1, WRITERS + 1)],
    }
    rates: dict[str, list[float]] = {m: [] for m in WRITER_MODES}
    ratios: dict[str, list[float]] = {m: [] for m in WRITER_MODES[1:]}
    catch_up: list[float] = []
    watched: dict[str, list[dict[str, Any]]] = {m: [] for m in WRITER_MODES[1:]}
    busy: dict[str, list[float]] = {m: [] for m in WRITER_MODES}
    for r in range(args.rounds):
        got: dict[str, float] = {}
        for mode in WRITER_MODES[r % 3 :] + WRITER_MODES[: r % 3]:
            ticks = machine_ticks()
            if mode == "off":
                wrote = await run_writers(url, plan)
            else:
                delivered = 0

                def on_change(_change: Any) -> None:
                    nonlocal delivered
                    delivered += 1

                async with feed_store(url, mode) as store:
                    async with Subscribers(store, USERS, USERS, on_change), FeedWatch(stats_url) as watch:
                        wrote = await run_writers(url, plan)
                        done = clock()
                        while delivered < wrote["events"] and clock() < done + 30:
                            await asyncio.sleep(0.005)
                        catch_up.append(clock() - done)
                        assert delivered == wrote["events"], (delivered, wrote["events"])
                    watched[mode].append(watch.figures())
            got[mode] = wrote["events"] / wrote["seconds"]
            rates[mode].append(got[mode])
            now = machine_ticks()
            busy[mode].append((now[0] - ticks[0]) / (now[1] - ticks[1]))
        for mode in ratios:
            ratios[mode].append(got[mode] / got["off"])

    def med(mode: str, key: str) -> float:
        return statistics.median(w[key] for w in watched[mode] if w[key] is not None)

    return {
        "rates": {m: statistics.median(v) for m, v in rates.items()},
        "ratio": {m: statistics.median(v) for m, v in ratios.items()},
        "ratios": ratios,
        "catch_up": statistics.median(catch_up) * 1000,
        "busy": {m: statistics.median(v) for m, v in busy.items()},
        "watch": {
            m: {
                "backend_cpu": med(m, "backend_cpu"),
                "client_cpu": med(m, "client_cpu"),
                "reread": med(m, "reread"),
                "reread_max": max(w["reread_max"] for w in watched[m] if w["reread_max"] is not None),
            }
            for m in watched
        },
    }


# -- 3. against Realtime's path ---------------------------------------------------------


def write_backlog(url: str, n: int, users: int, first: int) -> None:
    """n log inserts, one transaction each, over the executions of users 1..users. All but the last
    commit with synchronous_commit off (the backlog is not what is measured); the last commits durably,
    which flushes the WAL of those before it (decoding reads flushed WAL only; a transaction that
    writes nothing but its commit record would commit asynchronously, flushing nothing). Called from
    the event loop's thread, it blocks the loop: the feed handles nothing until the backlog is in."""
    base = BACKLOG_BLOCK * USERS

    def inserts(start: int, end: int) -> str:
        return f"""
            do $$
            begin
              for i in {start}..{end} loop
                insert into public.aef_execution_logs (execution_id, step_id, event_type, data)
                values (md5('execution' || ({base} + i % {users}))::uuid, 'step-' || i % 7, 'browser_action',
                        jsonb_build_object('step', i, 'url', 'https://portal.example.com/invoices/' || i,
                                           'status', 'ok', 'extracted', jsonb_build_object(
                                             'invoice', 'INV-' || lpad(i::text, 6, '0'),
                                             'amount', '1234.56', 'currency', 'EUR')));
                commit;
              end loop;
            end $$"""

    if n <= 0:
        return
    with connect(url) as conn:
        conn.execute("set synchronous_commit = off")
        conn.execute(inserts(first, first + n - 2))  # nothing when n is 1
        conn.execute("set synchronous_commit = on")
        conn.execute(inserts(first + n - 1, first + n - 1))


def their_subscriptions(url: str, count: int, users: int) -> None:
    with connect(url) as conn:
        conn.execute("truncate realtime.subscription")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into realtime.subscription (subscription_id, entity, claims)"
                " values (%s, 'public.aef_execution_logs', %s)",
                [(md5_uuid(f"subscription{i}"), Jsonb(claims(i % users + 1, i))) for i in range(count)],
            )


async def ours(url: str, count: int, users: int, backlog: int, write: Callable[[], None]) -> dict[str, float]:
    """Seconds from the backlog committed to its last delivery, and this process's CPU meanwhile."""
    expected = backlog * count // users
    delivered = 0
    all_in = asyncio.Event()

    def on_change(_change: Any) -> None:
        nonlocal delivered
        delivered += 1
        if delivered == expected:
            all_in.set()

    async with feed_store(url) as store, Subscribers(store, count, users, on_change):
        write()  # blocks the loop: the feed decodes nothing until the backlog is committed
        cpu0, t0 = time.process_time(), clock()
        await asyncio.wait_for(all_in.wait(), 600)
        seconds, cpu = clock() - t0, time.process_time() - cpu0
    assert delivered == expected, (delivered, expected)
    return {"seconds": seconds, "changes": backlog, "deliveries": expected, "cpu": cpu / seconds}


def theirs(conn: Any, limit: int) -> dict[str, float]:
    """Polls list_changes back to back until the slot is empty (it holds ``limit`` changes)."""
    changes = deliveries = 0
    t0 = clock()
    while changes < limit:
        rows = conn.execute(THEIR_POLL, (THEIR_SLOT,)).fetchall()
        if not rows or rows[0]["slot_changes_count"] == 0:
            raise RuntimeError(f"Realtime's path ran dry after {changes} of {limit} changes")
        changes += rows[0]["slot_changes_count"]
        deliveries += sum(len(r["subscription_ids"] or ()) for r in rows)
    return {"seconds": clock() - t0, "changes": changes, "deliveries": deliveries}


def their_share(args: argparse.Namespace, count: int) -> int:
    """How many of the backlog's changes Realtime's path processes: ``checks`` subscriber checks' worth."""
    return min(args.backlog, max(10, args.checks // count))


async def scaling(url: str, args: argparse.Namespace) -> dict[int, dict[str, Any]]:
    """Per subscriber count: each path's changes/s and deliveries/s (medians of the rounds)."""
    runs: dict[int, dict[str, list[dict[str, float]]]] = {s: {"ours": [], "theirs": []} for s in args.subscribers}
    first = 0
    for r in range(args.scaling_rounds):
        counts = args.subscribers[r % len(args.subscribers) :] + args.subscribers[: r % len(args.subscribers)]
        for count in counts:
            users, limit = min(count, USERS), their_share(args, count)
            their_subscriptions(url, count, users)
            with connect(url) as conn:  # Realtime's connection: its temporary slot lives as long as it does

                def write(conn: Any = conn, users: int = users, limit: int = limit, first: int = first) -> None:
                    # Realtime's slot starts before the backlog's last `limit` changes: it holds those only
                    write_backlog(url, args.backlog - limit, users, first)
                    conn.execute("select pg_create_logical_replication_slot(%s, 'wal2json', true)", (THEIR_SLOT,))
                    write_backlog(url, limit, users, first + args.backlog - limit)

                runs[count]["ours"].append(await ours(url, count, users, args.backlog, write))
                got = theirs(conn, limit)
                # RLS shows each change to its owner's subscribers, on both paths
                assert got["deliveries"] == got["changes"] * count // users, (got, count, users)
                runs[count]["theirs"].append(got)
            first += args.backlog
    out: dict[int, dict[str, Any]] = {}
    for count, paths in runs.items():
        out[count] = {}
        for path, results in paths.items():
            out[count][path] = {
                "changes_s": statistics.median(x["changes"] / x["seconds"] for x in results),
                "deliveries_s": statistics.median(x["deliveries"] / x["seconds"] for x in results),
                "changes": results[0]["changes"],
                "rounds": [x["changes"] / x["seconds"] for x in results],
            }
            if path == "ours":
                out[count][path]["cpu"] = statistics.median(x["cpu"] for x in results)
    return out


# -- idle ---------------------------------------------------------------------------------


def commits(stats_url: str) -> int:
    with connect(stats_url) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        row = conn.execute("select xact_commit from pg_stat_database where datname = %s", (DATABASE,)).fetchone()
    assert row is not None
    return int(row["xact_commit"])


async def idle(url: str, stats_url: str, seconds: float, mode: str) -> dict[str, float]:
    """With 100 subscribers and no writes: the database's committed transactions per second (a
    polling feed's polls; the stats are flushed about once a second, so the window is long), the
    feed backend's CPU and this process's."""
    async with feed_store(url, mode) as store, Subscribers(store, USERS, USERS, lambda _c: None):
        await asyncio.sleep(1.5)  # past the first stats flush
        pid = feed_pid(stats_url)
        xacts0, cpu0, client0, t0 = commits(stats_url), cpu_seconds(pid), time.process_time(), clock()
        await asyncio.sleep(seconds)
        await asyncio.sleep(1.1)  # the last second's polls reach the counters
        xacts1 = commits(stats_url)
        wall = clock() - t0
        cpu1, client1 = cpu_seconds(pid), time.process_time()
    return {
        "polls": (xacts1 - xacts0) / wall,
        "backend_cpu": (cpu1 - cpu0) / wall,
        "client_cpu": (client1 - client0) / wall,
    }


def poll_cost(url: str, stats_url: str, events: int, chunks: int = 5) -> list[tuple[int, float]]:
    """An empty poll's time (the feed's statement and arguments) against the WAL it decodes again:
    on a fresh temporary slot, then after each of ``chunks`` parts of ``events`` log inserts was
    written and consumed. pg_logical_slot_get_binary_changes decodes from the slot's restart_lsn at
    every call, and restart_lsn moves only at a running_xacts record (the background writer logs
    one every 15 s while there is WAL). (WAL bytes decoded again, median ms) pairs, by size."""
    slot = "aef_feed_probe"
    params = {"slot": slot, "max_changes": 1000}
    points: list[tuple[int, float]] = []
    with connect(url) as conn, connect(stats_url) as stats:
        conn.execute(FEED_SQL["feed_create_slot"], {"slot": slot})

        def empty_polls(n: int = 20) -> None:
            times: list[float] = []
            while len(times) < n:
                t0 = clock()
                if not conn.execute(FEED_SQL["feed_poll"], params).fetchall():  # empty ones only
                    times.append(clock() - t0)
            points.append(((slot_lag(stats) or (0, 0))[0], statistics.median(times) * 1000))

        empty_polls()
        for c in range(chunks):
            write_backlog(url, events // chunks, USERS, c * events)
            while conn.execute(FEED_SQL["feed_poll"], params).fetchall():
                pass
            empty_polls()
    return sorted(points)


# -- the run ---------------------------------------------------------------------------------


def prepare(cluster: Any) -> tuple[str, str]:
    with connect(cluster.url(superuser=True)) as conn:
        conn.execute(f"create database {DATABASE} owner postgres")
    url = cluster.url(database=DATABASE)
    Runner(url).up()
    with connect(url) as conn:
        conn.execute(BENCH_SQL["store_sops"], {"users": USERS})
        conn.execute(BENCH_SQL["store_executions"], {"users": USERS, "executions": (WRITER_BLOCK + 1) * USERS})
        conn.execute(EMULATION.read_text())
    return url, cluster.url(superuser=True, database=STATS_DB)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with temporary_cluster() as cluster:  # durable: fsync and synchronous_commit on
        url, stats_url = prepare(cluster)
        with connect(stats_url) as conn:
            rows = conn.execute(
                "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'wal_level')"
            )
            settings = {r["name"]: r["setting"] for r in rows.fetchall()}
            version = conn.execute("select current_setting('server_version') as v").fetchone()["v"]  # type: ignore[index]
        m: dict[str, Any] = {"settings": settings, "version": version}
        m["latency"] = {mode: asyncio.run(latency(url, stats_url, args, mode)) for mode in MODES}
        m["writers"] = asyncio.run(writer_cost(url, stats_url, args))
        m["scaling"] = asyncio.run(scaling(url, args))
        m["idle"] = {mode: asyncio.run(idle(url, stats_url, args.idle_seconds, mode)) for mode in MODES}
        m["poll"] = poll_cost(url, stats_url, args.backlog)
        m["commit"] = source_commit()
    return m


def render(args: argparse.Namespace, m: dict[str, Any]) -> str:
    lat, wr, sc, idle_, poll = m["latency"], m["writers"], m["scaling"], m["idle"], m["poll"]
    s = m["settings"]

    def verdict(ok: bool) -> str:
        return "yes" if ok else "**no**"

    def kib(x: float | None) -> str:
        return "—" if x is None else f"{x / 1024:,.0f}"

    lines = [
        "## Real-time: `Store.subscribe` against Supabase Realtime's path",
        "",
        f"PostgreSQL {m['version']}, one embedded cluster, durable commits (fsync {s.get('fsync')}, synchronous_commit"
        f" {s.get('synchronous_commit')}, wal_level {s.get('wal_level')}). {USERS} users. Writers are plain autocommit"
        " INSERTs into `aef_execution_logs` naming the seed's columns (as supabase-js sends them; the database fills"
        " seq, owner and the chain), in a child process; subscribers are `store.as_user(u).subscribe()` in this one."
        " The feed runs as it ships, streaming its temporary slot; where it says so, it is made to poll instead"
        " (`feed.prefer_stream = False`: its fallback where replication connections are refused, every 10 ms, again"
        " at once after a poll that found rows). The targets are judged on the default.",
        "",
        "### Latency, commit to subscriber",
        "",
        f"A paced writer at {args.rate:,} events/s ({args.connections} connections, each event due at its time) for"
        f" {args.seconds:g} s over one execution per user; {USERS} subscribers, one per user. Latency = the"
        " subscriber's CLOCK_MONOTONIC when `async for` hands it the change, less the writer's right after its"
        " INSERT returned, keyed by the row's id (one system-wide clock read by two processes;"
        " `Change.commit_time` is not used). The first second is warm-up. CPU: the feed's backend (walsender or"
        " polling session) and the subscribers' process, over the run.",
        "",
        "| feed | events/s | counted | never delivered | p50 | p99 | max | feed's backend, CPU"
        " | subscribers' process, CPU | WAL a poll decodes again (median / max KiB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        x = lat[mode]
        again = f"{kib(x['reread'])} / {kib(x['reread_max'])}" if mode == "poll" else "— (decoded once)"
        lines.append(
            f"| {MODE_LABELS[mode].split(' (')[0]} | {x['rate']:,.0f} | {x['counted']:,} | {x['missing']} |"
            f" **{x['p50']:.1f} ms** | **{x['p99']:.1f} ms** | {x['max']:.1f} ms | {x['backend_cpu']:.0%} |"
            f" {x['client_cpu']:.0%} | {again} |"
        )
    lines += [
        "",
        "### Cost to writers",
        "",
        f"{WRITERS} writers (connections in one child process, each inserting into its own execution, durable"
        f" commits) as fast as they can, {args.writer_seconds:g} s per run, {args.rounds} rounds, the order rotating:"
        f" realtime off (no Store, no slot), and on (a Store in the parent with {USERS} subscribers, every event"
        " delivered to its owner's subscriber), its feed streamed and polled. Ratio = against off in the same round;"
        " the median of the rounds.",
        "",
        f"| realtime | events/s | against off | machine busy ({os.cpu_count()} cores) | feed's backend, CPU"
        " | subscribers' process, CPU | WAL a poll decodes again (median / max KiB) |",
        "|---|---|---|---|---|---|---|",
        f"| off | {wr['rates']['off']:,.0f} | — | {wr['busy']['off']:.0%} | — | — | — |",
    ]
    for mode in MODES:
        w = wr["watch"][mode]
        again = f"{kib(w['reread'])} / {kib(w['reread_max'])}" if mode == "poll" else "— (decoded once)"
        lines.append(
            f"| on, {USERS} subscribers, {MODE_LABELS[mode].split(' (')[0]} | {wr['rates'][mode]:,.0f} |"
            f" **{wr['ratio'][mode]:.2f}** | {wr['busy'][mode]:.0%} | {w['backend_cpu']:.0%} |"
            f" {w['client_cpu']:.0%} | {again} |"
        )
    lines += [
        "",
        "Rounds (against off): "
        + "; ".join(f"{m} {', '.join(f'{x:.2f}' for x in v)}" for m, v in wr["ratios"].items())
        + f". After the writers stopped, the subscribers had every event within {wr['catch_up']:.0f} ms (median).",
        "",
        "### Against Realtime's own path",
        "",
        f"A backlog of {args.backlog:,} log inserts (one transaction each) over the subscribed users (the first"
        " min(S, 100)), committed while both paths wait, then delivered by each; medians of"
        f" {args.scaling_rounds} rounds, the subscriber counts rotating. Ours: a Store's feed, streamed, with S subscribers"
        " (`as_user(u).subscribe()`, S / users per user), timed until every subscriber has every change of its user."
        " Realtime's: `tests/sql/realtime_emulation.sql`: `realtime.list_changes('aef_changes', slot, 100, 1048576)`"
        " on a temporary wal2json slot, polled back to back, `apply_rls` setting `role` and `request.jwt.claims` (a"
        " 14-claim JWT per subscriber) then running one `select exists(select 1 from public.aef_execution_logs where"
        " id = ...)` per subscriber per change, for S subscriptions to the log table. Its slot starts before the"
        f" backlog's last min({args.backlog:,}, {args.checks:,} / S) changes (10 at least) and it is timed over"
        " those: at its rate the whole backlog would take minutes. changes/s = changes of the backlog processed per"
        " second, each delivered to every subscriber whose RLS shows it (both paths agree on who); deliveries/s ="
        " changes/s × S / users. Left out on Realtime's side, which only flatters it: the Realtime server's own work on"
        " each row it gets back (decoding it, encoding and pushing it to each WebSocket).",
        "",
        "| subscribers | ours: changes/s | ours: deliveries/s | Realtime's: changes/s | Realtime's: deliveries/s"
        " | Realtime's changes timed | ours / Realtime's |",
        "|---|---|---|---|---|---|---|",
    ]
    for count in args.subscribers:
        o, t = sc[count]["ours"], sc[count]["theirs"]
        lines.append(
            f"| {count:,} | {o['changes_s']:,.0f} | {o['deliveries_s']:,.0f} | {t['changes_s']:,.1f} |"
            f" {t['deliveries_s']:,.0f} | {t['changes']:,} | **{o['changes_s'] / t['changes_s']:,.0f}x** |"
        )
    lines += [
        "",
        "Rounds (changes/s): "
        + "; ".join(
            f"{count} ours {', '.join(f'{x:,.0f}' for x in sc[count]['ours']['rounds'])},"
            f" Realtime's {', '.join(f'{x:,.1f}' for x in sc[count]['theirs']['rounds'])}"
            for count in args.subscribers
        )
        + ".",
        "",
        "Where each stops scaling: " + scaling_text(args, sc),
        "",
        f"Idle, with {USERS} subscribers and no writes: "
        + "; ".join(
            f"{MODE_LABELS[mode].split(' (')[0]}, the database commits {idle_[mode]['polls']:,.0f} transactions/s,"
            f" the feed's backend uses {idle_[mode]['backend_cpu']:.1%} of a core and the subscribers' process"
            f" {idle_[mode]['client_cpu']:.1%}"
            for mode in MODES
        )
        + ". A poll's cost grows with the WAL it decodes again: `pg_logical_slot_get_binary_changes` (the"
        " fallback's poll, and Realtime's `list_changes`) decodes from the slot's restart_lsn at every call, and"
        " restart_lsn moves only at a running_xacts record, which the background writer logs every 15 s while there"
        f" is WAL. An empty poll on a slot of its own, as {args.backlog:,} log inserts were written and consumed in"
        " 5 parts: "
        + ", ".join(f"{ms:.1f} ms at {reread / 1024 / 1024:,.1f} MiB" for reread, ms in poll)
        + " (medians of 20). A stream decodes each transaction once, as it commits.",
        "",
    ]
    stream = lat["stream"]
    targets = [
        (
            f"latency p50 at {args.rate:,} events/s, {USERS} subscribers",
            f"{stream['p50']:.1f} ms",
            "≤ 20 ms",
            stream["p50"] <= 20,
        ),
        ("latency p99", f"{stream['p99']:.1f} ms", "≤ 100 ms", stream["p99"] <= 100),
        (
            f"{WRITERS} writers' throughput, realtime on / off",
            f"{wr['ratio']['stream']:.2f}",
            "≥ 0.90",
            wr["ratio"]["stream"] >= 0.90,
        ),
    ]
    if 100 in sc:
        x = sc[100]["ours"]["changes_s"] / sc[100]["theirs"]["changes_s"]
        targets.append(("changes/s at 100 subscribers, ours / Realtime's", f"{x:,.0f}x", "≥ 10x", x >= 10))
    lines += ["| figure | this run | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {verdict(ok)} |" for a, b, c, ok in targets]
    lines += [
        "",
        f"aef-db as it stood at this run: commit {m['commit']}. The machine is shared: absolute rates move between"
        " runs, ratios within a run hold better.",
    ]
    return "\n".join(lines)


def scaling_text(args: argparse.Namespace, sc: dict[int, dict[str, Any]]) -> str:
    """Each path's cost per change at each subscriber count, from its rate."""

    def per(c: int) -> str:
        n = c // min(c, USERS)
        return f"{n} {'delivery' if n == 1 else 'deliveries'} per change"

    ours_ = ", ".join(
        f"{1e6 / sc[c]['ours']['changes_s']:,.0f} µs per change at {c:,} ({per(c)}, this process busy"
        f" {sc[c]['ours']['cpu']:.0%} of the time)"
        for c in args.subscribers
    )
    bound = [f"{c:,}" for c in args.subscribers if sc[c]["ours"]["cpu"] >= 0.9]
    theirs_ = ", ".join(
        f"{1e6 / sc[c]['theirs']['changes_s'] / c:,.0f} µs per subscriber per change at {c:,}" for c in args.subscribers
    )
    return (
        f"ours costs {ours_}. One Python process decodes each change once (pgoutput, then psycopg's loaders), then"
        " copies the row to the columns a user may select and queues it once per subscriber of its owner: its cost"
        " per change grows with the subscribers per user, and it can use one core at most"
        + (f" (reached at {', '.join(bound)})" if bound else "")
        + "; the rest of its time it waits for the server to send the next changes."
        f" Realtime's costs {theirs_}: one query per subscriber per change, one after another in the poll's one"
        " backend, so its changes/s fall as 1/S."
    )


def sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="events/s of the paced writer")
    parser.add_argument("--seconds", type=float, default=20, help="how long the paced writer writes")
    parser.add_argument("--connections", type=int, default=8, help="the paced writer's connections")
    parser.add_argument("--writer-seconds", type=float, default=5, help="each writer-cost round's length")
    parser.add_argument("--rounds", type=int, default=5, help="writer-cost rounds")
    parser.add_argument("--scaling-rounds", type=int, default=3, help="rounds against Realtime's path")
    parser.add_argument("--backlog", type=int, default=10_000, help="changes per backlog")
    parser.add_argument(
        "--checks",
        type=int,
        default=20_000,
        help="Realtime's path gets checks / S of the backlog's changes (10 at least)",
    )
    parser.add_argument("--subscribers", type=sizes, default=[10, 100, 1000], help="comma-separated counts")
    parser.add_argument("--idle-seconds", type=float, default=5)
    parser.add_argument("--output", type=Path, default=PERFORMANCE_MD, help="the file whose section it writes")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not EMULATION.exists():
        sys.exit(f"{EMULATION} is missing: Realtime's path is emulated with it")

    m = measure(args)
    body = render(args, m)
    print(body)
    if not args.no_write:
        write_section(
            "realtime",
            body,
            f"{COMMAND} --rate {args.rate} --seconds {args.seconds:g} --connections {args.connections}"
            f" --writer-seconds {args.writer_seconds:g} --rounds {args.rounds} --scaling-rounds {args.scaling_rounds}"
            f" --backlog {args.backlog}"
            f" --checks {args.checks} --subscribers {','.join(map(str, args.subscribers))}"
            f" --idle-seconds {args.idle_seconds:g}",
            args.output,
        )


if __name__ == "__main__":
    main()

"""The store's hot paths against raw PostgreSQL, side by side in one run, durable commits.

1. Batched log ingestion, the same COPY batches into three tables:
   raw (no index), floor (the log's indexes and FK, no triggers, no checks), and
   aef_execution_logs itself (every index, RLS, FK, guards, seq and owner checks).
   Then the whole LogWriter path (validation included) into aef_execution_logs.
2. ``logs.append`` of one durable event against a bare single-row autocommit INSERT
   into an unindexed table.
3. Browser-session leases: lease-and-release per second with 16 workers.
4. Memory while one process appends 1M events through the LogWriter.
5. Context saves (``executions.update_context``) and their share of HOT updates, against
   the same with an index on ``updated_at`` (the one aef-db leaves out), alternating.

Usage: .venv/bin/python bench/store.py [--rows N] [--appends N] [--leases N] [--memory-events N] [--saves N]
       [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import psycopg  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from aef_db import sql as package_sql  # noqa: E402
from aef_db.audit.canonical import event_hash, jsonb_text, micros  # noqa: E402
from aef_db.connection import connect  # noqa: E402
from aef_db.runner import Runner  # noqa: E402
from aef_db.store import Store  # noqa: E402
from harness import md5_uuid, payload, temporary_cluster  # noqa: E402
from report import write_section  # noqa: E402

COMMAND = ".venv/bin/python bench/store.py"
BENCH_SQL = package_sql.parse_named((HERE / "sql" / "queries.sql").read_text())
USERS, EXECUTIONS = 50, 500
COPY_COLUMNS = (
    '(id, execution_id, user_id, seq, step_id, event_type, "timestamp", data, browser_state, prev_hash, hash)'
)


def owner_of(g: int) -> uuid.UUID:
    return md5_uuid(f"user{g % USERS + 1}")


def event_rows(n: int, batch: int, heads: dict[int, tuple[int, bytes | None]]) -> list[list[tuple]]:
    """n events in batches; each batch spans 20 executions, seqs and hashes continuing per
    execution, as the LogWriter numbers and chains them (hashed before the clock starts)."""
    now = datetime.now(UTC)
    batches, rows = [], []
    for i in range(n):
        g = (i // (batch // 20)) % EXECUTIONS + 1  # runs of batch/20 events per execution
        seq, prev = heads.get(g, (0, None))
        execution_id, data = (
            md5_uuid(f"execution{g}"),
            jsonb_text({"i": i, "url": f"https://portal.example.com/invoices/{i}"}),
        )
        digest = event_hash(execution_id, seq + 1, f"step-{i % 7}", "browser_action", micros(now), data, None, prev)
        heads[g] = (seq + 1, digest)
        rows.append(
            (
                uuid.uuid4(),
                execution_id,
                owner_of(g),
                seq + 1,
                f"step-{i % 7}",
                "browser_action",
                now,
                data,
                None,
                prev,
                digest,
            )
        )
        if len(rows) == batch:
            batches.append(rows)
            rows = []
    if rows:
        batches.append(rows)
    return batches


def copy_batches(url: str, table: str, batches: list[list[tuple]]) -> float:
    with connect(url) as conn:
        t0 = time.perf_counter()
        for rows in batches:
            with conn.transaction(), conn.cursor().copy(f"copy {table} {COPY_COLUMNS} from stdin") as copy:
                for row in rows:
                    copy.write_row(row)
        return time.perf_counter() - t0


def ingestion(url: str, rows: int, batch: int, rounds: int) -> dict[str, float]:
    """Rows per second, median of ``rounds`` interleaved rounds."""
    rates: dict[str, list[float]] = {"raw": [], "floor": [], "aef": []}
    seqs: dict[str, dict[int, tuple[int, bytes | None]]] = {"floor": {}, "aef": {}, "raw": {}}
    for _ in range(rounds):
        for name, table in (("raw", "bench_raw"), ("floor", "bench_floor"), ("aef", "public.aef_execution_logs")):
            batches = event_rows(rows, batch, seqs[name])
            rates[name].append(rows / copy_batches(url, table, batches))
    return {k: statistics.median(v) for k, v in rates.items()}


async def writer_rate(url: str, rows: int, batch: int) -> float:
    async with Store(url, cipher=None) as store:
        t0 = time.perf_counter()
        async with store.logs.writer(max_batch=batch, max_buffer=batch * 2, max_delay=1.0) as writer:
            for i in range(rows):
                g = (i // (batch // 20)) % EXECUTIONS + 1
                await writer.log(
                    md5_uuid(f"execution{g}"),
                    "browser_action",
                    step_id=f"step-{i % 7}",
                    data={"i": i, "url": f"https://portal.example.com/invoices/{i}"},
                )
        return rows / (time.perf_counter() - t0)


async def append_latency(url: str, n: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {"append": [], "bare": []}
    async with Store(url, cipher=None, max_size=2) as store:
        execution_id = md5_uuid("execution1")
        await store.logs.append(execution_id, "step_started")  # warm the head cache
        async with await psycopg.AsyncConnection.connect(
            url, autocommit=True
        ) as conn:  # the bare baseline, as postgres
            for i in range(n):
                t0 = time.perf_counter()
                await store.logs.append(execution_id, "browser_action", data={"i": i})
                samples["append"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await conn.execute(
                    BENCH_SQL["raw_insert"],
                    {
                        "id": uuid.uuid4(),
                        "execution_id": execution_id,
                        "user_id": owner_of(1),
                        "seq": i,
                        "data": Jsonb({"i": i}),
                    },
                )
                samples["bare"].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1000 for k, v in samples.items()}


async def context_saves(url: str, n: int) -> float:
    """p50 of ``executions.update_context`` in ms: an engine saving its context as it goes."""
    samples: list[float] = []
    async with Store(url, cipher=None, max_size=2) as store:
        execution = await store.executions.start(md5_uuid("sop1"), owner_of(0), run=True)
        for i in range(n):
            t0 = time.perf_counter()
            await store.executions.update_context(
                execution.id, {"step": i, "vars": payload(i)}, current_step_id=f"step-{i % 7}"
            )
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def execution_updates(admin_url: str) -> tuple[int, int, int]:
    """Updates and HOT updates of aef_executions so far, once the store's sessions have
    exited, and the cluster's WAL position."""
    with connect(admin_url) as conn:
        deadline = time.monotonic() + 30
        while conn.execute(BENCH_SQL["store_sessions_left"]).fetchone()["n"] and time.monotonic() < deadline:  # type: ignore[index]
            time.sleep(0.05)
        row = conn.execute(BENCH_SQL["store_execution_updates"]).fetchone()
    assert row is not None
    return int(row["updates"]), int(row["hot"]), int(row["wal"])


def context_rounds(url: str, admin_url: str, n: int, rounds: int) -> dict[str, tuple[float, float, float]]:
    """Per variant: median p50 (ms), share of HOT updates and WAL bytes per save, over alternating rounds."""
    p50s: dict[str, list[float]] = {"without": [], "with": []}
    hot: dict[str, list[float]] = {"without": [], "with": []}
    wal: dict[str, list[float]] = {"without": [], "with": []}
    for r in range(rounds):
        for variant in ("with", "without") if r % 2 else ("without", "with"):
            with connect(admin_url) as conn:
                conn.execute(
                    BENCH_SQL["store_updated_at_index" if variant == "with" else "store_drop_updated_at_index"]
                )
            updates, hot_updates, wal_before = execution_updates(admin_url)
            p50s[variant].append(asyncio.run(context_saves(url, n)))
            updates_after, hot_after, wal_after = execution_updates(admin_url)
            hot[variant].append((hot_after - hot_updates) / max(1, updates_after - updates))
            wal[variant].append((wal_after - wal_before) / n)
    with connect(admin_url) as conn:
        conn.execute(BENCH_SQL["store_drop_updated_at_index"])
    return {v: (statistics.median(p50s[v]), statistics.median(hot[v]), statistics.median(wal[v])) for v in p50s}


async def lease_rate(url: str, total: int, workers: int = 16) -> float:
    done = 0
    async with Store(url, cipher=None, max_size=workers) as store:
        executions = [md5_uuid(f"execution{g}") for g in range(1, EXECUTIONS + 1) if g % USERS + 1 == 1][:workers]

        async def worker(execution_id: uuid.UUID) -> None:
            nonlocal done
            from aef_db.store import LeaseUnavailable

            while done < total:
                try:
                    session = await store.sessions.lease(
                        execution_id, owner_of(0), holder="bench", mode="pooled", pool_size=workers
                    )
                except LeaseUnavailable:
                    await asyncio.sleep(0)
                    continue
                await store.sessions.release(session.id, execution_id)
                done += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(e) for e in executions))
        return done / (time.perf_counter() - t0)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def memory_profile(url: str, events: int) -> list[tuple[int, float]]:
    points = []
    async with Store(url, cipher=None) as store:
        async with store.logs.writer(max_batch=2000, max_buffer=4000, max_delay=0.5) as writer:
            step = max(1, events // 5)
            for i in range(events):
                g = i % EXECUTIONS + 1
                await writer.log(md5_uuid(f"execution{g}"), "browser_action", data={"i": i})
                if i % step == 0:
                    points.append((i, rss_mib()))
        points.append((events, rss_mib()))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--leases", type=int, default=4000)
    parser.add_argument("--memory-events", type=int, default=1_000_000)
    parser.add_argument("--saves", type=int, default=500, help="context saves per round")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    with temporary_cluster() as cluster:  # durable: fsync and synchronous_commit on
        url = cluster.url()
        Runner(url).up()
        with connect(url) as conn:
            conn.execute((HERE / "sql" / "store.sql").read_text())
            conn.execute(BENCH_SQL["store_sops"], {"users": USERS})
            conn.execute(BENCH_SQL["store_executions"], {"users": USERS, "executions": EXECUTIONS})
        rates = ingestion(url, args.rows, args.batch, args.rounds)
        writer = asyncio.run(writer_rate(url, args.rows, args.batch))
        append = asyncio.run(append_latency(url, args.appends))
        lease_rounds: dict[str, list[float]] = {"socket": [], "tcp": []}
        for _ in range(args.rounds):  # interleaved, so both transports see the same machine
            lease_rounds["socket"].append(asyncio.run(lease_rate(cluster.url(socket=True), args.leases)))
            lease_rounds["tcp"].append(asyncio.run(lease_rate(url, args.leases)))
        leases = {k: statistics.median(v) for k, v in lease_rounds.items()}
        memory = asyncio.run(memory_profile(url, args.memory_events))
        saves = context_rounds(url, cluster.url(superuser=True), args.saves, args.rounds)

    growth = memory[-1][1] - memory[1][1] if len(memory) > 2 else 0.0
    body = "\n".join(
        [
            "## The store: ingestion, single appends, leases, memory",
            "",
            f"Durable commits (fsync and synchronous_commit on). {args.rows:,} log events per round in COPY batches of"
            f" {args.batch:,} spanning 20 executions each; medians of {args.rounds} interleaved rounds.",
            "",
            "| ingestion path | rows/s | vs raw COPY | vs index floor |",
            "|---|---|---|---|",
            f"| raw COPY, unindexed table | {rates['raw']:,.0f} | 1.00 | {rates['raw'] / rates['floor']:.2f} |",
            f"| index floor: the log's indexes and FK, no triggers, no check constraints | {rates['floor']:,.0f} | {rates['floor'] / rates['raw']:.2f} | 1.00 |",
            f"| aef_execution_logs: indexes, RLS, FK, guards, seq, owner and chain checks | {rates['aef']:,.0f} | {rates['aef'] / rates['raw']:.2f} | {rates['aef'] / rates['floor']:.2f} |",
            f"| the whole LogWriter path (validation, batching, COPY) | {writer:,.0f} | {writer / rates['raw']:.2f} | {writer / rates['floor']:.2f} |",
            "",
            f"Single durable event: `logs.append` p50 {append['append']:.3f} ms, a bare autocommit INSERT into an unindexed table"
            f" p50 {append['bare']:.3f} ms: **{append['append'] / append['bare']:.2f}x** ({args.appends} alternating samples).",
            "",
            f"Browser-session leases, 16 workers sharing one user's pool of 16 sessions, medians of {args.rounds} interleaved rounds"
            f" of {args.leases:,}: **{leases['socket']:,.0f} lease-and-release per second** over the embedded cluster's unix socket"
            f" (`aef-db db url --socket`), {leases['tcp']:,.0f}/s over TCP to 127.0.0.1."
            f" Rounds: socket {', '.join(f'{x:,.0f}' for x in lease_rounds['socket'])}; tcp {', '.join(f'{x:,.0f}' for x in lease_rounds['tcp'])}.",
            "",
            "Memory of one process appending through the LogWriter (RSS): "
            + ", ".join(f"{n:,} events: {m:.0f} MiB" for n, m in memory)
            + f"; growth after the first fifth: {growth:+.1f} MiB.",
            "",
            f"Context saves (`executions.update_context` of one running execution, durable), medians of {args.rounds}"
            f" alternating rounds of {args.saves}: p50 **{saves['without'][0]:.3f} ms**, {saves['without'][1]:.0%} HOT updates,"
            f" {saves['without'][2]:,.0f} WAL bytes per save; with an index on `updated_at` (which aef-db leaves out)"
            f" p50 {saves['with'][0]:.3f} ms ({saves['with'][0] / saves['without'][0]:.2f}x), {saves['with'][1]:.0%} HOT,"
            f" {saves['with'][2]:,.0f} WAL bytes per save ({saves['with'][2] / saves['without'][2]:.2f}x). A HOT update"
            " writes no index entry; any other writes one in every index of the table, and the commit's fsync hides"
            " most of that in the latency.",
            "",
            "Targets: aef_execution_logs ≥ 80% of the index floor and ≥ 25% of raw COPY; append ≤ 2x the bare INSERT;"
            " ≥ 2,000 leases/s; memory flat.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("store", body, COMMAND)


if __name__ == "__main__":
    main()

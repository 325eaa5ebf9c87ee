"""The engine's write path against DBOS: every step recorded durably, side by side in one run.

One embedded cluster with durable commits (fsync and synchronous_commit on). The
workload is W workflows of S steps each, the same payload per step everywhere:

- DBOS: each step a ``@DBOS.step`` inside a ``@DBOS.workflow``, its system database
  on the same cluster (``system_database_url``); sequential, and 8 threads.
- aef-db: each workflow an execution (``executions.start(run=True)``, then S step
  events, ``complete``); the step event through ``logs.append`` (sequential, 8
  tasks) or a LogWriter (``step_completed``: sequential, 8 tasks with a writer
  each, 8 tasks sharing one writer; ``browser_action``, batched and flushed once at
  the end of each workflow, sequential).

Each path's time covers whole workflows (start and finish included) on both sides.
Steps per second are medians of interleaved rounds (the order rotates each round).
Then ``logs.append`` against a bare durable INSERT into an unindexed table (p50 of
alternating samples), and what each system writes per step: rows, bytes, WAL,
transactions, from one accounting pass per path on connections that are closed
before the counters are read.

DBOS is not a dependency of aef-db: install it with ``pip install '.[bench]'``.
Without it the bench says so and measures the aef-db side alone.

Usage: .venv/bin/python bench/engine.py [--workflows W] [--steps S] [--rounds N] [--samples N] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import psycopg  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from aef_db.connection import connect  # noqa: E402
from aef_db.runner import Runner  # noqa: E402
from aef_db.store import Store  # noqa: E402
from harness import md5_uuid, payload, temporary_cluster  # noqa: E402
from report import write_section  # noqa: E402
from store import BENCH_SQL  # noqa: E402

COMMAND = ".venv/bin/python bench/engine.py"
USERS = 8
TASKS = 8
AEF_DB, DBOS_DB = "bench_engine", "bench_dbos"
STATS_DB = "template1"  # the counters are read from a third database, so reading them counts nowhere
BARE_INSERT = (
    "insert into bench_raw (id, execution_id, user_id, seq, step_id, event_type, data)"
    " values (%(id)s, %(execution_id)s, %(user_id)s, %(seq)s, %(step_id)s, 'step_completed', %(data)s)"
)


def owner(i: int) -> uuid.UUID:
    return md5_uuid(f"user{i % USERS + 1}")


def sop(i: int) -> uuid.UUID:
    return md5_uuid(f"sop{i % USERS + 1}")


PAYLOAD_BYTES = len(json.dumps(payload(0)))


# -- aef-db ------------------------------------------------------------------

Record = Callable[[uuid.UUID, int], Awaitable[Any]]


async def aef_workflow(store: Store, i: int, steps: int, record: Record, end: Callable[[], Awaitable[Any]]) -> None:
    execution = await store.executions.start(sop(i), owner(i), run=True)
    for k in range(steps):
        await record(execution.id, k)
    await end()
    await store.executions.complete(execution.id)


async def nothing() -> None:
    return None


async def aef_path(store: Store, path: str, workflows: int, steps: int) -> Any:
    """Runs one path's workload; returns the shared writer when there is one (for its counters)."""
    numbers = iter(range(workflows))  # the tasks take the next workflow from one queue

    def step_completed(log: Callable[..., Awaitable[Any]]) -> Record:
        return lambda eid, k: log(eid, "step_completed", step_id=f"step-{k}", data=payload(k))

    async def worker(record: Record, end: Callable[[], Awaitable[Any]] = nothing) -> None:
        for i in numbers:
            await aef_workflow(store, i, steps, record, end)

    async def own_writer() -> None:
        async with store.logs.writer() as writer:
            await worker(step_completed(writer.log))

    if path == "append_seq":
        await worker(step_completed(store.logs.append))
    elif path == "append_8":
        await asyncio.gather(*(worker(step_completed(store.logs.append)) for _ in range(TASKS)))
    elif path == "writer_seq":
        await own_writer()
    elif path == "writer_own_8":
        await asyncio.gather(*(own_writer() for _ in range(TASKS)))
    elif path == "writer_shared_8":
        async with store.logs.writer() as writer:
            await asyncio.gather(*(worker(step_completed(writer.log)) for _ in range(TASKS)))
        return writer
    elif path == "browser_seq":
        async with store.logs.writer() as writer:

            def browser_action(eid: uuid.UUID, k: int) -> Awaitable[None]:
                return writer.log(eid, "browser_action", step_id=f"step-{k}", data=payload(k))

            await worker(browser_action, writer.flush)  # the workflow's events are durable before it completes
        return writer
    elif path == "lifecycle":  # start running, complete: no step
        await worker(step_completed(store.logs.append))
    else:
        raise ValueError(path)
    return None


async def timed_aef(url: str, path: str, workflows: int, steps: int) -> tuple[float, Any]:
    async with Store(url, cipher=None, min_size=TASKS + 2, max_size=TASKS + 2) as store:  # connected before the clock
        t0 = time.perf_counter()
        writer = await aef_path(store, path, workflows, steps)
        return time.perf_counter() - t0, writer


async def bare_inserts(url: str, n: int) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for k in range(n):
            await conn.execute(BARE_INSERT, bare_params(k))


def bare_params(k: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "execution_id": md5_uuid("bare"),
        "user_id": owner(0),
        "seq": k,
        "step_id": f"step-{k}",
        "data": Jsonb(payload(k)),
    }


async def append_latency(url: str, samples: int) -> dict[str, list[float]]:
    """``logs.append(step_completed)`` and a bare autocommit INSERT, alternating, in seconds."""
    times: dict[str, list[float]] = {"append": [], "bare": []}
    async with Store(url, cipher=None, max_size=2) as store:
        execution = await store.executions.start(sop(0), owner(0), run=True)
        await store.logs.append(execution.id, "step_started")  # warm the head cache
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for k in range(samples):
                t0 = time.perf_counter()
                await store.logs.append(execution.id, "step_completed", step_id=f"step-{k}", data=payload(k))
                times["append"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await conn.execute(BARE_INSERT, bare_params(k))
                times["bare"].append(time.perf_counter() - t0)
        await store.executions.complete(execution.id)
    return times


# -- DBOS --------------------------------------------------------------------


class Dbos:
    """DBOS 3.x, imported only here: it is the bench's own dependency, not aef-db's."""

    def __init__(self, url: str) -> None:
        from dbos import DBOS

        self.DBOS, self.url = DBOS, url
        self.version = _dbos_version()

        @DBOS.step()
        def record_step(k: int) -> dict[str, Any]:
            return payload(k)

        @DBOS.workflow()
        def workflow(steps: int) -> int:
            for k in range(steps):
                record_step(k)
            return steps

        self.workflow = workflow
        self.launched = False

    def launch(self) -> None:
        self.DBOS(config={"name": "aef-db-bench", "system_database_url": self.url, "log_level": "WARNING"})
        self.DBOS.launch()
        self.launched = True

    def destroy(self) -> None:
        if self.launched:
            self.DBOS.destroy()
            self.launched = False

    def run(self, threads: int, workflows: int, steps: int) -> float:
        if threads == 1:
            t0 = time.perf_counter()
            for _ in range(workflows):
                self.workflow(steps)
            return time.perf_counter() - t0
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: None, range(threads)))  # the threads exist before the clock starts
            t0 = time.perf_counter()
            list(pool.map(lambda _: self.workflow(steps), range(workflows)))
            return time.perf_counter() - t0


def _dbos_version() -> str:
    from importlib.metadata import version

    return version("dbos")


def load_dbos(url: str) -> tuple[Dbos | None, str]:
    try:
        return Dbos(url), ""
    except ImportError as exc:
        return None, f"DBOS is not installed here ({exc}); install it with `pip install '.[bench]'`."


# -- what each path writes ----------------------------------------------------


def counters(stats_url: str, database: str) -> dict[str, int]:
    """Cluster WAL position and the database's commits, rows and size, once its other sessions are gone
    (a backend reports its counters at the latest when it exits)."""
    with connect(stats_url) as conn:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = conn.execute(
                "select count(*) as n from pg_stat_activity where datname = %s and backend_type = 'client backend'",
                (database,),
            ).fetchone()
            if row is None or row["n"] == 0:
                break
            time.sleep(0.05)
        row = conn.execute(
            "select pg_current_wal_lsn() - '0/0'::pg_lsn as wal, xact_commit as xacts,"
            " tup_inserted + tup_updated + tup_deleted as rows, pg_database_size(datname) as bytes"
            " from pg_stat_database where datname = %s",
            (database,),
        ).fetchone()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


def account(stats_url: str, admin_url: str, database: str, run: Callable[[], Any]) -> dict[str, int]:
    """What ``run`` wrote. Vacuumed and checkpointed first, so every pass starts alike: autovacuum has
    nothing left over from the pass before, and each pass pays its own full-page images."""
    with connect(admin_url) as conn:
        conn.execute("vacuum analyze")
        conn.execute("checkpoint")
    before = counters(stats_url, database)
    run()
    after = counters(stats_url, database)
    return {k: after[k] - before[k] for k in before}


# -- the run -----------------------------------------------------------------

AEF_PATHS = ("append_seq", "append_8", "writer_seq", "writer_own_8", "writer_shared_8", "browser_seq")
DBOS_PATHS = ("dbos_seq", "dbos_8")
LABELS = {
    "dbos_seq": "DBOS step, sequential",
    "dbos_8": "DBOS step, 8 threads",
    "append_seq": "`logs.append(step_completed)`, sequential",
    "append_8": "`logs.append`, 8 tasks",
    "writer_seq": "LogWriter, `step_completed`, sequential",
    "writer_own_8": "LogWriter, `step_completed`, 8 tasks with a writer each",
    "writer_shared_8": "LogWriter, `step_completed`, 8 tasks sharing one writer",
    "browser_seq": "LogWriter, `browser_action` (batched), sequential",
}


def prepare(cluster: Any) -> tuple[str, str, str, str]:
    """The aef-db database (migrated, with SOPs and the bare table) and an empty one for DBOS's system tables."""
    with connect(cluster.url(superuser=True)) as conn:  # databases of their own: pg_cron works in postgres
        conn.execute(f"create database {AEF_DB} owner postgres")
        conn.execute(f"create database {DBOS_DB} owner postgres")
    url = cluster.url(database=AEF_DB)
    Runner(url).up()
    with connect(url) as conn:
        conn.execute((HERE / "sql" / "store.sql").read_text())
        conn.execute(BENCH_SQL["store_sops"], {"users": USERS})
    return url, cluster.url(database=DBOS_DB), cluster.url(superuser=True, database=STATS_DB), AEF_DB


def measure(args: argparse.Namespace) -> dict[str, Any]:
    w, s = args.workflows, args.steps
    steps = w * s
    with temporary_cluster() as cluster:  # durable: fsync and synchronous_commit on
        url, dbos_url, stats_url, aef_db = prepare(cluster)
        aef_admin, dbos_admin = (
            cluster.url(superuser=True, database=AEF_DB),
            cluster.url(superuser=True, database=DBOS_DB),
        )
        with connect(stats_url) as conn:
            rows = conn.execute("select name, setting from pg_settings where name in ('fsync', 'synchronous_commit')")
            settings = {r["name"]: r["setting"] for r in rows.fetchall()}
        dbos, note = load_dbos(dbos_url)

        # what each path writes: one pass each, every connection closed before the counters are read
        writes: dict[str, dict[str, int]] = {}
        shared_flushes: int | None = None

        def aef(path: str, wf: int = w, st: int = s) -> Callable[[], Any]:
            def run() -> Any:
                nonlocal shared_flushes
                _, writer = asyncio.run(timed_aef(url, path, wf, st))
                if path == "writer_shared_8" and isinstance(getattr(writer, "flushes", None), int):
                    shared_flushes = writer.flushes  # a public flush counter, if the writer has one
                return None

            return run

        writes["aef_lifecycle"] = account(stats_url, aef_admin, aef_db, aef("lifecycle", w, 0))
        for path in ("append_seq", "writer_shared_8", "browser_seq"):
            writes[path] = account(stats_url, aef_admin, aef_db, aef(path))
        writes["bare"] = account(stats_url, aef_admin, aef_db, lambda: asyncio.run(bare_inserts(url, steps)))
        if dbos is not None:
            dbos.launch()  # creates DBOS's system tables
            dbos.run(1, 1, 1)
            dbos.destroy()

            def dbos_pass(wf: int, st: int) -> Callable[[], None]:
                def run() -> None:
                    dbos.launch()
                    dbos.run(1, wf, st)
                    dbos.destroy()

                return run

            writes["dbos_lifecycle"] = account(stats_url, dbos_admin, DBOS_DB, dbos_pass(w, 0))
            writes["dbos_seq"] = account(stats_url, dbos_admin, DBOS_DB, dbos_pass(w, s))

        # throughput: interleaved rounds, the order rotating
        paths = list(AEF_PATHS) + (list(DBOS_PATHS) if dbos is not None else [])
        seconds: dict[str, list[float]] = {p: [] for p in paths}
        latency: dict[str, list[float]] = {"append": [], "bare": []}
        round_flushes: list[int] = []
        if dbos is not None:
            dbos.launch()
            dbos.run(TASKS, TASKS, 2)  # warm: the pool's connections
        try:
            for r in range(args.rounds):
                for path in paths[r % len(paths) :] + paths[: r % len(paths)]:
                    if path == "dbos_seq":
                        seconds[path].append(dbos.run(1, w, s))  # type: ignore[union-attr]
                    elif path == "dbos_8":
                        seconds[path].append(dbos.run(TASKS, w, s))  # type: ignore[union-attr]
                    else:
                        elapsed, writer = asyncio.run(timed_aef(url, path, w, s))
                        seconds[path].append(elapsed)
                        if path == "writer_shared_8" and isinstance(getattr(writer, "flushes", None), int):
                            round_flushes.append(writer.flushes)
                for key, values in asyncio.run(append_latency(url, args.samples)).items():
                    latency[key].extend(values)
        finally:
            if dbos is not None:
                dbos.destroy()

    rates = {p: steps / statistics.median(v) for p, v in seconds.items()}
    return {
        "rates": rates,
        "rounds": {p: [steps / x for x in v] for p, v in seconds.items()},
        "p50": {k: statistics.median(v) * 1000 for k, v in latency.items()},
        "writes": writes,
        "shared_flushes": shared_flushes,
        "round_flushes": round_flushes,
        "dbos_version": dbos.version if dbos is not None else None,
        "note": note,
        "settings": settings,
        "commit": source_commit(),
    }


def source_commit() -> str:
    """The commit measured, and whether src/ differed from it."""
    root = HERE.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"`{head}`" + (" plus uncommitted changes in src/" if dirty.stdout.strip() else "")


def per_step(diff: dict[str, int], lifecycle: dict[str, int] | None, steps: int) -> dict[str, float]:
    """A path's writes per step, less what its workflows' start and finish wrote (the lifecycle pass)."""
    base = lifecycle or dict.fromkeys(diff, 0)
    return {k: (diff[k] - base[k]) / steps for k in diff}


def render(args: argparse.Namespace, m: dict[str, Any]) -> str:
    w, s = args.workflows, args.steps
    steps = w * s
    rates, writes = m["rates"], m["writes"]
    have_dbos = "dbos_seq" in rates
    p50 = m["p50"]

    def ratio(a: str, b: str) -> float | None:
        return rates[a] / rates[b] if a in rates and b in rates else None

    def fmt(x: float | None, digits: int = 1) -> str:
        return "—" if x is None else f"{x:.{digits}f}x"

    lines = [
        "## The engine's write path against DBOS",
        "",
        f"{w} workflows × {s} steps per path, the same payload per step ({PAYLOAD_BYTES} bytes of JSON), on one"
        f" embedded cluster with durable commits (fsync {m['settings'].get('fsync')}, synchronous_commit"
        f" {m['settings'].get('synchronous_commit')}); medians of {args.rounds} interleaved rounds, the order rotating."
        " A path's time covers whole workflows on both sides: DBOS's `@DBOS.workflow` around its `@DBOS.step`s;"
        " aef-db's `executions.start(run=True)`, the step events and `complete`.",
        "",
    ]
    if have_dbos:
        lines.append(
            f"DBOS {m['dbos_version']}, its system database on the same cluster (`system_database_url`, database"
            f" `{DBOS_DB}`), defaults otherwise; 8 threads share its engine's connection pool."
        )
    else:
        lines.append(f"**DBOS was not measured.** {m['note']}")
    lines += [
        "",
        "| path | steps/s | against DBOS sequential | against DBOS 8 threads |",
        "|---|---|---|---|",
    ]
    for path in DBOS_PATHS + AEF_PATHS:
        if path not in rates:
            continue
        dbos_cols = "— | —" if path in DBOS_PATHS else f"{fmt(ratio(path, 'dbos_seq'))} | {fmt(ratio(path, 'dbos_8'))}"
        lines.append(f"| {LABELS[path]} | {rates[path]:,.0f} | {dbos_cols} |")
    lines += [
        "",
        "Rounds (steps/s): "
        + "; ".join(f"{p} {', '.join(f'{x:,.0f}' for x in v)}" for p, v in m["rounds"].items())
        + ".",
        "",
    ]

    append_vs_bare = p50["append"] / p50["bare"]
    targets = [
        (
            "`append` against a bare durable INSERT into an unindexed table, p50",
            f"{p50['append']:.3f} ms / {p50['bare']:.3f} ms = {append_vs_bare:.2f}x",
            "≤ 1.5x",
            append_vs_bare <= 1.5,
        ),
        ("`append` sequential against DBOS sequential", fmt(ratio("append_seq", "dbos_seq"), 2), "≥ 5x", None),
        (
            "LogWriter `step_completed`, 8 tasks sharing one writer, against the same 8 tasks sequential",
            fmt(ratio("writer_shared_8", "writer_seq"), 2),
            "≥ 4x",
            None,
        ),
        (
            "the same shared writer against DBOS with 8 threads",
            fmt(ratio("writer_shared_8", "dbos_8"), 2),
            "≥ 15x",
            None,
        ),
        ("LogWriter `browser_action` against DBOS sequential", fmt(ratio("browser_seq", "dbos_seq"), 2), "≥ 20x", None),
    ]
    floors = {
        "`append` sequential against DBOS sequential": (ratio("append_seq", "dbos_seq"), 5),
        "LogWriter `step_completed`, 8 tasks sharing one writer, against the same 8 tasks sequential": (
            ratio("writer_shared_8", "writer_seq"),
            4,
        ),
        "the same shared writer against DBOS with 8 threads": (ratio("writer_shared_8", "dbos_8"), 15),
        "LogWriter `browser_action` against DBOS sequential": (ratio("browser_seq", "dbos_seq"), 20),
    }
    lines += ["| figure | this run | target | met |", "|---|---|---|---|"]
    for label, value, target, met in targets:
        if met is None:
            got, floor = floors[label]
            met = None if got is None else got >= floor
        lines.append(f"| {label} | {value} | {target} | {'—' if met is None else ('yes' if met else '**no**')} |")
    lines += [
        "",
        f"`append` and the bare INSERT: {args.samples * args.rounds} alternating"
        " samples each, the INSERT on its own autocommit connection into `bench_raw` (the log's columns, no index, no"
        " constraint), with the same payload.",
        "",
        "### What each system writes per step",
        "",
        f"One accounting pass per path ({w} × {s}, its connections closed before the counters are read): rows"
        " (inserted + updated + deleted), bytes (growth of the database's files), WAL (`pg_current_wal_lsn()` moved:"
        " cluster-wide, so autovacuum and checkpoints add to it), transactions (`xact_commit` of `pg_stat_database`,"
        " read-only ones included). Per step: the pass less a pass of the same workflows with no step, divided by"
        f" {steps:,}.",
        "",
        "| path | rows | bytes | WAL bytes | transactions | steps per transaction |",
        "|---|---|---|---|---|---|",
    ]

    def write_row(label: str, key: str, lifecycle: str | None) -> None:
        if key not in writes:
            return
        d = per_step(writes[key], writes.get(lifecycle) if lifecycle else None, steps)
        per_xact = f"{1 / d['xacts']:.1f}" if d["xacts"] > 0 else "—"
        lines.append(
            f"| {label} | {d['rows']:.2f} | {d['bytes']:,.0f} | {d['wal']:,.0f} | {d['xacts']:.3f} | {per_xact} |"
        )

    write_row("DBOS step", "dbos_seq", "dbos_lifecycle")
    write_row("`logs.append(step_completed)`", "append_seq", "aef_lifecycle")
    write_row("LogWriter `step_completed`, 8 tasks sharing one writer", "writer_shared_8", "aef_lifecycle")
    write_row("LogWriter `browser_action`, flushed once per workflow", "browser_seq", "aef_lifecycle")
    write_row("bare INSERT, unindexed table (per row)", "bare", None)

    def lifecycle_text(key: str, name: str) -> str:
        d = {k: v / w for k, v in writes[key].items()}
        return (
            f"{name} {d['rows']:.1f} rows, {d['bytes']:,.0f} bytes, {d['wal']:,.0f} WAL bytes,"
            f" {d['xacts']:.1f} transactions"
        )

    parts = [lifecycle_text("aef_lifecycle", "aef-db (start running, complete)")]
    if "dbos_lifecycle" in writes:
        parts.insert(
            0, lifecycle_text("dbos_lifecycle", "DBOS (a workflow without steps, launch and shutdown included)")
        )
    lines += ["", "A workflow's start and finish alone, per workflow: " + "; ".join(parts) + "."]
    flushes = m["shared_flushes"]
    shared = per_step(writes["writer_shared_8"], writes["aef_lifecycle"], steps)
    if flushes:
        lines.append(
            f"The shared writer (its public `flushes` counter) committed {flushes:,} times for {steps:,} step"
            f" events in the accounting pass: {steps / flushes:.1f} events per flush; in the timed rounds, "
            + ", ".join(f"{n:,} ({steps / n:.1f} per flush)" for n in m["round_flushes"])
            + "."
        )
    elif shared["xacts"] > 0:
        lines.append(
            "The writer has no public flush counter; from the transactions, the shared writer committed about"
            f" {shared['xacts'] * steps:,.0f} times for {steps:,} step events: {1 / shared['xacts']:.1f} events per"
            " commit."
        )
    lines += [
        "",
        f"aef-db as it stood at this run: commit {m['commit']}. The machine is shared: absolute rates move"
        " between runs (a durable commit's fsync dominates both sides), ratios within a run hold better.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=40)
    parser.add_argument("--steps", type=int, default=50, help="steps per workflow")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200, help="append / bare INSERT pairs per round")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    logging.getLogger("dbos").setLevel(logging.WARNING)

    m = measure(args)
    body = render(args, m)
    print(body)
    if m["note"]:
        print(f"\nnote: {m['note']}", file=sys.stderr)
    if not args.no_write:
        write_section(
            "engine",
            body,
            f"{COMMAND} --workflows {args.workflows} --steps {args.steps} --rounds {args.rounds}"
            f" --samples {args.samples}",
        )


if __name__ == "__main__":
    main()

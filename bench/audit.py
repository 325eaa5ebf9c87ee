"""The audit chain's cost, and how fast `aef-db audit verify` checks it.

Side by side in one run, on one embedded cluster with durable commits:
1. Batched ingestion with the chain on (every migration) and off (the same schema
   one migration earlier): COPY with writer-supplied seq and hashes (the
   LogWriter's path); one large INSERT ... SELECT of the same rows; one large
   INSERT ... SELECT that names only the seed's columns (the database fills
   seq, owner and hashes row by row). Raw COPY and the index floor too.
2. 8 concurrent single-event writers (`logs.append`) on different executions.
3. verify: events per second over a loaded log, and the client's memory.

Usage: .venv/bin/python bench/audit.py [--rows N] [--batch N] [--rounds N] [--appends N] [--append-rounds N]
                                      [--verify-rows N] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import md5_uuid, temporary_cluster  # noqa: E402
from report import write_section  # noqa: E402
from store import BENCH_SQL, COPY_COLUMNS, EXECUTIONS, USERS, copy_batches, event_rows  # noqa: E402

from aef_db.audit.verify import verify  # noqa: E402
from aef_db.connection import connect  # noqa: E402
from aef_db.runner import Runner  # noqa: E402
from aef_db.store import Store  # noqa: E402

COMMAND = ".venv/bin/python bench/audit.py"
BEFORE_CHAIN = "20261126000700"


def prepare(cluster, name: str, to: str | None) -> str:  # type: ignore[no-untyped-def]
    with connect(cluster.url(superuser=True)) as conn:
        conn.execute(f"create database {name} owner postgres")  # noqa: S608 (a constant name)
    url = cluster.url(database=name)
    Runner(url).up(to=to)
    with connect(url) as conn:
        conn.execute((HERE / "sql" / "store.sql").read_text())
        conn.execute(BENCH_SQL["store_sops"], {"users": USERS})
        # executions 1..EXECUTIONS take the COPY rounds, the next EXECUTIONS the INSERT ... SELECT rounds
        conn.execute(BENCH_SQL["store_executions"], {"users": USERS, "executions": 2 * EXECUTIONS})
    return url


def staged_insert_select(url: str, batches: list[list[tuple]]) -> float:
    """Seconds for one INSERT ... SELECT of the writer's rows (seq and hashes supplied),
    staged in a temporary table first (not timed)."""
    with connect(url) as conn, conn.transaction():
        conn.execute("create temporary table staged (like bench_raw) on commit drop")
        with conn.cursor().copy(f"copy staged {COPY_COLUMNS} from stdin") as copy:
            for rows in batches:
                for row in rows:
                    copy.write_row(row)
        t0 = time.perf_counter()
        conn.execute(f"insert into public.aef_execution_logs {COPY_COLUMNS} select {COPY_COLUMNS[1:-1]} from staged")  # noqa: S608
        return time.perf_counter() - t0


def ingestion(urls: dict[str, str], rows: int, batch: int, rounds: int) -> dict[str, float]:
    """Rows per second, medians of interleaved rounds."""
    targets = {"raw": (urls["on"], "bench_raw"), "floor": (urls["on"], "bench_floor"),
               "copy_off": (urls["off"], "public.aef_execution_logs"), "copy_on": (urls["on"], "public.aef_execution_logs")}  # fmt: skip
    rates: dict[str, list[float]] = {k: [] for k in [*targets, "staged_off", "staged_on", "select_off", "select_on"]}
    heads: dict[str, dict] = {k: {} for k in [*targets, "staged_off", "staged_on"]}
    for r in range(rounds):
        for name, (url, table) in targets.items():
            rates[name].append(rows / copy_batches(url, table, event_rows(rows, batch, heads[name])))
        for name in ("staged_off", "staged_on"):  # the same executions as COPY: continue their chains
            chain = "copy_" + name.removeprefix("staged_")
            heads[name] = heads[chain]
            rates[name].append(rows / staged_insert_select(urls[name.removeprefix("staged_")], [event_rows(rows, rows, heads[chain])[0]]))
        for name in ("select_off", "select_on"):
            with connect(urls[name.removeprefix("select_")]) as conn:
                t0 = time.perf_counter()
                conn.execute(BENCH_SQL["bulk_insert_select"], {"executions": EXECUTIONS, "first": EXECUTIONS + 1,
                                                               "start": 10_000_000 + r * rows, "rows": rows})  # fmt: skip
                rates[name].append(rows / (time.perf_counter() - t0))
    return {k: statistics.median(v) for k, v in rates.items()}


async def single_writers(url: str, per_writer: int, writers: int = 8) -> float:
    async with Store(url, cipher=None, max_size=writers) as store:
        executions = [md5_uuid(f"execution{g}") for g in range(1, writers + 1)]
        for e in executions:
            await store.logs.append(e, "step_started")  # warm the head cache

        async def writer(execution_id) -> None:  # type: ignore[no-untyped-def]
            for i in range(per_writer):
                await store.logs.append(execution_id, "browser_action", data={"i": i})

        t0 = time.perf_counter()
        await asyncio.gather(*(writer(e) for e in executions))
        return writers * per_writer / (time.perf_counter() - t0)


def verify_rate(url: str, rows: int) -> tuple[int, float, float]:
    per_execution = max(1, rows // EXECUTIONS)
    with connect(url) as conn:
        for offset in range(0, EXECUTIONS, 50):
            conn.execute(BENCH_SQL["verify_load"], {"offset": offset, "chunk": 50, "per_execution": per_execution})
        conn.execute("vacuum analyze public.aef_execution_logs")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with connect(url) as conn:
        report = verify(conn)
    assert report.intact, report.first
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    return report.events, report.events / report.seconds, grown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--appends", type=int, default=1000, help="events per single-event writer per round")
    parser.add_argument("--append-rounds", type=int, default=5, help="interleaved rounds of the single-event writers")
    parser.add_argument("--verify-rows", type=int, default=2_000_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    with temporary_cluster() as cluster:  # durable: fsync and synchronous_commit on
        urls = {"off": prepare(cluster, "chain_off", BEFORE_CHAIN), "on": prepare(cluster, "chain_on", None)}
        rates = ingestion(urls, args.rows, args.batch, args.rounds)
        appends: dict[str, list[float]] = {"off": [], "on": []}
        for _ in range(args.append_rounds):  # short and noisy: more rounds than the ingestion's
            for name in ("off", "on"):
                appends[name].append(asyncio.run(single_writers(urls[name], args.appends)))
        append = {k: statistics.median(v) for k, v in appends.items()}
        verified, verify_per_s, verify_mib = verify_rate(urls["on"], args.verify_rows)

    def row(label: str, key: str) -> str:
        return f"| {label} | {rates[key]:,.0f} | {rates[key] / rates['raw']:.2f} | {rates[key] / rates['floor']:.2f} |"

    body = "\n".join([
        "## The audit chain: ingestion, single writers, verify",
        "",
        f"Durable commits. {args.rows:,} events per round; COPY in batches of {args.batch:,} spanning 20 executions each"
        f" (seq and hashes supplied, as the LogWriter sends them); INSERT ... SELECT names only the seed's columns, in runs"
        f" of 1,000 events per execution. Medians of {args.rounds} interleaved rounds. Chain off = the same schema one"
        f" migration earlier ({BEFORE_CHAIN}).",
        "",
        "| path | rows/s | vs raw COPY | vs index floor |",
        "|---|---|---|---|",
        row("raw COPY, unindexed table", "raw"),
        row("index floor", "floor"),
        row("COPY, chain off", "copy_off"),
        row("COPY, chain on", "copy_on"),
        row("INSERT ... SELECT of the writer's rows, chain off", "staged_off"),
        row("INSERT ... SELECT of the writer's rows, chain on", "staged_on"),
        row("INSERT ... SELECT, seed columns only (the database fills), chain off", "select_off"),
        row("INSERT ... SELECT, seed columns only (the database fills), chain on", "select_on"),
        "",
        f"Chain on vs off: **COPY {rates['copy_on'] / rates['copy_off']:.2f}**, **INSERT ... SELECT of the writer's rows"
        f" {rates['staged_on'] / rates['staged_off']:.2f}**, INSERT ... SELECT filled row by row by the database"
        f" {rates['select_on'] / rates['select_off']:.2f} (target ≥ 0.80).",
        "",
        f"8 concurrent single-event writers (`logs.append`, {args.appends} events each per round, medians of"
        f" {args.append_rounds} interleaved rounds): chain off"
        f" {append['off']:,.0f} events/s, chain on {append['on']:,.0f} events/s: **{append['on'] / append['off']:.2f}**"
        " (target ≥ 0.80).",
        "",
        f"`aef-db audit verify` over {verified:,} events in {EXECUTIONS} chains: **{verify_per_s:,.0f} events/s**"
        f" (target ≥ 200,000); the client's peak memory grew by {verify_mib:.0f} MiB.",
    ])  # fmt: skip
    print(body)
    if not args.no_write:
        write_section("audit", body, COMMAND)


if __name__ == "__main__":
    main()

"""The log's write paths against the index floor, and how fast `aef-db audit verify` checks it.

Side by side in one run, on one embedded cluster with durable commits. The index
floor is the log's table with its indexes (the unique key among them) and foreign
key, but no triggers and no check constraints (bench/sql/store.sql): what any
table holding these rows would cost. Each path writes the same events, in one
statement per round, over 200 executions:

- seed columns only (execution_id, step_id, event_type, data), as supabase-js, psql
  or an import script writes: the database fills seq, owner and the chain. By COPY
  and by INSERT ... SELECT (staged first, not timed), each grouped by execution
  (runs of rows/200) and interleaved (row i to execution i mod 200);
- seq and hashes supplied, as the LogWriter sends them: COPY, grouped.

The floor is written the same way (COPY or INSERT ... SELECT, same order) with
every column supplied. Then verify: events per second over a loaded log.

Usage: .venv/bin/python bench/audit.py [--rows N] [--rounds N] [--verify-rows N] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from aef_db.audit.canonical import jsonb_text  # noqa: E402
from aef_db.audit.verify import verify  # noqa: E402
from aef_db.connection import connect  # noqa: E402
from aef_db.runner import Runner  # noqa: E402
from harness import md5_uuid, temporary_cluster  # noqa: E402
from report import write_section  # noqa: E402
from store import BENCH_SQL, COPY_COLUMNS, EXECUTIONS, USERS, copy_batches, event_rows, owner_of  # noqa: E402

COMMAND = ".venv/bin/python bench/audit.py"
SPREAD = 200  # executions per path
# each seed path writes to executions of its own: after the LogWriter's 1..EXECUTIONS
FIRST = {"grouped": EXECUTIONS + 1, "interleaved": EXECUTIONS + SPREAD + 1}
SEED_COLUMNS = "(execution_id, step_id, event_type, data)"


def prepare(cluster) -> str:  # type: ignore[no-untyped-def]
    with connect(cluster.url(superuser=True)) as conn:
        conn.execute("create database bench_audit owner postgres")
    url = cluster.url(database="bench_audit")
    Runner(url).up()
    with connect(url) as conn:
        conn.execute((HERE / "sql" / "store.sql").read_text())
        conn.execute(BENCH_SQL["store_sops"], {"users": USERS})
        conn.execute(BENCH_SQL["store_executions"], {"users": USERS, "executions": EXECUTIONS + 2 * SPREAD})
    return url


def seed_events(rows: int, order: str, start: int) -> list[tuple[int, str, str]]:
    """(execution number, step_id, data as text) of the events a seed-column writer sends."""
    run = max(1, rows // SPREAD)
    events = []
    for i in range(start, start + rows):
        k = (i - start) // run % SPREAD if order == "grouped" else i % SPREAD
        events.append(
            (FIRST[order] + k, f"step-{i % 7}", jsonb_text({"i": i, "url": f"https://portal.example.com/invoices/{i}"}))
        )
    return events


def seed_row(event: tuple[int, str, str]) -> tuple:
    g, step, data = event
    return (md5_uuid(f"execution{g}"), step, "browser_action", data)


def floor_row(event: tuple[int, str, str], seqs: dict[int, int], now: datetime) -> tuple:
    """The same event with every column supplied, as a table without aef-db's machinery needs it."""
    g, step, data = event
    seqs[g] = seqs.get(g, 0) + 1
    return (
        uuid.uuid4(),
        md5_uuid(f"execution{g}"),
        owner_of(g),
        seqs[g],
        step,
        "browser_action",
        now,
        data,
        None,
        os.urandom(32),
        os.urandom(32),
    )


def timed_copy(url: str, table: str, columns: str, rows: list[tuple]) -> float:
    with connect(url) as conn, conn.transaction():
        t0 = time.perf_counter()
        with conn.cursor().copy(f"copy {table} {columns} from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - t0


def timed_insert_select(url: str, table: str, columns: str, rows: list[tuple]) -> float:
    """One INSERT ... SELECT of rows staged in a temporary table first (not timed), in their order."""
    with connect(url) as conn, conn.transaction():
        conn.execute(f"create temporary table staged as select * from {table} limit 0")
        conn.execute("alter table staged add column ord bigint generated always as identity")
        with conn.cursor().copy(f"copy staged {columns} from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        names = columns.strip("()")
        t0 = time.perf_counter()
        conn.execute(f"insert into {table} {columns} select {names} from staged order by ord")
        elapsed = time.perf_counter() - t0
        conn.execute("drop table staged")
        return elapsed


def ingestion(url: str, rows: int, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """Rows per second of each path and of its floor (medians), and each path's ratio to its floor:
    the median of the rounds' ratios, each taken from the path and its floor timed back to back
    (alternating which goes first), so a load that comes and goes on a shared machine moves both."""
    rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    floor_seqs: dict[int, int] = {}
    heads: dict[int, tuple[int, bytes | None]] = {}
    floor_heads: dict[int, tuple[int, bytes | None]] = {}

    def pair(key: str, r: int, path: Callable[[], float], floor: Callable[[], float]) -> None:
        if r % 2:
            floor_s, path_s = floor(), path()
        else:
            path_s, floor_s = path(), floor()
        rates.setdefault(key, []).append(rows / path_s)
        rates.setdefault(key + "_floor", []).append(rows / floor_s)
        ratios.setdefault(key, []).append(floor_s / path_s)

    for r in range(rounds):
        now = datetime.now(UTC)
        for order in ("grouped", "interleaved"):
            for method, timed in (("copy", timed_copy), ("select", timed_insert_select)):
                events = seed_events(rows, order, r * rows)
                seed = [seed_row(e) for e in events]
                full = [floor_row(e, floor_seqs, now) for e in events]
                pair(
                    f"{method}_{order}",
                    r,
                    lambda timed=timed, seed=seed: timed(url, "public.aef_execution_logs", SEED_COLUMNS, seed),
                    lambda timed=timed, full=full: timed(url, "bench_floor", COPY_COLUMNS, full),
                )
        supplied = event_rows(rows, rows, heads)  # the LogWriter's rows, hashed before the clock starts
        floor = event_rows(rows, rows, floor_heads)
        pair(
            "supplied",
            r,
            lambda supplied=supplied: copy_batches(url, "public.aef_execution_logs", supplied),
            lambda floor=floor: copy_batches(url, "bench_floor", floor),
        )
    return {k: statistics.median(v) for k, v in rates.items()}, {k: statistics.median(v) for k, v in ratios.items()}


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
    parser.add_argument("--rows", type=int, default=100_000, help="events per path per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--verify-rows", type=int, default=2_000_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    with temporary_cluster() as cluster:  # durable: fsync and synchronous_commit on
        url = prepare(cluster)
        rates, ratios = ingestion(url, args.rows, args.rounds)
        verified, verify_per_s, verify_mib = verify_rate(url, args.verify_rows)

    def ratio(key: str) -> str:
        return f"**{ratios[key]:.2f}**"

    def rate(key: str) -> str:
        return f"{rates[key]:,.0f} / {rates[key + '_floor']:,.0f}"

    body = "\n".join(
        [
            "## The log's write paths against the index floor; verify",
            "",
            f"Durable commits. {args.rows:,} events per path per round over {SPREAD} executions, one statement each, in"
            f" {args.rounds} rounds. The index floor is the log's table with its indexes and foreign key but no"
            " triggers and no check constraints, written the same way with every column supplied. Ratio = the path's rows/s"
            " over the floor's, timed back to back in each round (which goes first alternates); the median of the rounds'"
            " ratios (targets: seed columns ≥ 0.60 grouped and ≥ 0.50 interleaved; supplied ≥ 0.80).",
            "",
            "| path | grouped by execution | interleaved |",
            "|---|---|---|",
            f"| COPY, seed columns | {ratio('copy_grouped')} | {ratio('copy_interleaved')} |",
            f"| INSERT ... SELECT, seed columns | {ratio('select_grouped')} | {ratio('select_interleaved')} |",
            f"| supplied seq and hash (the LogWriter's COPY) | {ratio('supplied')} | — |",
            "",
            "Rows per second, path / floor (medians of the rounds):",
            "",
            "| path | grouped by execution | interleaved |",
            "|---|---|---|",
            f"| COPY, seed columns | {rate('copy_grouped')} | {rate('copy_interleaved')} |",
            f"| INSERT ... SELECT, seed columns | {rate('select_grouped')} | {rate('select_interleaved')} |",
            f"| supplied seq and hash | {rate('supplied')} | — |",
            "",
            f"`aef-db audit verify` over {verified:,} events in {EXECUTIONS} chains: **{verify_per_s:,.0f} events/s**"
            f" (target ≥ 200,000); the client's peak memory grew by {verify_mib:.0f} MiB.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section(
            "audit", body, f"{COMMAND} --rows {args.rows} --rounds {args.rounds} --verify-rows {args.verify_rows}"
        )


if __name__ == "__main__":
    main()

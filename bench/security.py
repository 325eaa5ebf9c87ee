"""What the security pass costs, side by side in one run.

1. The user functions on an id that belongs to someone else against one that
   does not exist, as a signed-in user: the two must be indistinguishable, so
   the ratio of their medians should be 1 (it was about 1.8 before).
2. The log's JSON guards (real size and depth on data and browser_state)
   against the caps as they were (stored size only): one INSERT ... SELECT that
   names only the seed's columns, in interleaved rounds on two databases.
3. One statement that fills the logs of many executions at once (the import
   that failed with "out of shared memory" under the old advisory lock).

Usage: .venv/bin/python bench/security.py [--calls N] [--rows N] [--rounds N] [--import-executions N] [--no-write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from aef_db.connection import connect  # noqa: E402
from aef_db.runner import Runner  # noqa: E402
from harness import md5_uuid, temporary_cluster  # noqa: E402
from report import write_section  # noqa: E402
from store import BENCH_SQL  # noqa: E402

COMMAND = ".venv/bin/python bench/security.py"
USERS = 2


def prepare(cluster, name: str, executions: int, guards_off: bool = False) -> str:  # type: ignore[no-untyped-def]
    with connect(cluster.url(superuser=True)) as conn:
        conn.execute(f"create database {name} owner postgres")
    url = cluster.url(database=name)
    Runner(url).up()
    with connect(url) as conn:
        conn.execute(BENCH_SQL["store_sops"], {"users": USERS})
        conn.execute(BENCH_SQL["store_executions"], {"users": USERS, "executions": executions})
        if guards_off:
            conn.execute(BENCH_SQL["security_guards_off"])
    return url


def probe_timings(url: str, calls: int) -> dict[str, float]:
    """Median ms per call, interleaved: another user's execution, a missing id."""
    theirs = md5_uuid("execution1")  # owned by user 2 (store_executions: g % users + 1)
    samples: dict[str, list[float]] = {"not yours": [], "does not exist": []}
    with connect(url) as conn:
        conn.execute("set role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, false)", (f'{{"sub": "{md5_uuid("user1")}"}}',))
        for i in range(calls):
            for case, target in (("not yours", theirs), ("does not exist", uuid.uuid4()))[:: 1 if i % 2 else -1]:
                t0 = time.perf_counter()
                try:
                    conn.execute("select public.aef_pause_execution(%s)", (target,))
                except Exception as exc:
                    assert getattr(exc, "sqlstate", None) == "P0002", exc
                else:
                    raise AssertionError(f"{case}: the call succeeded")
                samples[case].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1000 for k, v in samples.items()}


def guard_rates(urls: dict[str, str], rows: int, rounds: int, executions: int) -> dict[str, float]:
    """Rows per second of the fill path, medians of interleaved rounds (runs of 1,000 per execution)."""
    rates: dict[str, list[float]] = {k: [] for k in urls}
    for r in range(rounds):
        for name, url in urls.items() if r % 2 == 0 else reversed(urls.items()):
            with connect(url) as conn:
                t0 = time.perf_counter()
                conn.execute(
                    BENCH_SQL["bulk_insert_select"],
                    {"executions": executions, "first": 1, "start": r * rows, "rows": rows},
                )
                rates[name].append(rows / (time.perf_counter() - t0))
    return {k: statistics.median(v) for k, v in rates.items()}


def fill_import(url: str, executions: int, per_execution: int) -> float:
    with connect(url) as conn:
        t0 = time.perf_counter()
        conn.execute(
            BENCH_SQL["security_fill_import"], {"first": 1, "executions": executions, "per_execution": per_execution}
        )
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per case of the id probe")
    parser.add_argument("--rows", type=int, default=50_000, help="rows per round of the guard comparison")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--import-executions", type=int, default=20_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    executions = max(args.import_executions, 200)
    with temporary_cluster() as cluster:
        urls = {"on": prepare(cluster, "bench_on", executions), "off": prepare(cluster, "bench_off", executions, True)}
        probe = probe_timings(urls["on"], args.calls)
        rates = guard_rates(urls, args.rows, args.rounds, 200)
        imported = fill_import(urls["on"], args.import_executions, 2)
    n = 2 * args.import_executions
    body = f"""## Security: what the guards cost

**Probing ids through the user functions.** `aef_pause_execution` as a signed-in
user, on another user's execution and on an id that does not exist, {args.calls:,}
calls each, interleaved; client-side medians. Both answer P0002 from the same lookup.

| case | median | ratio |
|---|---|---|
| not yours | {probe["not yours"]:.3f} ms | {probe["not yours"] / probe["does not exist"]:.2f} |
| does not exist | {probe["does not exist"]:.3f} ms | 1.00 |

**The log's JSON guards** (size measured decompressed, depth at most 64) against the
caps as they were (stored size only): one `INSERT ... SELECT` of {args.rows:,} rows naming
the seed's columns, over 200 executions, medians of {args.rounds} interleaved rounds.

| log table | rows/s | ratio |
|---|---|---|
| with the guards | {rates["on"]:,.0f} | {rates["on"] / rates["off"]:.2f} |
| caps as before | {rates["off"]:,.0f} | 1.00 |

**One statement over many executions.** `INSERT ... SELECT` of {n:,} events naming the
seed's columns, 2 per execution over {args.import_executions:,} executions, interleaved:
{imported:.2f} s ({n / imported:,.0f} events/s) on a server with the default
`max_locks_per_transaction` (64). Under the old per-execution advisory lock this
statement failed with "out of shared memory"."""
    print(body)
    if not args.no_write:
        write_section(
            "security",
            body,
            f"{COMMAND} --calls {args.calls} --rows {args.rows} --rounds {args.rounds}"
            f" --import-executions {args.import_executions}",
        )


if __name__ == "__main__":
    main()

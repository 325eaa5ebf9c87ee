"""Why each test gets CREATE DATABASE ... TEMPLATE: its cost against migrating a fresh database.

Side by side in one run on one embedded cluster:
- clone: CREATE DATABASE ... TEMPLATE <migrated template>, as the test suite does;
- migrate: CREATE DATABASE from template0, then the compat layer and `migrate up`.

Usage: .venv/bin/python bench/per_test_database.py [--rounds N] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aef_db import compat
from aef_db.connection import connect
from aef_db.runner import Runner
from harness import temporary_cluster
from report import median_ms, write_section

COMMAND = ".venv/bin/python bench/per_test_database.py --rounds 20"


def run(rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"clone": [], "migrate": []}
    with temporary_cluster({"fsync": "off", "synchronous_commit": "off"}) as cluster:
        admin = connect(cluster.url(superuser=True))
        admin.execute("create database bench_template owner postgres")
        Runner(cluster.url(database="bench_template")).up()
        for i in range(rounds):  # interleaved, so drift on a shared machine hits both alike
            t0 = time.perf_counter()
            admin.execute(f"create database bench_clone_{i} template bench_template owner postgres")
            samples["clone"].append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            admin.execute(f"create database bench_fresh_{i} template template0 owner postgres")
            with connect(cluster.url(database=f"bench_fresh_{i}")) as conn:
                compat.install(conn)
            Runner(cluster.url(database=f"bench_fresh_{i}")).up()
            samples["migrate"].append(time.perf_counter() - t0)
        admin.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()
    samples = run(args.rounds)
    clone, migrate = median_ms(samples["clone"]), median_ms(samples["migrate"])
    body = (
        "## A database per test: template clone against a fresh migration\n\n"
        "| way to get a migrated database | median | ratio |\n|---|---|---|\n"
        f"| `CREATE DATABASE ... TEMPLATE` (the test suite's way) | {clone:.1f} ms | 1.00 |\n"
        f"| `CREATE DATABASE` + compat layer + `migrate up` | {migrate:.1f} ms | {migrate / clone:.2f} |\n\n"
        f"{args.rounds} rounds each, interleaved, one embedded cluster (fsync off)."
    )
    print(body)
    if not args.no_write:
        write_section("test-databases", body, COMMAND)


if __name__ == "__main__":
    main()

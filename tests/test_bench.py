"""Each benchmark runs at a tiny size, to prove it still works. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_per_test_database_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "per_test_database.py"), "--rounds", "1", "--no-write"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| `CREATE DATABASE ... TEMPLATE` (the test suite's way) |" in result.stdout


def test_queries_benchmark_runs_at_a_tiny_size() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "queries.py"), "--users", "5", "--executions", "50", "--logs-per-execution", "5",
         "--iterations", "3", "--naive-iterations", "2", "--no-write"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| a 100-row page of one execution's log |" in result.stdout


def test_store_benchmark_runs_at_a_tiny_size() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "store.py"), "--rows", "2000", "--batch", "500", "--rounds", "1", "--appends", "5",
         "--leases", "50", "--memory-events", "1000", "--no-write"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| aef_execution_logs: indexes, RLS, FK, guards, seq and owner checks |" in result.stdout

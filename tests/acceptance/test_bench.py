"""Each benchmark runs at a tiny size, to prove it still works. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs every benchmark script in a subprocess

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args, "--no-write"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_per_test_database_benchmark_runs() -> None:
    assert "| `CREATE DATABASE ... TEMPLATE` (the test suite's way) |" in run_bench(
        "per_test_database.py", "--rounds", "1"
    )


def test_queries_benchmark_runs_at_a_tiny_size() -> None:
    out = run_bench(
        "queries.py",
        "--users",
        "5",
        "--executions",
        "50",
        "--heavy-executions",
        "10",
        "--logs-per-execution",
        "5",
        "--iterations",
        "3",
        "--naive-iterations",
        "2",
        "--ui-iterations",
        "3",
    )
    assert "| a 100-row page of one execution's log |" in out
    # the UI's queries as supabase-js writes them: each for the heavy user and for random users, with its plan
    ui_rows = [line for line in out.splitlines() if line.startswith("| my ") or line.startswith("| a page of ")]
    for label in (
        "`order by started_at desc nulls last limit 20`",
        "`order by created_at desc limit 20`",
        "`where execution_id = $1 order by seq limit 100`",
        "`where status = 'pending' order by created_at`",
        "`select status, count(*) ... group by status`",
    ):
        whose = [row.split(" | ")[1] for row in ui_rows if label in row]
        assert whose == ["the 10-execution user", "random users"], (label, out)
    assert all(row.count(" | ") == 8 and row.endswith((" | yes |", " | NO |")) for row in ui_rows), out
    assert "50 executions over 6 users: one user owns 10" in out


def test_store_benchmark_runs_at_a_tiny_size() -> None:
    out = run_bench(
        "store.py",
        "--rows",
        "2000",
        "--batch",
        "500",
        "--rounds",
        "1",
        "--appends",
        "5",
        "--leases",
        "50",
        "--memory-events",
        "1000",
        "--saves",
        "5",
    )
    assert "| aef_execution_logs: indexes, RLS, FK, guards, seq, owner and chain checks |" in out
    assert "Context saves (`executions.update_context`" in out and "HOT updates" in out, out


def test_audit_benchmark_runs_at_a_tiny_size() -> None:
    out = run_bench("audit.py", "--rows", "2000", "--rounds", "1", "--verify-rows", "2000")
    assert "| COPY, seed columns |" in out and "events/s" in out


def test_security_benchmark_runs_at_a_tiny_size() -> None:
    out = run_bench("security.py", "--calls", "5", "--rows", "500", "--rounds", "1", "--import-executions", "250")
    assert "| not yours |" in out and "| with the guards |" in out


def test_engine_benchmark_runs_at_a_tiny_size() -> None:
    # without dbos installed (CI installs .[test] only) the bench says so and measures aef-db alone
    out = run_bench("engine.py", "--workflows", "2", "--steps", "3", "--rounds", "1", "--samples", "3")
    assert "| LogWriter, `step_completed`, 8 tasks sharing one writer |" in out
    assert "| `append` against a bare durable INSERT into an unindexed table, p50 |" in out
    assert "| bare INSERT, unindexed table (per row) |" in out

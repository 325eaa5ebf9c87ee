"""bench/realtime.py runs at a tiny size and writes its own section. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a cluster, a writer process and two change feeds

BENCH = Path(__file__).resolve().parents[2] / "bench"
TINY = [
    "--rate", "100", "--seconds", "1.5", "--connections", "2",
    "--writer-seconds", "0.5", "--rounds", "1",
    "--scaling-rounds", "1", "--backlog", "100", "--checks", "100", "--subscribers", "2,4",
    "--idle-seconds", "0.5",
]  # fmt: skip


def test_realtime_benchmark_runs_at_a_tiny_size_and_writes_its_section(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\n<!-- bench:engine -->\nkept\n<!-- /bench:engine -->\n")
    result = subprocess.run(
        [sys.executable, str(BENCH / "realtime.py"), *TINY, "--output", str(doc)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # latency streamed (the default) and polled (the fallback), every event delivered
    for feed in ("streamed", "polled"):
        (row,) = [line for line in out.splitlines() if line.startswith(f"| {feed} |")]
        assert row.split(" | ")[3] == "0", row
        assert f"| on, 100 subscribers, {feed} |" in out
    # both paths at each subscriber count, side by side
    rows = [line for line in out.splitlines() if line.startswith(("| 2 |", "| 4 |"))]
    assert len(rows) == 2 and all(row.count(" | ") == 6 and row.endswith("x** |") for row in rows), out
    assert "| latency p50 at 100 events/s, 100 subscribers |" in out
    text = doc.read_text()
    assert "<!-- bench:engine -->\nkept\n<!-- /bench:engine -->" in text  # other sections are left alone
    section = text[text.index("<!-- bench:realtime -->") : text.index("<!-- /bench:realtime -->")]
    assert "## Real-time: `Store.subscribe` against Supabase Realtime's path" in section
    assert "Reproduce: `.venv/bin/python bench/realtime.py --rate 100 " in section

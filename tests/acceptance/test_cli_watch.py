"""`aef-db watch`: through the CLI, on a live execution (and the board it draws)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

from rich.console import Console

from aef_db.realtime.feed import Change, Position
from aef_db.watch import Board

from .. import factories as f
from ..conftest import Database


def _feed_slots(db: Database) -> int:
    row = (
        db.shared(superuser=True)
        .execute("select count(*) as n from pg_replication_slots where slot_name like 'aef_feed_%'")
        .fetchone()
    )
    assert row is not None
    return int(row["n"])


def _start(aef_cli: list[str], env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*aef_cli, "watch", *args], env=env | {"COLUMNS": "200"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _await_subscribed(db: Database, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while _feed_slots(db) == 0:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "watch never started its feed"
        time.sleep(0.05)


def test_watch_json_prints_each_change_of_a_live_execution(
    migrated: Database, aef_cli: list[str], cli_env: dict[str, str]
) -> None:
    execution = f.execution(migrated, status="running")
    other = f.execution(migrated, uuid.UUID(int=0xB0B), status="running")
    watcher = _start(aef_cli, cli_env, "--json", "--count", "4", "--user", str(f.OWNER), "--database-url", migrated.url)
    try:
        _await_subscribed(migrated, watcher)
        f.log(migrated, other, 2)  # another user's: not shown
        f.log(migrated, execution, 3)
        migrated.shared().execute("update public.aef_executions set status = 'paused' where id = %s", (execution,))
        out, err = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(c["table"], c["op"]) for c in lines] == [("aef_execution_logs", "insert")] * 3 + [
        ("aef_executions", "update")
    ]
    assert [c["new"]["seq"] for c in lines[:3]] == [1, 2, 3]
    assert {c["new"]["user_id"] for c in lines} == {str(f.OWNER)}
    assert lines[3]["old"]["status"] == "running" and lines[3]["new"]["status"] == "paused"
    positions = [c["position"] for c in lines]
    assert positions == sorted(positions, key=Position.parse)
    assert _feed_slots(migrated) == 0  # the watcher's slot went with it


def test_ctrl_c_ends_watch_cleanly_and_leaves_no_slot(
    migrated: Database, aef_cli: list[str], cli_env: dict[str, str]
) -> None:
    watcher = _start(aef_cli, cli_env, "--database-url", migrated.url)
    try:
        _await_subscribed(migrated, watcher)
        f.execution(migrated, status="running")
        time.sleep(0.3)
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    assert "Traceback" not in err and "stopped" in err
    assert "Executions not finished" in out
    assert _feed_slots(migrated) == 0


def _change(table: str, op: str, row: dict[str, object], index: int) -> Change:
    return Change(table, op, row, None, datetime.now(UTC), Position(1, index))


def test_the_board_follows_status_steps_and_checkpoints() -> None:
    execution, checkpoint, user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    board = Board()
    board.load(
        [{"id": execution, "user_id": user, "status": "running", "current_step_id": None, "last_seq": 2,
          "last_events": ["step_started", "step_completed"]}],
        [],
    )  # fmt: skip
    log = {"execution_id": execution, "user_id": user, "event_type": "browser_action", "step_id": "login"}
    board.apply(_change("aef_execution_logs", "insert", {**log, "seq": 2}, 0))  # in the snapshot already
    board.apply(_change("aef_execution_logs", "insert", {**log, "seq": 3}, 1))
    soon = datetime.now(UTC) + timedelta(seconds=95)
    board.apply(
        _change(
            "aef_checkpoints",
            "insert",
            {"id": checkpoint, "execution_id": execution, "status": "pending", "checkpoint_type": "manual_review",
             "step_id": "review", "timeout_at": soon},
            2,
        )
    )  # fmt: skip
    console = Console(record=True, width=200)
    console.print(board.render())
    text = console.export_text()
    assert "step_started, step_completed, browser_action" in text  # seq 2 not counted twice
    assert "login" in text and "manual_review" in text and "1m3" in text
    board.apply(_change("aef_checkpoints", "update", {"id": checkpoint, "status": "approved"}, 3))
    board.apply(_change("aef_executions", "update", {"id": execution, "user_id": user, "status": "completed"}, 4))
    assert board.checkpoints == {} and board.executions == {}

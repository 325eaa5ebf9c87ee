"""The Python models mirror the database: enums label for label, caps and rules alike."""

from __future__ import annotations

import re
import uuid
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from aef_db.models import (
    CAPS,
    DATABASE_ENUMS,
    JSON_MAX_DEPTH,
    LogEvent,
    NewCheckpoint,
    NewExecution,
    Resolution,
    check_json,
    json_depth,
)

from ..conftest import Database
from ..migration.test_migrate import enum_labels


def test_python_enums_equal_the_database_enums(migrated: Database) -> None:
    assert enum_labels(migrated) == {name: [m.value for m in enum] for name, enum in DATABASE_ENUMS.items()}


def test_caps_equal_the_database_constraints(migrated: Database) -> None:
    with migrated.connect() as conn:
        defs = [
            r["d"]
            for r in conn.execute(
                "select pg_get_constraintdef(oid) as d from pg_constraint where conname like 'aef\\_%%\\_size'"
            )
        ]
    found = {}
    for d in defs:
        match = re.fullmatch(r"CHECK \(\(pg_column_size\(\((\w+) #> '\{\}'::text\[\]\)\) <= (\d+)\)\)", d)
        assert match, d  # the real size: the value decompressed, not as stored
        found[match[1]] = int(match[2])
    assert found == CAPS


def test_depth_cap_equals_the_database_constraints(migrated: Database) -> None:
    with migrated.connect() as conn:
        defs = [
            r["d"]
            for r in conn.execute(
                "select pg_get_constraintdef(oid) as d from pg_constraint where conname like 'aef\\_%%\\_depth'"
            )
        ]
    columns = {re.search(r"\((\w+) @\?", d)[1] for d in defs}  # type: ignore[index]
    assert columns == set(CAPS)
    assert {re.search(r"\*\*\{(\d+)\}", d)[1] for d in defs} == {str(JSON_MAX_DEPTH + 1)}  # type: ignore[index]


@pytest.mark.parametrize("depth", [0, 1, JSON_MAX_DEPTH, JSON_MAX_DEPTH + 1, 5000])
def test_json_depth_matches_the_database(migrated: Database, depth: int) -> None:
    doc, text = nested(depth)
    with migrated.connect() as conn:
        deep = conn.execute("select %s::jsonb @? '$.**{65}' as deep", (text,)).fetchone()["deep"]
    assert json_depth(doc) == depth
    assert deep == (depth > JSON_MAX_DEPTH)
    if depth > JSON_MAX_DEPTH:
        with pytest.raises(ValueError, match="nested more than 64 levels"):
            check_json({"a": doc}, field="data")
    # the log's path checks while it renders, in one walk: the same limit as check_json
    wrapped, too_deep = {"a": doc}, depth + 1 > JSON_MAX_DEPTH
    with pytest.raises(ValidationError, match="data is nested more than 64 levels") if too_deep else nullcontext():
        LogEvent(event_type="user_input", data=wrapped)
    with pytest.raises(ValueError, match="nested more than 64 levels") if too_deep else nullcontext():
        check_json(wrapped, field="data")


def nested(depth: int) -> tuple[Any, str]:
    """A document whose deepest value sits ``depth`` levels below the root, and its
    JSON text (built by hand: json.dumps recurses, and gives up near 1,000 levels)."""
    doc: Any = 1
    text = "1"
    for level in range(depth):
        doc, text = ({"k": doc}, '{"k":' + text + "}") if level % 2 else ([doc], "[" + text + "]")
    return doc, text


SOP, USER = uuid.uuid4(), uuid.uuid4()
BAD_INPUT = [
    (NewExecution, {"sop_id": "not-a-uuid", "user_id": USER}, "sop_id"),
    (NewExecution, {"sop_id": SOP, "user_id": None}, "user_id"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "context_level": "huge"}, "context_level"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "config": [1]}, "config"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "config": {"context_level": "full"}}, "context_level"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "config": {"x": "a\x00b"}}, "NUL"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "config": {"blob": "x" * 70_000}}, "over its cap"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "execution_context": {"blob": "x" * 1_100_000}}, "over its cap"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "execution_context": "text"}, "execution_context"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "current_step_id": ""}, "must not be empty"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "current_step_id": "s" * 257}, "over the limit of 256"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "current_step_id": "a\x00"}, "NUL"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "browser_session_id": "has space"}, "browser_session_id"),
    (NewExecution, {"sop_id": SOP, "user_id": USER, "surprise": 1}, "surprise"),
    (LogEvent, {"event_type": "step_exploded"}, "event_type"),
    (LogEvent, {"event_type": "user_input", "data": [1, 2]}, "data"),
    (LogEvent, {"event_type": "user_input", "data": {"k\x00": 1}}, "NUL"),
    (LogEvent, {"event_type": "user_input", "data": {"blob": "x" * 300_000}}, "over its cap"),
    (LogEvent, {"event_type": "user_input", "browser_state": "url"}, "browser_state"),
    (LogEvent, {"event_type": "user_input", "timestamp": "2026-01-01T00:00:00"}, "time zone"),
    (LogEvent, {"event_type": "user_input", "data": {"f": object()}}, "JSON-serializable"),
    (LogEvent, {"event_type": "user_input", "data": {"n": [1, {"x": "a\x00"}]}}, "data must not contain NUL"),
    (LogEvent, {"event_type": "user_input", "data": {"n": float("nan")}}, "data holds nan"),
    (LogEvent, {"event_type": "user_input", "data": {"n": [float("-inf")]}}, "data holds -inf"),
    (LogEvent, {"event_type": "user_input", "data": {1: "x"}}, "data"),
    (LogEvent, {"event_type": "user_input", "browser_state": {"dom": "x" * 300_000}}, "browser_state is 300011 bytes"),
    (LogEvent, {"event_type": "user_input", "browser_state": {"a": {"b": {1: 2}}}}, "browser_state must be JSON"),
    (NewCheckpoint, {"checkpoint_type": "coffee"}, "checkpoint_type"),
    (NewCheckpoint, {"checkpoint_type": "custom", "timeout": timedelta(seconds=-5)}, "timeout must be positive"),
    (NewCheckpoint, {"checkpoint_type": "custom", "timeout": timedelta(0)}, "timeout must be positive"),
    (NewCheckpoint, {"checkpoint_type": "custom", "timeout_policy": "shrug"}, "timeout_policy"),
    (NewCheckpoint, {"checkpoint_type": "custom", "request": ["x"]}, "request"),
    (NewCheckpoint, {"checkpoint_type": "custom", "request": {"m": "x" * 70_000}}, "over its cap"),
    (Resolution, {"decision": "timeout"}, "approved, rejected or skipped"),
    (Resolution, {"decision": "pending"}, "approved, rejected or skipped"),
    (Resolution, {"decision": "maybe"}, "decision"),
    (Resolution, {"decision": "approved", "response": "x" * 70_000}, "over its cap"),
]


@pytest.mark.parametrize(
    ("model", "fields", "message"), BAD_INPUT, ids=[f"{m.__name__}-{i}" for i, (m, _, _) in enumerate(BAD_INPUT)]
)
def test_bad_input_names_the_field_and_the_rule(model: type, fields: dict, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        model(**fields)
    assert message in str(excinfo.value)

"""Hypothesis: generated sequences of status changes, checked against a model of the
documented state machines (ARCHITECTURE.md), through the database's own guards."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .. import factories as f
from ..conftest import Database
from .test_guards import ALLOWED, EXECUTION_STATES, SESSION_ALLOWED, SESSION_STATES

pytestmark = pytest.mark.slow  # hypothesis walks hundreds of transition sequences

FINAL = {"completed", "error", "cancelled"}
CHECKPOINT_STATES = ["pending", "approved", "rejected", "skipped", "timeout"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def attempt(db: Database, statement: str, params: tuple) -> str | None:
    """Run one change; None when it applied, else the SQLSTATE that refused it."""
    try:
        with db.connect() as conn:
            conn.execute(statement, params)
    except psycopg.Error as exc:
        return exc.sqlstate
    return None


@SETTINGS
@given(steps=st.lists(st.sampled_from(EXECUTION_STATES), max_size=8))
def test_execution_status_sequences(migrated: Database, steps: list[str]) -> None:
    execution_id = f.execution(migrated)
    model, ever_ran = "idle", False
    for target in steps:
        refused = attempt(
            migrated, "update public.aef_executions set status = %s where id = %s", (target, execution_id)
        )
        if target == model:
            # no transition: allowed while active, and a no-op even when final
            assert refused is None
        elif (model, target) in ALLOWED:
            assert refused is None
            model, ever_ran = target, ever_ran or target == "running"
        else:
            assert refused == "AE001"
        row = f.one(
            migrated,
            "select row(status, started_at is not null, completed_at is not null)::text"
            " from public.aef_executions where id = %s",
            (execution_id,),
        )
        assert row == f"({model},{'t' if ever_ran else 'f'},{'t' if model in FINAL else 'f'})"


@SETTINGS
@given(steps=st.lists(st.sampled_from(CHECKPOINT_STATES), max_size=6))
def test_checkpoint_resolves_once(migrated: Database, steps: list[str]) -> None:
    checkpoint_id = f.checkpoint(migrated, f.execution(migrated, status="running"))
    model = "pending"
    for target in steps:
        refused = attempt(
            migrated, "update public.aef_checkpoints set status = %s where id = %s", (target, checkpoint_id)
        )
        if target == model:
            assert refused is None
        elif model == "pending" and target == "timeout":
            assert refused == "AE002"  # no timeout_at: it can never time out
        elif model == "pending":
            assert refused is None
            model = target
        else:
            assert refused == "AE002"
        resolved = f.one(
            migrated, "select resolved_at is not null from public.aef_checkpoints where id = %s", (checkpoint_id,)
        )
        assert resolved is (model != "pending")


@SETTINGS
@given(steps=st.lists(st.sampled_from(SESSION_STATES), max_size=8))
def test_session_status_sequences(migrated: Database, steps: list[str]) -> None:
    session_id = f.session(migrated)
    model = "active"
    for target in steps:
        refused = attempt(
            migrated, "update public.aef_browser_sessions set status = %s where id = %s", (target, session_id)
        )
        if target == model:
            assert refused is None
        elif (model, target) in SESSION_ALLOWED:
            assert refused is None
            model = target
        else:
            assert refused == "AE003"
        assert (
            f.one(migrated, "select status::text from public.aef_browser_sessions where id = %s", (session_id,))
            == model
        )

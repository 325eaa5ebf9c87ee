"""Hypothesis: generated sequences of store calls, checked against a model of the
documented state machines. Each call either does what the model says or raises the
store's IllegalTransition, and the database then agrees with the model."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aef_db.models import ExecutionStatus
from aef_db.store import AlreadyResolved, IllegalTransition, Store, StoreError

from .. import factories as f
from ..conftest import Database
from ..factories import OWNER
from ..store_helpers import CIPHER

# call -> {from status: to status}
EXECUTION_CALLS = {
    "run": {"idle": "running"},
    "pause": {"running": "paused"},
    "resume": {"paused": "running"},
    "complete": {"running": "completed"},
    "fail": {"running": "error", "paused": "error"},
    "cancel": {"idle": "cancelled", "running": "cancelled", "paused": "cancelled"},
}
CALLS = st.lists(st.sampled_from([*sorted(EXECUTION_CALLS), "checkpoint", "resolve", "log"]), max_size=10)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=CALLS)
# becoming final with a checkpoint pending logs a closing event: the store's own event follows it
@example(calls=["run", "checkpoint", "fail"])
@example(calls=["run", "checkpoint", "complete", "log"])
def test_store_call_sequences_follow_the_model(migrated: Database, calls: list[str]) -> None:
    sop = f.sop(migrated)

    async def body() -> None:
        async with Store(migrated.url, cipher=CIPHER, max_size=2) as store:
            execution = await store.executions.start(sop, OWNER)
            status, checkpoint, resolved, logged = "idle", None, False, 0
            for call in calls:
                if call in EXECUTION_CALLS:
                    target = EXECUTION_CALLS[call].get(status)
                    try:
                        method = getattr(store.executions, call)
                        result = await (
                            method(execution.id, {"error": "boom"}) if call == "fail" else method(execution.id)
                        )
                    except IllegalTransition:
                        assert target is None, (call, status)
                    else:
                        assert target is not None, (call, status)
                        assert result.status.value == target
                        logged += call in ("pause", "resume", "cancel", "fail")  # these log an event
                        status = target
                        if status in ("completed", "error", "cancelled") and checkpoint is not None and not resolved:
                            resolved = True  # a final execution closes its pending checkpoint as skipped, and logs it
                            logged += 1
                elif call == "checkpoint":
                    try:
                        checkpoint = await store.checkpoints.create(execution.id, "manual_review")
                        assert status not in ("completed", "error", "cancelled")
                        resolved = False
                        logged += 1
                    except StoreError as exc:  # final execution (AE002) or one already pending (23505)
                        assert status in ("completed", "error", "cancelled") or (
                            checkpoint is not None and not resolved
                        ), exc
                elif call == "resolve" and checkpoint is not None:
                    try:
                        await store.as_user(OWNER).checkpoints.resolve(checkpoint.id, "approved")
                        assert not resolved
                        resolved = True
                        logged += 1
                    except AlreadyResolved:
                        assert resolved
                elif call == "log":
                    await store.logs.append(execution.id, "browser_action")
                    logged += 1
            final = await store.executions.get(execution.id)
            assert final.status is ExecutionStatus(status)
            assert (final.started_at is not None) == any(s in ("running",) for s in _visited(calls, status))
            events = await store.logs.read(execution.id, limit=1000)
            assert [e.seq for e in events] == list(range(1, logged + 1))

    asyncio.run(body())


def _visited(calls: list[str], final: str) -> list[str]:
    status, seen = "idle", ["idle"]
    for call in calls:
        target = EXECUTION_CALLS.get(call, {}).get(status)
        if target:
            status = target
            seen.append(status)
    assert status == final
    return seen

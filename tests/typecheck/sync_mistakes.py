"""Mistakes mypy must catch through the synchronous store: each line marked ``# error: <code>``
must be reported with that code, and nothing else (tests/unit/test_sync_typing.py)."""

from __future__ import annotations

import uuid

from aef_db.models import Execution
from aef_db.sync import SyncStore


def mistakes(store: SyncStore, sop_id: uuid.UUID) -> None:
    store.executions.start(str(sop_id))  # error: arg-type
    execution: str = store.executions.get(sop_id)  # error: assignment
    store.logs.append(sop_id, "step_started", stepid="a")  # error: call-arg
    store.as_user(sop_id).sessions.lease(sop_id, sop_id)  # error: call-arg
    count: int = store.checkpoints.pending()  # error: assignment
    ok: Execution = store.executions.complete(sop_id)
    with store.logs.writer() as writer:
        writer.log(sop_id)  # error: call-arg
    print(execution, count, ok)

"""The synchronous facade forwards to the async store, writer and as_user views included."""

from __future__ import annotations

import pytest

from aef_db.models import ExecutionStatus
from aef_db.store import NotFound
from aef_db.sync import SyncStore

from . import factories as f
from .conftest import Database
from .factories import OTHER, OWNER
from .store_helpers import CIPHER


def test_sync_store_runs_a_small_execution(migrated: Database) -> None:
    sop = f.sop(migrated)
    with SyncStore(migrated.url, cipher=CIPHER) as store:
        execution = store.executions.start(sop, OWNER)
        store.executions.run(execution.id)
        with store.logs.writer(max_delay=60) as writer:
            writer.log(execution.id, "step_started", step_id="a")
            writer.log(execution.id, "step_completed", step_id="a")  # forced flush
            assert len(writer) == 0
        done = store.executions.complete(execution.id)
        with pytest.raises(NotFound):
            store.as_user(OTHER).executions.get(execution.id)
        mine = store.as_user(OWNER).executions.get(execution.id)
    assert done.status is ExecutionStatus.COMPLETED and mine.id == execution.id
    assert f.one(migrated, "select count(*) from public.aef_execution_logs") == 2

"""The synchronous facade forwards to the async store, writer and as_user views included."""

from __future__ import annotations

import inspect

import pytest

from aef_db.models import ExecutionStatus
from aef_db.store import BrowserSessions, Checkpoints, Executions, Logs, LogWriter, NotFound, Store
from aef_db.sync import (
    SyncCheckpoints,
    SyncExecutions,
    SyncLogs,
    SyncLogWriter,
    SyncSessions,
    SyncStore,
    SyncStoreView,
    _blocking,
)

from .. import factories as f
from ..conftest import Database
from ..factories import OTHER, OWNER
from ..store_helpers import CIPHER
from ..typecheck import sync_example


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


def test_the_typed_example_runs(migrated: Database) -> None:
    """tests/typecheck/sync_example.py, which mypy --strict checks, does what it says."""
    logs = sync_example.invoice_run(migrated.url, CIPHER, f.sop(migrated), OWNER)
    assert [e.event_type.value for e in logs] == [
        "step_started",
        "browser_action",
        "step_completed",
        "checkpoint_reached",
        "user_input",
    ]
    assert [e.seq for e in logs] == [1, 2, 3, 4, 5]


# what stays async: these hand out or take a connection of the store's own loop, or
# (subscribe) iterate on it
ASYNC_ONLY = {"transaction", "statement", "head_in", "subscribe"}


@pytest.mark.parametrize(
    ("component", "facade"),
    [
        (Executions, SyncExecutions),
        (Logs, SyncLogs),
        (Checkpoints, SyncCheckpoints),
        (BrowserSessions, SyncSessions),
        (LogWriter, SyncLogWriter),
        (Store, SyncStoreView),
    ],
)
def test_each_facade_offers_every_public_method_with_its_parameters(component: type, facade: type) -> None:
    public = {
        name
        for name, member in inspect.getmembers(component, inspect.isroutine)
        if not name.startswith("_") and name not in ASYNC_ONLY
    }
    if component is Store:
        public -= {"open", "close"}  # a SyncStore opens on construction; a view has nothing to close
    missing = sorted(name for name in public if not hasattr(facade, name))
    assert not missing, f"{facade.__name__} lacks {missing}"
    for name in public:
        offered = inspect.getattr_static(facade, name)
        if isinstance(offered, _blocking):  # runs the component's own coroutine method
            assert offered._method is getattr(component, name), f"{facade.__name__}.{name}"
            continue
        expected = list(inspect.signature(getattr(component, name)).parameters.values())[1:]  # after self
        assert list(inspect.signature(offered).parameters.values())[1:] == expected, f"{facade.__name__}.{name}"

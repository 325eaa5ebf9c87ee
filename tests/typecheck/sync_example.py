"""A script on the synchronous store, as a user would write it: mypy --strict must accept
it (tests/unit/test_sync_typing.py), and tests/integration/test_sync.py runs it against a database."""

from __future__ import annotations

import uuid
from datetime import timedelta

from aef_db.models import BrowserSession, Checkpoint, Execution, ExecutionLog, ExecutionStatus
from aef_db.secrets import Cipher
from aef_db.sync import SyncLogWriter, SyncStore, SyncStoreView


def invoice_run(url: str, cipher: Cipher, sop_id: uuid.UUID, user_id: uuid.UUID) -> list[ExecutionLog]:
    with SyncStore(url, cipher=cipher, max_size=2) as store:
        execution: Execution = store.executions.start(sop_id, user_id, context_level="minimal")
        store.executions.run(execution.id)
        session: BrowserSession = store.sessions.lease(
            execution.id, user_id, holder="script", ttl=timedelta(seconds=30)
        )
        store.logs.append(execution.id, "step_started", step_id="login", data={"url": "https://example.com"})
        writer: SyncLogWriter
        with store.logs.writer(max_delay=60) as writer:
            writer.log(execution.id, "browser_action", step_id="login")
            writer.log(execution.id, "step_completed", step_id="login")  # flushes
            buffered: int = len(writer)
            assert buffered == 0 and writer.error is None

        checkpoint: Checkpoint = store.checkpoints.create(execution.id, "manual_review", request={"amount": 120})
        user: SyncStoreView = store.as_user(user_id)
        user.checkpoints.resolve(checkpoint.id, "approved", response={"note": "ok"})
        store.sessions.release(session.id, execution.id)

        done = store.executions.complete(execution.id, {"step": "done"})
        status: ExecutionStatus = done.status
        assert status is ExecutionStatus.COMPLETED
        return store.logs.read(execution.id)

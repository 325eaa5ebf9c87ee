"""Human checkpoints: create (with a timeout and its policy), wait for the answer, resolve once."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from aef_db.models import Checkpoint, CheckpointStatus, CheckpointType, NewCheckpoint, Resolution, TimeoutPolicy
from aef_db.realtime.feed import FeedError, Subscription
from aef_db.store.base import Actor, Core, Q, Scoped
from aef_db.store.errors import NotFound
from aef_db.store.logs import Logs


class Checkpoints(Scoped):
    def __init__(self, core: Core, actor: Actor, logs: Logs) -> None:
        super().__init__(core, actor)
        self._logs = logs  # told when raising or resolving a checkpoint logged

    async def create(
        self,
        execution_id: uuid.UUID,
        checkpoint_type: CheckpointType | str,
        *,
        step_id: str | None = None,
        request: dict[str, Any] | None = None,
        timeout: timedelta | None = None,
        timeout_policy: TimeoutPolicy | str = TimeoutPolicy.FAIL_EXECUTION,
    ) -> Checkpoint:
        """Raise a checkpoint and log checkpoint_reached, in one transaction."""
        spec = NewCheckpoint(
            checkpoint_type=checkpoint_type,
            step_id=step_id,
            request=request or {},
            timeout=timeout,
            timeout_policy=timeout_policy,
        )
        async with self.transaction() as conn:
            row = await (
                await conn.execute(
                    Q["insert_checkpoint"],
                    {
                        "execution_id": execution_id,
                        "step_id": spec.step_id,
                        "checkpoint_type": spec.checkpoint_type.value,
                        "request": Jsonb(spec.request),
                        "timeout": spec.timeout,
                        "timeout_policy": spec.timeout_policy.value,
                    },
                )
            ).fetchone()
            assert row is not None
            await conn.execute(
                Q["checkpoint_reached"],
                {
                    "execution_id": execution_id,
                    "step_id": spec.step_id,
                    "checkpoint_id": row["id"],
                    "checkpoint_type": spec.checkpoint_type.value,
                },
            )
        self._logs.invalidate_head(execution_id)  # checkpoint_reached was logged by the database
        return Checkpoint.model_validate(row)

    async def get(self, checkpoint_id: uuid.UUID) -> Checkpoint:
        row = await self.fetch_one("get_checkpoint", {"id": checkpoint_id})
        if row is None:
            raise NotFound(f"no checkpoint {checkpoint_id} visible here", "P0002")
        return Checkpoint.model_validate(row)

    async def pending(self) -> list[Checkpoint]:
        """As a user: the checkpoints waiting for them (RLS). As the engine: all of them."""
        return [Checkpoint.model_validate(r) for r in await self.fetch_all("pending_checkpoints", {})]

    async def resolve(
        self, checkpoint_id: uuid.UUID, decision: CheckpointStatus | str, response: Any = None
    ) -> Checkpoint:
        """Resolve once through aef_resolve_checkpoint; a second resolver gets AlreadyResolved."""
        spec = Resolution(decision=decision, response=response)
        row = await self.fetch_one(
            "resolve_checkpoint",
            {
                "id": checkpoint_id,
                "decision": spec.decision.value,
                "response": Jsonb(spec.response) if spec.response is not None else None,
            },
        )
        checkpoint = Checkpoint.model_validate(row)
        self._logs.invalidate_head(checkpoint.execution_id)  # resolving logs a user_input event
        return checkpoint

    async def expire(self, max_rows: int = 1000) -> int:
        """Time out what is due and apply each policy (the sweeper; pg_cron may call it too)."""
        row = await self.fetch_one("expire_checkpoints", {"max_rows": max_rows})
        return int(row["expired"]) if row else 0

    async def wait(self, checkpoint_id: uuid.UUID, *, poll: float = 0.25, timeout: float | None = None) -> Checkpoint:
        """The checkpoint once it is no longer pending: the decision, or its timeout.

        The answer arrives through the change feed (Store.subscribe) as soon as it
        commits; where the feed cannot run (no REPLICATION, no publication) or breaks,
        the wait reads the checkpoint every ``poll`` seconds instead. When its
        timeout_at passes, the wait runs the sweeper itself, so a timeout needs no
        pg_cron. ``timeout`` bounds the wait itself (TimeoutError).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        subscription = self.core.feed.subscribe(
            user_id=self.actor.user_id,
            tables=["aef_checkpoints"],
            events=["update", "delete"],
            user_view=self.actor.user_id is not None,
        )
        changes: Subscription | None = subscription
        try:
            try:
                await subscription.__aenter__()  # before the first read: an answer after it is not missed
            except (FeedError, psycopg.Error):  # no REPLICATION, no publication, no slot to spare
                changes = None
            while True:
                checkpoint = await self.get(checkpoint_id)
                if checkpoint.status is not CheckpointStatus.PENDING:
                    return checkpoint
                if checkpoint.timeout_at is not None and checkpoint.timeout_at <= datetime.now(UTC):
                    await self.expire()
                    continue
                wake = [] if deadline is None else [deadline - time.monotonic()]
                if deadline is not None and wake[0] <= 0:
                    raise TimeoutError(f"checkpoint {checkpoint_id} is still pending")
                if checkpoint.timeout_at is not None:
                    wake.append((checkpoint.timeout_at - datetime.now(UTC)).total_seconds())
                if changes is None:
                    await asyncio.sleep(min([poll, *wake]))
                    continue
                try:
                    await asyncio.wait_for(_touched(changes, checkpoint_id), min(wake) if wake else None)
                except TimeoutError:
                    pass
                except FeedError:
                    changes = None  # read again, then poll
        finally:
            if changes is not None:
                await changes.close()


async def _touched(changes: Subscription, checkpoint_id: uuid.UUID) -> None:
    """Return at the next change of this checkpoint."""
    async for change in changes:
        if change.row.get("id") == checkpoint_id:
            return

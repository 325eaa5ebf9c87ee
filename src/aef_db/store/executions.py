"""Executions: start, run, pause, resume, complete, fail and cancel, through the database's guard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from aef_db.audit.canonical import jsonb_text
from aef_db.models import (
    ContextLevel,
    Execution,
    ExecutionStatus,
    LogEventType,
    NewExecution,
    check_json,
    validate_step_id,
)
from aef_db.secrets import config_aad, contains_secret, context_aad
from aef_db.store import context
from aef_db.store.base import Actor, Core, Q, Scoped
from aef_db.store.errors import IllegalTransition, NotFound
from aef_db.store.events import append_params
from aef_db.store.logs import Logs


class Executions(Scoped):
    def __init__(self, core: Core, actor: Actor, logs: Logs) -> None:
        super().__init__(core, actor)
        self._logs = logs  # told when a transition logged, so its head cache stays fresh

    def _seal(self, execution_id: uuid.UUID, level: ContextLevel, ctx: dict[str, Any]) -> dict[str, Any]:
        shaped = context.shape(level, ctx)
        if contains_secret(shaped):
            shaped = self.core.require_cipher().seal_tree(shaped, context_aad(execution_id))
        return check_json(shaped, field="execution_context")

    def _row(self, row: dict[str, Any] | None, execution_id: uuid.UUID) -> Execution:
        if row is None:
            raise NotFound(f"no execution {execution_id} visible here", "P0002")
        cipher = self.core.cipher
        if cipher is not None:
            row = {
                **row,
                "execution_context": cipher.open_tree(row["execution_context"], context_aad(row["id"])),
                "config": cipher.open_tree(row["config"], config_aad(row["id"])),
            }
        return Execution.model_validate(row)

    async def start(
        self,
        sop_id: uuid.UUID,
        user_id: uuid.UUID | None = None,
        *,
        context_level: ContextLevel | str = ContextLevel.STANDARD,
        config: dict[str, Any] | None = None,
        execution_context: dict[str, Any] | None = None,
        current_step_id: str | None = None,
        browser_session_id: str | None = None,
        run: bool = False,
    ) -> Execution:
        """Create an execution, idle; with ``run``, running (``start`` and ``run`` in one
        statement, for an engine that runs what it creates). As a user, ``user_id``
        defaults to that user, and the database creates a user's executions idle only."""
        owner = user_id or self.actor.user_id
        if owner is None:
            raise ValueError("user_id: the engine must say whose execution this is")
        spec = NewExecution(
            sop_id=sop_id,
            user_id=owner,
            context_level=context_level,
            config=config or {},
            execution_context=execution_context or {},
            current_step_id=current_step_id,
            browser_session_id=browser_session_id,
        )
        execution_id = uuid.uuid4()
        cfg = {**spec.config, "context_level": spec.context_level.value}
        if self.actor.user_id is not None:
            if spec.browser_session_id is not None:
                raise ValueError("browser_session_id: sessions are bound by the engine, not by a user")
            # the database refuses sealed tokens from users, and a user never holds the key
            if contains_secret(cfg) or contains_secret(spec.execution_context):
                raise ValueError(
                    "execution_context, config: secrets are sealed by the engine; a user cannot store them"
                )
        if contains_secret(cfg):
            cfg = self.core.require_cipher().seal_tree(cfg, config_aad(execution_id))
        query = "insert_execution_as_user" if self.actor.user_id is not None else "insert_execution"
        row = await self.fetch_one(
            query,
            {
                "id": execution_id,
                "sop_id": spec.sop_id,
                "user_id": spec.user_id,
                "status": ExecutionStatus.RUNNING if run else ExecutionStatus.IDLE,
                "config": Jsonb(cfg),
                "execution_context": Jsonb(self._seal(execution_id, spec.context_level, spec.execution_context)),
                "current_step_id": spec.current_step_id,
                "browser_session_id": spec.browser_session_id,
            },
        )
        execution = self._row(row, execution_id)
        self._logs.created(execution.id, execution.user_id)
        return execution

    async def get(self, execution_id: uuid.UUID) -> Execution:
        return self._row(await self.fetch_one("get_execution", {"id": execution_id}), execution_id)

    async def recent(self, user_id: uuid.UUID | None = None, limit: int = 20) -> list[Execution]:
        owner = user_id or self.actor.user_id
        return [
            self._row(r, r["id"]) for r in await self.fetch_all("recent_executions", {"user_id": owner, "limit": limit})
        ]

    async def run(self, execution_id: uuid.UUID) -> Execution:
        """idle -> running: the engine picks the execution up. A paused one continues with resume."""
        row = await self.fetch_one("run_execution", {"id": execution_id})
        if row is None:
            current = await self.get(execution_id)
            raise IllegalTransition(
                f"execution {execution_id} is {current.status.value}; run starts an idle execution", "AE001"
            )
        return self._row(row, execution_id)

    async def pause(self, execution_id: uuid.UUID) -> Execution:
        return self._after_function(execution_id, await self.fetch_one("pause_execution", {"id": execution_id}))

    async def resume(self, execution_id: uuid.UUID) -> Execution:
        return self._after_function(execution_id, await self.fetch_one("resume_execution", {"id": execution_id}))

    async def cancel(self, execution_id: uuid.UUID) -> Execution:
        return self._after_function(execution_id, await self.fetch_one("cancel_execution", {"id": execution_id}))

    async def complete(self, execution_id: uuid.UUID, execution_context: dict[str, Any] | None = None) -> Execution:
        return await self._finish(execution_id, ExecutionStatus.COMPLETED, execution_context)

    async def fail(
        self, execution_id: uuid.UUID, error: dict[str, Any], execution_context: dict[str, Any] | None = None
    ) -> Execution:
        """running or paused -> error, and an error_occurred event, in one transaction."""
        check_json(error, field="data")
        sealed = await self._sealed_or_none(execution_id, execution_context)
        async with self.transaction() as conn:
            row = await (
                await conn.execute(
                    Q["finish_execution"],
                    {"id": execution_id, "status": ExecutionStatus.ERROR.value, "execution_context": sealed},
                )
            ).fetchone()
            # read after the update: becoming final may log (a pending checkpoint closes)
            head = await self._logs.head_in(conn, execution_id)
            if row is None:
                raise IllegalTransition(f"execution {execution_id} is already error", "AE001")
            await conn.execute(
                Q["append_log"],
                append_params(
                    execution_id,
                    head,
                    LogEventType.ERROR_OCCURRED.value,
                    None,
                    jsonb_text(error),
                    None,
                    datetime.now(UTC),
                ),
            )
        self._logs.invalidate_head(execution_id)
        return self._row(row, execution_id)

    async def update_context(
        self, execution_id: uuid.UUID, execution_context: dict[str, Any], current_step_id: str | None = None
    ) -> Execution:
        """Store new context, shaped by the execution's level, secrets sealed; ``current_step_id`` is kept."""
        current = await self.get(execution_id)
        validate_step_id(current_step_id)
        row = await self.fetch_one(
            "update_context",
            {
                "id": execution_id,
                "current_step_id": current_step_id,
                "execution_context": Jsonb(self._seal(execution_id, current.context_level, execution_context)),
            },
        )
        return self._row(row, execution_id)

    async def _sealed_or_none(self, execution_id: uuid.UUID, ctx: dict[str, Any] | None) -> Jsonb | None:
        if ctx is None:
            return None
        current = await self.get(execution_id)
        return Jsonb(self._seal(execution_id, current.context_level, ctx))

    async def _finish(self, execution_id: uuid.UUID, status: ExecutionStatus, ctx: dict[str, Any] | None) -> Execution:
        sealed = await self._sealed_or_none(execution_id, ctx)
        row = await self.fetch_one(
            "finish_execution", {"id": execution_id, "status": status.value, "execution_context": sealed}
        )
        self._logs.invalidate_head(execution_id)  # becoming final may have logged (a pending checkpoint closes)
        return await self._changed(row, execution_id, status)

    async def _changed(self, row: dict[str, Any] | None, execution_id: uuid.UUID, status: ExecutionStatus) -> Execution:
        if row is None:  # not found, or already in that status
            current = await self.get(execution_id)
            raise IllegalTransition(f"execution {execution_id} is already {current.status.value}", "AE001")
        return self._row(row, execution_id)

    def _after_function(self, execution_id: uuid.UUID, row: dict[str, Any] | None) -> Execution:
        self._logs.invalidate_head(execution_id)  # the function logged the action itself
        return self._row(row, execution_id)

"""aef_db.Store: the engine's typed API over the AEF schema, one module per table family.

    async with Store(url) as store:
        execution = await store.executions.start(sop_id, user_id)
        await store.logs.append(execution.id, "step_started", step_id="login")
        user = store.as_user(user_id)           # RLS applies, as through PostgREST
        await user.checkpoints.resolve(checkpoint_id, "approved")

The engine acts as ``service_role``; ``as_user`` runs each call in a transaction as
``authenticated`` with the user's JWT claims. Rules live in the database; this layer
adds types, early validation, sealing of secrets and batching.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from aef_db.realtime.feed import (
    Change,
    FeedError,
    FeedInterrupted,
    Position,
    PositionLost,
    SubscriberTooSlow,
    Subscription,
)
from aef_db.secrets import Cipher
from aef_db.store.base import ENGINE_ROLE, Actor, Core
from aef_db.store.checkpoints import Checkpoints
from aef_db.store.errors import (
    AlreadyResolved,
    AppendOnly,
    ArchiveRefused,
    ChainConflict,
    ConstraintViolation,
    IllegalTransition,
    ImmutableField,
    InvalidTimeout,
    LeaseLost,
    LeaseUnavailable,
    NotFound,
    OwnerMismatch,
    PermissionDenied,
    SeqConflict,
    StoreError,
)
from aef_db.store.executions import Executions
from aef_db.store.heads import HeadCache
from aef_db.store.log_writer import LogWriter
from aef_db.store.logs import Logs
from aef_db.store.sessions import BrowserSessions

__all__ = [
    "AlreadyResolved",
    "AppendOnly",
    "ArchiveRefused",
    "BrowserSessions",
    "ChainConflict",
    "Change",
    "Checkpoints",
    "ConstraintViolation",
    "Executions",
    "FeedError",
    "FeedInterrupted",
    "IllegalTransition",
    "ImmutableField",
    "InvalidTimeout",
    "LeaseLost",
    "LeaseUnavailable",
    "LogWriter",
    "Logs",
    "NotFound",
    "OwnerMismatch",
    "PermissionDenied",
    "Position",
    "PositionLost",
    "SeqConflict",
    "Store",
    "StoreError",
    "SubscriberTooSlow",
    "Subscription",
]

_UNSET: Any = object()


class Store:
    def __init__(
        self,
        url: str,
        *,
        cipher: Cipher | None = _UNSET,
        min_size: int = 1,
        max_size: int = 8,
        engine_role: str | None = ENGINE_ROLE,
        pool_timeout: float = 30.0,
        _core: Core | None = None,
        _actor: Actor | None = None,
        _heads: HeadCache | None = None,
    ) -> None:
        self.core = _core or Core(
            url,
            cipher=Cipher.from_env() if cipher is _UNSET else cipher,
            min_size=min_size,
            max_size=max_size,
            engine_role=engine_role,
            pool_timeout=pool_timeout,
        )
        self.actor = _actor or Actor(engine_role or "")
        # one head cache for a Store and its as_user views; only Logs reads or writes it
        self._heads = HeadCache() if _heads is None else _heads
        self.logs = Logs(self.core, self.actor, self._heads)
        self.executions = Executions(self.core, self.actor, self.logs)
        self.checkpoints = Checkpoints(self.core, self.actor, self.logs)
        self.sessions = BrowserSessions(self.core, self.actor)

    def as_user(self, user_id: uuid.UUID) -> Store:
        """The same store acting as a signed-in user: role authenticated, RLS on."""
        return Store("", _core=self.core, _actor=Actor("authenticated", user_id), _heads=self._heads)

    def subscribe(
        self,
        *,
        user_id: uuid.UUID | None = None,
        execution_id: uuid.UUID | None = None,
        tables: Iterable[str] | None = None,
        events: Iterable[str] | None = None,
        after: Position | str | None = None,
    ) -> Subscription:
        """Changes to the four tables as they commit, in commit order (docs/realtime.md).

        ``async with store.subscribe(...) as changes: async for change in changes: ...``
        A user's view gets its own rows only, with the columns a signed-in user may select;
        the engine gets every user's rows, or ``user_id``'s. ``after`` is a position a
        subscription delivered before: the changes since then come first, none twice
        (PositionLost when the feed no longer holds them).
        """
        if self.actor.user_id is not None:
            if user_id is not None and user_id != self.actor.user_id:
                raise ValueError("user_id: a user's view subscribes to that user's rows only")
            user_id = self.actor.user_id
        return self.core.feed.subscribe(
            user_id=user_id,
            execution_id=execution_id,
            tables=tables,
            events=events,
            after=after,
            user_view=self.actor.user_id is not None,
        )

    async def open(self) -> Store:
        await self.core.pool.open(wait=True)
        return self

    async def close(self) -> None:
        await self.core.feed.close()
        await self.core.pool.close()

    async def __aenter__(self) -> Store:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

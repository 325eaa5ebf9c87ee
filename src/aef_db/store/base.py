"""The store's core: the pool, who acts (the engine or a user), transactions and errors."""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from aef_db import sql as package_sql
from aef_db.secrets import Cipher, SecretsError
from aef_db.store.errors import translate

Q = package_sql.queries("store/queries.sql")
ENGINE_ROLE = "service_role"


@dataclass(frozen=True)
class Actor:
    """Who a transaction acts as: the engine (a role, no user) or a user through RLS."""

    role: str
    user_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Head:
    """An execution's owner and the seq and hash of its last event (hash None before seq 1)."""

    owner: uuid.UUID
    seq: int
    hash: bytes | None


class LogHeads:
    """Owner, last seq and last hash per execution, for writers that number and chain their own events.

    Bounded (least recently used out), so a long-lived engine does not grow with
    the number of executions it ever touched. A stale entry is harmless: the
    database refuses a wrong seq (AE007) and the writer reloads the head.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._heads: OrderedDict[uuid.UUID, Head] = OrderedDict()
        self.capacity = capacity

    def get(self, execution_id: uuid.UUID) -> Head | None:
        head = self._heads.get(execution_id)
        if head is not None:
            self._heads.move_to_end(execution_id)
        return head

    def set(self, execution_id: uuid.UUID, head: Head) -> None:
        self._heads[execution_id] = head
        self._heads.move_to_end(execution_id)
        while len(self._heads) > self.capacity:
            self._heads.popitem(last=False)

    def forget(self, execution_id: uuid.UUID) -> None:
        self._heads.pop(execution_id, None)

    def __len__(self) -> int:
        return len(self._heads)


class Core:
    """Shared by a Store and its ``as_user`` views: one pool, one cipher, one head cache."""

    def __init__(
        self, url: str, *, cipher: Cipher | None, min_size: int, max_size: int, engine_role: str | None
    ) -> None:
        self.engine_role = engine_role
        self.pool = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            configure=self._configure,
            kwargs={"autocommit": True, "row_factory": dict_row, "application_name": "aef-db store"},
        )
        self.cipher = cipher
        self.heads = LogHeads()

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self.engine_role:
            await conn.execute(Q["set_engine_role"], {"role": self.engine_role})

    def require_cipher(self) -> Cipher:
        if self.cipher is None:
            raise SecretsError(
                "this value is secret but no encryption key is configured: set AEF_DB_ENCRYPTION_KEY or AEF_DB_KEYFILE"
                " (aef-db never stores a secret in clear)"
            )
        return self.cipher


class Scoped:
    """Base of the per-table APIs: runs each call in a transaction as its actor."""

    def __init__(self, core: Core, actor: Actor) -> None:
        self.core = core
        self.actor = actor

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
        """A transaction as this actor; database errors come out as StoreError subclasses."""
        try:
            async with self.core.pool.connection() as conn, conn.transaction():
                await self._act(conn)
                yield conn
        except psycopg.Error as exc:
            raise translate(exc) from exc

    async def _act(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self.actor.user_id is not None:
            claims = json.dumps({"sub": str(self.actor.user_id), "role": self.actor.role})
            await conn.execute(Q["act_as_user"], {"claims": claims})

    async def one(self, query: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """One statement, one row. The engine runs it in autocommit: one round trip."""
        if self.actor.user_id is not None:
            async with self.transaction() as conn:
                return await (await conn.execute(Q[query], params)).fetchone()
        try:
            async with self.core.pool.connection() as conn:
                return await (await conn.execute(Q[query], params)).fetchone()
        except psycopg.Error as exc:
            raise translate(exc) from exc

    async def all(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        async with self.transaction() as conn:
            return await (await conn.execute(Q[query], params)).fetchall()

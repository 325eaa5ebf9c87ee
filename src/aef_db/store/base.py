"""The store's core: the pool, who acts (the engine or a user), transactions and errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from aef_db import sql as package_sql
from aef_db.realtime.feed import ChangeFeed
from aef_db.secrets import Cipher, SecretsError
from aef_db.store.errors import translate

Q = package_sql.queries("store/queries.sql")
ENGINE_ROLE = "service_role"


@dataclass(frozen=True)
class Actor:
    """Who a transaction acts as: the engine (a role, no user) or a user through RLS."""

    role: str
    user_id: uuid.UUID | None = None


class Core:
    """Shared by a Store and its ``as_user`` views: one pool, one cipher."""

    def __init__(
        self,
        url: str,
        *,
        cipher: Cipher | None,
        min_size: int,
        max_size: int,
        engine_role: str | None,
        pool_timeout: float,
    ) -> None:
        self.engine_role = engine_role
        self.pool = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=pool_timeout,
            open=False,
            configure=self._configure,
            kwargs={"autocommit": True, "row_factory": dict_row, "application_name": "aef-db store"},
        )
        self.cipher = cipher
        self.feed = ChangeFeed(url)  # connects at the first subscription only

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

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
        """Where one statement runs: the engine's in autocommit (one round trip), a user's
        in a transaction acting as the user."""
        if self.actor.user_id is not None:
            async with self.transaction() as conn:
                yield conn
            return
        try:
            async with self.core.pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise translate(exc) from exc

    async def fetch_one(self, query_name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The first row of the named query (store/queries.sql), as one statement."""
        async with self.statement() as conn:
            return await (await conn.execute(Q[query_name], params)).fetchone()

    async def execute(self, query_name: str, params: dict[str, Any]) -> None:
        """The named query, as one statement, for its effect alone."""
        async with self.statement() as conn:
            await conn.execute(Q[query_name], params)

    async def fetch_all(self, query_name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every row of the named query, in a transaction as this actor."""
        async with self.transaction() as conn:
            return await (await conn.execute(Q[query_name], params)).fetchall()

"""Browser sessions in three modes, leased to one execution at a time (the seed's decision 4).

- ``isolated`` (default): every execution gets a new session, terminated on release.
- ``persistent``: one long-lived session per user, reused by that user's executions
  one at a time.
- ``pooled``: up to ``pool_size`` sessions per user, any free one is leased.

Leases are taken with ``FOR UPDATE SKIP LOCKED``, renewed by ``heartbeat`` (which also
moves ``last_active``), and a lease whose holder stopped renewing it is reclaimed once
it expires. The database refuses what must never happen, whatever the caller: a live
lease taken over, a session of another user, a session leased after it ended.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from psycopg.types.json import Jsonb

from aef_db.models import SESSION_ID, BrowserSession, BrowserSessionStatus, SessionMode, check_json
from aef_db.secrets import session_aad
from aef_db.store.base import Q, Scoped
from aef_db.store.errors import LeaseLost, LeaseUnavailable, NotFound

DEFAULT_TTL = timedelta(seconds=30)


def _mode(mode: SessionMode | str) -> SessionMode:
    try:
        return SessionMode(mode)
    except ValueError:
        raise ValueError(f"mode must be isolated, persistent or pooled, not {mode!r}") from None


class BrowserSessions(Scoped):
    def _sealed(self, session_id: str, data: dict[str, Any] | None) -> Jsonb:
        if not data:
            return Jsonb({})
        check_json(data, field="session_data")
        return Jsonb(
            check_json(self.core.require_cipher().seal_document(data, session_aad(session_id)), field="session_data")
        )

    def _row(self, row: dict[str, Any] | None, session_id: str) -> BrowserSession:
        if row is None:
            raise NotFound(f"no browser session {session_id} visible here", "P0002")
        stored = row.get("session_data")
        if self.core.cipher is not None and stored is not None:
            row = {**row, "session_data": self.core.cipher.open_document(stored, session_aad(row["id"]))}
        return BrowserSession.model_validate(row)

    async def create(
        self,
        user_id: uuid.UUID,
        *,
        mode: SessionMode | str = SessionMode.ISOLATED,
        session_data: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> BrowserSession:
        """A new session (active, not leased); its session_data is sealed whole."""
        session_id = session_id or f"bs_{uuid.uuid4().hex}"
        if not SESSION_ID.match(session_id):
            raise ValueError("session_id must be 1 to 128 letters, digits or _.:-")
        row = await self.fetch_one(
            "insert_session",
            {
                "id": session_id,
                "user_id": user_id,
                "mode": _mode(mode).value,
                "session_data": self._sealed(session_id, session_data),
            },
        )
        return self._row(row, session_id)

    async def get(self, session_id: str) -> BrowserSession:
        return self._row(await self.fetch_one("get_session", {"id": session_id}), session_id)

    async def lease(
        self,
        execution_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        holder: str,
        mode: SessionMode | str = SessionMode.ISOLATED,
        ttl: timedelta = DEFAULT_TTL,
        pool_size: int = 4,
    ) -> BrowserSession:
        """Lease a session of ``mode`` to the execution, creating one where the mode allows."""
        mode = _mode(mode)
        if ttl <= timedelta(0) or pool_size < 1:
            raise ValueError("ttl must be positive and pool_size at least 1")
        lease = {"user_id": user_id, "mode": mode.value, "execution_id": execution_id, "holder": holder, "ttl": ttl}
        if mode is not SessionMode.ISOLATED:
            row = await self.fetch_one("lease_free_session", lease)
            if row is not None:
                return self._row(row, row["id"])
        async with self.transaction() as conn:  # none free: create one, where the mode allows
            if mode is not SessionMode.ISOLATED:
                await conn.execute(Q["lock_user_sessions"], lease)
                row = await (await conn.execute(Q["lease_free_session"], lease)).fetchone()
                if row is not None:  # freed while we waited for the lock
                    return self._row(row, row["id"])
                count = await (await conn.execute(Q["count_sessions"], lease)).fetchone()
                limit = pool_size if mode is SessionMode.POOLED else 1
                if count is not None and count["n"] >= limit:
                    what = (
                        f"all {pool_size} pooled sessions" if mode is SessionMode.POOLED else "the persistent session"
                    )
                    raise LeaseUnavailable(f"{what} of user {user_id} are leased to other executions")
            session_id = f"bs_{uuid.uuid4().hex}"
            await conn.execute(
                Q["insert_session"],
                {"id": session_id, "user_id": user_id, "mode": mode.value, "session_data": Jsonb({})},
            )
            # the guard checks the execution and binds it to the session
            row = await (await conn.execute(Q["take_lease"], {"id": session_id, **lease})).fetchone()
        return self._row(row, session_id)

    async def heartbeat(self, session_id: str, execution_id: uuid.UUID, ttl: timedelta = DEFAULT_TTL) -> BrowserSession:
        """Renew the lease and last_active; LeaseLost if this execution no longer holds it."""
        row = await self.fetch_one("renew_lease", {"id": session_id, "execution_id": execution_id, "ttl": ttl})
        if row is None:
            raise LeaseLost(f"execution {execution_id} no longer holds session {session_id}")
        return self._row(row, session_id)

    async def release(self, session_id: str, execution_id: uuid.UUID) -> BrowserSession:
        """Give the session back: isolated sessions end, the others go idle for the next lease."""
        row = await self.fetch_one("release_lease", {"id": session_id, "execution_id": execution_id})
        if row is None:
            raise LeaseLost(f"execution {execution_id} no longer holds session {session_id}")
        return self._row(row, session_id)

    async def reclaim_expired(self, max_rows: int = 1000) -> int:
        """Free leases whose holder stopped heartbeating (they may also be taken over directly)."""
        return len(await self.fetch_all("reclaim_leases", {"max_rows": max_rows}))

    async def set_data(self, session_id: str, session_data: dict[str, Any]) -> BrowserSession:
        row = await self.fetch_one(
            "set_session_data", {"id": session_id, "session_data": self._sealed(session_id, session_data)}
        )
        return self._row(row, session_id)

    async def terminate(self, session_id: str, *, error: bool = False) -> BrowserSession:
        status = BrowserSessionStatus.ERROR if error else BrowserSessionStatus.TERMINATED
        return self._row(
            await self.fetch_one("set_session_status", {"id": session_id, "status": status.value}), session_id
        )

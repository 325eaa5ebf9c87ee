"""Running the async store from plain pytest tests (no async plugin needed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aef_db.secrets import Cipher
from aef_db.store import Store

from .conftest import Database

T = TypeVar("T")
KEY = bytes(range(32))
CIPHER = Cipher({"k1": KEY}, active="k1")


def run(db: Database, body: Callable[[Store], Awaitable[T]], *, cipher: Any = CIPHER, **options: Any) -> T:
    """Open a Store on ``db`` as the engine, run ``body`` with it, close it."""

    async def main() -> T:
        async with Store(db.url, cipher=cipher, **options) as store:
            return await body(store)

    return asyncio.run(main())

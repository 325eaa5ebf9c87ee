"""A small synchronous facade over the async Store, for scripts and REPLs.

    with SyncStore(url) as store:
        execution = store.executions.start(sop_id, user_id)
        store.logs.append(execution.id, "step_started")

It runs the Store on a private event loop in a background thread and forwards every
call; the objects it returns (a LogWriter, an ``as_user`` view) are wrapped the same way.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import uuid
from typing import Any

from aef_db.store import Store


class _Proxy:
    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **kw: self._wrap(self._call(attr(*a, **kw)))
        if callable(attr):
            return lambda *a, **kw: self._wrap(attr(*a, **kw))
        return self._wrap(attr)

    def _wrap(self, value: Any) -> Any:
        if hasattr(value, "__dict__") and type(value).__module__.startswith("aef_db.store"):
            return _Proxy(value, self._loop)
        return value

    def __enter__(self) -> _Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        closer = getattr(self._target, "close", None)
        if closer is not None and inspect.iscoroutinefunction(closer):
            self._call(closer())

    def __len__(self) -> int:
        return len(self._target)


class SyncStore(_Proxy):
    def __init__(self, url: str, **options: Any) -> None:
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="aef-db store", daemon=True)
        self._thread.start()
        super().__init__(Store(url, **options), loop)
        self._call(self._target.open())

    def as_user(self, user_id: uuid.UUID) -> _Proxy:
        return _Proxy(self._target.as_user(user_id), self._loop)

    def close(self) -> None:
        if self._loop.is_running():
            self._call(self._target.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __exit__(self, *exc: object) -> None:
        self.close()

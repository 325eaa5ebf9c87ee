"""A small synchronous facade over the async Store, for scripts and REPLs.

    with SyncStore(url) as store:
        execution = store.executions.start(sop_id, user_id)
        store.logs.append(execution.id, "step_started")

It runs the Store on a private event loop in a background thread. Each facade class
mirrors one async component: its methods are the component's coroutine methods,
declared with ``_blocking`` so a type checker sees their real parameters and results
(tests/unit/test_sync_typing.py holds it to that). What a method hands out is wrapped the
same way: ``logs.writer()`` gives a SyncLogWriter, ``as_user`` a SyncStoreView.

Not mirrored: the low-level ``transaction()`` and ``Logs.head_in(conn, ...)``, which
hand out or take a connection of the store's own loop.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, TypedDict, TypeVar, Unpack, overload

from aef_db.secrets import Cipher
from aef_db.store import BrowserSessions, Checkpoints, Executions, Logs, LogWriter, Store
from aef_db.store.base import Scoped

__all__ = [
    "StoreOptions",
    "SyncCheckpoints",
    "SyncExecutions",
    "SyncLogWriter",
    "SyncLogs",
    "SyncSessions",
    "SyncStore",
    "SyncStoreView",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _Loop:
    """An event loop on a daemon thread; ``run`` blocks the caller until a coroutine is done."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="aef-db store", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @property
    def running(self) -> bool:
        return self._loop.is_running()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class _Facade(Generic[T_co]):
    """The synchronous face of one async object, run on a shared loop."""

    def __init__(self, target: T_co, loop: _Loop) -> None:
        self._target = target
        self._loop = loop


class _blocking(Generic[T, P, R]):  # lower case: it reads like a decorator where it is used
    """A coroutine method of ``T``, offered on ``_Facade[T]`` as a blocking call with the same
    parameters: ``start = _blocking(Executions.start)``."""

    def __init__(self, method: Callable[Concatenate[T, P], Coroutine[Any, Any, R]]) -> None:
        self._method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, facade: None, owner: type) -> _blocking[T, P, R]: ...
    @overload
    def __get__(self, facade: _Facade[T], owner: type) -> Callable[P, R]: ...
    def __get__(self, facade: _Facade[T] | None, owner: type) -> _blocking[T, P, R] | Callable[P, R]:
        if facade is None:
            return self
        method, target, loop = self._method, facade._target, facade._loop

        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return loop.run(method(target, *args, **kwargs))

        call.__doc__ = self.__doc__
        return call


class _Component(_Facade[T_co]):
    """What every component has: the named queries of store/queries.sql."""

    fetch_one = _blocking(Scoped.fetch_one)
    fetch_all = _blocking(Scoped.fetch_all)
    execute = _blocking(Scoped.execute)


class SyncExecutions(_Component[Executions]):
    start = _blocking(Executions.start)
    get = _blocking(Executions.get)
    recent = _blocking(Executions.recent)
    run = _blocking(Executions.run)
    pause = _blocking(Executions.pause)
    resume = _blocking(Executions.resume)
    cancel = _blocking(Executions.cancel)
    complete = _blocking(Executions.complete)
    fail = _blocking(Executions.fail)
    update_context = _blocking(Executions.update_context)


class SyncLogWriter(_Facade[LogWriter]):
    """A LogWriter driven synchronously; ``with`` closes it (flushes what is left)."""

    log = _blocking(LogWriter.log)
    flush = _blocking(LogWriter.flush)
    close = _blocking(LogWriter.close)

    @property
    def error(self) -> BaseException | None:
        """The last background flush failure (the next log, flush or close retries)."""
        return self._target.error

    @property
    def flushed(self) -> int:
        return self._target.flushed

    @property
    def flushes(self) -> int:
        return self._target.flushes

    def __enter__(self) -> SyncLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._target)


class SyncLogs(_Component[Logs]):
    head = _blocking(Logs.head)
    hash_before = _blocking(Logs.hash_before)
    append = _blocking(Logs.append)
    write = _blocking(Logs.write)
    stored_ids = _blocking(Logs.stored_ids)
    read = _blocking(Logs.read)

    def created(self, execution_id: uuid.UUID, owner: uuid.UUID) -> None:
        self._target.created(execution_id, owner)

    def invalidate_head(self, execution_id: uuid.UUID) -> None:
        self._target.invalidate_head(execution_id)

    def writer(self, *, max_batch: int = 1000, max_delay: float = 0.2, max_buffer: int = 10_000) -> SyncLogWriter:
        """A batching writer: see LogWriter. Its delayed flushes run on the store's loop."""
        writer = self._target.writer(max_batch=max_batch, max_delay=max_delay, max_buffer=max_buffer)
        return SyncLogWriter(writer, self._loop)


class SyncCheckpoints(_Component[Checkpoints]):
    create = _blocking(Checkpoints.create)
    get = _blocking(Checkpoints.get)
    pending = _blocking(Checkpoints.pending)
    resolve = _blocking(Checkpoints.resolve)
    expire = _blocking(Checkpoints.expire)
    wait = _blocking(Checkpoints.wait)


class SyncSessions(_Component[BrowserSessions]):
    create = _blocking(BrowserSessions.create)
    get = _blocking(BrowserSessions.get)
    lease = _blocking(BrowserSessions.lease)
    heartbeat = _blocking(BrowserSessions.heartbeat)
    release = _blocking(BrowserSessions.release)
    reclaim_expired = _blocking(BrowserSessions.reclaim_expired)
    set_data = _blocking(BrowserSessions.set_data)
    terminate = _blocking(BrowserSessions.terminate)


class SyncStoreView:
    """A Store's components, synchronous; ``as_user`` gives another view on the same pool."""

    def __init__(self, store: Store, loop: _Loop) -> None:
        self._store, self._loop = store, loop
        self.executions = SyncExecutions(store.executions, loop)
        self.logs = SyncLogs(store.logs, loop)
        self.checkpoints = SyncCheckpoints(store.checkpoints, loop)
        self.sessions = SyncSessions(store.sessions, loop)

    def as_user(self, user_id: uuid.UUID) -> SyncStoreView:
        """The same store acting as a signed-in user: role authenticated, RLS on."""
        return SyncStoreView(self._store.as_user(user_id), self._loop)


class StoreOptions(TypedDict, total=False):
    """Store's keyword options; a cipher left out comes from the environment, as with Store."""

    cipher: Cipher | None
    min_size: int
    max_size: int
    engine_role: str | None
    pool_timeout: float


class SyncStore(SyncStoreView):
    """Opens the Store on construction; ``close`` (or leaving ``with``) closes the pool and the loop."""

    def __init__(self, url: str, **options: Unpack[StoreOptions]) -> None:
        loop = _Loop()
        super().__init__(Store(url, **options), loop)
        loop.run(self._store.open())

    def close(self) -> None:
        if self._loop.running:
            self._loop.run(self._store.close())
            self._loop.stop()

    def __enter__(self) -> SyncStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The store's API end to end, against the real schema."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from pydantic import ValidationError

from aef_db.models import CheckpointStatus, ContextLevel, ExecutionStatus
from aef_db.secrets import Secret
from aef_db.store import AlreadyResolved, IllegalTransition, NotFound, PermissionDenied, Store
from aef_db.store.heads import Head, HeadCache

from .. import factories as f
from ..conftest import Database
from ..factories import OTHER, OWNER
from ..store_helpers import run


def test_an_execution_runs_its_life_through_the_guard(migrated: Database) -> None:
    sop = f.sop(migrated)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        execution = await store.executions.start(sop, OWNER, execution_context={"step": "login", "vars": {"a": 1}})
        assert execution.status is ExecutionStatus.IDLE and execution.context_level is ContextLevel.STANDARD
        running = await store.executions.run(execution.id)
        paused = await store.executions.pause(execution.id)
        resumed = await store.executions.resume(execution.id)
        updated = await store.executions.update_context(
            execution.id, {"step": "invoice", "vars": {"a": 2}}, current_step_id="invoice"
        )
        done = await store.executions.complete(execution.id)
        with pytest.raises(IllegalTransition):
            await store.executions.run(execution.id)
        return running, paused, resumed, updated, done

    running, paused, resumed, updated, done = run(migrated, body)
    assert (running.status, paused.status, resumed.status, done.status) == ("running", "paused", "running", "completed")
    assert running.started_at is not None and done.completed_at is not None
    assert updated.current_step_id == "invoice" and updated.execution_context == {"step": "invoice", "vars": {"a": 2}}


def test_start_with_run_creates_the_execution_running(migrated: Database) -> None:
    sop = f.sop(migrated)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        engine = await store.executions.start(sop, OWNER, run=True)
        with pytest.raises(PermissionDenied):  # a user creates idle executions only: the policy's rule
            await store.as_user(OWNER).executions.start(sop, run=True)
        with pytest.raises(IllegalTransition, match="is running"):
            await store.executions.run(engine.id)
        return engine, await store.executions.complete(engine.id)

    engine, done = run(migrated, body)
    assert engine.status is ExecutionStatus.RUNNING and engine.started_at is not None
    assert f.one(migrated, "select count(*) from public.aef_executions") == 1
    assert done.status is ExecutionStatus.COMPLETED and done.started_at == engine.started_at


def test_a_started_execution_needs_no_head_lookup_and_a_stale_head_costs_one_retry(migrated: Database) -> None:
    """start remembers the new execution's empty log; another writer logging meanwhile
    makes that head stale, which the first append finds out and corrects by itself."""
    sop = f.sop(migrated)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        execution = await store.executions.start(sop, OWNER, run=True)
        f.log(migrated, execution.id, 2)  # a SQL writer, behind the store's back
        cached = await store.logs.head(execution.id)
        event = await store.logs.append(execution.id, "step_completed", step_id="s")
        return cached, event, await store.logs.head(execution.id, reload=True)

    cached, event, stored = run(migrated, body)
    assert (cached.owner, cached.seq, cached.hash) == (OWNER, 0, None)  # from start, not from the database
    assert event.seq == 3 and stored.seq == 3 and stored.owner == OWNER


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        # update_context: what an engine saves as it goes
        ("public.aef_executions", ("execution_context", "current_step_id", "updated_at")),
        # the head an append moves, once per event
        ("aef_audit.log_heads", ("last_seq", "last_hash", "updated_at")),
    ],
)
def test_the_frequent_updates_touch_no_indexed_column(migrated: Database, table: str, columns: tuple[str, ...]) -> None:
    """So they can be HOT updates: an index on any of these columns (key, expression or
    predicate) makes every such update write all of the table's indexes again."""
    with migrated.connect(superuser=True) as conn:
        definitions = [
            r["d"]
            for r in conn.execute(
                "select pg_get_indexdef(indexrelid) as d from pg_index where indrelid = %s::regclass", (table,)
            )
        ]
    assert definitions  # the table's indexes were read
    touched = [d for d in definitions for c in columns if re.search(rf"\b{c}\b", d)]
    assert touched == []


def test_fail_logs_the_error_in_the_same_call(migrated: Database) -> None:
    sop = f.sop(migrated)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        execution = await store.executions.start(sop, OWNER)
        await store.executions.run(execution.id)
        await store.logs.append(execution.id, "step_started", step_id="s1")
        failed = await store.executions.fail(execution.id, {"message": "page did not load"})
        return failed, await store.logs.read(execution.id)

    failed, logs = run(migrated, body)
    assert failed.status is ExecutionStatus.ERROR
    assert [(e.seq, e.event_type.value) for e in logs] == [(1, "step_started"), (2, "error_occurred")]


@pytest.mark.parametrize(
    ("level", "kept"),
    [
        ("minimal", {"step": "s2"}),
        ("standard", {"step": "s2", "vars": {"x": 1}}),
        ("full", {"step": "s2", "vars": {"x": 1}, "dom": "<html/>"}),
    ],
)
def test_context_levels_keep_what_they_promise(migrated: Database, level: str, kept: dict) -> None:
    sop = f.sop(migrated)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        execution = await store.executions.start(
            sop, OWNER, context_level=level, execution_context={"step": "s2", "vars": {"x": 1}, "dom": "<html/>"}
        )
        return await store.executions.get(execution.id)

    execution = run(migrated, body)
    assert execution.execution_context == kept
    assert execution.config == {"context_level": level}


def test_logs_number_themselves_and_survive_another_writer(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")

    async def body(store: Store):  # type: ignore[no-untyped-def]
        first = await store.logs.append(execution_id, "step_started", step_id="a")
        f.log(migrated, execution_id, 2)  # another writer (SQL, supabase-js) appends meanwhile
        second = await store.logs.append(execution_id, "step_completed", step_id="a")
        return first, second, await store.logs.read(execution_id)

    first, second, logs = run(migrated, body)
    assert (first.seq, second.seq) == (1, 4)
    assert [e.seq for e in logs] == [1, 2, 3, 4]


def test_checkpoint_create_wait_and_resolve_as_the_user(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")

    async def body(store: Store):  # type: ignore[no-untyped-def]
        checkpoint = await store.checkpoints.create(
            execution_id,
            "manual_review",
            step_id="pay",
            request={"message": "Pay 120 EUR?"},
            timeout=timedelta(minutes=5),
        )
        user = store.as_user(OWNER)
        assert [c.id for c in await user.checkpoints.pending()] == [checkpoint.id]
        assert await store.as_user(OTHER).checkpoints.pending() == []
        with pytest.raises(NotFound):
            await store.as_user(OTHER).checkpoints.resolve(checkpoint.id, "approved")
        resolved = await user.checkpoints.resolve(checkpoint.id, "approved", {"note": "ok"})
        with pytest.raises(AlreadyResolved):
            await user.checkpoints.resolve(checkpoint.id, "rejected")
        waited = await store.checkpoints.wait(checkpoint.id, timeout=5)
        return resolved, waited, await store.logs.read(execution_id)

    resolved, waited, logs = run(migrated, body)
    assert resolved.status is CheckpointStatus.APPROVED and resolved.resolved_by == OWNER
    assert waited.status is CheckpointStatus.APPROVED and waited.user_response == {"note": "ok"}
    assert [e.event_type.value for e in logs] == ["checkpoint_reached", "user_input"]


def test_wait_returns_the_timeout_and_applies_the_policy(migrated: Database) -> None:
    execution_id = f.execution(migrated, status="running")

    async def body(store: Store):  # type: ignore[no-untyped-def]
        checkpoint = await store.checkpoints.create(
            execution_id, "data_validation", timeout=timedelta(milliseconds=300), timeout_policy="cancel_execution"
        )
        waited = await store.checkpoints.wait(checkpoint.id, poll=0.05, timeout=10)
        return waited, await store.executions.get(execution_id)

    waited, execution = run(migrated, body)
    assert waited.status is CheckpointStatus.TIMEOUT
    assert execution.status is ExecutionStatus.CANCELLED


def test_as_user_gets_rls_for_free(migrated: Database) -> None:
    sop = f.sop(migrated)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        mine = await store.as_user(OWNER).executions.start(sop)
        assert mine.user_id == OWNER and mine.status is ExecutionStatus.IDLE
        with pytest.raises(NotFound):
            await store.as_user(OTHER).executions.get(mine.id)
        with pytest.raises(PermissionDenied):
            await store.as_user(OTHER).executions.start(sop)  # an SOP they cannot see
        with pytest.raises(PermissionDenied):
            await store.as_user(OWNER).executions.run(mine.id)  # users change executions only through the functions
        return await store.as_user(OWNER).executions.cancel(mine.id)

    assert run(migrated, body).status is ExecutionStatus.CANCELLED


def test_secrets_are_sealed_and_open_only_with_the_key(migrated: Database) -> None:
    sop = f.sop(migrated)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        execution = await store.executions.start(
            sop, OWNER, execution_context={"login": {"user": "ann", "password": Secret("hunter2")}}
        )
        return execution

    execution = run(migrated, body)
    assert execution.execution_context == {"login": {"user": "ann", "password": "hunter2"}}
    stored = f.one(migrated, "select execution_context::text from public.aef_executions where id = %s", (execution.id,))
    assert "hunter2" not in stored and "aef:v1:k1:" in stored

    def keyless(store: Store):  # type: ignore[no-untyped-def]
        return store.executions.get(execution.id)

    without_key = run(migrated, keyless, cipher=None)
    assert without_key.execution_context["login"]["password"].startswith("aef:v1:k1:")


def test_a_secret_without_a_key_is_refused_not_stored(migrated: Database) -> None:
    from aef_db.secrets import SecretsError

    sop = f.sop(migrated)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        with pytest.raises(SecretsError, match="no encryption key"):
            await store.executions.start(sop, OWNER, execution_context={"token": Secret("t0k3n")})

    run(migrated, body, cipher=None)
    assert f.one(migrated, "select count(*) from public.aef_executions") == 0


def test_bad_input_names_the_field_and_writes_nothing(migrated: Database) -> None:
    sop = f.sop(migrated)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        with pytest.raises(ValidationError, match="context_level"):
            await store.executions.start(sop, OWNER, context_level="everything")
        with pytest.raises(ValidationError, match="step id"):
            await store.executions.start(sop, OWNER, current_step_id="x" * 300)

    run(migrated, body)
    assert f.one(migrated, "select count(*) from public.aef_executions") == 0
    assert uuid.UUID(int=0) != sop


def test_a_user_starts_executions_without_secrets_and_without_choosing_the_id(migrated: Database) -> None:
    sop = f.sop(migrated)

    async def body(store: Store):  # type: ignore[no-untyped-def]
        with pytest.raises(ValueError, match="sealed by the engine"):
            await store.as_user(OWNER).executions.start(sop, execution_context={"login": {"password": Secret("pw")}})
        started = await store.as_user(OWNER).executions.start(sop, execution_context={"invoice": 7})
        return started, await store.executions.start(sop, OWNER, execution_context={"pw": Secret("pw")})

    mine, engine = run(migrated, body)
    assert mine.execution_context == {"invoice": 7} and engine.execution_context == {"pw": "pw"}
    assert f.one(migrated, "select count(*) from public.aef_executions") == 2


def test_the_head_cache_is_bounded_least_recently_used_out() -> None:
    cache = HeadCache(capacity=2)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cache.remember(a, Head(OWNER, 1, b"a"))
    cache.remember(b, Head(OWNER, 1, b"b"))
    assert cache.get(a) == Head(OWNER, 1, b"a")  # a is now the most recently used
    cache.remember(c, Head(OWNER, 1, b"c"))
    assert cache.get(b) is None and cache.get(a) is not None and cache.get(c) is not None and len(cache) == 2
    cache.forget(a)
    assert cache.get(a) is None and len(cache) == 1


def test_only_logs_keeps_the_head_cache() -> None:
    """The other components tell Logs (invalidate_head); none of them holds the cache."""
    store = Store("postgresql://unused", cipher=None)  # never opened
    parts = {name: getattr(store, name) for name in ("core", "executions", "logs", "checkpoints", "sessions")}
    holders = {name for name, part in parts.items() if any(isinstance(v, HeadCache) for v in vars(part).values())}
    assert holders == {"logs"}
    assert store.as_user(OWNER).logs._heads is store.logs._heads  # one cache for a store and its views

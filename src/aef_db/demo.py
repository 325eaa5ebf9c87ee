"""`aef-db demo`: one sample SOP execution, end to end, with a readable timeline.

No real browser: browser steps are simulated. What is real is everything aef-db
does: the execution's status machine, a leased browser session with sealed
cookies, a credential sealed in the context, a manual_review checkpoint resolved by
a simulated user through RLS (as PostgREST would run it), a checkpoint that times
out and is skipped by its policy, the batched log, and the summary's check that no
secret is stored in clear.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from psycopg.types.json import Jsonb
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aef_db import sql as package_sql
from aef_db.connection import connect
from aef_db.errors import AefDbError
from aef_db.models import Execution
from aef_db.redaction import redact
from aef_db.runner import Runner, State
from aef_db.secrets import Cipher, Secret, generate_key
from aef_db.store import FeedError, Store

_Q = package_sql.queries("demo/queries.sql")
USER = uuid.UUID("5eed0000-0000-4000-8000-0000000000a1")
SOP = uuid.UUID("5eed0000-0000-4000-8000-0000000000b1")
PASSWORD, COOKIE = "portal-pa55word", "sid=8c1f-demo-cookie"
STEPS = ["open_portal", "login", "find_invoices", "download", "review", "validate", "archive"]


class NotMigrated(AefDbError):
    """The demo's database lacks migrations, and it is not one the demo may migrate."""

    exit_code = 2


def run(url: str, *, migrate: bool, home: Path, console: Console, report: Callable[[str], None]) -> bool:
    """The whole demo: migrations, one execution, its timeline and the summary. True when no secret is in clear.

    ``migrate`` is for aef-db's own embedded cluster only: any other database is
    someone's, so its schema is left alone and it must be migrated already.
    """
    runner = Runner(url, report=report)
    if migrate:
        runner.up()
    elif pending := [m.version for m in runner.status().migrations if m.state is State.PENDING]:
        raise NotMigrated(
            f"{redact(url)} has {len(pending)} pending migration(s) ({pending[0]}...); the demo migrates only"
            " the embedded cluster. Apply them first if this database is meant for aef-db: aef-db migrate up"
            " --database-url URL. Nothing was changed."
        )
    cipher, where = demo_cipher(home)
    report(f"secrets are sealed with {where}")
    execution = asyncio.run(run_demo(url, cipher, console))
    console.print(timeline(url, execution, cipher))
    table, clean = summary(url)
    console.print(table)
    console.print(f"execution {execution.id}: [bold]{execution.status.value}[/bold]")
    console.print("[dim]follow executions live in another terminal: aef-db watch[/dim]")
    return clean


def demo_cipher(home: Path) -> tuple[Cipher, str]:
    """The configured key, or a demo key kept in $AEF_DB_HOME/demo-keys.json (0600)."""
    configured = Cipher.from_env()
    if configured is not None:
        return configured, "the configured key"
    path = home / "demo-keys.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps({"active": "demo", "keys": {"demo": generate_key()}}))
    return Cipher.from_env({"AEF_DB_KEYFILE": str(path)}), f"a demo key in {path}"  # type: ignore[return-value]


async def run_demo(url: str, cipher: Cipher, console: Console) -> Execution:
    with connect(url) as conn:
        conn.execute(_Q["create_sop"], {"id": SOP, "user_id": USER, "steps": Jsonb(STEPS)})
    async with Store(url, cipher=cipher) as store:
        user = store.as_user(USER)
        live = asyncio.create_task(_live(user, console))
        await _subscribed(store, live)
        try:
            return await _execute(store, user, console)
        finally:
            with contextlib.suppress(TimeoutError):  # until the live view has shown the execution finish
                await asyncio.wait_for(live, 5)


async def _live(user: Store, console: Console) -> None:
    """Print each change of the user's rows as it commits (what ``aef-db watch`` follows),
    until an execution finishes."""
    try:
        async with user.subscribe() as changes:
            async for change in changes:
                row = change.row
                what = row.get("event_type") or row.get("status") or ""
                step = row.get("step_id") or row.get("current_step_id") or ""
                console.print(f"[dim]live[/dim] {change.table:<20} {change.op:<6} {what} {step}".rstrip())
                if change.table == "aef_executions" and row.get("status") == "completed":
                    return
    except FeedError as exc:
        console.print(f"[dim]live view unavailable: {exc}[/dim]")


async def _subscribed(store: Store, live: asyncio.Task[None], patience: float = 10.0) -> None:
    """Wait until the live view listens, so it shows the execution from its start."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while store.core.feed.subscribers == 0 and not live.done() and loop.time() < deadline:
        await asyncio.sleep(0.01)


async def _execute(store: Store, user: Store, console: Console) -> Execution:
    execution = await user.executions.start(
        SOP, context_level="standard", execution_context={"step": "start", "month": "2026-10"}
    )
    console.print(f"[bold]execution[/bold] {execution.id} started by the user (through RLS), idle")
    await store.executions.run(execution.id)
    session = await store.sessions.lease(execution.id, USER, holder="demo-worker", mode="isolated")
    await store.sessions.set_data(session.id, {"cookies": [COOKIE]})

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("running the SOP", total=len(STEPS))
        async with store.logs.writer(max_delay=0.1) as log:
            for step in STEPS:
                progress.update(task, description=f"step [cyan]{step}[/cyan]")
                await log.log(execution.id, "step_started", step_id=step)
                if step == "login":
                    await store.executions.update_context(
                        execution.id,
                        {
                            "step": step,
                            "month": "2026-10",
                            "credentials": {"user": "ap@example.com", "password": Secret(PASSWORD)},
                        },
                        current_step_id=step,
                    )
                if step == "download":
                    for i in range(3):
                        await log.log(execution.id, "loop_iteration", step_id=step, data={"invoice": f"INV-{1040 + i}"})
                        await log.log(
                            execution.id,
                            "browser_action",
                            step_id=step,
                            data={"action": "click", "target": f"#download-{i}"},
                            browser_state={"url": f"https://portal.example.com/invoices/{1040 + i}"},
                        )
                    await store.sessions.heartbeat(session.id, execution.id)
                if step in ("review", "validate"):
                    await log.flush()  # the checkpoint's own events follow this step's start
                if step == "review":
                    await _human_review(store, user, execution.id, console)
                if step == "validate":
                    await _validation_that_times_out(store, execution.id, console)
                await log.log(execution.id, "step_completed", step_id=step)
                progress.advance(task)
    await store.sessions.release(session.id, execution.id)
    return await store.executions.complete(execution.id, {"step": "done", "month": "2026-10", "downloaded": 3})


async def _human_review(store: Store, user: Store, execution_id: uuid.UUID, console: Console) -> None:
    checkpoint = await store.checkpoints.create(
        execution_id,
        "manual_review",
        step_id="review",
        request={"message": "Archive 3 invoices totalling 1,240 EUR?"},
        timeout=timedelta(minutes=10),
    )

    async def person() -> None:  # a browser tab, as the signed-in user
        await asyncio.sleep(0.3)
        pending = await user.checkpoints.pending()
        await user.checkpoints.resolve(pending[0].id, "approved", {"comment": "Looks right"})

    helper = asyncio.create_task(person())
    answer = await store.checkpoints.wait(checkpoint.id, poll=0.1)
    await helper
    console.print(f"[bold]checkpoint[/bold] manual_review -> [green]{answer.status.value}[/green] by the user")


async def _validation_that_times_out(store: Store, execution_id: uuid.UUID, console: Console) -> None:
    checkpoint = await store.checkpoints.create(
        execution_id,
        "data_validation",
        step_id="validate",
        request={"message": "Totals match the ledger?"},
        timeout=timedelta(milliseconds=500),
        timeout_policy="skip",
    )
    answer = await store.checkpoints.wait(checkpoint.id, poll=0.1)
    console.print(
        f"[bold]checkpoint[/bold] data_validation -> [yellow]{answer.status.value}[/yellow]; policy skip: the run goes on"
    )


def timeline(url: str, execution: Execution, cipher: Cipher) -> Table:
    async def read() -> list:  # type: ignore[type-arg]
        async with Store(url, cipher=cipher) as store:
            return await store.logs.read(execution.id, limit=1000)

    events = asyncio.run(read())
    start = events[0].timestamp if events else execution.created_at
    table = Table("seq", "t+ms", "event", "step", "detail", title="Timeline (from the audit log)")
    for e in events:
        detail = ", ".join(f"{k}={v}" for k, v in e.data.items())
        table.add_row(
            str(e.seq),
            f"{(e.timestamp - start).total_seconds() * 1000:.0f}",
            e.event_type.value,
            e.step_id or "",
            detail,
        )
    return table


def summary(url: str) -> tuple[Table, bool]:
    with connect(url) as conn:
        counts = conn.execute(_Q["row_counts"]).fetchone()
        hits = conn.execute(_Q["plaintext_hits"], {"needles": [PASSWORD, COOKIE]}).fetchone()
    assert counts is not None and hits is not None
    table = Table("table", "rows", title="Summary")
    for name, n in counts.items():
        table.add_row(name, str(n))
    clean = hits["hits"] == 0
    table.add_row("secrets stored in plaintext", "[green]none[/green]" if clean else f"[red]{hits['hits']} found[/red]")
    return table, clean

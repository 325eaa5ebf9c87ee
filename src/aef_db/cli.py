"""The `aef-db` command line. Thin by design: each command is one library call plus output."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import psycopg
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aef_db import __version__, compat, doctor, schema_docs, schema_dump
from aef_db import migrations as migration_files
from aef_db.cluster import Cluster, ensure_embedded_cluster
from aef_db.connection import connect, require_supported_server
from aef_db.database_url import resolve_url
from aef_db.errors import AefDbError
from aef_db.redaction import redact, scrub
from aef_db.rotation import rotate
from aef_db.runner import Runner, State
from aef_db.secrets import Cipher, generate_key

out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

_STATE_STYLE = {State.APPLIED: "green", State.PENDING: "yellow", State.CHANGED: "red", State.MISSING_FILE: "red"}
_LEVEL_STYLE = {
    doctor.Level.OK: "green",
    doctor.Level.INFO: "cyan",
    doctor.Level.WARN: "yellow",
    doctor.Level.FAIL: "red",
}


def _note(message: str, *, soft_wrap: bool = False) -> None:
    err.print(f"[dim]aef-db:[/dim] {message}", highlight=False, soft_wrap=soft_wrap)


def handle_errors(fn: F) -> F:
    """Turn aef-db's own errors into a message on stderr and an exit code, without a traceback.

    Connection-level psycopg errors too, since libpq may quote the conninfo in them:
    every message is scrubbed of the connection string's passwords, and no traceback
    (which could not be scrubbed) is printed.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        conninfo = kwargs.get("database_url")  # click fills it from DATABASE_URL too
        try:
            return fn(*args, **kwargs)
        except (AefDbError, psycopg.OperationalError) as exc:
            message = escape(scrub(str(exc), conninfo))
            err.print(f"[bold red]error:[/bold red] {message}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(exc.exit_code if isinstance(exc, AefDbError) else 1)

    return wrapper  # type: ignore[return-value]


database_url_option = click.option(
    "--database-url",
    envvar="DATABASE_URL",
    metavar="URL",
    help="PostgreSQL URL. Default: $DATABASE_URL, else the embedded cluster under $AEF_DB_HOME (started if stopped).",
)
migrations_dir_option = click.option(
    "--migrations-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="AEF_DB_MIGRATIONS_DIR",
    help="Read migrations from this directory instead of the package's own.",
)


def _load(migrations_dir: Path | None) -> list[migration_files.Migration]:
    return migration_files.load(migrations_dir)


def _url_or_start_embedded(database_url: str | None) -> str:
    """The URL given (--database-url or DATABASE_URL); else the embedded cluster's, started if stopped."""
    if not database_url:
        _start_embedded()
    return resolve_url(database_url)


def _start_embedded() -> None:
    cluster, started = ensure_embedded_cluster()
    if started:
        _note(f"started the embedded cluster in {cluster.home} (127.0.0.1:{cluster.status().port})", soft_wrap=True)


class _TreeGroup(click.Group):
    """Lists every leaf command (``db start``, ``migrate up``...) in the top-level help."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []

        def walk(group: click.Group, prefix: str) -> None:
            for name in group.list_commands(ctx):
                command = group.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                if isinstance(command, click.Group):
                    walk(command, f"{prefix}{name} ")
                else:
                    rows.append((prefix + name, command.get_short_help_str(limit=200)))

        walk(self, "")
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_TreeGroup, context_settings={"max_content_width": 110})
@click.version_option(__version__, prog_name="aef-db")
def main() -> None:
    """aef-db: the execution store of the agent execution framework (AEF)."""


# -- db ---------------------------------------------------------------------


@main.group()
def db() -> None:
    """Manage the embedded PostgreSQL cluster under $AEF_DB_HOME (default ./.aef)."""


@db.command("start")
@handle_errors
def db_start() -> None:
    """Start the embedded cluster, creating it on first use (a no-op when running)."""
    cluster = Cluster.default()
    started = cluster.start()
    state = cluster.status()
    _note(("started" if started else "already running") + f" on 127.0.0.1:{state.port} (log: {state.log_path})")


@db.command("stop")
@handle_errors
def db_stop() -> None:
    """Stop the embedded cluster (a no-op when stopped)."""
    _note("stopped" if Cluster.default().stop() else "not running")


@db.command("status")
@handle_errors
def db_status() -> None:
    """Show whether the embedded cluster runs; exit 3 when it does not, as pg_ctl does."""
    state = Cluster.default().status()
    table = Table(show_header=False, box=None)
    table.add_row(
        "state",
        "[green]running[/green]"
        if state.running
        else "[yellow]stopped[/yellow]"
        if state.initialized
        else "[yellow]not created[/yellow]",
    )
    table.add_row("pid", str(state.pid or "-"))
    table.add_row("port", str(state.port or "-"))
    table.add_row("data", str(state.data_dir))
    table.add_row("log", str(state.log_path))
    out.print(table)
    if not state.running:
        sys.exit(3)


@db.command("url")
@click.option("--superuser", is_flag=True, help="The superuser's URL (aef_admin) instead of postgres's.")
@click.option("--database", default="postgres", show_default=True, help="Database name in the URL.")
@click.option("--socket", is_flag=True, help="Through the unix socket instead of 127.0.0.1 (local clients; less CPU).")
@handle_errors
def db_url(superuser: bool, database: str, socket: bool) -> None:
    """Print a libpq URL of the embedded cluster on stdout (for psql and psycopg)."""
    click.echo(Cluster.default().url(superuser=superuser, database=database, socket=socket))


# -- migrate ------------------------------------------------------------------


@main.group()
def migrate() -> None:
    """Apply, revert, inspect and export aef-db's migrations."""


@migrate.command("up")
@click.option("--to", "to", metavar="VERSION", help="Stop after this version.")
@database_url_option
@migrations_dir_option
@handle_errors
def migrate_up(to: str | None, database_url: str | None, migrations_dir: Path | None) -> None:
    """Apply pending migrations, each file in one transaction."""
    runner = Runner(_url_or_start_embedded(database_url), _load(migrations_dir), report=_note)
    applied = runner.up(to)
    _note(f"applied {len(applied)} migration(s)" if applied else "nothing to apply: up to date")


@migrate.command("down")
@click.option("--to", "to", metavar="VERSION", help="Revert every migration newer than VERSION.")
@click.option("--all", "all_", is_flag=True, help="Revert every aef-db migration.")
@click.option("--steps", type=int, metavar="N", help="Revert the N newest migrations.")
@database_url_option
@migrations_dir_option
@handle_errors
def migrate_down(
    to: str | None, all_: bool, steps: int | None, database_url: str | None, migrations_dir: Path | None
) -> None:
    """Revert migrations with their rollback files, newest first."""
    runner = Runner(_url_or_start_embedded(database_url), _load(migrations_dir), report=_note)
    try:
        reverted = runner.down(to=to, all_=all_, steps=steps)
    except ValueError as exc:  # Runner.down holds the rule; here it is said in the options' names
        raise click.UsageError("give exactly one of --to VERSION, --all or --steps N") from exc
    _note(f"reverted {len(reverted)} migration(s)" if reverted else "nothing to revert")


@migrate.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@database_url_option
@migrations_dir_option
@handle_errors
def migrate_status(as_json: bool, database_url: str | None, migrations_dir: Path | None) -> None:
    """List migrations as applied, pending or changed since they were applied."""
    report = Runner(_url_or_start_embedded(database_url), _load(migrations_dir)).status()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    out.print(f"mode: {report.compat.describe()}", highlight=False)
    table = Table("version", "name", "state", "applied at", "by")
    for m in report.migrations:
        style = _STATE_STYLE[m.state]
        table.add_row(
            m.version,
            m.name,
            f"[{style}]{m.state.value}[/{style}]",
            m.applied_at.strftime("%Y-%m-%d %H:%M:%S%z") if m.applied_at else "-",
            m.applied_by or m.recorded_by or "-",
        )
    out.print(table)


@migrate.command("export")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Replace files of the same name with other content.")
@migrations_dir_option
@handle_errors
def migrate_export(directory: Path, force: bool, migrations_dir: Path | None) -> None:
    """Write the migrations as <version>_<name>.sql for supabase/migrations/."""
    for path in migration_files.export(_load(migrations_dir), directory, force=force):
        click.echo(str(path))


# -- compat -------------------------------------------------------------------


@main.group("compat")
def compat_group() -> None:
    """Inspect or install the Supabase compatibility layer on plain PostgreSQL."""


@compat_group.command("status")
@database_url_option
@handle_errors
def compat_status(database_url: str | None) -> None:
    """Say whether the database is Supabase, compat (plain + layer) or missing the layer."""
    with connect(_url_or_start_embedded(database_url)) as conn:
        require_supported_server(conn)
        status = compat.detect(conn)
    out.print(status.describe(), highlight=False)
    if status.mode is compat.Mode.MISSING:
        sys.exit(1)


@compat_group.command("install")
@database_url_option
@handle_errors
def compat_install(database_url: str | None) -> None:
    """Create the missing Supabase objects (needs a superuser); changes nothing on Supabase."""
    url = _url_or_start_embedded(database_url)
    with connect(url) as conn:
        require_supported_server(conn)
        status = compat.install(conn)
    _note(f"{redact(url)}: {status.describe()}")


# -- docs ---------------------------------------------------------------------


@main.group("docs")
def docs_group() -> None:
    """Generate documentation from a migrated database."""


@docs_group.command("schema")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here instead of stdout.")
@database_url_option
@handle_errors
def docs_schema(output: Path | None, database_url: str | None) -> None:
    """Render docs/schema.md from the catalog and comments of a migrated database."""
    with connect(_url_or_start_embedded(database_url)) as conn:
        require_supported_server(conn)
        text = schema_docs.render(conn)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        _note(f"wrote {output}")


@docs_group.command("schema-sql")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here instead of stdout.")
@database_url_option
@handle_errors
def docs_schema_sql(output: Path | None, database_url: str | None) -> None:
    """Dump aef-db's schemas as pg_dump --schema-only prints them (src/aef_db/sql/schema.sql)."""
    text = schema_dump.dump(_url_or_start_embedded(database_url))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        _note(f"wrote {output}")


# -- demo ---------------------------------------------------------------------


@main.command("demo")
@click.option(
    "--database-url",
    metavar="URL",
    help="Run it on this database, already migrated. Default: the embedded cluster, started and migrated"
    " if needed ($DATABASE_URL is not used).",
)
@handle_errors
def demo_command(database_url: str | None) -> None:
    """Run a sample SOP execution end to end (simulated browser) and show its timeline."""
    from aef_db import demo

    if database_url is None and os.environ.get("DATABASE_URL"):
        raise click.UsageError(
            "the demo writes sample rows, so it does not use $DATABASE_URL: pass --database-url URL to run it"
            " there, or unset DATABASE_URL to use the embedded cluster"
        )
    own_cluster = database_url is None
    if own_cluster:
        _start_embedded()
    url = database_url or resolve_url(None)
    if not demo.run(url, migrate=own_cluster, home=Cluster.default().home, console=out, report=_note):
        sys.exit(1)


# -- audit --------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """Check the log's hash chains, record their heads, archive a log (docs/audit.md)."""


@audit_group.command("verify")
@click.option("--execution", "execution_id", type=click.UUID, help="Check this execution's chain only.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
    help="Check only the chains that moved since this time (UTC unless it names a zone).",
)
@click.option(
    "--digest",
    "digest_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Also check that the database still extends every head this digest recorded.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@database_url_option
@handle_errors
def audit_verify(
    execution_id: Any, since: Any, digest_path: Path | None, as_json: bool, database_url: str | None
) -> None:
    """Recompute every chain. Exit 0: intact; 1: tampering found; 2: could not check."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from aef_db.audit.verify import VerifyError, verify_database

    try:
        url = _url_or_start_embedded(database_url)
    except AefDbError as exc:  # could not check: exit 2, never 1 (which means tampering)
        raise VerifyError(str(exc)) from exc
    columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("events", total=None)
        report = verify_database(
            url,
            execution_id=execution_id,
            since=since,
            digest_path=digest_path,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=1))
    else:
        rate = f", {report.events / report.seconds:,.0f} events/s" if report.seconds else ""
        out.print(
            f"{report.chains:,} chains, {report.events:,} events checked in {report.seconds:.2f}s{rate};"
            f" {len(report.archived):,} archived"
        )
        for f in report.findings:
            out.print(f"[bold red]{f.kind}[/bold red]: execution {f.execution_id} at seq {f.seq}: {f.detail}")
        out.print(
            "[bold green]intact[/bold green]"
            if report.intact
            else f"[bold red]{len(report.findings)} broken chain(s)[/bold red]"
        )
    sys.exit(0 if report.intact else 1)


@audit_group.command("digest")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here instead of stdout.")
@database_url_option
@handle_errors
def audit_digest_command(output: Path | None, database_url: str | None) -> None:
    """Write every chain head and one root hash over them: keep it outside the database."""
    from aef_db.audit import digest as audit_digest

    with connect(_url_or_start_embedded(database_url)) as conn:
        snapshot = audit_digest.take(conn)
    if output is None:
        click.echo(snapshot.to_json(), nl=False)
    else:
        output.write_text(snapshot.to_json())
        _note(f"wrote {output}: {len(snapshot.heads):,} heads, root {snapshot.root}")


@audit_group.command("archive")
@click.argument("execution_id", type=click.UUID)
@click.option("--location", required=True, help="Where the events went (URL, path, ticket); kept in the tombstone.")
@database_url_option
@handle_errors
def audit_archive(execution_id: Any, location: str, database_url: str | None) -> None:
    """Remove a final execution's log through the sanctioned function, leaving a tombstone."""
    from aef_db.audit.archive import archive

    stone = archive(_url_or_start_embedded(database_url), execution_id, location)
    out.print(
        f"archived execution {execution_id} up to seq {stone.last_seq} (head {stone.head_hash}) -> {stone.location}"
    )


# -- secrets ------------------------------------------------------------------


@main.group("secrets")
def secrets_group() -> None:
    """Keys for the secrets sealed in execution data and browser sessions."""


@secrets_group.command("generate-key")
@click.option("--key-id", default="k1", show_default=True, help="The id the key gets in sealed tokens.")
def secrets_generate_key(key_id: str) -> None:
    """Print a new AES-256 key as kid:base64, the form AEF_DB_ENCRYPTION_KEY takes."""
    click.echo(f"{key_id}:{generate_key()}")


@secrets_group.command("rotate")
@database_url_option
@handle_errors
def secrets_rotate(database_url: str | None) -> None:
    """Re-seal every stored secret under the active key, so older keys can be retired.

    A row holding a token that does not open (unknown key id, authentication failed,
    malformed) is left untouched and listed with its execution or session id and the
    token's path; every other row is rotated. Exit 0: everything re-sealed; 1: rows
    were skipped, so keep the old keys until they are fixed or removed.
    """
    cipher = Cipher.from_env()
    if cipher is None:
        raise click.UsageError(
            "set AEF_DB_ENCRYPTION_KEY or AEF_DB_KEYFILE: rotation needs the old keys and the new one"
        )
    report = rotate(_url_or_start_embedded(database_url), cipher)
    _note(
        f"re-sealed {report.tokens} secret(s) in {report.executions} execution(s) and {report.sessions} session(s)"
        f" under key {cipher.active}"
    )
    if report.skipped:
        for skipped in report.skipped:
            _note(f"[bold red]skipped[/bold red] {escape(str(skipped))}", soft_wrap=True)  # one line each, for grep
        _note(
            f"{len(report.skipped_ids)} row(s) left untouched: keep the old keys until their tokens are fixed or removed",
            soft_wrap=True,
        )
        sys.exit(1)


# -- watch --------------------------------------------------------------------


@main.command("watch")
@click.option("--user", "user_id", type=click.UUID, help="Only this user's executions and checkpoints.")
@click.option("--execution", "execution_id", type=click.UUID, help="Only this execution.")
@click.option("--json", "as_json", is_flag=True, help="Print each change as one line of JSON instead of the board.")
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="Exit after N changes (for scripts).")
@database_url_option
@handle_errors
def watch_command(
    user_id: uuid.UUID | None,
    execution_id: uuid.UUID | None,
    as_json: bool,
    count: int | None,
    database_url: str | None,
) -> None:
    """Follow executions live: status, current step, last events, checkpoints' time left (Ctrl-C ends)."""
    from aef_db import watch

    url = _url_or_start_embedded(database_url)
    if not as_json:
        _note("watching; Ctrl-C ends")
    try:
        asyncio.run(
            watch.watch(url, user_id=user_id, execution_id=execution_id, as_json=as_json, console=out, count=count)
        )
    except KeyboardInterrupt:
        _note("stopped")


# -- realtime -----------------------------------------------------------------

# Broadcast lives where Supabase Realtime does: these commands never start the
# embedded cluster, which has no Realtime (decision 43).
realtime_url_option = click.option(
    "--database-url",
    envvar="DATABASE_URL",
    metavar="URL",
    help="PostgreSQL URL. Default: $DATABASE_URL, else the running embedded cluster (never started: it has no"
    " Realtime).",
)


@main.group("realtime")
def realtime_group() -> None:
    """Supabase Broadcast from the database, opt-in (docs/realtime.md)."""


@realtime_group.command("enable-broadcast")
@realtime_url_option
@handle_errors
def realtime_enable_broadcast(database_url: str | None) -> None:
    """Send each change of a user's rows to private topics aef:user:<uid> and aef:execution:<id>.

    Installs statement-level triggers on the four tables and two policies on
    realtime.messages (only a topic's owner may join it), in one transaction; running
    it again is harmless. Where the database has no realtime.messages (not a Supabase
    project), it says so, changes nothing and exits 0.
    """
    from aef_db.realtime import broadcast

    url = resolve_url(database_url)
    with connect(url) as conn:
        require_supported_server(conn)
        result = broadcast.enable(conn)
    if result.state is broadcast.State.UNAVAILABLE:
        _note(f"{redact(url)}: broadcast {result.describe()}. Nothing was changed.", soft_wrap=True)
        return
    _note(f"{redact(url)}: broadcast {result.describe()}", soft_wrap=True)
    if result.state is not broadcast.State.ENABLED:
        sys.exit(1)


@realtime_group.command("disable-broadcast")
@realtime_url_option
@handle_errors
def realtime_disable_broadcast(database_url: str | None) -> None:
    """Remove exactly what enable-broadcast installed (a no-op when it is not installed)."""
    from aef_db.realtime import broadcast

    url = resolve_url(database_url)
    with connect(url) as conn:
        require_supported_server(conn)
        before, after = broadcast.disable(conn)
    if not before.installed:
        _note(f"{redact(url)}: nothing to remove (broadcast {before.describe()})", soft_wrap=True)
        return
    removed = len(before.triggers) + len(before.functions) + len(before.policies)
    _note(f"{redact(url)}: removed {removed} object(s); broadcast {after.describe()}", soft_wrap=True)


@realtime_group.command("status")
@realtime_url_option
@handle_errors
def realtime_status(database_url: str | None) -> None:
    """Say whether Broadcast is enabled; exit 0 enabled, 1 partly installed, 3 not enabled or unavailable."""
    from aef_db.realtime import broadcast

    with connect(resolve_url(database_url)) as conn:
        require_supported_server(conn)
        result = broadcast.status(conn)
    out.print(f"broadcast {result.describe()}", highlight=False, soft_wrap=True)
    if result.state is broadcast.State.PARTIAL:
        sys.exit(1)
    if result.state is not broadcast.State.ENABLED:
        sys.exit(3)


# -- doctor -------------------------------------------------------------------


@main.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@database_url_option
@migrations_dir_option
@handle_errors
def doctor_command(as_json: bool, database_url: str | None, migrations_dir: Path | None) -> None:
    """Check that a database is fit for aef-db; exit 1 when something is wrong."""
    checks = doctor.run(_url_or_start_embedded(database_url), _load(migrations_dir))
    if as_json:
        click.echo(json.dumps([c.as_dict() | {"detail": scrub(c.detail, database_url)} for c in checks], indent=2))
    else:
        table = Table("check", "result", "detail")
        for c in checks:
            style = _LEVEL_STYLE[c.level]
            table.add_row(c.name, f"[{style}]{c.level.value}[/{style}]", escape(scrub(c.detail, database_url)))
        out.print(table)
    if doctor.failed(checks):
        sys.exit(1)

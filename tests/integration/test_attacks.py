"""Attacks on the SECURITY DEFINER functions: a signed-in user must never run code as their owner.

The attack. Every definer of aef-db once ran with ``set search_path = ''``. With that
setting PostgreSQL still searches the session's temporary schema first for *types and
relations* (not for functions and operators). A signed-in user (role ``authenticated``,
JWT subject = their id) with raw SQL and the TEMP privilege can therefore:

1. create ``pg_temp.acc_probe(anyelement, text)``, a PL/pgSQL function that raises a
   NOTICE naming ``current_user`` (arbitrary code, in a real attack);
2. ``create domain pg_temp.uuid as pg_catalog.uuid check (pg_temp.acc_probe(value, 'uuid'))``;
3. call ``public.aef_pause_execution(<their own running execution>)``.

Inside the definer an unqualified ``uuid`` (``declare owner uuid;``) resolves to
``pg_temp.uuid``, and the domain's check (the probe) runs as the function's owner,
``postgres``. The fix pins ``search_path = pg_catalog, pg_temp`` and qualifies types.

What the tests do: each case shadows one type name in pg_temp (or all at once, or the
table names with temp views that call the probe), proves the probe fires for a cast the
user writes itself, then, as that user:

- calls every function granted to ``authenticated`` on their own rows, another user's
  rows and ids that do not exist, writing the arguments three ways (bare literals,
  casts the user writes, bound parameters);
- inserts an execution (the insert guard), inserts, updates and deletes SOPs (deleting
  one sets ``sop_id`` null in its executions, which fires the update guard, on a final
  execution too), and reads every table (the RLS policies call ``auth.uid()``);

once with the claims in ``request.jwt.claims`` and once in the legacy
``request.jwt.claim.sub``, which ``auth.uid()`` casts. The probe reports through NOTICEs,
which the server sends at once, so a call that fails later still leaves its record.
Every record must name ``authenticated``; every call must end as it would without the
attack. A last test keeps the list of attacked functions complete.

Keyword type names (``bigint``, ``boolean``, ``integer``, ``varchar``) are spelt by the
grammar as ``pg_catalog.*``, so they cannot be shadowed; a test checks that too.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from .. import factories as f
from ..conftest import Database
from ..factories import OTHER, OWNER

UNPRIVILEGED = "authenticated"
# the SECURITY DEFINER functions granted to authenticated, each called by function_calls()
USER_FUNCTIONS = ("aef_cancel_execution", "aef_pause_execution", "aef_resolve_checkpoint", "aef_resume_execution")
PROBE_PREFIX = "acc_probe "
CLAIM_MODES = ("jwt.claims", "jwt.claim.sub")
ARG_STYLES = ("literal", "cast", "param")  # '...', '...'::uuid (pg_temp's!), a bound psycopg parameter

PROBE_SQL = """
create function pg_temp.acc_probe(v anyelement, tag pg_catalog.text) returns pg_catalog.bool
language plpgsql as $probe$
begin
  raise notice 'acc_probe user=% superuser=% tag=%',
    current_user, pg_catalog.current_setting('is_superuser'), tag;
  return true;
end
$probe$
"""


# -- the shadows -------------------------------------------------------------------------


@dataclass(frozen=True)
class Shadow:
    """A domain ``pg_temp.<name>`` over ``pg_catalog.<base>`` whose check calls the probe."""

    name: str
    base: str
    sample: str  # a literal of the base type, for the sanity cast

    def create_sql(self) -> str:
        return (
            f'create domain pg_temp."{self.name}" as pg_catalog.{self.base}'
            f" check (pg_temp.acc_probe(value, 'domain {self.name}'))"
        )


SHADOWS = [
    Shadow("uuid", "uuid", str(OWNER)),
    Shadow("text", "text", "x"),
    Shadow("jsonb", "jsonb", "{}"),
    Shadow("json", "json", "{}"),
    Shadow("timestamptz", "timestamptz", "2026-01-01 00:00:00+00"),
    Shadow("bytea", "bytea", "\\x00"),
    Shadow("int8", "int8", "1"),
    Shadow("int4", "int4", "1"),
    Shadow("int2", "int2", "1"),
    Shadow("bool", "bool", "true"),
    Shadow("name", "name", "x"),
    Shadow("xid8", "xid8", "1"),
    # a pseudo-type cannot be a domain's base, but its name can be taken (PL/pgSQL's `declare r record`)
    Shadow("record", "text", "x"),
]
# The grammar turns these into pg_catalog.int8, bool, int4 and varchar: a bare name never finds pg_temp.
KEYWORD_SHADOWS = [
    Shadow("bigint", "int8", "1"),
    Shadow("boolean", "bool", "true"),
    Shadow("integer", "int4", "1"),
    Shadow("varchar", "varchar", "x"),
]

# Tables the definers read or write, shadowed by temp views that call the probe when scanned:
# the first ones read the real table (the user sees rows of each), the others only call the probe.
# ``inserted`` is the log's transition table: a trigger's own name must win over pg_temp's.
MIRROR_VIEWS = ("aef_executions", "aef_checkpoints", "aef_execution_logs", "sops")
PROBE_ONLY_VIEWS = ("aef_browser_sessions", "log_heads", "log_tombstones", "inserted")


def view_sql(name: str) -> str:
    if name in MIRROR_VIEWS:
        body = f"select t.* from public.{name} t where pg_temp.acc_probe(t.id, 'view {name}')"
    else:
        body = f"select pg_temp.acc_probe(1, 'view {name}') as probe"
    return f"create view pg_temp.{name} as {body}"


# -- recording what the probe saw -----------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    call: str  # the statement running when the probe fired
    user: str
    superuser: str
    tag: str  # which domain or view

    def __str__(self) -> str:
        return f"{self.call}: {self.tag} ran as {self.user} (superuser={self.superuser})"


@dataclass
class ProbeLog:
    """Collects the probe's NOTICEs, each tagged with the statement that was running."""

    call: str = "setup"
    hits: list[Hit] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # call -> "ok" or SQLSTATE
    errors: dict[str, str] = field(default_factory=dict)  # call -> the error's first line

    def on_notice(self, diag: psycopg.errors.Diagnostic) -> None:
        message = diag.message_primary or ""
        if not message.startswith(PROBE_PREFIX):
            return
        fields = dict(part.split("=", 1) for part in message.removeprefix(PROBE_PREFIX).split(" ", 2))
        self.hits.append(Hit(self.call, fields["user"], fields["superuser"], fields["tag"]))

    def hits_of(self, call: str) -> list[Hit]:
        return [h for h in self.hits if h.call == call]

    def run(self, conn: psycopg.Connection, call: str, sql: str, params: Any = None) -> str:
        """Run one statement in a savepoint; record and return "ok" or its SQLSTATE."""
        self.call = call
        try:
            with conn.transaction():
                cur = conn.execute(sql, params)
                if cur.description is not None:
                    cur.fetchall()
            outcome = "ok"
        except psycopg.Error as exc:
            outcome = exc.sqlstate or type(exc).__name__
            self.errors[call] = str(exc).strip().splitlines()[0] if str(exc).strip() else outcome
        self.outcomes[call] = outcome
        return outcome


@contextmanager
def attacker(db: Database, user: uuid.UUID, claims: str) -> Iterator[tuple[psycopg.Connection, ProbeLog]]:
    """One transaction as a signed-in user (PostgREST's SET LOCAL ROLE), with a probe log."""
    log = ProbeLog()
    with db.acting(UNPRIVILEGED) as conn:
        conn.add_notice_handler(log.on_notice)
        if claims == "jwt.claims":
            conn.execute(
                "select pg_catalog.set_config('request.jwt.claims', %s, true)",
                (f'{{"sub": "{user}", "role": "{UNPRIVILEGED}"}}',),
            )
        else:  # the legacy per-claim settings, which auth.uid() reads first
            conn.execute("select pg_catalog.set_config('request.jwt.claim.sub', %s, true)", (str(user),))
            conn.execute("select pg_catalog.set_config('request.jwt.claim.role', %s, true)", (UNPRIVILEGED,))
        conn.execute(PROBE_SQL)
        yield conn, log


# -- the rows under attack --------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    running: uuid.UUID  # for pause
    paused: uuid.UUID  # for resume
    cancellable: uuid.UUID  # running, for cancel
    checkpoint: uuid.UUID  # pending, on a running execution
    final_sop: uuid.UUID  # the SOP of a completed execution: deleting it updates a final row


def rows(db: Database, user: uuid.UUID) -> Rows:
    """Made as postgres (the table owner), before the attack starts."""
    running = f.execution(db, user, "running")
    f.log(db, running)  # a log row, so the user's reads of a shadowing view scan a row
    return Rows(
        running=running,
        paused=f.execution(db, user, "paused"),
        cancellable=f.execution(db, user, "running"),
        checkpoint=f.checkpoint(db, f.execution(db, user, "running")),
        final_sop=f.one(
            db, "select sop_id from public.aef_executions where id = %s", (f.execution(db, user, "completed"),)
        ),
    )


MISSING = uuid.UUID("33333333-3333-4333-8333-333333333333")  # no row has this id
MISSING_ROWS = Rows(MISSING, MISSING, MISSING, MISSING, MISSING)


@dataclass(frozen=True)
class World:
    own: dict[str, Rows]  # per argument style: each style changes its own rows
    other: Rows
    sop: uuid.UUID  # the owner's, for the insert


@pytest.fixture
def world(migrated: Database) -> World:
    return World({style: rows(migrated, OWNER) for style in ARG_STYLES}, rows(migrated, OTHER), f.sop(migrated, OWNER))


# -- the calls ------------------------------------------------------------------------------------


def arg(style: str, value: object, sql_type: str) -> tuple[str, list[object]]:
    """An argument as SQL text plus its bound parameters, written in the given style.

    ``sql_type`` is what the user writes: ``uuid`` is pg_temp's domain when it is shadowed.
    """
    text = (json.dumps(value) if isinstance(value, dict) else str(value)).replace("'", "''")
    if style == "literal":
        return f"'{text}'", []
    if style == "cast":
        return f"'{text}'::{sql_type}", []
    return "%s", [Jsonb(value) if isinstance(value, dict) else value]


def call_sql(function: str, style: str, *args: tuple[object, str]) -> tuple[str, list[object]]:
    parts = [arg(style, value, sql_type) for value, sql_type in args]
    params = [p for _, ps in parts for p in ps]
    return f"select * from public.{function}({', '.join(text for text, _ in parts)})", params


@dataclass(frozen=True)
class Call:
    label: str
    sql: str
    params: list[object]
    expected: str  # "ok" or an SQLSTATE


def function_calls(world: World) -> list[Call]:
    """Every function granted to authenticated, on own, foreign and missing rows, in every style."""
    calls: list[Call] = []
    for style in ARG_STYLES:
        for whose, rows_of, expected in [
            ("own", world.own[style], "ok"),
            ("other's", world.other, "P0002"),
            ("missing", MISSING_ROWS, "P0002"),
        ]:
            for function, target in [
                ("aef_pause_execution", rows_of.running),
                ("aef_resume_execution", rows_of.paused),
                ("aef_cancel_execution", rows_of.cancellable),
            ]:
                sql, params = call_sql(function, style, (target, "uuid"))
                calls.append(Call(f"{function}({whose}, {style})", sql, params, expected))
            sql, params = call_sql(
                "aef_resolve_checkpoint",
                style,
                (rows_of.checkpoint, "uuid"),
                ("approved", "public.checkpoint_status"),
                ({"ok": 1}, "jsonb"),
            )
            calls.append(Call(f"aef_resolve_checkpoint({whose}, {style})", sql, params, expected))
    return calls


def table_calls(world: World) -> list[Call]:
    """What the user may write and read directly: the guard triggers and the RLS policies.

    Deleting an SOP sets sop_id null in its executions (ON DELETE SET NULL), which fires
    the executions' update guard, on a final execution too.
    """
    calls: list[Call] = []
    columns = "sop_id, user_id, status, current_step_id, execution_context, config"
    for style in ARG_STYLES:
        values = [
            arg(style, world.sop, "uuid"),
            arg(style, OWNER, "uuid"),
            arg(style, "idle", "public.execution_status"),
            arg(style, "step-1", "text"),
            arg(style, {"login": {"user": "me"}}, "jsonb"),
            arg(style, {"speed": 1}, "jsonb"),
        ]
        sql = f"insert into public.aef_executions ({columns}) values ({', '.join(v for v, _ in values)}) returning id"
        calls.append(Call(f"insert aef_executions ({style})", sql, [p for _, ps in values for p in ps], "ok"))
        name, name_params = arg(style, f"Attack {style}", "text")
        insert_sop = f"insert into public.sops (name) values ({name})"
        calls.append(Call(f"insert sops ({style})", insert_sop, name_params, "ok"))
        for whose, rows_of in [("own", world.own[style]), ("other's", world.other)]:  # other's: 0 rows, by RLS
            target, params = arg(style, rows_of.final_sop, "uuid")
            update = f"update public.sops set description = 'x' where id = {target}"
            calls.append(Call(f"update sops ({whose}, {style})", update, params, "ok"))
            delete = f"delete from public.sops where id = {target}"
            calls.append(Call(f"delete sops ({whose}, {style})", delete, params, "ok"))
    for table, select_list in [
        ("aef_executions", "*"),
        ("aef_execution_logs", "*"),
        ("aef_checkpoints", "*"),
        ("aef_browser_sessions", "id, user_id, status, last_active"),
        ("sops", "*"),
    ]:
        calls.append(Call(f"select {table}", f"select {select_list} from public.{table}", [], "ok"))
    return calls


# -- running an attack and judging it -----------------------------------------------------------


def attack(conn: psycopg.Connection, log: ProbeLog, world: World) -> None:
    for call in function_calls(world) + table_calls(world):
        log.run(conn, call.label, call.sql, call.params)


def assert_unprivileged(log: ProbeLog, world: World) -> None:
    """Nothing ran as anyone but the user, and every call ended as it would without the attack."""
    escalated = Counter(str(h) for h in log.hits if h.user != UNPRIVILEGED or h.superuser != "off")
    if escalated:
        lines = [f"{hit} x{n}" for hit, n in escalated.items()]
        pytest.fail("code planted in pg_temp ran as a privileged role:\n  " + "\n  ".join(lines), pytrace=False)
    expected = {c.label: c.expected for c in function_calls(world) + table_calls(world)}
    wrong = [
        f"{label}: expected {want}, got {log.outcomes.get(label)} {log.errors.get(label, '')}".rstrip()
        for label, want in expected.items()
        if log.outcomes.get(label) != want
    ]
    if wrong:
        pytest.fail("calls under attack ended differently:\n  " + "\n  ".join(wrong), pytrace=False)


def shadow_ids(shadows: list[Shadow]) -> str:
    return shadows[0].name if len(shadows) == 1 else "all"


def create_shadow(conn: psycopg.Connection, log: ProbeLog, shadow: Shadow) -> None:
    """Create the domain, and prove the probe fires, as the user, for a cast the user writes."""
    assert log.run(conn, f"create domain {shadow.name}", shadow.create_sql()) == "ok", log.errors
    sanity = f"sanity '{shadow.sample}'::pg_temp.{shadow.name}"
    log.run(conn, sanity, f"select '{shadow.sample}'::pg_temp.\"{shadow.name}\"")
    assert [h.user for h in log.hits_of(sanity)] == [UNPRIVILEGED], f"the probe did not fire: {log.hits}"


def bare_cast_fires(conn: psycopg.Connection, log: ProbeLog, shadow: Shadow) -> bool:
    """Whether ``'<sample>'::<name>``, the name unqualified, finds pg_temp's domain."""
    call = f"sanity '{shadow.sample}'::{shadow.name}"
    assert log.run(conn, call, f"select '{shadow.sample}'::{shadow.name}") == "ok", log.errors
    return bool(log.hits_of(call))


@pytest.mark.parametrize("claims", CLAIM_MODES)
# each type alone is slow (26 cases); all of them at once stays in the fast loop
@pytest.mark.parametrize(
    "shadows",
    [pytest.param([s], marks=pytest.mark.slow) for s in SHADOWS] + [SHADOWS + KEYWORD_SHADOWS],
    ids=shadow_ids,
)
def test_shadowed_types_never_run_as_a_privileged_role(
    migrated: Database, world: World, shadows: list[Shadow], claims: str
) -> None:
    with attacker(migrated, OWNER, claims) as (conn, log):
        for one in shadows:
            create_shadow(conn, log, one)
            if one in SHADOWS:
                assert bare_cast_fires(conn, log, one), f"a bare {one.name} did not find pg_temp.{one.name}"
        attack(conn, log, world)
        assert_unprivileged(log, world)


@pytest.mark.parametrize("keyword", KEYWORD_SHADOWS, ids=lambda s: s.name)
def test_keyword_type_names_cannot_be_shadowed(migrated: Database, keyword: Shadow) -> None:
    with attacker(migrated, OWNER, CLAIM_MODES[0]) as (conn, log):
        create_shadow(conn, log, keyword)
        assert not bare_cast_fires(conn, log, keyword), f"a bare {keyword.name} found pg_temp.{keyword.name}"


@pytest.mark.parametrize("claims", CLAIM_MODES)
def test_shadowed_tables_are_never_read_by_the_definers(migrated: Database, world: World, claims: str) -> None:
    with attacker(migrated, OWNER, claims) as (conn, log):
        for name in (*MIRROR_VIEWS, *PROBE_ONLY_VIEWS):
            assert log.run(conn, f"create view {name}", view_sql(name)) == "ok", log.errors
            # the probe works: the user's own unqualified read finds the view
            sanity = f"sanity select from {name}"
            log.run(conn, sanity, f"select * from {name}")
            assert {h.user for h in log.hits_of(sanity)} == {UNPRIVILEGED}, f"the probe did not fire: {log.hits}"
        attack(conn, log, world)
        assert_unprivileged(log, world)


def test_the_attack_covers_every_definer_a_user_can_call(migrated: Database) -> None:
    """A new SECURITY DEFINER function granted to authenticated (or to public) must join the attack."""
    callable_by_user = migrated.scalar(
        "select coalesce(array_agg(n.nspname || '.' || p.proname order by n.nspname, p.proname), '{}')"
        "  from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where p.prosecdef and has_function_privilege('authenticated', p.oid, 'execute')"
        "   and has_schema_privilege('authenticated', n.oid, 'usage')"
    )
    assert callable_by_user == sorted(f"public.{name}" for name in USER_FUNCTIONS)
    nowhere = World(dict.fromkeys(ARG_STYLES, MISSING_ROWS), MISSING_ROWS, MISSING)
    assert {call.label.split("(")[0] for call in function_calls(nowhere)} == set(USER_FUNCTIONS)

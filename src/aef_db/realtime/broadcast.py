"""Supabase Broadcast from the database: aef-db's opt-in triggers and realtime.messages policies.

``enable`` installs ``sql/realtime/broadcast.sql`` where Supabase Realtime's
``realtime.messages`` exists, ``disable`` runs ``broadcast_disable.sql``, and
``status`` says which of their objects are there. docs/realtime.md#broadcast
describes the topics, events and payloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aef_db import sql as package_sql
from aef_db.connection import Connection, run_script
from aef_db.errors import AefDbError, MigrationFailed, PrivilegeError

ENABLE_SCRIPT = "realtime/broadcast.sql"
DISABLE_SCRIPT = "realtime/broadcast_disable.sql"
_Q = package_sql.queries("realtime/broadcast_queries.sql")

TABLES = ("aef_executions", "aef_execution_logs", "aef_checkpoints", "aef_browser_sessions")
# what broadcast.sql creates; status() compares the catalog with these
TRIGGERS = (
    "aef_browser_sessions.aef_90_broadcast_delete",
    "aef_browser_sessions.aef_90_broadcast_insert",
    "aef_browser_sessions.aef_90_broadcast_update",
    "aef_checkpoints.aef_90_broadcast_delete",
    "aef_checkpoints.aef_90_broadcast_insert",
    "aef_checkpoints.aef_90_broadcast_update",
    "aef_execution_logs.aef_90_broadcast_insert",
    "aef_executions.aef_90_broadcast_delete",
    "aef_executions.aef_90_broadcast_insert",
    "aef_executions.aef_90_broadcast_update",
)
FUNCTIONS = (
    "broadcast_browser_sessions",
    "broadcast_checkpoint",
    "broadcast_checkpoints",
    "broadcast_execution",
    "broadcast_execution_logs",
    "broadcast_executions",
    "broadcast_log_event",
    "broadcast_masked",
    "broadcast_payload",
    "broadcast_session",
)
POLICIES = (
    "aef-db: aef topics are closed to anon",
    "aef-db: aef topics belong to their owners",
    "aef-db: owners receive their aef topics",
)


class State(StrEnum):
    UNAVAILABLE = "unavailable"  # no realtime.messages: not a Supabase project (or Realtime too old)
    DISABLED = "disabled"
    ENABLED = "enabled"
    PARTIAL = "partial"  # some objects missing: enable again, or disable


@dataclass(frozen=True)
class BroadcastStatus:
    realtime_schema: bool
    messages: bool
    triggers: tuple[str, ...]
    functions: tuple[str, ...]
    policies: tuple[str, ...]

    @property
    def installed(self) -> bool:
        """Whether any object of aef-db's Broadcast is in the database."""
        return bool(self.triggers or self.functions or self.policies)

    @property
    def state(self) -> State:
        if not self.installed:
            return State.DISABLED if self.messages else State.UNAVAILABLE
        complete = (
            self.messages
            and set(self.triggers) == set(TRIGGERS)
            and set(self.functions) == set(FUNCTIONS)
            and set(self.policies) == set(POLICIES)
        )
        return State.ENABLED if complete else State.PARTIAL

    def describe(self) -> str:
        state = self.state
        if state is State.UNAVAILABLE:
            where = (
                "schema realtime has no table messages (a Realtime older than Broadcast from the database?)"
                if self.realtime_schema
                else "no schema realtime: this is not a Supabase project (the embedded cluster has no Realtime)"
            )
            return f"unavailable: {where}"
        if state is State.DISABLED:
            return "disabled: realtime.messages is there; enable with aef-db realtime enable-broadcast"
        if state is State.ENABLED:
            return (
                f"enabled: {len(self.triggers)} statement triggers on {len(TABLES)} tables,"
                f" {len(self.policies)} policies on realtime.messages"
            )
        missing = sorted(
            (set(TRIGGERS) - set(self.triggers))
            | {f"function aef_private.{f}" for f in set(FUNCTIONS) - set(self.functions)}
            | ({f'policy "{p}"' for p in set(POLICIES) - set(self.policies)} if self.messages else set())
        )
        gone = [] if self.messages else ["realtime.messages"]
        return (
            "partial: missing " + ", ".join(gone + missing) + " (run aef-db realtime enable-broadcast again,"
            " or disable-broadcast)"
        )


def status(conn: Connection) -> BroadcastStatus:
    probe = _probe(conn)

    def names(query: str) -> tuple[str, ...]:
        return tuple(sorted(r["name"] for r in conn.execute(_Q[query], {"tables": list(TABLES)})))

    return BroadcastStatus(
        realtime_schema=probe["realtime_schema"],
        messages=probe["messages"],
        triggers=names("installed_triggers"),
        functions=names("installed_functions"),
        policies=names("installed_policies") if probe["messages"] else (),
    )


def enable(conn: Connection) -> BroadcastStatus:
    """Install the triggers and policies in one transaction; idempotent.

    Where realtime.messages does not exist, change nothing and return the status
    (state ``unavailable``). Raise before writing anything when the database or the
    role cannot take them.
    """
    probe = _probe(conn)
    if not probe["messages"]:
        return status(conn)
    if not probe["aef_schema"]:
        raise AefDbError("aef-db's schema is not installed here: run aef-db migrate up first. Nothing was changed.")
    if not probe["bypasses_rls"]:
        raise PrivilegeError(
            f"role {probe['role']} does not bypass row level security, so the broadcast triggers, which run as"
            " it, could not insert into realtime.messages past aef-db's own policy. Enable Broadcast as"
            " postgres (on Supabase it has BYPASSRLS) or a superuser. Nothing was changed."
        )
    privileges = conn.execute(_Q["messages_privileges"]).fetchone()
    assert privileges is not None
    if not (privileges["schema_usage"] and privileges["can_insert"]):
        raise PrivilegeError(
            f"role {probe['role']} may not insert into realtime.messages (USAGE on schema realtime and INSERT"
            " on the table are needed; Supabase grants both to postgres). Nothing was changed."
        )
    try:
        run_script(conn, ENABLE_SCRIPT)
    except MigrationFailed as exc:
        if exc.sqlstate == "42501":  # insufficient_privilege: most likely the policies
            raise PrivilegeError(
                f"role {probe['role']} may not create what Broadcast needs: {exc.detail}. A policy on"
                " realtime.messages needs its owner, or on hosted Supabase a role listed for it in"
                " supautils.policy_grants (postgres is). Nothing was changed."
            ) from exc
        raise
    return status(conn)


def disable(conn: Connection) -> tuple[BroadcastStatus, BroadcastStatus]:
    """Remove every object ``enable`` created, in one transaction; (before, after)."""
    before = status(conn)
    if not before.installed:
        return before, before
    try:
        run_script(conn, DISABLE_SCRIPT)
    except MigrationFailed as exc:
        if exc.sqlstate == "42501":
            role = _probe(conn)["role"]
            raise PrivilegeError(
                f"role {role} may not remove Broadcast: {exc.detail}. Disable it as the role that enabled it."
                " Nothing was changed."
            ) from exc
        raise
    return before, status(conn)


def _probe(conn: Connection) -> dict[str, Any]:
    row = conn.execute(_Q["probe"]).fetchone()
    assert row is not None
    return row

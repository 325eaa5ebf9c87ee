"""The store's exceptions: the database's SQLSTATEs (docs/errors.md), as Python types."""

from __future__ import annotations

import psycopg

from aef_db.errors import AefDbError


class StoreError(AefDbError):
    """A database rule refused the call; ``sqlstate`` says which (docs/errors.md)."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class IllegalTransition(StoreError):
    """AE001, AE002, AE003: the status machine forbids this change."""


class AlreadyResolved(IllegalTransition):
    """AE002: the checkpoint was resolved before (by someone else, in a race)."""


class ImmutableField(StoreError):
    """AE004."""


class AppendOnly(StoreError):
    """AE005."""


class OwnerMismatch(StoreError):
    """AE006."""


class SeqConflict(StoreError):
    """AE007, or a seq already taken: another writer appended to the same execution."""


class ChainConflict(SeqConflict):
    """AE009: the supplied hashes do not continue the execution's audit chain."""


# An append that found its seq, its chain link or its event id taken: another writer
# got there first (or a lost commit of its own did; the writer tells them apart).
TAKEN = frozenset({"AE007", "AE009", "23505"})


class ArchiveRefused(StoreError):
    """AE010: aef_audit.archive_execution_logs refused (not final, no log, no location)."""


class InvalidTimeout(StoreError):
    """AE008."""


class NotFound(StoreError):
    """P0002, or no row: nothing the caller may act on has this id."""


class PermissionDenied(StoreError):
    """42501: the role has no grant, or RLS refused the row."""


class ConstraintViolation(StoreError):
    """A CHECK, NOT NULL, foreign key or type rule (classes 22 and 23)."""


class LeaseUnavailable(StoreError):
    """No browser session can be leased now (all busy, or the pool is full)."""


class LeaseLost(StoreError):
    """The lease expired and was taken over, or released, before this call."""


_BY_STATE: dict[str, type[StoreError]] = {
    "AE001": IllegalTransition,
    "AE002": IllegalTransition,
    "AE003": IllegalTransition,
    "AE004": ImmutableField,
    "AE005": AppendOnly,
    "AE006": OwnerMismatch,
    "AE007": SeqConflict,
    "AE008": InvalidTimeout,
    "AE009": ChainConflict,
    "AE010": ArchiveRefused,
    "P0002": NotFound,
    "42501": PermissionDenied,
}


def translate(exc: psycopg.Error) -> StoreError:
    state = exc.sqlstate or ""
    message = (exc.diag.message_primary if exc.diag else None) or str(exc).strip()
    if state == "AE002" and "already resolved" in message:
        return AlreadyResolved(message, state)
    if state == "23505" and "aef_execution_logs_execution_seq_key" in message:
        return SeqConflict(message, state)
    cls = _BY_STATE.get(state)
    if cls is None:
        cls = ConstraintViolation if state[:2] in ("22", "23") else StoreError
    return cls(message, state)

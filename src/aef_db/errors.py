"""Errors aef-db raises on purpose. Each one says what was wrong and what to do."""

from __future__ import annotations

from pathlib import Path


class AefDbError(Exception):
    """Base class: the CLI prints the message and exits with ``exit_code``."""

    exit_code = 1


class ConnectionFailed(AefDbError):
    """The database cannot be reached."""


class ServerTooOld(AefDbError):
    """The server is older than the oldest PostgreSQL aef-db supports."""


class PrivilegeError(AefDbError):
    """The connected role lacks a privilege the operation needs."""


class MigrationSourceError(AefDbError):
    """The migration files themselves are wrong (names, duplicates, syntax)."""


class UnknownVersion(AefDbError):
    """A version given on the command line is not a known migration."""


class NothingToRevert(AefDbError):
    """``down`` was asked to go past the first migration."""


class OutOfOrder(AefDbError):
    """A pending migration is older than one already applied."""


class LockTimeout(AefDbError):
    """Another runner held the migration lock for too long."""


class MigrationFailed(AefDbError):
    """A statement of a migration file failed; the file's transaction rolled back."""

    def __init__(
        self,
        *,
        filename: str,
        index: int,
        line: int,
        statement: str,
        sqlstate: str | None,
        detail: str,
    ) -> None:
        self.filename = filename
        self.index = index
        self.line = line
        self.statement = statement
        self.sqlstate = sqlstate
        self.detail = detail
        first = statement.strip().splitlines()[0] if statement.strip() else ""
        super().__init__(
            f"{filename}: statement {index} (line {line}) failed"
            f" [SQLSTATE {sqlstate}]: {detail}\n  statement: {first}"
            "\n  Nothing of this file was applied: its transaction was rolled back."
        )


class ClusterError(AefDbError):
    """The embedded cluster could not be created, started or stopped."""

    def __init__(self, message: str, log_path: Path | None = None) -> None:
        self.log_path = log_path
        if log_path is not None:
            message = f"{message}\n  cluster log: {log_path}"
        super().__init__(message)

"""Migration files: naming, loading, checksums and export in the Supabase CLI's layout.

A migration is ``<14-digit version>_<name>.sql`` with its rollback beside it as
``<version>_<name>.rollback.sql``. Versions are compared as strings, as the
Supabase CLI does, which is why they must all have 14 digits.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from importlib.resources.abc import Traversable
from pathlib import Path

from aef_db import sql as package_sql
from aef_db.errors import MigrationSourceError
from aef_db.statements import Statement, split

_FORWARD = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")
_ROLLBACK = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.rollback\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str
    rollback_sql: str

    @property
    def filename(self) -> str:
        return f"{self.version}_{self.name}.sql"

    @property
    def rollback_filename(self) -> str:
        return f"{self.version}_{self.name}.rollback.sql"

    @cached_property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    @cached_property
    def statements(self) -> list[Statement]:
        return split(self.sql, self.filename)

    @cached_property
    def rollback_statements(self) -> list[Statement]:
        return split(self.rollback_sql, self.rollback_filename)


def package_directory() -> Traversable:
    return package_sql.root().joinpath("migrations")


def load(directory: Traversable | Path | None = None) -> list[Migration]:
    """All migrations of a directory (the package's by default), sorted by version.

    Rejects, before anything touches a database: badly named .sql files, two
    files with one version, a migration without its rollback (or the reverse),
    a file that does not parse, and a file mixing statements that must run
    outside a transaction (CREATE INDEX CONCURRENTLY...) with ordinary ones.
    """
    folder = package_directory() if directory is None else directory
    if isinstance(folder, Path) and not folder.is_dir():
        raise MigrationSourceError(f"migrations directory {folder} does not exist")
    forward: dict[str, tuple[str, Traversable]] = {}
    rollback: dict[str, tuple[str, Traversable]] = {}
    # forward files first, so a clash is reported between the files people name
    for entry in sorted(folder.iterdir(), key=lambda e: (e.name.endswith(".rollback.sql"), e.name)):
        if not entry.name.endswith(".sql"):
            continue
        if m := _ROLLBACK.match(entry.name):
            target = rollback
        elif m := _FORWARD.match(entry.name):
            target = forward
        else:
            raise MigrationSourceError(
                f"{entry.name}: a migration file must be named <14-digit version>_<name>.sql"
                " (name in lower case, digits and _), with <version>_<name>.rollback.sql beside it"
            )
        version = m.group("version")
        if version in target:
            raise MigrationSourceError(
                f"two migration files share version {version}: {target[version][1].name} and {entry.name}"
            )
        target[version] = (m.group("name"), entry)

    migrations = []
    for version in sorted(set(forward) | set(rollback)):
        if version not in rollback:
            raise MigrationSourceError(f"{forward[version][1].name} has no rollback file")
        if version not in forward:
            raise MigrationSourceError(f"{rollback[version][1].name} has no migration file")
        name, fwd = forward[version]
        rb_name, rb = rollback[version]
        if rb_name != name:
            raise MigrationSourceError(f"{rb.name} does not match {fwd.name}")
        migration = Migration(
            version=version,
            name=name,
            sql=fwd.read_text(encoding="utf-8"),
            rollback_sql=rb.read_text(encoding="utf-8"),
        )
        _check_transaction_mix(migration.filename, migration.statements)
        _check_transaction_mix(migration.rollback_filename, migration.rollback_statements)
        migrations.append(migration)
    return migrations


def _check_transaction_mix(filename: str, statements: list[Statement]) -> None:
    outside = [s for s in statements if not s.transactional]
    others = [s for s in statements if s.transactional and not s.text.lstrip().lower().startswith("set ")]
    if outside and (others or len(outside) > 1):
        raise MigrationSourceError(
            f"{filename} (line {outside[0].line}): a statement that cannot run in a transaction"
            " (such as CREATE INDEX CONCURRENTLY) must be alone in its file, as the Supabase CLI requires"
        )


def export(migrations: list[Migration], directory: Path, *, force: bool = False) -> list[Path]:
    """Write the forward files as ``<version>_<name>.sql`` for ``supabase/migrations/``.

    An existing file with other content is an error unless ``force``: silently
    replacing a teammate's migration is worse than stopping.
    """
    directory.mkdir(parents=True, exist_ok=True)
    clashes = [
        directory / m.filename
        for m in migrations
        if (directory / m.filename).exists() and (directory / m.filename).read_text(encoding="utf-8") != m.sql
    ]
    if clashes and not force:
        names = ", ".join(p.name for p in clashes)
        raise MigrationSourceError(
            f"{directory} already has different files named {names}; use --force to replace them"
        )
    written = []
    for m in migrations:
        path = directory / m.filename
        path.write_text(m.sql, encoding="utf-8")
        written.append(path)
    return written

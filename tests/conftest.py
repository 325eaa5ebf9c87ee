"""Test fixtures: one real PostgreSQL 15 cluster per session, one database per test.

The cluster is aef-db's own embedded cluster (so every run exercises it), with
hosted Supabase's privilege split: migrations run as ``postgres``, which is not a
superuser. Each test gets ``CREATE DATABASE ... TEMPLATE``, as procrastinate does,
which costs milliseconds instead of a migration run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from aef_db import compat
from aef_db.cluster import Cluster, find_pg_bin
from aef_db.connection import connect

TEMPLATE = "aef_template"
MIGRATED = "aef_migrated"
API_ROLES = ("anon", "authenticated", "service_role")
TESTS = Path(__file__).parent
# fsync off for speed; synchronous_commit stays on, so logical decoding sees each commit at once
FAST_SETTINGS = {"fsync": "off", "full_page_writes": "off"}


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    """A temporary directory the cluster's service user can reach (mkdtemp makes it 0700)."""
    path = Path(tempfile.mkdtemp(prefix="aef-db-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(workdir: Path) -> Iterator[Cluster]:
    instance = Cluster(workdir / "cluster", settings=FAST_SETTINGS)
    instance.start()
    yield instance
    conn = _admin.pop(instance.url(superuser=True), None)
    if conn is not None:
        conn.close()
    instance.stop()


@pytest.fixture(scope="session")
def template(cluster: Cluster) -> str:
    with connect(cluster.url(superuser=True)) as conn:
        conn.execute(f"create database {TEMPLATE} owner postgres")
    with connect(cluster.url(superuser=True, database=TEMPLATE)) as conn:
        compat.install(conn)
    return TEMPLATE


@dataclass
class Database:
    """One throw-away database of the session cluster."""

    name: str
    cluster: Cluster
    # one autocommit connection per role for the factories and scalar(): opening
    # one per statement cost about 15 ms each
    _shared: dict[bool, psycopg.Connection] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        """As postgres: the non-superuser migration role, as on hosted Supabase."""
        return self.cluster.url(database=self.name)

    @property
    def superuser_url(self) -> str:
        return self.cluster.url(superuser=True, database=self.name)

    def connect(self, *, superuser: bool = False) -> psycopg.Connection:
        return connect(self.superuser_url if superuser else self.url)

    def shared(self, *, superuser: bool = False) -> psycopg.Connection:
        """The test's long-lived autocommit connection (postgres, or the superuser)."""
        conn = self._shared.get(superuser)
        if conn is None or conn.closed:
            conn = self._shared[superuser] = self.connect(superuser=superuser)
        return conn

    def close_shared(self) -> None:
        for conn in self._shared.values():
            conn.close()
        self._shared.clear()

    def scalar(self, query: str, params: dict | None = None) -> object:
        row = self.shared(superuser=True).execute(query, params).fetchone()
        return None if row is None else next(iter(row.values()))

    @contextmanager
    def login_role(self, name: str) -> Iterator[str]:
        """A throw-away LOGIN role with no privileges but CONNECT; yields its URL."""
        with self.connect(superuser=True) as conn:
            conn.execute(f"drop role if exists {name}")
            conn.execute(f"create role {name} login password 'pw'")
            conn.execute(f"grant connect on database {self.name} to {name}")
        try:
            yield self.url.replace(self.url.split("@")[0], f"postgresql://{name}:pw")
        finally:
            with self.connect(superuser=True) as conn:
                conn.execute(f"revoke connect on database {self.name} from {name}")
                conn.execute(f"drop role {name}")

    @contextmanager
    def acting(self, role: str, user: uuid.UUID | None = None) -> Iterator[psycopg.Connection]:
        """One transaction as PostgREST runs a request: SET LOCAL ROLE plus the JWT claims.

        It rolls back on error and commits otherwise, so a test can look at what was written.
        """
        assert role in API_ROLES
        with self.connect() as conn, conn.transaction():
            conn.execute(f"set local role {role}")
            if user is not None:
                claims = json.dumps({"sub": str(user), "role": role})
                conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
            yield conn

    def dump(self, *args: str) -> str:
        """pg_dump output, minus the per-run random \\restrict key lines of PostgreSQL 15.14+."""
        result = subprocess.run(
            [str(find_pg_bin() / "pg_dump"), *args, "-d", self.superuser_url],
            capture_output=True,
            text=True,
            check=True,
        )
        return "\n".join(
            line for line in result.stdout.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
        )


_admin: dict[str, psycopg.Connection] = {}


def _admin_connection(cluster: Cluster) -> psycopg.Connection:
    """One superuser connection per cluster for creating and dropping the test databases."""
    url = cluster.url(superuser=True)
    conn = _admin.get(url)
    if conn is None or conn.closed:
        conn = _admin[url] = connect(url)
    return conn


def _create(cluster: Cluster, template: str) -> Database:
    name = f"t_{uuid.uuid4().hex[:12]}"
    # file_copy: for a small template, copying the files beats WAL-logging each page
    _admin_connection(cluster).execute(f"create database {name} template {template} owner postgres strategy file_copy")
    return Database(name, cluster)


def _drop(db: Database) -> None:
    db.close_shared()
    _admin_connection(db.cluster).execute(f"drop database if exists {db.name} with (force)")


@pytest.fixture
def database(cluster: Cluster, template: str) -> Iterator[Database]:
    """A Supabase-like database: compatibility layer present, nothing of aef-db's yet."""
    db = _create(cluster, template)
    yield db
    _drop(db)


@pytest.fixture(scope="session")
def migrated_template(cluster: Cluster, template: str) -> str:
    """A template with every aef-db migration applied, for the schema's own tests."""
    from aef_db.runner import Runner

    db = _create(cluster, template)
    Runner(db.url).up()
    with connect(cluster.url(superuser=True)) as conn:
        conn.execute(f"alter database {db.name} rename to {MIGRATED}")
    return MIGRATED


@pytest.fixture
def migrated(cluster: Cluster, migrated_template: str) -> Iterator[Database]:
    """A database with the whole AEF schema, as postgres would have migrated it."""
    db = _create(cluster, migrated_template)
    yield db
    _drop(db)


@pytest.fixture
def plain_database(cluster: Cluster) -> Iterator[Database]:
    """Plain PostgreSQL: no auth schema, no extensions schema, no publication."""
    db = _create(cluster, "template0")
    yield db
    _drop(db)


@pytest.fixture
def aef_cli() -> list[str]:
    """The console script of this virtualenv, for tests that need separate processes."""
    script = Path(sys.executable).with_name("aef-db")
    assert script.exists(), script
    return [str(script)]


@pytest.fixture
def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    return env


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A writable copy of the package's migrations, for tests that add or edit files."""
    from aef_db.migrations import package_directory

    target = tmp_path / "migrations"
    target.mkdir()
    for entry in package_directory().iterdir():
        if entry.name.endswith(".sql"):
            (target / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    return target

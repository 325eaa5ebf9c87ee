"""The embedded PostgreSQL cluster under ``$AEF_DB_HOME`` (default ``./.aef``).

Layout::

    $AEF_DB_HOME/cluster.json      port and passwords (mode 0600, owned by the invoker)
    $AEF_DB_HOME/pg/               owned by the service user, mode 0700
    $AEF_DB_HOME/pg/data/          the cluster (initdb)
    $AEF_DB_HOME/pg/postgres.log   the server log, kept across restarts
    $AEF_DB_HOME/pg/run/           the unix socket

initdb and postgres refuse to run as root, so when invoked as root the cluster
runs as the unprivileged system user ``aefdb``, created on first use. The
cluster copies hosted Supabase's privilege split: the superuser is ``aef_admin``
(Supabase: ``supabase_admin``) and the application role ``postgres`` is not a
superuser, so migrations meet the same limits here as in production.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from aef_db import sql as package_sql
from aef_db.connection import connect, run_file, run_script
from aef_db.errors import ClusterError

SERVICE_USER = "aefdb"
SUPERUSER = "aef_admin"
OWNER = "postgres"
DEFAULT_HOME = ".aef"
_CONF_FILE = "aef-db.conf"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; leave room for "/.s.PGSQL.NNNNN"
_Q = package_sql.queries("cluster/queries.sql")


@dataclass(frozen=True)
class ClusterStatus:
    initialized: bool
    running: bool
    pid: int | None
    port: int | None
    data_dir: Path
    log_path: Path


def find_pg_bin() -> Path:
    """The bin directory of PostgreSQL 15 or newer: $AEF_DB_PG_BIN, Debian's layout, then PATH."""
    if env := os.environ.get("AEF_DB_PG_BIN"):
        candidates = [Path(env)]
    else:
        candidates = [Path(f"/usr/lib/postgresql/{v}/bin") for v in (17, 16, 15)]
        if found := shutil.which("initdb"):
            candidates.append(Path(found).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise ClusterError(
        "PostgreSQL 15 server binaries not found (looked in "
        + ", ".join(map(str, candidates))
        + "). Install them (apt-get install postgresql-15) or set AEF_DB_PG_BIN."
    )


class Cluster:
    def __init__(self, home: Path, *, settings: dict[str, str] | None = None) -> None:
        self.home = home.absolute()
        self.config_path = self.home / "cluster.json"
        self.pg_root = self._locate_pg_root()
        self.data_dir = self.pg_root / "data"
        self.log_path = self.pg_root / "postgres.log"
        self.run_dir = self.pg_root / "run"
        self.extra_settings = settings or {}

    @classmethod
    def default(cls) -> Cluster:
        return cls(Path(os.environ.get("AEF_DB_HOME", DEFAULT_HOME)))

    # -- public API -------------------------------------------------------

    def start(self) -> bool:
        """Initialise on first use, then start. Returns False when it was already running."""
        uid, gid = self._service_identity()
        self._check_ownership(uid)
        if not self._initialized():
            self._initdb(uid, gid)
        if self._running_pid() is not None:
            return False
        self._remove_stale_pid_file()
        config = self._config()
        if not _port_free(config["port"]):
            config["port"] = _free_port()
            self._save_config(config)
        self._write_server_conf(config["port"], uid, gid)
        result = self._pg(
            ["pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", "60", "-s"]
        )
        if result.returncode != 0:
            raise ClusterError(f"the cluster did not start: {_last_lines(self.log_path)}", self.log_path)
        if not config.get("bootstrapped"):
            self._bootstrap(config)
        return True

    def stop(self) -> bool:
        """Stop the server (fast shutdown). Returns False when it was not running."""
        if not self._initialized() or self._running_pid() is None:
            return False
        result = self._pg(["pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "-s"])
        if result.returncode != 0:
            raise ClusterError(f"the cluster did not stop: {result.stderr.strip()}", self.log_path)
        return True

    def status(self) -> ClusterStatus:
        initialized = self._initialized()
        pid = self._running_pid() if initialized else None
        port = self._config()["port"] if self.config_path.exists() else None
        return ClusterStatus(initialized, pid is not None, pid, port, self.data_dir, self.log_path)

    def url(self, *, superuser: bool = False, database: str = "postgres", socket: bool = False) -> str:
        """A libpq URL for the application role (or the superuser). Works for psql and psycopg.

        ``socket`` names the unix socket instead of 127.0.0.1 where the cluster has
        one: same server, no TCP stack, about a seventh less CPU per short statement.
        """
        if not self.config_path.exists():
            raise ClusterError(f"no embedded cluster at {self.home}; run `aef-db db start` first")
        config = self._config()
        user, password = (SUPERUSER, config["superuser_password"]) if superuser else (OWNER, config["owner_password"])
        credentials = f"{user}:{quote(password, safe='')}"
        if socket and len(str(self.run_dir)) <= _SOCKET_PATH_MAX:
            return f"postgresql://{credentials}@/{quote(database, safe='')}?host={quote(str(self.run_dir))}&port={config['port']}"
        return f"postgresql://{credentials}@127.0.0.1:{config['port']}/{quote(database, safe='')}"

    # -- identity and ownership -------------------------------------------

    def _locate_pg_root(self) -> Path:
        """$AEF_DB_HOME/pg, unless root's service user could not reach it there.

        A home inside a directory closed to other users (such as /root) would
        lock the service user out, so its files then live in
        /var/lib/aef-db/<hash of the home>, recorded in cluster.json.
        """
        if self.config_path.exists() and (recorded := json.loads(self.config_path.read_text()).get("pg_root")):
            return Path(recorded)
        if os.geteuid() == 0 and not _reachable_by_others(self.home):
            digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:16]
            return Path("/var/lib/aef-db") / digest
        return self.home / "pg"

    def _service_identity(self) -> tuple[int, int]:
        if os.geteuid() != 0:
            return os.getuid(), os.getgid()
        try:
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            created = subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    SERVICE_USER,
                ],
                capture_output=True,
                text=True,
            )
            if created.returncode != 0 and "already exists" not in created.stderr:
                raise ClusterError(f"cannot create the system user {SERVICE_USER}: {created.stderr.strip()}") from None
            entry = pwd.getpwnam(SERVICE_USER)
        return entry.pw_uid, entry.pw_gid

    def _check_ownership(self, uid: int) -> None:
        for path in (self.pg_root, self.data_dir):
            if path.exists() and path.stat().st_uid != uid:
                owner = _user_name(path.stat().st_uid)
                raise ClusterError(
                    f"{path} belongs to {owner}, not to {_user_name(uid)} who runs the cluster;"
                    " refusing to touch another user's cluster. Use another AEF_DB_HOME."
                )

    # -- init and bootstrap -------------------------------------------------

    def _initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and self.config_path.exists()

    def _initdb(self, uid: int, gid: int) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise ClusterError(
                f"{self.data_dir} is not empty but holds no aef-db cluster; move it away or use another AEF_DB_HOME"
            )
        for path in (self.pg_root, self.run_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chown(path, uid, gid)
        config = {
            "port": _free_port(),
            "superuser_password": secrets.token_urlsafe(24),
            "owner_password": secrets.token_urlsafe(24),
            "bootstrapped": False,
            "pg_root": str(self.pg_root),
        }
        pwfile = self.pg_root / ".pwfile"
        pwfile.write_text(config["superuser_password"] + "\n")
        os.chown(pwfile, uid, gid)
        pwfile.chmod(0o600)
        try:
            result = self._pg(
                [
                    "initdb",
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ClusterError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# aef-db's settings, rewritten at every start\ninclude = '{_CONF_FILE}'\n")
        self._save_config(config)

    def _bootstrap(self, config: dict) -> None:
        with connect(self.url(superuser=True)) as conn:
            with conn.transaction():
                conn.execute(_Q["set_owner_password"], {"password": config["owner_password"]})
                run_file(conn, "cluster/bootstrap.sql")
            run_script(conn, "compat/install.sql")
        config["bootstrapped"] = True
        self._save_config(config)

    def _write_server_conf(self, port: int, uid: int, gid: int) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{self.run_dir}'" if len(str(self.run_dir)) <= _SOCKET_PATH_MAX else "''",
            "wal_level": "logical",  # Supabase Realtime reads changes through logical decoding
            "max_wal_senders": "10",
            "max_replication_slots": "10",
        }
        if _pg_cron_installed():
            settings["shared_preload_libraries"] = "'pg_cron'"
            settings["cron.database_name"] = "'postgres'"
        settings.update(self.extra_settings)
        path = self.data_dir / _CONF_FILE
        path.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        os.chown(path, uid, gid)

    # -- process state --------------------------------------------------------

    def _running_pid(self) -> int | None:
        """The postmaster's pid when it is alive and really serves this data directory."""
        pid = _read_pid(self.data_dir / "postmaster.pid")
        if pid is None:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        serves_us = any(arg.decode(errors="replace").startswith(str(self.data_dir)) for arg in cmdline)
        return pid if cmdline and cmdline[0].endswith(b"postgres") and serves_us else None

    def _remove_stale_pid_file(self) -> None:
        # left by a crash or a reboot: postgres itself would refuse to start if the pid is now reused
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            pid_file.unlink()

    # -- helpers --------------------------------------------------------------

    def _pg(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        uid, gid = self._service_identity()
        binary = find_pg_bin() / argv[0]
        as_service = {"user": uid, "group": gid, "extra_groups": []} if os.geteuid() == 0 else {}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        return subprocess.run(
            [str(binary), *argv[1:]], capture_output=True, text=True, cwd=self.pg_root, env=env, **as_service
        )

    def _config(self) -> dict:
        return json.loads(self.config_path.read_text())

    def _save_config(self, config: dict) -> None:
        tmp = self.config_path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text(json.dumps(config, indent=2) + "\n")
        tmp.replace(self.config_path)


def _reachable_by_others(path: Path) -> bool:
    """Whether every existing directory from / down to ``path`` is searchable by other users."""
    return all(not p.exists() or p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _read_pid(path: Path) -> int | None:
    try:
        first = path.read_text().splitlines()[0]
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def _pg_cron_installed() -> bool:
    try:
        result = subprocess.run([str(find_pg_bin() / "pg_config"), "--pkglibdir"], capture_output=True, text=True)
        libdir = Path(result.stdout.strip())
    except (OSError, ClusterError):
        return False
    return (libdir / "pg_cron.so").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _last_lines(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return "(no log)"
    return "\n    " + "\n    ".join(lines)

"""The embedded cluster's life: create it, start and stop it, say where it listens.

Layout under ``$AEF_DB_HOME`` (default ``./.aef``)::

    cluster.json      port and passwords (mode 0600, owned by the invoker)
    pg/               owned by the service user, mode 0700 (elsewhere when it could not reach it)
    pg/data/          the cluster (initdb)
    pg/postgres.log   the server log, kept across restarts
    pg/run/           the unix socket
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aef_db.cluster import ports
from aef_db.cluster.binaries import find_pg_bin, pg_cron_installed
from aef_db.cluster.bootstrap import OWNER, SUPERUSER, bootstrap
from aef_db.cluster.identity import check_ownership, default_pg_root, service_identity
from aef_db.cluster.locks import clear_stale_locks
from aef_db.errors import ClusterError

DEFAULT_HOME = ".aef"
_CONF_FILE = "aef-db.conf"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; leave room for "/.s.PGSQL.NNNNN"


@dataclass(frozen=True)
class ClusterStatus:
    initialized: bool
    running: bool
    pid: int | None
    port: int | None
    data_dir: Path
    log_path: Path


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
        """Initialise on first use, then start. Returns False when it was already running.

        After a crash it comes back on the port in cluster.json, unless another
        server now listens there (see ``ports``).
        """
        uid, gid = service_identity()
        check_ownership([self.pg_root, self.data_dir], uid)
        if not self._initialized():
            self._initdb(uid, gid)
        if self._running_pid() is not None:
            return False
        clear_stale_locks(self.data_dir, self.run_dir)
        config = self._config()
        if ports.taken(config["port"]):
            config["port"] = ports.free_port()
            self._save_config(config)
        self._write_server_conf(config["port"], uid, gid)
        result = self._pg(
            ["pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", "60", "-s"]
        )
        if result.returncode != 0:
            raise ClusterError(f"the cluster did not start: {_last_lines(self.log_path)}", self.log_path)
        if not config.get("bootstrapped"):
            bootstrap(self.url(superuser=True), config["owner_password"])
            config["bootstrapped"] = True
            self._save_config(config)
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
        return f"postgresql://{credentials}@{ports.HOST}:{config['port']}/{quote(database, safe='')}"

    # -- creation -------------------------------------------------------------

    def _locate_pg_root(self) -> Path:
        # recorded at initdb, so a later Cluster finds the data wherever it went
        if self.config_path.exists() and (recorded := self._config().get("pg_root")):
            return Path(recorded)
        return default_pg_root(self.home)

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
        config: dict[str, Any] = {
            "port": ports.free_port(),
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

    def _write_server_conf(self, port: int, uid: int, gid: int) -> None:
        settings = {
            "listen_addresses": f"'{ports.HOST}'",
            "port": str(port),
            "unix_socket_directories": f"'{self.run_dir}'" if len(str(self.run_dir)) <= _SOCKET_PATH_MAX else "''",
            "wal_level": "logical",  # Supabase Realtime reads changes through logical decoding
            "max_wal_senders": "10",
            "max_replication_slots": "10",
        }
        if pg_cron_installed():
            settings["shared_preload_libraries"] = "'pg_cron'"
            settings["cron.database_name"] = "'postgres'"
        settings.update(self.extra_settings)
        path = self.data_dir / _CONF_FILE
        path.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        os.chown(path, uid, gid)

    # -- process state --------------------------------------------------------

    def _running_pid(self) -> int | None:
        """The postmaster's pid when it is alive and really serves this data directory.

        A zombie (killed, not yet reaped) has an empty cmdline, so it counts as gone.
        """
        pid = _read_pid(self.data_dir / "postmaster.pid")
        if pid is None:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        serves_us = any(arg.decode(errors="replace").startswith(str(self.data_dir)) for arg in cmdline)
        return pid if cmdline and cmdline[0].endswith(b"postgres") and serves_us else None

    def _pg(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL binary as the service user."""
        uid, gid = service_identity()
        binary = find_pg_bin() / argv[0]
        as_service: dict[str, Any] = {"user": uid, "group": gid, "extra_groups": []} if os.geteuid() == 0 else {}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        return subprocess.run(
            [str(binary), *argv[1:]], capture_output=True, text=True, cwd=self.pg_root, env=env, **as_service
        )

    # -- cluster.json ---------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = json.loads(self.config_path.read_text())
        return config

    def _save_config(self, config: dict[str, Any]) -> None:
        tmp = self.config_path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text(json.dumps(config, indent=2) + "\n")
        tmp.replace(self.config_path)


def ensure_embedded_cluster() -> tuple[Cluster, bool]:
    """The embedded cluster under $AEF_DB_HOME, created and started if needed; True when this call started it.

    The one place a command starts the cluster without `aef-db db start`: callers
    call it on purpose and tell the user when it started.
    """
    cluster = Cluster.default()
    return cluster, cluster.start()


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().splitlines()[0])
    except (OSError, IndexError, ValueError):
        return None


def _last_lines(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return "(no log)"
    return "\n    " + "\n    ".join(lines)

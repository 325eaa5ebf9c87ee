"""The embedded cluster: lifecycle, identity, and its failure modes."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aef_db.cluster import OWNER, SERVICE_USER, Cluster, find_pg_bin
from aef_db.cluster.locks import clear_stale_locks
from aef_db.connection import connect
from aef_db.errors import ClusterError

from ..conftest import FAST_SETTINGS

pytestmark = pytest.mark.slow  # most tests start, crash and restart clusters of their own

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as CI runs")


def test_the_session_cluster_mirrors_hosted_supabase_roles(cluster: Cluster) -> None:
    with connect(cluster.url()) as conn:
        row = conn.execute(
            "select current_user as who, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
            " current_setting('wal_level') as wal_level"
            " from pg_roles where rolname = current_user"
        ).fetchone()
    assert row == {
        "who": OWNER,
        "rolsuper": False,
        "rolcreatedb": True,
        "rolcreaterole": True,
        "rolreplication": True,
        "rolbypassrls": True,
        "wal_level": "logical",
    }
    with connect(cluster.url(superuser=True)) as conn:
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()["rolsuper"]


def test_a_second_start_is_a_no_op(cluster: Cluster) -> None:
    pid = cluster.status().pid
    assert cluster.start() is False
    assert cluster.status().pid == pid


@pytest.mark.parametrize("socket", [False, True], ids=["tcp", "unix-socket"])
def test_the_url_works_with_psql(cluster: Cluster, socket: bool) -> None:
    url = cluster.url(socket=socket)
    assert ("127.0.0.1" in url) is not socket
    result = subprocess.run(
        [str(find_pg_bin() / "psql"), "-X", "-Atc", "select current_user, inet_server_addr() is null", url],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"{OWNER}|{'t' if socket else 'f'}"


def test_pg_cron_is_preloaded_where_installed(cluster: Cluster) -> None:
    libdir = subprocess.run(
        [str(find_pg_bin() / "pg_config"), "--pkglibdir"], capture_output=True, text=True
    ).stdout.strip()
    with connect(cluster.url(superuser=True)) as conn:
        preload = conn.execute("show shared_preload_libraries").fetchone()["shared_preload_libraries"]
    assert ("pg_cron" in preload) == (Path(libdir) / "pg_cron.so").exists()


@as_root
def test_as_root_the_server_runs_as_the_service_user(cluster: Cluster) -> None:
    pid = cluster.status().pid
    assert pid is not None
    uid = int(
        next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:")).split()[
            1
        ]
    )
    assert uid == pwd.getpwnam(SERVICE_USER).pw_uid
    assert (cluster.config_path.stat().st_mode & 0o777) == 0o600  # the passwords stay with the invoker


@pytest.fixture
def spare(workdir: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    home = workdir / f"spare-{request.node.name[:40]}"
    instance = Cluster(home, settings=FAST_SETTINGS)
    yield instance
    with contextlib.suppress(ClusterError):
        instance.stop()


def test_start_stop_and_a_stale_pid_file(spare: Cluster) -> None:
    assert spare.status().initialized is False
    assert spare.start() is True
    state = spare.status()
    assert state.running and state.port
    assert spare.stop() is True
    assert spare.stop() is False
    assert spare.status().running is False

    # a crash leaves postmaster.pid behind, and its pid may now belong to another process
    pid_file = spare.data_dir / "postmaster.pid"
    pid_file.write_text(f"{os.getpid()}\n{spare.data_dir}\n")
    os.chown(pid_file, spare.data_dir.stat().st_uid, spare.data_dir.stat().st_gid)
    assert spare.status().running is False
    assert spare.start() is True
    with connect(spare.url()) as conn:
        assert conn.execute("select 1 as one").fetchone()["one"] == 1


def test_a_failed_start_shows_the_log(workdir: Path) -> None:
    broken = Cluster(workdir / "broken", settings={"shared_buffers": "'lots'"})
    with pytest.raises(ClusterError) as failure:
        broken.start()
    message = str(failure.value)
    assert f"cluster log: {broken.log_path}" in message
    assert "shared_buffers" in message  # the log's last lines say why


def test_a_busy_port_moves_the_cluster(spare: Cluster) -> None:
    spare.start()
    spare.stop()
    port = json.loads(spare.config_path.read_text())["port"]
    with socket.socket() as squatter:
        # SO_REUSEADDR: the stop may leave the port's connections in TIME-WAIT, which
        # would refuse a plain bind; a listener is what must move the cluster
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        spare.start()
        assert spare.status().port != port
    with connect(spare.url()) as conn:
        assert conn.execute("select 1 as one").fetchone()["one"] == 1


# -- crashes: the cluster comes back where it was ------------------------------


def _wait_until(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Poll for a state the test needs before its next step (a bound, not an assertion on time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def _gone(pid: int) -> bool:
    """Dead: no such process, or a zombie (killed, not yet reaped by whoever adopted it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _time_wait_sockets(port: int) -> int:
    """TCP sockets on 127.0.0.1:port in TIME-WAIT (state 06 in /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1] == local and row.split()[3] == "06")


class BusyClients:
    """Threads that each hold a connection until the server dies: half run queries in a loop, half
    wait for notifications (as Realtime listeners do), so they read the server's last words and
    close cleanly, which leaves the server's end of their connections in TIME-WAIT."""

    def __init__(self, url: str, n: int) -> None:
        self.ready = [False] * n
        self.threads = [threading.Thread(target=self._run, args=(url, i), daemon=True) for i in range(n)]
        for thread in self.threads:
            thread.start()
        _wait_until(lambda: all(self.ready) or not any(t.is_alive() for t in self.threads), "busy clients")
        assert all(self.ready), "every client is connected and busy"

    def _run(self, url: str, i: int) -> None:
        with contextlib.suppress(psycopg.OperationalError), connect(url) as conn:
            if i % 2:
                conn.execute("listen aef_crash_test")
                self.ready[i] = True
                for _ in conn.notifies():
                    pass
            while True:
                conn.execute("select count(*) from pg_class")
                self.ready[i] = True

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=60)
            assert not thread.is_alive()


def _crash(cluster: Cluster) -> int:
    """SIGKILL the postmaster, as a crash or the OOM killer would; returns its pid once it is dead."""
    pid = cluster.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: _gone(pid), "the postmaster to die")
    return pid


def _plain_bind_fails(port: int) -> bool:
    """What the port check did before: a bind without SO_REUSEADDR, which TIME-WAIT blocks."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


@pytest.mark.slow
def test_a_busy_cluster_killed_comes_back_on_its_port_at_once(spare: Cluster) -> None:
    spare.start()
    port, url = spare.status().port, spare.url()
    assert port is not None
    for cycle in range(5):
        clients = BusyClients(url, 8)
        _crash(spare)
        clients.join()  # their backends died with the postmaster
        # the server's ends of those connections sit in TIME-WAIT on the port
        assert _time_wait_sockets(port) > 0 and _plain_bind_fails(port), f"cycle {cycle}: nothing to test"
        assert spare.start() is True, f"cycle {cycle}"
        assert spare.status().port == port, f"cycle {cycle}: the cluster moved"
        with connect(url) as conn:  # the URL clients already hold still works
            assert conn.execute("select count(*) as n from pg_class").fetchone()["n"] > 0


def test_lock_files_naming_a_live_pid_after_a_crash_do_not_block_the_start(spare: Cluster) -> None:
    from aef_db.cluster.identity import service_identity

    spare.start()
    port = spare.status().port
    _crash(spare)
    # the dead postmaster's pid, now another process of the same user: a zombie nobody reaped
    # yet, or pid reuse after a reboot (a process postgres may signal, so it believes the lock)
    uid, gid = service_identity()
    as_service: dict[str, Any] = {"user": uid, "group": gid, "extra_groups": []} if os.geteuid() == 0 else {}
    with subprocess.Popen(["sleep", "600"], **as_service) as other:
        try:
            for lock in (spare.data_dir / "postmaster.pid", spare.run_dir / f".s.PGSQL.{port}.lock"):
                lines = lock.read_text().splitlines()
                lock.write_text("\n".join([str(other.pid), *lines[1:]]) + "\n")
            assert spare.start() is True
        finally:
            other.kill()
    assert spare.status().port == port
    with connect(spare.url()) as conn:
        assert conn.execute("select 1 as one").fetchone()["one"] == 1


def test_orphans_of_a_crashed_server_hold_the_start_back(spare: Cluster) -> None:
    spare.start()
    with connect(spare.url()) as conn:
        backend = conn.execute("select pg_backend_pid() as pid").fetchone()["pid"]
        os.kill(backend, signal.SIGSTOP)  # an orphan that has not yet noticed the postmaster's death
        try:
            _crash(spare)
            with pytest.raises(ClusterError, match=r"process\(es\) of the crashed server still use its shared memory"):
                clear_stale_locks(spare.data_dir, spare.run_dir, wait_s=0)
            assert (spare.data_dir / "postmaster.pid").exists()  # the interlock stays while the orphan lives
        finally:
            os.kill(backend, signal.SIGKILL)
    assert spare.start() is True
    with connect(spare.url()) as conn:
        assert conn.execute("select 1 as one").fetchone()["one"] == 1


def test_a_port_in_time_wait_is_kept_and_a_listener_moves_the_cluster(spare: Cluster) -> None:
    from aef_db.cluster import ports

    spare.start()
    spare.stop()
    port = json.loads(spare.config_path.read_text())["port"]
    # a connection that ends here leaves a TIME-WAIT socket on the port
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: its end goes to TIME-WAIT
        client.close()
        assert ports.taken(port)
    _wait_until(lambda: _time_wait_sockets(port) > 0, "TIME-WAIT")
    assert not ports.taken(port)
    assert spare.start() is True
    assert spare.status().port == port


@as_root
def test_a_cluster_directory_owned_by_someone_else_is_refused(workdir: Path) -> None:
    home = workdir / "foreign"
    (home / "pg" / "data").mkdir(parents=True)
    nobody = pwd.getpwnam("nobody")
    for path in (home / "pg", home / "pg" / "data"):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(ClusterError, match=r"belongs to nobody, not to aefdb"):
        Cluster(home).start()
    assert list((home / "pg" / "data").iterdir()) == []


@as_root
def test_a_home_closed_to_other_users_moves_the_data_out(workdir: Path) -> None:
    closed = workdir / "closed"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    instance = Cluster(closed / "home", settings=FAST_SETTINGS)
    try:
        assert str(instance.pg_root).startswith("/var/lib/aef-db/")
        instance.start()
        with connect(instance.url()) as conn:
            assert conn.execute("select 1 as one").fetchone()["one"] == 1
        # the location is remembered, so a new Cluster object finds the same data
        assert Cluster(closed / "home").pg_root == instance.pg_root
    finally:
        instance.stop()
        subprocess.run(["rm", "-rf", str(instance.pg_root)], check=False)


def test_url_before_the_cluster_exists_is_a_clear_error(workdir: Path) -> None:
    with pytest.raises(ClusterError, match="run `aef-db db start` first"):
        Cluster(workdir / "never").url()


def test_the_cli_db_commands(workdir: Path, aef_cli: list[str], cli_env: dict[str, str]) -> None:
    env = {**cli_env, "AEF_DB_HOME": str(workdir / "cli-home")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*aef_cli, *args], env=env, capture_output=True, text=True)

    assert run("db", "status").returncode == 3
    try:
        started = run("db", "start")
        assert started.returncode == 0 and "started on 127.0.0.1:" in started.stderr
        again = run("db", "start")
        assert again.returncode == 0 and "already running" in again.stderr
        assert run("db", "status").returncode == 0
        url = run("db", "url").stdout.strip()
        assert url.startswith("postgresql://postgres:")
        # with neither --database-url nor DATABASE_URL, commands use this cluster
        migrated = run("migrate", "up")
        assert migrated.returncode == 0 and "started the embedded cluster" not in migrated.stderr
        with connect(url) as conn:
            assert conn.execute("select to_regtype('public.execution_status') is not null as ok").fetchone()["ok"]
        assert run("db", "stop").returncode == 0
        # ...and start it when it is stopped, saying so
        doctor = run("doctor")
        assert doctor.returncode == 0
        assert f"started the embedded cluster in {workdir / 'cli-home'} (127.0.0.1:" in doctor.stderr
    finally:
        assert run("db", "stop").returncode == 0
    assert run("db", "status").returncode == 3


def test_resolving_a_url_never_starts_the_embedded_cluster(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aef_db.database_url import resolve_url

    home = workdir / "resolve-home"
    monkeypatch.setenv("AEF_DB_HOME", str(home))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert resolve_url("postgresql://given@127.0.0.1/x") == "postgresql://given@127.0.0.1/x"
    monkeypatch.setenv("DATABASE_URL", "postgresql://env@127.0.0.1/x")
    assert resolve_url(None) == "postgresql://env@127.0.0.1/x"
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(
        ClusterError, match=r"the embedded cluster in .* is not running: start it with `aef-db db start`"
    ):
        resolve_url(None)
    assert not home.exists()  # nothing was created, let alone started

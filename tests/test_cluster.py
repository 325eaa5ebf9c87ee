"""The embedded cluster: lifecycle, identity, and its failure modes."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import subprocess
from pathlib import Path

import pytest

from aef_db.cluster import OWNER, SERVICE_USER, Cluster, find_pg_bin
from aef_db.connection import connect
from aef_db.errors import ClusterError

from .conftest import FAST_SETTINGS

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
def spare(workdir: Path, request: pytest.FixtureRequest) -> Cluster:
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
    import socket

    spare.start()
    spare.stop()
    port = json.loads(spare.config_path.read_text())["port"]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        spare.start()
        assert spare.status().port != port
    with connect(spare.url()) as conn:
        assert conn.execute("select 1 as one").fetchone()["one"] == 1


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
        assert run("migrate", "up").returncode == 0
        with connect(url) as conn:
            assert conn.execute("select to_regtype('public.execution_status') is not null as ok").fetchone()["ok"]
        assert run("doctor").returncode == 0
    finally:
        assert run("db", "stop").returncode == 0
    assert run("db", "status").returncode == 3

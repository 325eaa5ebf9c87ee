"""Who the cluster runs as, and where its files may live.

initdb and postgres refuse to run as root, so when invoked as root the cluster
runs as the unprivileged system user ``aefdb``, created on first use; its files
then must be reachable by that user.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import stat
import subprocess
from pathlib import Path

from aef_db.errors import ClusterError

SERVICE_USER = "aefdb"
_USERADD = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]


def service_identity() -> tuple[int, int]:
    """(uid, gid) the server runs as: the invoker, or the service user when the invoker is root."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        created = subprocess.run(
            [*_USERADD, "--shell", "/usr/sbin/nologin", SERVICE_USER], capture_output=True, text=True
        )
        if created.returncode != 0 and "already exists" not in created.stderr:  # a concurrent first start
            raise ClusterError(f"cannot create the system user {SERVICE_USER}: {created.stderr.strip()}") from None
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


def default_pg_root(home: Path) -> Path:
    """$AEF_DB_HOME/pg, unless root's service user could not reach it there.

    A home inside a directory closed to other users (such as /root) would lock
    the service user out, so its files then live in /var/lib/aef-db/<hash of the home>.
    """
    if os.geteuid() == 0 and not _reachable_by_others(home):
        digest = hashlib.sha256(str(home).encode()).hexdigest()[:16]
        return Path("/var/lib/aef-db") / digest
    return home / "pg"


def check_ownership(paths: list[Path], uid: int) -> None:
    """Refuse a cluster directory that belongs to someone other than the server's user."""
    for path in paths:
        if path.exists() and path.stat().st_uid != uid:
            raise ClusterError(
                f"{path} belongs to {user_name(path.stat().st_uid)}, not to {user_name(uid)} who runs the cluster;"
                " refusing to touch another user's cluster. Use another AEF_DB_HOME."
            )


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _reachable_by_others(path: Path) -> bool:
    """Whether every existing directory from / down to ``path`` is searchable by other users."""
    return all(not p.exists() or p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])

"""The lock files a crashed server leaves behind, and when they are safe to clear.

A SIGKILLed postmaster leaves ``postmaster.pid`` and the socket's
``.s.PGSQL.<port>.lock``, both naming its pid. PostgreSQL treats a lock as live
while that pid answers ``kill(pid, 0)``: a zombie that nobody has reaped yet, or
an unrelated process that got the pid after a reboot, makes the next start fail.
So once the caller knows its postmaster is gone, both files go.

Its children may outlive it for a moment (each notices the death at its next
wait), still attached to the old shared memory. PostgreSQL's own interlock,
keyed by ``postmaster.pid``, refuses to start while any is; removing the file
would lose that interlock, so we first wait for the segment's attach count to
reach zero, which is the check PostgreSQL makes.
"""

from __future__ import annotations

import time
from pathlib import Path

from aef_db.errors import ClusterError

_SHM_LINE = 6  # postmaster.pid's 7th line: "<shm key> <shm id>"
_SHM_TABLE = Path("/proc/sysvipc/shm")


def clear_stale_locks(data_dir: Path, run_dir: Path, *, wait_s: float = 60.0) -> None:
    """Remove a dead server's lock files, after its orphaned processes have exited.

    The caller must know that no postmaster serves ``data_dir``.
    """
    pid_file = data_dir / "postmaster.pid"
    shmid = _shmid(pid_file)
    deadline = time.monotonic() + wait_s
    while shmid is not None and (attached := _attached(shmid)) > 0:
        if time.monotonic() > deadline:
            raise ClusterError(
                f"{attached} process(es) of the crashed server still use its shared memory (segment {shmid});"
                f" stop them (ipcs -m -i {shmid} shows their pids), then start again"
            )
        time.sleep(0.05)
    pid_file.unlink(missing_ok=True)
    for lock in run_dir.glob(".s.PGSQL.*.lock"):
        lock.unlink(missing_ok=True)


def _shmid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().splitlines()[_SHM_LINE].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _attached(shmid: int) -> int:
    """How many processes attach the System V segment ``shmid`` (0 when it is gone or cannot be read)."""
    try:
        rows = _SHM_TABLE.read_text().splitlines()[1:]
    except OSError:
        return 0
    for row in rows:
        fields = row.split()  # key shmid perms size cpid lpid nattch ...
        if len(fields) > 6 and fields[1] == str(shmid):
            return int(fields[6])
    return 0

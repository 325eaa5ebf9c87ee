"""Where PostgreSQL's server binaries are, and what they can load."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from aef_db.errors import ClusterError


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


def pg_cron_installed() -> bool:
    try:
        result = subprocess.run([str(find_pg_bin() / "pg_config"), "--pkglibdir"], capture_output=True, text=True)
        libdir = Path(result.stdout.strip())
    except (OSError, ClusterError):
        return False
    return (libdir / "pg_cron.so").exists()

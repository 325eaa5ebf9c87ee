"""What every benchmark needs: a private embedded cluster in a temporary directory,
and the deterministic ids the load scripts give their rows."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aef_db.cluster import Cluster


def md5_uuid(text: str) -> uuid.UUID:
    """The uuid the SQL load scripts compute as md5(text)::uuid."""
    return uuid.UUID(hashlib.md5(text.encode()).hexdigest())


@contextmanager
def temporary_cluster(settings: dict[str, str] | None = None) -> Iterator[Cluster]:
    """A started cluster that is stopped and deleted afterwards, whatever happens."""
    work = Path(tempfile.mkdtemp(prefix="aef-db-bench-"))
    work.chmod(0o755)  # the cluster's service user must reach it
    cluster = Cluster(work / "cluster", settings=settings)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)

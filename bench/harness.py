"""What every benchmark needs: a private embedded cluster in a temporary directory,
the deterministic ids the load scripts give their rows, and the payload a step records."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aef_db.cluster import Cluster


def payload(k: int) -> dict[str, Any]:
    """What one step records: the same payload in every bench that writes steps."""
    return {
        "step": k,
        "url": f"https://portal.example.com/invoices/{k}",
        "status": "ok",
        "extracted": {"invoice": f"INV-{k:06d}", "amount": "1234.56", "currency": "EUR"},
    }


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

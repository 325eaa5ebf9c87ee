"""Which database a command acts on: --database-url, then $DATABASE_URL, then the embedded cluster.

Resolving starts nothing. A command that may start the embedded cluster calls
``aef_db.cluster.ensure_embedded_cluster`` itself, before resolving, and says so.
"""

from __future__ import annotations

import os

from aef_db.cluster import Cluster
from aef_db.errors import ClusterError


def resolve_url(explicit: str | None) -> str:
    """The URL given, else $DATABASE_URL, else the running embedded cluster's (ClusterError when it is stopped)."""
    if explicit:
        return explicit
    if env := os.environ.get("DATABASE_URL"):
        return env
    cluster = Cluster.default()
    if not cluster.status().running:
        raise ClusterError(
            f"no --database-url or DATABASE_URL given, and the embedded cluster in {cluster.home} is not running:"
            " start it with `aef-db db start`"
        )
    return cluster.url()

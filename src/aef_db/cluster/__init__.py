"""The embedded PostgreSQL cluster under ``$AEF_DB_HOME`` (default ``./.aef``).

One job per module: ``server`` (create, start, stop, URL), ``ports`` (keep the
port across crashes), ``locks`` (what a crash leaves behind), ``bootstrap`` (the
roles and the compatibility layer of a new cluster), ``identity`` (the service
user, where the files live) and ``binaries`` (finding PostgreSQL).
"""

from aef_db.cluster.binaries import find_pg_bin
from aef_db.cluster.bootstrap import OWNER, SUPERUSER
from aef_db.cluster.identity import SERVICE_USER
from aef_db.cluster.server import DEFAULT_HOME, Cluster, ClusterStatus, ensure_embedded_cluster
from aef_db.errors import ClusterError

__all__ = [
    "DEFAULT_HOME",
    "OWNER",
    "SERVICE_USER",
    "SUPERUSER",
    "Cluster",
    "ClusterError",
    "ClusterStatus",
    "ensure_embedded_cluster",
    "find_pg_bin",
]

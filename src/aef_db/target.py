"""Which database a command acts on: --database-url, then DATABASE_URL, then the embedded cluster."""

from __future__ import annotations

import os
from collections.abc import Callable

from aef_db.cluster import Cluster


def resolve_url(explicit: str | None, report: Callable[[str], None] = lambda _m: None) -> str:
    if explicit:
        return explicit
    if env := os.environ.get("DATABASE_URL"):
        return env
    cluster = Cluster.default()
    if cluster.start():
        report(f"started the embedded cluster in {cluster.home}")
    return cluster.url()

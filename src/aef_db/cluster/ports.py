"""The cluster's TCP port: keep the recorded one unless another server listens on it.

After a crash, the old port's connections sit in TIME-WAIT for a minute.
PostgreSQL binds its listening socket with SO_REUSEADDR, which TIME-WAIT does not
block, so a probe that binds the same way asks exactly "would postgres get this
port?". A plain bind fails on TIME-WAIT and would move the cluster for nothing,
leaving every client that holds the old URL with "connection refused".
"""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing uses now, chosen by the kernel."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def taken(port: int) -> bool:
    """Whether another socket holds ``port`` the way a listening server does (TIME-WAIT does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
        return False

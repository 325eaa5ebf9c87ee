"""A new cluster's first setup: hosted Supabase's roles, then the compatibility layer.

The superuser is ``aef_admin`` (Supabase: ``supabase_admin``) and the application
role ``postgres`` is not a superuser, so migrations meet the same limits here as
in production.
"""

from __future__ import annotations

from aef_db import compat
from aef_db import sql as package_sql
from aef_db.connection import connect, run_file

SUPERUSER = "aef_admin"
OWNER = "postgres"
_Q = package_sql.queries("cluster/queries.sql")


def bootstrap(superuser_url: str, owner_password: str) -> None:
    """Create the roles (``postgres`` gets ``owner_password``) and install the compatibility layer."""
    with connect(superuser_url) as conn:
        with conn.transaction():
            # bootstrap.sql reads the password from this transaction-local setting
            conn.execute(_Q["set_owner_password"], {"password": owner_password})
            run_file(conn, "cluster/bootstrap.sql")
        compat.install(conn)

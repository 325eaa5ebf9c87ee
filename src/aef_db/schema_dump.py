"""`aef-db docs schema-sql`: the whole schema aef-db creates, in one file.

src/aef_db/sql/schema.sql is what `pg_dump --schema-only` prints for aef-db's
schemas after `migrate up`: the current state in one place, for a reader (the
migrations say how it came to be). tests/acceptance/test_docs.py fails when the committed
file differs from what the migrations produce, as procrastinate does.
"""

from __future__ import annotations

import subprocess
from importlib import resources

from aef_db.cluster import find_pg_bin
from aef_db.errors import AefDbError

SCHEMAS = ("public", "aef_private", "aef_audit")
# lines that name the dumping tool or change on every run, not the schema
_VOLATILE = ("-- Dumped from database version", "-- Dumped by pg_dump version", "\\restrict", "\\unrestrict")


def committed() -> str:
    return resources.files("aef_db").joinpath("sql/schema.sql").read_text(encoding="utf-8")


def dump(url: str) -> str:
    """The schema-only dump of aef-db's schemas at ``url``, without its volatile lines."""
    args = [str(find_pg_bin() / "pg_dump"), "--schema-only", *(f"--schema={s}" for s in SCHEMAS), "--dbname", url]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AefDbError(f"pg_dump failed: {result.stderr.strip()}")
    lines = [line for line in result.stdout.splitlines() if not line.startswith(_VOLATILE)]
    # the public schema itself is the database's (its owner and grants vary), not aef-db's
    head, *entries = "\n".join(lines).split("\n--\n-- Name: ")
    kept = [e for e in entries if not e.startswith("SCHEMA public;")]
    return "\n--\n-- Name: ".join([head, *kept]).strip() + "\n"

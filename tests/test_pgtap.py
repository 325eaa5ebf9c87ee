"""The pgTAP suite in supabase/tests/database, run with pg_prove as `supabase test db` runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Database

SUITE = Path(__file__).resolve().parent.parent / "supabase" / "tests" / "database"
FILES = sorted(SUITE.glob("*.sql"))


@pytest.fixture
def with_pgtap(migrated: Database) -> Database:
    # pgTAP is not a trusted extension: Supabase provides it, here the superuser does
    with migrated.connect(superuser=True) as conn:
        conn.execute("create extension if not exists pgtap with schema extensions")
    return migrated


def test_the_suite_is_there() -> None:
    assert len(FILES) >= 8
    assert shutil.which("pg_prove"), "pg_prove comes from Debian's libtap-parser-sourcehandler-pgtap-perl"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_pgtap_file_passes_as_postgres(with_pgtap: Database, path: Path) -> None:
    result = subprocess.run(
        ["pg_prove", "--verbose", "--dbname", with_pgtap.url, str(path)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Result: PASS" in result.stdout

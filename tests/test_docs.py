"""The documents that newcomers and CI depend on stay true."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_generated_and_current() -> None:
    module = runpy.run_path(str(ROOT / "scripts" / "cli_reference.py"))
    assert (ROOT / "docs" / "cli.md").read_text() == module["render"](), (
        "docs/cli.md is stale: run .venv/bin/python scripts/cli_reference.py"
    )


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(bash scripts/\S+)", setup, re.MULTILINE)
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec bash scripts/test.sh" in ci


def test_every_migration_has_a_comment_header_and_timeouts() -> None:
    for path in sorted((ROOT / "src" / "aef_db" / "sql" / "migrations").glob("*.sql")):
        text = path.read_text()
        assert text.startswith("-- "), path.name
        assert "set lock_timeout" in text and "set statement_timeout" in text, path.name


def test_schema_reference_is_generated_and_current(migrated) -> None:  # type: ignore[no-untyped-def]
    from aef_db import schema_docs

    with migrated.connect() as conn:
        rendered = schema_docs.render(conn)
    assert (ROOT / "docs" / "schema.md").read_text() == rendered, (
        "docs/schema.md is stale: run bash scripts/regen_docs.sh"
    )


def test_every_sqlstate_the_migrations_raise_is_documented() -> None:
    raised = set()
    for path in (ROOT / "src" / "aef_db" / "sql" / "migrations").glob("*.sql"):
        raised |= set(re.findall(r"errcode = '(\w{5})'", path.read_text()))
    documented = set(re.findall(r"^\| `(\w{5})` \|", (ROOT / "docs" / "errors.md").read_text(), re.MULTILINE))
    assert raised and raised <= documented, sorted(raised - documented)


def test_schema_sql_is_generated_and_current(migrated) -> None:  # type: ignore[no-untyped-def]
    from aef_db import schema_dump

    assert schema_dump.committed() == schema_dump.dump(migrated.superuser_url), (
        "src/aef_db/sql/schema.sql is stale: run bash scripts/regen_docs.sh"
    )

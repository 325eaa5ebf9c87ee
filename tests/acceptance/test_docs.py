"""The documents that newcomers and CI depend on stay true."""

from __future__ import annotations

import asyncio
import inspect
import re
import runpy
import textwrap
import uuid
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[2]


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


# -- Docs that stay true: every command and public Store method is documented, and
# -- every link, command line, migration list and example in the docs still holds.

DOCS = sorted((ROOT / "docs").glob("*.md"))


def _cli_commands() -> dict[str, click.Command]:
    """Every command of the `aef-db` tree, groups included, by its full name ("aef-db db start")."""
    from aef_db.cli import main

    found: dict[str, click.Command] = {}

    def walk(command: click.Command, path: str, parent: click.Context | None) -> None:
        found[path] = command
        ctx = click.Context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                child = command.get_command(ctx, name)
                assert child is not None, f"{path} lists {name} but cannot load it"
                walk(child, f"{path} {name}", ctx)

    walk(main, "aef-db", None)
    return found


def test_every_cli_command_is_documented() -> None:
    commands = _cli_commands()
    assert {"aef-db db start", "aef-db migrate up", "aef-db audit verify"} <= set(commands)  # the walk works
    reference = (ROOT / "docs" / "cli.md").read_text()
    readme = (ROOT / "README.md").read_text()
    missing = [
        path
        for path in commands
        if f"## `{path}`" not in reference and not re.search(rf"(?<![\w-]){re.escape(path)}(?![\w-])", readme)
    ]
    assert not missing, f"not in docs/cli.md or README.md (run scripts/cli_reference.py): {missing}"


def _code(text: str) -> list[str]:
    """The code of a markdown text: each line of a fenced block, and each inline code span."""
    chunks: list[str] = []
    for i, part in enumerate(re.split(r"^```[^\n]*\n", text, flags=re.MULTILINE)):
        if i % 2:
            chunks.extend(part.splitlines())
        else:
            chunks.extend(re.findall(r"`([^`\n]+)`", part))
    return chunks


def _command_line_problem(commands: dict[str, click.Command], words: list[str]) -> str | None:
    """Why `aef-db <words>` is not a valid command line, or None when it is."""
    path = "aef-db"
    for word in words:
        command = commands[path]
        if word.startswith("-"):
            option = word.split("=", 1)[0]
            names = {"--help"} | {n for p in command.params for n in (*p.opts, *p.secondary_opts)}
            if option not in names:
                return f"`{path}` has no option {option}"
        elif isinstance(command, click.Group):
            if f"{path} {word}" not in commands:
                return f"`{path}` has no command {word}"
            path = f"{path} {word}"
    return None


def test_every_command_line_the_docs_show_exists() -> None:
    commands = _cli_commands()
    problems = []
    shown = 0
    for path in [ROOT / "README.md", *DOCS]:
        if path.name == "cli.md":  # generated from the commands themselves
            continue
        for chunk in _code(path.read_text()):
            chunk = re.sub(r"(^|\s)#.*", "", chunk)  # a shell comment
            for match in re.finditer(r"(?<![\w'-])aef-db((?:[ \t]+[^\s|;&]+)*)", chunk):
                words = []
                for word in match.group(1).split():
                    words.append(word.strip("\"')"))
                    if word.endswith(")") or "$(" in word:  # where $(aef-db ...) ends, or another begins
                        break
                shown += 1
                problem = _command_line_problem(commands, words)
                if problem:
                    problems.append(f"{path.relative_to(ROOT)}: aef-db {' '.join(words)}: {problem}")
    assert shown > 20, shown  # the docs are read
    assert not problems, "\n".join(problems)


def _store_api() -> dict[str, set[str]]:
    """Each public method of the Store and of what it hands out (by qualified name), with
    the spellings that mention it: `<how the docs reach its class>.<method>`."""
    import aef_db.store as package
    from aef_db.store import Store

    def methods(cls: type) -> dict[str, Any]:
        return {
            name: member
            for name, member in inspect.getmembers(cls, inspect.isroutine)
            if not name.startswith("_") and getattr(member, "__module__", "").startswith("aef_db.store")
        }

    exported = [getattr(package, name) for name in package.__all__]
    api = {cls for cls in exported if inspect.isclass(cls) and not issubclass(cls, BaseException)}
    store = Store("postgresql://unused", cipher=None)  # never opened
    reached: dict[type, set[str]] = {Store: {"store", "Store"}}
    for attribute, value in vars(store).items():  # store.executions, store.logs...
        if type(value) in api:
            reached.setdefault(type(value), set()).add(attribute)
    for cls in list(reached):  # what a method hands out: logs.writer() -> LogWriter
        for name, member in methods(cls).items():
            returned = inspect.signature(member).return_annotation
            for candidate in api - set(reached):
                if returned is candidate or returned == candidate.__name__:
                    reached[candidate] = {candidate.__name__, name}
    for cls in api - set(reached):
        reached[cls] = {cls.__name__}
    spellings: dict[str, set[str]] = {}
    for cls, prefixes in reached.items():
        for name, member in methods(cls).items():
            spellings.setdefault(member.__qualname__, set()).update(f"{prefix}.{name}" for prefix in prefixes)
    return spellings


def test_every_public_store_method_is_documented() -> None:
    api = _store_api()
    assert {"Executions.start", "LogWriter.log", "Store.as_user"} <= set(api)  # the discovery works
    text = (ROOT / "docs" / "store.md").read_text()
    missing = sorted(
        qualname
        for qualname, spellings in api.items()
        if not any(re.search(rf"(?<!\w){re.escape(s)}\b", text) for s in spellings)
    )
    assert not missing, (
        f"public Store methods that docs/store.md never mentions (as e.g. `executions.start`): {missing}"
    )


def test_every_store_error_is_documented() -> None:
    import aef_db.store as package

    errors = [n for n in package.__all__ if inspect.isclass(cls := getattr(package, n)) and issubclass(cls, Exception)]
    assert "StoreError" in errors
    text = (ROOT / "docs" / "store.md").read_text()
    missing = [name for name in errors if f"`{name}`" not in text]
    assert not missing, f"exceptions of aef_db.store that docs/store.md never names: {missing}"


def _anchors(text: str) -> set[str]:
    """GitHub's anchors for the headings of a markdown text (code blocks skipped)."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def test_links_in_the_docs_resolve_inside_the_repository() -> None:
    checked = 0
    problems = []
    for path in [ROOT / "README.md", *DOCS]:
        text = path.read_text()
        if "../shared" in text:
            problems.append(f"{path.relative_to(ROOT)} points outside the repository (../shared)")
        for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)):
            if re.match(r"[a-z]+:", target):
                continue
            checked += 1
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            where = f"{path.relative_to(ROOT)}: ({target})"
            if not resolved.is_relative_to(ROOT):
                problems.append(f"{where} leaves the repository")
            elif not resolved.exists():
                problems.append(f"{where} does not exist")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved.read_text()):
                problems.append(f"{where} has no heading #{anchor}")
    assert checked > 50, checked
    assert not problems, "\n".join(problems)


def test_the_migrations_doc_lists_every_shipped_migration() -> None:
    shipped = [
        tuple(p.name.removesuffix(".sql").split("_", 1))
        for p in sorted((ROOT / "src" / "aef_db" / "sql" / "migrations").glob("*.sql"))
        if not p.name.endswith(".rollback.sql")
    ]
    listed = re.findall(r"^\| (\d{14}) \| (\w+) \|", (ROOT / "docs" / "migrations.md").read_text(), re.MULTILINE)
    assert shipped and listed == shipped


def test_the_store_example_runs(migrated) -> None:  # type: ignore[no-untyped-def]
    """docs/store.md's first example, run as written against a migrated database."""
    example = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "store.md").read_text(), re.DOTALL)
    assert example
    user_id = uuid.uuid4()
    with migrated.connect() as conn:
        sop_id = conn.execute(
            "insert into public.sops (user_id, name) values (%s, 'Invoice run') returning id", (user_id,)
        ).fetchone()["id"]
    namespace: dict[str, Any] = {}
    body = textwrap.indent(example.group(1), "    ")
    exec(compile(f"async def example(url, sop_id, user_id):\n{body}", "docs/store.md", "exec"), namespace)
    asyncio.run(namespace["example"](migrated.url, sop_id, user_id))

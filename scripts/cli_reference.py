"""Generates docs/cli.md from the commands' own --help, so the reference cannot drift.

Run: .venv/bin/python scripts/cli_reference.py   (tests/acceptance/test_docs.py fails when it is stale)
"""

from __future__ import annotations

from pathlib import Path

import click

from aef_db.cli import main as cli

TARGET = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _help(command: click.Command, name: str, parent: click.Context | None) -> tuple[str, click.Context]:
    ctx = click.Context(command, info_name=name, parent=parent, terminal_width=100, max_content_width=100)
    return command.get_help(ctx), ctx


def render() -> str:
    parts = [
        "# Command reference",
        "",
        "Generated from `--help` by `scripts/cli_reference.py`; do not edit by hand.",
    ]

    def walk(command: click.Command, name: str, parent: click.Context | None, path: str) -> None:
        text, ctx = _help(command, name, parent)
        parts.extend(["", f"## `{path}`", "", "```text", text, "```"])
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                child = command.get_command(ctx, sub)
                if child is not None:
                    walk(child, sub, ctx, f"{path} {sub}")

    walk(cli, "aef-db", None, "aef-db")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET}")

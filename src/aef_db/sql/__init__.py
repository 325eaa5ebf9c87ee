"""The package's SQL, shipped as data and read from here.

Each ``queries.sql`` holds named blocks (``-- name: foo``), as procrastinate does,
so every statement aef-db sends is readable in a ``.sql`` file of its own.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def root() -> Traversable:
    return files(__name__)


@cache
def text(path: str) -> str:
    """The text of one SQL file, by its path below ``aef_db/sql``."""
    return root().joinpath(path).read_text(encoding="utf-8")


@cache
def queries(path: str) -> dict[str, str]:
    """The named queries of one of the package's ``queries.sql`` files."""
    return parse_named(text(path))


def parse_named(source: str) -> dict[str, str]:
    """Split SQL text into its ``-- name: foo`` blocks (also used by bench/)."""
    found: dict[str, str] = {}
    marks = list(_NAME.finditer(source))
    for mark, following in zip(marks, [*marks[1:], None], strict=False):
        end = following.start() if following else len(source)
        body = source[mark.end() : end].strip()
        # drop the block's own comment lines, keep the statement
        lines = [ln for ln in body.splitlines() if not ln.lstrip().startswith("--")]
        found[mark.group(1)] = "\n".join(lines).strip().rstrip(";")
    return found

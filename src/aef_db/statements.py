"""Splitting SQL files into statements with the real PostgreSQL parser (pglast).

The Supabase CLI stores each file's statements in its history table, and a
failure must name the statement and its line, so files are split exactly as the
server would read them: dollar quotes, comments and all.
"""

from __future__ import annotations

from dataclasses import dataclass

import pglast
from pglast import ast
from pglast.parser import ParseError

from aef_db.errors import MigrationSourceError


@dataclass(frozen=True)
class Statement:
    text: str
    line: int  # 1-based line of the file where the statement starts
    transactional: bool  # False for statements PostgreSQL refuses inside a transaction block


def split(sql: str, filename: str) -> list[Statement]:
    """The statements of one file, in order. Raises naming the file and line on bad syntax."""
    try:
        slices = pglast.split(sql, only_slices=True)
        trees = pglast.parse_sql(sql)
    except ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 else None  # pglast: (message, offset)
        where = f" (line {sql.count(chr(10), 0, location) + 1})" if isinstance(location, int) else ""
        raise MigrationSourceError(f"{filename}{where}: cannot parse: {exc.args[0]}") from exc
    result = []
    for part, raw in zip(slices, trees, strict=True):
        result.append(
            Statement(
                text=sql[part],
                line=sql.count("\n", 0, part.start) + 1,
                transactional=raw.stmt is None or not _needs_autocommit(raw.stmt),
            )
        )
    return result


def _needs_autocommit(node: ast.Node) -> bool:
    if isinstance(node, ast.IndexStmt):
        return bool(node.concurrent)
    if isinstance(node, ast.DropStmt):
        return bool(node.concurrent)
    if isinstance(node, ast.ReindexStmt):
        return any(getattr(p, "defname", None) == "concurrently" for p in node.params or ())
    return isinstance(node, ast.VacuumStmt)

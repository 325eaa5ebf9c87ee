"""Reading pgoutput, PostgreSQL's logical replication protocol (version 1), as the SQL
function ``pg_logical_slot_get_binary_changes`` returns it: one message per row.

Only what the change feed needs: Begin, Commit, Relation, Insert, Update and Delete.
Values arrive as text, exactly as the column's output function wrote them; ``Relation``
carries each column's type so the feed can load them with psycopg's own loaders.
Reference: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's timestamps count from here

# A value's state in a tuple: absent means NULL; UNCHANGED is a TOASTed value an update left alone.
UNCHANGED = object()


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_oid: int


@dataclass(frozen=True, slots=True)
class Relation:
    oid: int
    schema: str
    name: str
    columns: tuple[Column, ...]


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int
    commit_time: datetime
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_time: datetime


@dataclass(frozen=True, slots=True)
class RowChange:
    """An insert, update or delete. ``new``/``old`` hold each column's text (None for
    NULL, UNCHANGED for an untouched TOASTed value); ``old`` is the replica identity
    (the key, or the whole row under replica identity full), when the server sent it."""

    op: str  # "insert" | "update" | "delete"
    relation_oid: int
    new: tuple[object, ...] | None
    old: tuple[object, ...] | None
    old_is_key: bool = False  # old holds the key columns only (the others are sent as NULL)


Message = Begin | Commit | Relation | RowChange | None


class ProtocolError(ValueError):
    """The bytes are not pgoutput version 1 as this reader knows it."""


_I16 = struct.Struct("!h").unpack_from
_U32 = struct.Struct("!I").unpack_from
_I64 = struct.Struct("!q").unpack_from
_BEGIN = struct.Struct("!qqI").unpack_from
_COMMIT = struct.Struct("!qqq").unpack_from


def parse(data: bytes) -> Message:
    """One pgoutput message; None for the kinds the feed ignores (Type, Origin, Truncate, Message).

    Read by offset with precompiled structs: the feed parses every change of the
    database, so this is its hottest path."""
    try:
        kind = data[0]
        if kind == 0x49:  # 'I'
            (oid,) = _U32(data, 1)
            if data[5] != 0x4E:
                raise ProtocolError(f"insert: expected a new tuple, got {data[5:6]!r}")
            return RowChange("insert", oid, _tuple(data, 6)[0], None)
        if kind == 0x42:  # 'B'
            final_lsn, micros, xid = _BEGIN(data, 1)
            return Begin(final_lsn, _time(micros), xid)
        if kind == 0x43:  # 'C': flags, then commit lsn, end lsn, time
            commit_lsn, end_lsn, micros = _COMMIT(data, 2)
            return Commit(commit_lsn, end_lsn, _time(micros))
        if kind == 0x55:  # 'U'
            (oid,) = _U32(data, 1)
            old, old_kind, pos = None, data[5], 6
            if old_kind in (0x4B, 0x4F):  # 'K' key or 'O' old row
                old, pos = _tuple(data, 6)
                marker, pos = data[pos], pos + 1
            else:
                marker = old_kind
            if marker != 0x4E:
                raise ProtocolError(f"update: expected a new tuple, got {bytes([marker])!r}")
            return RowChange("update", oid, _tuple(data, pos)[0], old, old_kind == 0x4B)
        if kind == 0x44:  # 'D'
            (oid,) = _U32(data, 1)
            marker = data[5]
            if marker not in (0x4B, 0x4F):
                raise ProtocolError(f"delete: expected a key or old tuple, got {bytes([marker])!r}")
            return RowChange("delete", oid, None, _tuple(data, 6)[0], marker == 0x4B)
        if kind == 0x52:  # 'R'
            return _relation(data)
        if kind in (0x59, 0x4F, 0x54, 0x4D):  # Type, Origin, Truncate, Message
            return None
    except (struct.error, IndexError):
        raise ProtocolError("message ends early") from None
    raise ProtocolError(f"unknown pgoutput message {bytes([kind])!r}")


def _relation(data: bytes) -> Relation:
    (oid,) = _U32(data, 1)
    schema, pos = _string(data, 5)
    name, pos = _string(data, pos)
    pos += 1  # replica identity setting
    (count,) = _I16(data, pos)
    pos += 2
    columns = []
    for _ in range(count):
        column_name, pos = _string(data, pos + 1)  # after the flags byte (part of the key)
        (type_oid,) = _U32(data, pos)
        pos += 8  # type oid, type modifier
        columns.append(Column(column_name, type_oid))
    return Relation(oid, schema, name, tuple(columns))


def _string(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b"\0", pos)
    if end < 0:
        raise ProtocolError("unterminated string")
    return data[pos:end].decode(), end + 1


def _tuple(data: bytes, pos: int) -> tuple[tuple[object, ...], int]:
    """TupleData at ``pos``: each value's text (bytes), None for NULL, UNCHANGED for an
    untouched TOASTed value; and where it ends."""
    (count,) = _I16(data, pos)
    pos += 2
    values: list[object] = []
    append = values.append
    for _ in range(count):
        kind = data[pos]
        if kind == 0x74:  # 't'
            (length,) = _U32(data, pos + 1)
            start = pos + 5
            pos = start + length
            if pos > len(data):
                raise ProtocolError("message ends early")
            append(data[start:pos])
        elif kind == 0x6E:  # 'n'
            append(None)
            pos += 1
        elif kind == 0x75:  # 'u'
            append(UNCHANGED)
            pos += 1
        else:
            raise ProtocolError(f"unknown tuple value kind {bytes([kind])!r}")
    return tuple(values), pos


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)

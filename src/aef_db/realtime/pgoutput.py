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


def parse(data: bytes) -> Message:
    """One pgoutput message; None for the kinds the feed ignores (Type, Origin, Truncate, Message)."""
    reader = _Reader(data)
    kind = reader.byte()
    if kind == b"B":
        return Begin(reader.int64(), _time(reader.int64()), reader.int32())
    if kind == b"C":
        reader.byte()  # flags, unused
        return Commit(reader.int64(), reader.int64(), _time(reader.int64()))
    if kind == b"R":
        oid, schema, name = reader.int32(), reader.string(), reader.string()
        reader.byte()  # replica identity setting
        columns = []
        for _ in range(reader.int16()):
            reader.byte()  # flags: part of the key
            column_name, type_oid = reader.string(), reader.int32()
            reader.int32()  # type modifier
            columns.append(Column(column_name, type_oid))
        return Relation(oid, schema, name, tuple(columns))
    if kind == b"I":
        oid = reader.int32()
        reader.expect(b"N")
        return RowChange("insert", oid, reader.tuple(), None)
    if kind == b"U":
        oid = reader.int32()
        old = None
        marker = reader.byte()
        old_kind = marker
        if marker in (b"K", b"O"):
            old = reader.tuple()
            marker = reader.byte()
        if marker != b"N":
            raise ProtocolError(f"update: expected a new tuple, got {marker!r}")
        return RowChange("update", oid, reader.tuple(), old, old_kind == b"K")
    if kind == b"D":
        oid = reader.int32()
        marker = reader.byte()
        if marker not in (b"K", b"O"):
            raise ProtocolError(f"delete: expected a key or old tuple, got {marker!r}")
        return RowChange("delete", oid, None, reader.tuple(), marker == b"K")
    if kind in (b"Y", b"O", b"T", b"M"):
        return None
    raise ProtocolError(f"unknown pgoutput message {kind!r}")


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise ProtocolError("message ends early")
        chunk, self.pos = self.data[self.pos : end], end
        return chunk

    def byte(self) -> bytes:
        return self._take(1)

    def expect(self, marker: bytes) -> None:
        got = self.byte()
        if got != marker:
            raise ProtocolError(f"expected {marker!r}, got {got!r}")

    def int16(self) -> int:
        return int(struct.unpack_from("!h", self._take(2))[0])

    def int32(self) -> int:  # oids, xids and lengths: never negative in pgoutput
        return int(struct.unpack_from("!I", self._take(4))[0])

    def int64(self) -> int:
        return int(struct.unpack_from("!q", self._take(8))[0])

    def string(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise ProtocolError("unterminated string")
        text, self.pos = self.data[self.pos : end].decode(), end + 1
        return text

    def tuple(self) -> tuple[object, ...]:
        values: list[object] = []
        for _ in range(self.int16()):
            kind = self.byte()
            if kind == b"n":
                values.append(None)
            elif kind == b"u":
                values.append(UNCHANGED)
            elif kind == b"t":
                values.append(self._take(self.int32()))
            else:
                raise ProtocolError(f"unknown tuple value kind {kind!r}")
        return tuple(values)

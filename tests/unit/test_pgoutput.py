"""The pgoutput reader, on messages built by hand from the protocol's documented layout."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from aef_db.realtime.pgoutput import UNCHANGED, Begin, Commit, ProtocolError, Relation, RowChange, parse


def tuple_data(*values: object) -> bytes:
    out = struct.pack("!h", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v is UNCHANGED:
            out += b"u"
        else:
            assert isinstance(v, bytes)
            out += b"t" + struct.pack("!I", len(v)) + v
    return out


def test_begin_and_commit_carry_lsns_and_time() -> None:
    micros = 123_456_789  # since 2000-01-01
    begin = parse(b"B" + struct.pack("!qqI", 0x16_0000_0010, micros, 4_000_000_000))
    assert begin == Begin(0x16_0000_0010, datetime(2000, 1, 1, 0, 2, 3, 456_789, tzinfo=UTC), 4_000_000_000)
    commit = parse(b"C\x00" + struct.pack("!qqq", 10, 20, micros))
    assert isinstance(commit, Commit) and (commit.commit_lsn, commit.end_lsn) == (10, 20)


def test_a_relation_names_its_columns_and_types() -> None:
    body = struct.pack("!I", 16384) + b"public\0aef_execution_logs\0" + b"d" + struct.pack("!h", 2)
    body += b"\x01id\0" + struct.pack("!Ii", 2950, -1) + b"\x00data\0" + struct.pack("!Ii", 3802, -1)
    relation = parse(b"R" + body)
    assert isinstance(relation, Relation)
    assert (relation.oid, relation.schema, relation.name) == (16384, "public", "aef_execution_logs")
    assert [(c.name, c.type_oid) for c in relation.columns] == [("id", 2950), ("data", 3802)]


def test_insert_update_and_delete_tuples() -> None:
    oid = struct.pack("!I", 7)
    insert = parse(b"I" + oid + b"N" + tuple_data(b"abc", None, UNCHANGED))
    assert insert == RowChange("insert", 7, (b"abc", None, UNCHANGED), None)
    update = parse(b"U" + oid + b"O" + tuple_data(b"old") + b"N" + tuple_data(b"new"))
    assert update == RowChange("update", 7, (b"new",), (b"old",), False)
    plain_update = parse(b"U" + oid + b"N" + tuple_data(b"new"))
    assert plain_update == RowChange("update", 7, (b"new",), None, False)
    delete = parse(b"D" + oid + b"K" + tuple_data(b"key", None))
    assert delete == RowChange("delete", 7, None, (b"key", None), True)


def test_ignored_kinds_read_as_none() -> None:
    assert parse(b"Y" + struct.pack("!I", 1) + b"public\0x\0") is None
    assert parse(b"T" + struct.pack("!IB", 1, 0)) is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"I" + struct.pack("!I", 7) + b"N" + struct.pack("!h", 1) + b"t" + struct.pack("!I", 10) + b"short", "early"),
        (b"I" + struct.pack("!I", 7) + b"X", "new tuple"),
        (b"D" + struct.pack("!I", 7) + b"N", "key or old"),
        (b"I" + struct.pack("!I", 7) + b"N" + struct.pack("!h", 1) + b"z", "value kind"),
        (b"B\x00\x01", "early"),
        (b"R" + struct.pack("!I", 1) + b"public", "unterminated"),
        (b"Z", "unknown"),
    ],
)
def test_malformed_messages_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        parse(data)

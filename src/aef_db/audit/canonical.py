"""The canonical encoding of a log event, version ``aef-log-v1`` (docs/audit.md).

The database hashes the same bytes in ``aef_private.log_hash``; a test holds
the two together. ``jsonb_text`` renders a JSON value exactly as PostgreSQL's
``jsonb::text`` does, so a writer that sends that text knows what the database
will hash: keys ordered by byte length then bytes, ``", "`` and ``": "``
separators, numbers in plain decimal notation.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

TAG = "aef-log-v1"
GENESIS = "0" * 64  # the previous hash written for seq 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = datetime.resolution
_json_string = json.encoder.encode_basestring  # escapes as PostgreSQL's escape_json does (non-ASCII kept)


def _key_order(key: str) -> tuple[int, bytes]:
    raw = key.encode()
    return len(raw), raw


def _number(value: float) -> str:
    text = format(Decimal(repr(value)), "f")  # numeric keeps what it is given, in plain notation
    return text.removeprefix("-") if value == 0 else text


def jsonb_text(value: Any, max_depth: int = 256) -> str:
    """``value`` as ``jsonb::text`` prints it once stored.

    One walk that also refuses what jsonb cannot hold: a NUL character (``ValueError``),
    a number that is not finite (``ValueError``), anything that is not JSON
    (``TypeError``), and nesting more than ``max_depth`` levels below the root
    (``ValueError``: deeper documents break recursive parsers, this one among them).
    """
    try:
        return _render(value, max_depth)
    except _TooDeep:
        raise ValueError(f"is nested more than {max_depth} levels deep") from None


class _TooDeep(Exception):
    pass


def _render(value: Any, room: int) -> str:
    # room: how many levels may still sit below this value
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return _json_string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"holds {value}, which JSON cannot carry")
        return _number(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        if room < 1:
            raise _TooDeep
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys are strings, not {type(key).__name__}")
            if "\x00" in key:
                raise ValueError("must not contain NUL characters")
        items = sorted(value.items(), key=_item_order)
        return "{" + ", ".join([f"{_json_string(k)}: {_render(v, room - 1)}" for k, v in items]) + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if room < 1:
            raise _TooDeep
        return "[" + ", ".join([_render(v, room - 1) for v in value]) + "]"
    raise TypeError(f"{type(value).__name__} is not JSON")


def _item_order(item: tuple[str, Any]) -> tuple[int, bytes]:
    return _key_order(item[0])


def micros(ts: datetime) -> int:
    """Microseconds since the Unix epoch, as the record carries the timestamp."""
    return (ts - _EPOCH) // _MICROSECOND


def record(
    execution_id: uuid.UUID | str,
    seq: int,
    step_id: str | None,
    event_type: str,
    timestamp_us: int,
    data_text: str,
    browser_state_text: str | None,
    prev_hash: bytes | None,
) -> bytes:
    """The bytes an event's hash covers: nine fields, each followed by a line feed."""
    step = "null" if step_id is None else _json_string(step_id)
    prev = GENESIS if prev_hash is None else prev_hash.hex()
    state = "null" if browser_state_text is None else browser_state_text
    return (
        f"{TAG}\n{execution_id}\n{seq}\n{step}\n{event_type}\n{timestamp_us}\n{data_text}\n{state}\n{prev}\n".encode()
    )


def event_hash(*fields: Any) -> bytes:
    """sha256 of ``record(*fields)``."""
    return hashlib.sha256(record(*fields)).digest()

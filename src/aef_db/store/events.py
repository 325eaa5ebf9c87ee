"""Log events on their way in: validated, rendered as the jsonb text that is hashed, then
numbered and chained onto their execution's head.

Shared by ``Logs.append`` (one event) and the ``LogWriter`` (batches), so both store
exactly what they hashed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from aef_db.audit.canonical import event_hash, micros
from aef_db.models import LogEvent, LogEventType
from aef_db.store.heads import Head


def new_event(
    event_type: LogEventType | str,
    step_id: str | None,
    data: dict[str, Any] | None,
    browser_state: dict[str, Any] | None,
    timestamp: datetime | None,
) -> LogEvent:
    """One validated event: the same rules for append and for the writer."""
    return LogEvent(
        event_type=event_type, step_id=step_id, data=data or {}, browser_state=browser_state, timestamp=timestamp
    )


class ChainedEvent(NamedTuple):
    """One event numbered and hashed onto the head before it.

    Its fields are append_log's parameters, and insert_logs' columns, in the table's column order.
    """

    id: uuid.UUID
    execution_id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    step_id: str | None
    event_type: str
    timestamp: datetime
    data: str  # jsonb text, as hashed
    browser_state: str | None
    prev_hash: bytes | None
    hash: bytes

    @property
    def head(self) -> Head:
        """The execution's head once this event is stored."""
        return Head(self.user_id, self.seq, self.hash)


def chain_after(
    head: Head,
    execution_id: uuid.UUID,
    event_type: str,
    step_id: str | None,
    data_text: str,
    state_text: str | None,
    when: datetime,
    *,
    event_id: uuid.UUID | None = None,
) -> ChainedEvent:
    """The event after ``head``: owned by the head's owner, numbered and hashed onto it."""
    seq = head.seq + 1
    digest = event_hash(execution_id, seq, step_id, event_type, micros(when), data_text, state_text, head.hash)
    return ChainedEvent(
        event_id or uuid.uuid4(),
        execution_id,
        head.owner,
        seq,
        step_id,
        event_type,
        when,
        data_text,
        state_text,
        head.hash,
        digest,
    )


def append_params(
    execution_id: uuid.UUID,
    head: Head,
    event_type: str,
    step_id: str | None,
    data_text: str,
    state_text: str | None,
    when: datetime,
) -> dict[str, Any]:
    """append_log's parameters for the event after ``head``."""
    return chain_after(head, execution_id, event_type, step_id, data_text, state_text, when)._asdict()

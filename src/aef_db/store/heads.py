"""Log heads: where each execution's chain ends, and the cache that saves reading it per append.

Only ``Logs`` reads or writes a ``HeadCache``; the other components tell it when the
database logged on its own (``Logs.invalidate_head``). A cached head is always true
history (a seq and its hash never change), at worst not the newest: the database then
refuses the next seq (AE007) and the writer reloads the head. Invalidating only saves
that refused round trip.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class Head:
    """An execution's owner and the seq and hash of its last event (seq 0 and hash None before the first)."""

    owner: uuid.UUID
    seq: int
    hash: bytes | None


class HeadCache:
    """Head per execution, bounded (least recently used out), so a long-lived engine
    does not grow with the number of executions it ever touched."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._heads: OrderedDict[uuid.UUID, Head] = OrderedDict()
        self.capacity = capacity

    def get(self, execution_id: uuid.UUID) -> Head | None:
        head = self._heads.get(execution_id)
        if head is not None:
            self._heads.move_to_end(execution_id)
        return head

    def remember(self, execution_id: uuid.UUID, head: Head) -> None:
        self._heads[execution_id] = head
        self._heads.move_to_end(execution_id)
        while len(self._heads) > self.capacity:
            self._heads.popitem(last=False)

    def forget(self, execution_id: uuid.UUID) -> None:
        self._heads.pop(execution_id, None)

    def __len__(self) -> int:
        return len(self._heads)

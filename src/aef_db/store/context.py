"""Context levels: how much of an execution's state is stored (the seed's decision 1).

- ``minimal``: where the execution is and nothing more — the keys ``step``,
  ``completed_steps``, ``loop`` and ``iteration``. Cheapest; enough to resume.
- ``standard`` (the default): the SOP's variables and state, without the heavy
  browser captures (``browser``, ``dom``, ``html``, ``screenshot``, ``network``),
  which the log's ``browser_state`` already keeps per event.
- ``full``: everything the engine hands over, for debugging.

At every level, values marked ``Secret`` are sealed before they leave the process,
and the result must fit the database's 1 MiB cap.
"""

from __future__ import annotations

from typing import Any

from aef_db.models import ContextLevel, check_json

MINIMAL_KEYS = frozenset({"step", "completed_steps", "loop", "iteration"})
HEAVY_KEYS = frozenset({"browser", "dom", "html", "screenshot", "network"})


def shape(level: ContextLevel, context: dict[str, Any]) -> dict[str, Any]:
    if level is ContextLevel.MINIMAL:
        kept = {k: v for k, v in context.items() if k in MINIMAL_KEYS}
    elif level is ContextLevel.STANDARD:
        kept = {k: v for k, v in context.items() if k not in HEAVY_KEYS}
    else:
        kept = dict(context)
    return check_json(kept, field="execution_context")

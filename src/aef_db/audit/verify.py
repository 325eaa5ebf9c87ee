"""``aef-db audit verify``: recompute every chain, stream it, and say where it broke.

One pass over the log in (execution, seq) order, in one repeatable-read
snapshot, holding one execution's state at a time: memory is bounded by the
number of chains (their heads), never by the number of events. Each broken
chain is reported once, at its first break, with a kind:

- ``altered``: an event's content no longer matches its hash, or a head or a
  digest records another hash for the same seq;
- ``deleted``: a seq is missing inside the chain, or the head row is gone;
- ``inserted``: an event the head does not know, a seq that appears twice, or any
  event of an execution whose log was archived (a tombstone closes it);
- ``reordered``: two events swapped places (each links to the other's position);
- ``truncated tail``: the chain ends before its head or its digest entry.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from aef_db.audit import digest as digest_file
from aef_db.audit.canonical import event_hash
from aef_db.audit.digest import Digest, Q
from aef_db.connection import connect
from aef_db.errors import AefDbError

STREAM_CHUNK = 1_000  # rows per message where libpq can chunk (17+); one row at a time otherwise


class VerifyError(AefDbError):
    """The chains could not be checked (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Finding:
    execution_id: str
    seq: int
    kind: str
    detail: str


@dataclass
class Report:
    chains: int = 0
    events: int = 0
    archived: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return min(self.findings, key=lambda f: (f.execution_id, f.seq)) if self.findings else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "chains": self.chains,
            "events": self.events,
            "archived": self.archived,
            "first": asdict(self.first) if self.first else None,
            "findings": [asdict(f) for f in self.findings],
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events / self.seconds) if self.seconds else None,
        }


Row = tuple[str, int, "str | None", str, int, str, "str | None", "bytes | None", "bytes | None"]


def _check_chain(
    execution_id: str,
    chain: Iterable[Row],
    head: tuple[int, bytes] | None,
    pinned: tuple[int, str] | None,
) -> tuple[int, Finding | None]:
    """(events seen, first finding) of one execution's chain."""
    expected, prev, seen = 1, None, 0
    finding: Finding | None = None
    suspect: tuple[Row, bytes | None] | None = None  # a break whose kind the next event decides

    def note(seq: int, kind: str, detail: str) -> None:
        nonlocal finding
        if finding is None:
            finding = Finding(execution_id, seq, kind, detail)

    for row in chain:
        seen += 1
        seq, stored_prev, stored = row[1], row[7], row[8]
        if suspect is not None:
            bad, expected_prev = suspect
            swapped = stored_prev == expected_prev and bad[7] == stored
            note(
                bad[1],
                "reordered" if swapped else "altered",
                f"events {bad[1]} and {seq} swapped places"
                if swapped
                else f"event {bad[1]} does not match its hash or link",
            )
            suspect = None
        if seq > expected:
            note(expected, "deleted", f"seq {expected}..{seq - 1} missing")
        elif seq < expected:
            note(seq, "inserted", f"seq {seq} appears twice")
        if head is not None and seq > head[0]:
            note(seq, "inserted", f"event {seq} is beyond the head (seq {head[0]})")
        elif stored != event_hash(*row[:8]) or stored_prev != prev:  # the row's fields, in the record's order
            suspect = (row, prev)
        if pinned is not None and seq == pinned[0] and (stored or b"").hex() != pinned[1]:
            note(seq, "altered", "differs from the digest: the chain was rewritten")
        expected, prev = seq + 1, stored
    if suspect is not None:
        note(
            suspect[0][1],
            "altered",
            f"event {suspect[0][1]} does not match its hash or link",
        )
    last_seq, last_hash = expected - 1, prev
    if head is None:
        note(last_seq, "deleted", "the chain head is missing")
    elif last_seq < head[0]:
        note(
            last_seq + 1,
            "truncated tail",
            f"the chain ends at seq {last_seq}, its head at {head[0]}",
        )
    elif last_seq == head[0] and last_hash != head[1]:
        note(last_seq, "altered", "the head records another hash")
    if pinned is not None and last_seq < pinned[0]:
        note(
            last_seq + 1,
            "truncated tail",
            f"the chain ends at seq {last_seq}, the digest recorded seq {pinned[0]}",
        )
    return seen, finding


def verify(
    conn: psycopg.Connection[Any],
    *,
    execution_id: uuid.UUID | None = None,
    since: datetime | None = None,
    digest: Digest | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Check the chains (all, one execution, or those that moved since a time)."""
    report, started = Report(), time.perf_counter()
    params = {"execution_id": execution_id, "since": since}
    try:
        with conn.transaction():
            conn.execute("set transaction isolation level repeatable read, read only")
            heads = {
                r["execution_id"]: (r["last_seq"], bytes(r["last_hash"])) for r in conn.execute(Q["heads"], params)
            }
            tombs = {r["execution_id"]: r for r in conn.execute(Q["tombstones"], params)}
            estimate = conn.execute(Q["row_count_estimate"], params).fetchone()
            total = estimate["n"] if estimate else 0
            pins = (
                {}
                if digest is None
                else {k: v for k, v in digest.heads.items() if execution_id is None or k == str(execution_id)}
            )
            seen_chains: set[str] = set()
            # stream(): the server keeps sending while this process hashes, so
            # the two work at once; memory holds one chain's state, not the log
            with conn.cursor(row_factory=tuple_row) as cur:
                rows = cur.stream(Q["events"], params, size=STREAM_CHUNK)
                for chain_id, chain in itertools.groupby(rows, key=itemgetter(0)):
                    seen_chains.add(chain_id)
                    first = next(chain)
                    rest = itertools.chain([first], chain)  # noqa: B031 (the group is consumed once, through rest)
                    n, finding = _check_chain(chain_id, rest, heads.get(chain_id), pins.get(chain_id))
                    tomb = tombs.get(chain_id)
                    if tomb is not None:  # an archived log is closed: whatever follows was put there
                        finding = Finding(
                            chain_id,
                            first[1],
                            "inserted",
                            f"events after the log was archived up to seq {tomb['last_seq']} ({tomb['location']})",
                        )
                    report.chains += 1
                    report.events += n
                    if finding is not None:
                        report.findings.append(finding)
                    if progress is not None:
                        progress(report.events, total)
    except psycopg.Error as exc:
        raise VerifyError(f"cannot read the audit chain: {exc}") from exc
    # chains with no events left: archived (a tombstone), or cut away
    for chain_id in sorted((set(heads) | set(pins)) - seen_chains):
        tomb = tombs.get(chain_id)
        if tomb is not None and (chain_id not in pins or pins[chain_id][0] <= tomb["last_seq"]):
            report.archived.append(chain_id)
            continue
        recorded = heads[chain_id][0] if chain_id in heads else pins[chain_id][0]
        report.findings.append(
            Finding(
                chain_id,
                1,
                "truncated tail",
                f"no events left; the chain recorded seq {recorded}",
            )
        )
    report.archived += sorted(set(tombs) - seen_chains - set(heads) - set(pins))
    report.seconds = time.perf_counter() - started
    return report


def verify_database(
    url: str,
    *,
    execution_id: uuid.UUID | None = None,
    since: datetime | None = None,
    digest_path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """``verify`` on the database at ``url``; ``since`` without a zone is UTC.

    Failing to connect or to read the digest raises VerifyError or DigestError
    (exit 2, "could not check"), never a finding (exit 1 means tampering).
    """
    pinned = digest_file.load(digest_path) if digest_path is not None else None
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    try:
        conn = connect(url)
    except AefDbError as exc:
        raise VerifyError(str(exc)) from exc
    with conn:
        return verify(conn, execution_id=execution_id, since=since, digest=pinned, progress=progress)

"""Stored analyses and acknowledgements on sqlite (store/base.py, "Stored analyses" and
"Acknowledgements"): the tables of schema version 6. Every function runs on the store's thread;
those that change anything inside the store's transaction, the reads as one statement each (so
each reads one snapshot).

Records are kept as analyses_codec.py encodes them, and a row whose record does not decode is
passed by as if absent (a listing's page is then shorter, its cursor still right).

The bytes held are totalled at each write by one aggregate over `analyses_age`, an index that
holds `size` (as sqlite_results.py does): no payload page is read, and no counter can drift from
the rows it counts. Eviction walks the same index, oldest first, only when over the bound.
"""

from __future__ import annotations

import builtins
import contextlib
import math
import sqlite3

from ..analyses import AckEvent, Acknowledgement, AnalysisLimits, AnalysisRecord
from . import sqlite_schema as sql
from .analyses_codec import (
    analyses_cursor,
    decode_ack,
    decode_event,
    decode_record,
    encode_ack,
    encode_event,
    encode_record,
    parse_analyses_cursor,
)
from .base import Page

NO_SEQ = 2**62


def put(conn: sqlite3.Connection, now: float, record: AnalysisRecord, payload: bytes, limits: AnalysisLimits) -> None:
    row = (record.id, record.repository, record.scope, record.head_sha, record.created_at)
    conn.execute(sql.UPSERT_ANALYSIS, (*row, encode_record(record).decode(), len(payload), payload))
    evict(conn, limits, keep=record.id)


def get(conn: sqlite3.Connection, analysis_id: str) -> tuple[AnalysisRecord, bytes] | None:
    row = conn.execute(sql.SELECT_ANALYSIS, (analysis_id,)).fetchone()
    record = None if row is None else decode_record(row[0])
    if record is None or record.id != analysis_id or not isinstance(row[1], bytes):
        return None
    return record, bytes(row[1])


def latest(conn: sqlite3.Connection, repository: str, scope: str | None, head_sha: str | None) -> AnalysisRecord | None:
    if scope is not None:
        rows = conn.execute(sql.LATEST_OF_SCOPE, (repository, scope))
    else:
        rows = conn.execute(sql.LATEST_OF_HEAD, (repository, head_sha))
    with contextlib.closing(rows):  # read one at a time, and no further than the first that decodes
        for (raw,) in rows:
            record = decode_record(raw)
            if record is not None and record.repository == repository and _found(record, scope, head_sha):
                return record
    return None


def _found(record: AnalysisRecord, scope: str | None, head_sha: str | None) -> bool:
    return record.scope == scope if scope is not None else record.head_sha == head_sha


def history(conn: sqlite3.Connection, repository: str, limit: int, cursor: str | None) -> Page[AnalysisRecord]:
    at, ident = parse_analyses_cursor(cursor) or (math.inf, "")
    rows = conn.execute(sql.HISTORY_PAGE, (repository, at, ident, limit + 1)).fetchall()
    records = [r for r in (decode_record(raw) for _, _, raw in rows[:limit]) if r and r.repository == repository]
    if len(rows) <= limit:
        return Page(records, None)
    last_id, last_at, _ = rows[limit - 1]
    return Page(records, analyses_cursor(float(last_at), str(last_id)))


def prune(conn: sqlite3.Connection, now: float, limits: AnalysisLimits) -> int:
    cutoff = now - limits.max_age_seconds
    removed = int(conn.execute(sql.PRUNE_OLD_ANALYSES, (cutoff,)).rowcount)
    removed += evict(conn, limits, keep=None)
    conn.execute(sql.PRUNE_ACKS, (cutoff,))
    kept = conn.execute(sql.FIRST_KEPT_ACK_EVENT, (cutoff,)).fetchone()
    if kept is None:
        conn.execute("DELETE FROM acknowledgement_log")
    else:
        conn.execute(sql.PRUNE_ACK_LOG_BEFORE, (kept[0],))
    return removed


def evict(conn: sqlite3.Connection, limits: AnalysisLimits, *, keep: str | None) -> int:
    """Remove the oldest analyses while more than `limits.max_bytes` of payload are held."""
    total = int(conn.execute(sql.ANALYSES_BYTES).fetchone()[0])
    if total <= limits.max_bytes:
        return 0
    victims = []
    for analysis_id, size in conn.execute(sql.OLDEST_ANALYSES):
        if total <= limits.max_bytes:
            break
        if analysis_id == keep:
            continue
        victims.append((analysis_id,))
        total -= int(size)
    conn.executemany(sql.DELETE_ANALYSIS, victims)
    return len(victims)


def acknowledgements(conn: sqlite3.Connection, repository: str, scope: str) -> builtins.list[Acknowledgement]:
    held = []
    for signal_id, raw in conn.execute(sql.ACKS_OF_SCOPE, (repository, scope)):
        ack = decode_ack(raw)
        if ack is not None and ack.signal_id == signal_id:
            held.append(ack)
    return held


def change(
    conn: sqlite3.Connection,
    now: float,
    repository: str,
    scope: str,
    *,
    add: builtins.list[Acknowledgement],
    remove: builtins.list[str] | None,
    events: builtins.list[AckEvent],
    max_per_scope: int,
    max_log: int,
) -> builtins.list[Acknowledgement]:
    if remove is None:
        conn.execute(sql.DELETE_SCOPE_ACKS, (repository, scope))
    else:
        conn.executemany(sql.DELETE_ACK, [(repository, scope, signal_id) for signal_id in remove])
    held = int(conn.execute(sql.COUNT_ACKS, (repository, scope)).fetchone()[0])
    for ack in add:
        known = conn.execute(sql.HOLDS_ACK, (repository, scope, ack.signal_id)).fetchone() is not None
        if not known and held >= max_per_scope:
            continue  # a full scope takes no new signal ids
        conn.execute(sql.UPSERT_ACK, (repository, scope, ack.signal_id, ack.at, encode_ack(ack).decode()))
        held += 0 if known else 1
    for event in events:
        conn.execute(sql.INSERT_ACK_EVENT, (event.at, event.repository, encode_event(event).decode()))
    if events:
        conn.execute(sql.TRIM_ACK_LOG, (max_log,))
    return acknowledgements(conn, repository, scope)


def log(conn: sqlite3.Connection, repository: str | None, limit: int, before: int | None) -> Page[AckEvent]:
    bound = NO_SEQ if before is None else before
    if repository is None:
        rows = conn.execute(sql.ACK_LOG_PAGE, (bound, limit + 1)).fetchall()
    else:
        rows = conn.execute(sql.ACK_LOG_PAGE_OF_REPOSITORY, (repository, bound, limit + 1)).fetchall()
    events = [e for e in (decode_event(raw, int(seq)) for seq, raw in rows[:limit]) if e is not None]
    if repository is not None:
        events = [e for e in events if e.repository == repository]
    return Page(events, str(rows[limit - 1][0]) if len(rows) > limit else None)

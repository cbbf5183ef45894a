"""The result cache on sqlite (store/base.py, "Result cache"): the `results` table of schema
version 3. Every function runs inside the store's transaction, on the store's thread.

The totals are read with one aggregate over the `results_expiry` index at each write: the
number of entries is bounded by RESULT_CACHE_MAX_ENTRIES, so that costs a bounded amount
whatever else the file holds, and no counter can drift from the rows it counts.
"""

from __future__ import annotations

import sqlite3

from .base import ResultLimits

SELECT = "SELECT payload FROM results WHERE digest = ? AND expires_ts > ?"
UPSERT = "INSERT OR REPLACE INTO results (digest, payload, size, expires_ts) VALUES (?, ?, ?, ?)"
TOTALS = "SELECT COUNT(*), TOTAL(size) FROM results INDEXED BY results_expiry"
SOONEST = "SELECT digest, size FROM results INDEXED BY results_expiry ORDER BY expires_ts, digest"
DELETE = "DELETE FROM results WHERE digest = ?"
EXPIRED = "DELETE FROM results INDEXED BY results_expiry WHERE expires_ts <= ?"


def get(conn: sqlite3.Connection, now: float, digest: str) -> bytes | None:
    row = conn.execute(SELECT, (digest, now)).fetchone()
    return None if row is None else bytes(row[0])


def put(conn: sqlite3.Connection, now: float, digest: str, payload: bytes, *, ttl: float, limits: ResultLimits) -> None:
    conn.execute(UPSERT, (digest, payload, len(payload), now + ttl))
    evict(conn, limits, keep=digest)


def prune(conn: sqlite3.Connection, now: float, limits: ResultLimits) -> int:
    removed = conn.execute(EXPIRED, (now,)).rowcount
    return removed + evict(conn, limits, keep=None)


def evict(conn: sqlite3.Connection, limits: ResultLimits, *, keep: str | None) -> int:
    """Remove the entries that expire soonest while the cache is over its limits."""
    entries, total = conn.execute(TOTALS).fetchone()
    entries, total = int(entries), int(total)
    if entries <= limits.max_entries and total <= limits.max_bytes:
        return 0
    victims = []
    for digest, size in conn.execute(SOONEST):
        if entries <= limits.max_entries and total <= limits.max_bytes:
            break
        if digest == keep:
            continue
        victims.append((digest,))
        entries, total = entries - 1, total - int(size)
    conn.executemany(DELETE, victims)
    return len(victims)

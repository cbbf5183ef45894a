"""The sqlite schema, versioned with `PRAGMA user_version`, and the statements that must use an index.

Every query of intake (`add`, `for_delivery`) and of `claim`, and those of the stored analyses
and acknowledgements run per request, are named in `INDEXED` so a test can read their query
plans: none may scan a table, whatever the number of rows held. The hot
statements name their index (`INDEXED BY`): without statistics the planner prefers the
(state, seq) index, which walks every queued job, and with `INDEXED BY` sqlite refuses to run a
statement the named index cannot serve instead of silently scanning.
"""

from __future__ import annotations

import sqlite3

from .base import StoreError
from .codec import FIELDS

SCHEMA_VERSION = 6
BOOKKEEPING = ("added_ts", "finished_ts")
COLUMNS = (*FIELDS, *BOOKKEEPING)

# Version 1. Later versions append a migration to MIGRATIONS.
V1 = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    delivery_id TEXT NOT NULL,
    event TEXT NOT NULL,
    action TEXT,
    repository TEXT NOT NULL,
    installation_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    not_before REAL,
    lease_owner TEXT,
    lease_until REAL,
    superseded_by TEXT,
    params TEXT NOT NULL,
    result TEXT NOT NULL,
    added_ts REAL NOT NULL,
    finished_ts REAL
);
-- Runnable now: claim walks this in order and stops at the first job whose key is free.
CREATE INDEX jobs_ready ON jobs (priority, seq) WHERE state = 'queued' AND not_before IS NULL;
-- Waiting for a retry: claim moves the due ones into jobs_ready (not_before set to NULL).
CREATE INDEX jobs_delayed ON jobs (not_before) WHERE state = 'queued' AND not_before IS NOT NULL;
-- Supersede and the per-key running check.
CREATE INDEX jobs_key_state ON jobs (key, state);
-- Lease expiry.
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'running';
-- Listing by state, newest first, and counts.
CREATE INDEX jobs_state_seq ON jobs (state, seq);
-- Retention: only finished jobs have finished_ts, so unfinished ones are never candidates.
CREATE INDEX jobs_finished ON jobs (finished_ts) WHERE finished_ts IS NOT NULL;
CREATE TABLE deliveries (
    delivery_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    seen_ts REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_seen ON deliveries (seen_ts);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO counters VALUES ('seq', 0);
"""
# Version 2: the per-installation concurrency cap of claim counts an installation's running jobs.
V2 = """
CREATE INDEX jobs_installation_running ON jobs (installation_id) WHERE state = 'running';
"""
# Version 3: the result cache (issue 8 point 8; sqlite_results.py). Eviction walks results_expiry
# in order, and its (expires_ts, size) columns let the totals be read from the index alone.
V3 = """
CREATE TABLE results (
    digest TEXT PRIMARY KEY,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL,
    expires_ts REAL NOT NULL
);
CREATE INDEX results_expiry ON results (expires_ts, size);
"""
# Version 4: the audit log of deliveries, and the claims of each repository in the rate window.
# Audit entries are only ever removed oldest first (by age in recording order, or beyond the
# bound), so the seqs held are one contiguous range: the bound is a range delete on the key.
V4 = """
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    delivery_id TEXT,
    event TEXT,
    action TEXT,
    repository TEXT,
    installation_id INTEGER,
    sender TEXT,
    outcome TEXT NOT NULL,
    status INTEGER NOT NULL,
    job_id TEXT
);
-- The filters of GET /api/jobs/deliveries: each index ends in the rowid (seq), read newest first.
CREATE INDEX audit_delivery ON audit (delivery_id);
CREATE INDEX audit_repository ON audit (repository);
CREATE INDEX audit_event ON audit (event);
CREATE INDEX audit_outcome ON audit (outcome);
CREATE TABLE repository_starts (repository TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX repository_starts_window ON repository_starts (repository, at);
"""
# Version 5: a finished job may owe its check run a close (store/base.py); the recovery loop
# finds the ones due through this index. Columns added in place, so older rows owe nothing.
V5 = """
ALTER TABLE jobs ADD COLUMN close_owed TEXT;
ALTER TABLE jobs ADD COLUMN close_due REAL;
CREATE INDEX jobs_close_due ON jobs (close_due) WHERE close_due IS NOT NULL;
"""
# Version 6: stored analyses and acknowledgements (issue 12; sqlite_analyses.py). `record` is the
# record as analyses_codec.py encodes it; the other columns are what it is looked up by. Every
# index ends in the columns of its order (created_at, then id), so no lookup sorts, and
# analyses_age holds `size`, so the bytes held are totalled from that index alone. The payload
# is the last column: reading a record never reads its payload's pages.
V6 = """
CREATE TABLE analyses (
    id TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    scope TEXT NOT NULL,
    head_sha TEXT NOT NULL,
    created_at REAL NOT NULL,
    record TEXT NOT NULL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX analyses_scope ON analyses (repository, scope, created_at, id);
CREATE INDEX analyses_head ON analyses (repository, head_sha, created_at, id);
CREATE INDEX analyses_history ON analyses (repository, created_at, id);
CREATE INDEX analyses_age ON analyses (created_at, id, size);
CREATE TABLE acknowledgements (
    repository TEXT NOT NULL,
    scope TEXT NOT NULL,
    signal_id TEXT NOT NULL,
    at REAL NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (repository, scope, signal_id)
) WITHOUT ROWID;
CREATE INDEX acknowledgements_at ON acknowledgements (at);
-- Removed oldest first only (by age in recording order, or beyond the bound), as the audit log:
-- the seqs held are one contiguous range.
CREATE TABLE acknowledgement_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    repository TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX acknowledgement_log_repository ON acknowledgement_log (repository);
"""
MIGRATIONS = (V1, V2, V3, V4, V5, V6)
NO_CAP = 2**62

SELECT_JOB = "SELECT * FROM jobs WHERE id = ?"
SELECT_DELIVERY = "SELECT job_id, seen_ts FROM deliveries WHERE delivery_id = ?"
NEXT_SEQ = "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
QUEUED_OF_KEY = "SELECT * FROM jobs INDEXED BY jobs_key_state WHERE key = ? AND state = 'queued'"
INSERT_JOB = f"INSERT INTO jobs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
UPDATE_JOB = f"UPDATE jobs SET {', '.join(f'{c} = ?' for c in COLUMNS if c != 'id')} WHERE id = ?"
REMEMBER_DELIVERY = "INSERT OR REPLACE INTO deliveries (delivery_id, job_id, seen_ts) VALUES (?, ?, ?)"
PROMOTE_DUE = """
UPDATE jobs INDEXED BY jobs_delayed SET not_before = NULL
WHERE state = 'queued' AND not_before IS NOT NULL AND not_before <= ?
"""
NEXT_RUNNABLE = """
SELECT * FROM jobs AS j INDEXED BY jobs_ready
WHERE j.state = 'queued' AND j.not_before IS NULL
  AND NOT EXISTS (SELECT 1 FROM jobs AS r INDEXED BY jobs_key_state WHERE r.key = j.key AND r.state = 'running')
  AND (SELECT COUNT(*) FROM jobs AS i INDEXED BY jobs_installation_running
       WHERE i.installation_id = j.installation_id AND i.state = 'running') < ?
ORDER BY j.priority, j.seq LIMIT 1
"""
RENEW = "UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running' AND lease_owner = ?"
EXPIRED = "SELECT * FROM jobs INDEXED BY jobs_lease WHERE state = 'running' AND lease_until < ?"
PAGE = "SELECT * FROM jobs INDEXED BY jobs_state_seq WHERE state = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
COUNTS = "SELECT state, COUNT(*) FROM jobs GROUP BY state"
PRUNE_AGE = "DELETE FROM jobs INDEXED BY jobs_finished WHERE finished_ts IS NOT NULL AND finished_ts < ?"
PRUNE_SIZE = """
DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs INDEXED BY jobs_finished WHERE finished_ts IS NOT NULL ORDER BY finished_ts LIMIT ?
)
"""
PRUNE_DELIVERIES = "DELETE FROM deliveries WHERE seen_ts < ?"
CLOSES_DUE = """
SELECT * FROM jobs INDEXED BY jobs_close_due WHERE close_due IS NOT NULL AND close_due <= ?
ORDER BY close_due LIMIT ?
"""
HOLD_CLOSE = "UPDATE jobs SET close_due = ? WHERE id = ? AND close_owed IS NOT NULL"
# A job owing a close has no finished_ts, so retention passes it by; its time starts once closed.
CLOSED = """
UPDATE jobs SET close_owed = NULL, close_due = NULL, finished_ts = ? WHERE id = ? AND close_owed IS NOT NULL
"""

AUDIT_COLUMNS = (
    "at", "delivery_id", "event", "action", "repository", "installation_id", "sender", "outcome", "status", "job_id",
)  # fmt: skip
INSERT_AUDIT = f"INSERT INTO audit ({', '.join(AUDIT_COLUMNS)}) VALUES ({', '.join('?' for _ in AUDIT_COLUMNS)})"
# Keeps the newest `?` entries (the seqs held are contiguous, see V3).
TRIM_AUDIT = "DELETE FROM audit WHERE seq <= (SELECT MAX(seq) FROM audit) - ?"
# The first entry (in recording order) young enough to stay; every older-recorded one goes.
FIRST_KEPT_AUDIT = "SELECT seq FROM audit WHERE at >= ? ORDER BY seq LIMIT 1"
PRUNE_AUDIT_BEFORE = "DELETE FROM audit WHERE seq < ?"
# One page: filters joined by AND before the ORDER BY (web/api.py names the columns, never the sender).
AUDIT_PAGE = "SELECT * FROM audit WHERE seq < ?{filters} ORDER BY seq DESC LIMIT ?"
AUDIT_FILTERS = ("delivery_id", "event", "outcome", "repository", "installation_id")

# The repository rate limit: the `limit`-th newest claim in the window decides when the next may start.
RATE_NTH_RECENT = """
SELECT at FROM repository_starts INDEXED BY repository_starts_window
WHERE repository = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?
"""
RATE_FORGET = "DELETE FROM repository_starts INDEXED BY repository_starts_window WHERE repository = ? AND at <= ?"
RATE_START = "INSERT INTO repository_starts (repository, at) VALUES (?, ?)"
RATE_FORGET_ALL = "DELETE FROM repository_starts WHERE at <= ?"
PARK = "UPDATE jobs SET not_before = ? WHERE id = ? AND state = 'queued'"

# Stored analyses and acknowledgements (sqlite_analyses.py).
SELECT_ANALYSIS = "SELECT record, payload FROM analyses WHERE id = ?"
UPSERT_ANALYSIS = """
INSERT OR REPLACE INTO analyses (id, repository, scope, head_sha, created_at, record, size, payload)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
DELETE_ANALYSIS = "DELETE FROM analyses WHERE id = ?"
# Newest first; read until a record decodes (a corrupted one is passed by).
LATEST_OF_SCOPE = """
SELECT record FROM analyses INDEXED BY analyses_scope WHERE repository = ? AND scope = ?
ORDER BY created_at DESC, id DESC
"""
LATEST_OF_HEAD = """
SELECT record FROM analyses INDEXED BY analyses_head WHERE repository = ? AND head_sha = ?
ORDER BY created_at DESC, id DESC
"""
HISTORY_PAGE = """
SELECT id, created_at, record FROM analyses INDEXED BY analyses_history
WHERE repository = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?
"""
# Read from analyses_age alone (a covering index): no payload page is read to total them.
ANALYSES_BYTES = "SELECT TOTAL(size) FROM analyses INDEXED BY analyses_age"
OLDEST_ANALYSES = "SELECT id, size FROM analyses INDEXED BY analyses_age ORDER BY created_at, id"
PRUNE_OLD_ANALYSES = "DELETE FROM analyses INDEXED BY analyses_age WHERE created_at < ?"
ACKS_OF_SCOPE = "SELECT signal_id, record FROM acknowledgements WHERE repository = ? AND scope = ? ORDER BY signal_id"
COUNT_ACKS = "SELECT COUNT(*) FROM acknowledgements WHERE repository = ? AND scope = ?"
HOLDS_ACK = "SELECT 1 FROM acknowledgements WHERE repository = ? AND scope = ? AND signal_id = ?"
UPSERT_ACK = """
INSERT OR REPLACE INTO acknowledgements (repository, scope, signal_id, at, record) VALUES (?, ?, ?, ?, ?)
"""
DELETE_ACK = "DELETE FROM acknowledgements WHERE repository = ? AND scope = ? AND signal_id = ?"
DELETE_SCOPE_ACKS = "DELETE FROM acknowledgements WHERE repository = ? AND scope = ?"
PRUNE_ACKS = "DELETE FROM acknowledgements INDEXED BY acknowledgements_at WHERE at < ?"
INSERT_ACK_EVENT = "INSERT INTO acknowledgement_log (at, repository, record) VALUES (?, ?, ?)"
# Keeps the newest `?` entries (the seqs held are contiguous, see V6).
TRIM_ACK_LOG = "DELETE FROM acknowledgement_log WHERE seq <= (SELECT MAX(seq) FROM acknowledgement_log) - ?"
FIRST_KEPT_ACK_EVENT = "SELECT seq FROM acknowledgement_log WHERE at >= ? ORDER BY seq LIMIT 1"
PRUNE_ACK_LOG_BEFORE = "DELETE FROM acknowledgement_log WHERE seq < ?"
ACK_LOG_PAGE = "SELECT seq, record FROM acknowledgement_log WHERE seq < ? ORDER BY seq DESC LIMIT ?"
ACK_LOG_PAGE_OF_REPOSITORY = """
SELECT seq, record FROM acknowledgement_log INDEXED BY acknowledgement_log_repository
WHERE repository = ? AND seq < ? ORDER BY seq DESC LIMIT ?
"""

# name → (statement, example parameters): the statements of intake and claim, and those of the
# stored analyses run per request or per analysis.
INDEXED: dict[str, tuple[str, tuple[object, ...]]] = {
    "get": (SELECT_JOB, ("x",)),
    "delivery": (SELECT_DELIVERY, ("x",)),
    "queued_of_key": (QUEUED_OF_KEY, ("k",)),
    "insert": (INSERT_JOB, tuple(None for _ in COLUMNS)),
    "update": (UPDATE_JOB, tuple(None for _ in COLUMNS)),
    "remember_delivery": (REMEMBER_DELIVERY, ("x", "y", 0.0)),
    "promote_due": (PROMOTE_DUE, (0.0,)),
    "next_runnable": (NEXT_RUNNABLE, (1,)),
    "renew": (RENEW, (0.0, "x", "o")),
    "expired": (EXPIRED, (0.0,)),
    "page": (PAGE, ("dead", 0, 1)),
    "prune_age": (PRUNE_AGE, (0.0,)),
    "prune_size": (PRUNE_SIZE, (1,)),
    "insert_audit": (INSERT_AUDIT, tuple(None for _ in AUDIT_COLUMNS)),
    "trim_audit": (TRIM_AUDIT, (1,)),
    "rate_nth_recent": (RATE_NTH_RECENT, ("o/r", 0.0, 1)),
    "rate_forget": (RATE_FORGET, ("o/r", 0.0)),
    "rate_start": (RATE_START, ("o/r", 0.0)),
    "park": (PARK, (0.0, "x")),
    **{
        f"audit_page_by_{name}": (AUDIT_PAGE.format(filters=f" AND {name} = ?"), (1, "x", 1))
        for name in ("delivery_id", "event", "outcome", "repository")
    },
    "closes_due": (CLOSES_DUE, (0.0, 1)),
    "select_analysis": (SELECT_ANALYSIS, ("x",)),
    "upsert_analysis": (UPSERT_ANALYSIS, ("x", "o/r", "s", "h", 0.0, "{}", 0, b"")),
    "delete_analysis": (DELETE_ANALYSIS, ("x",)),
    "latest_of_scope": (LATEST_OF_SCOPE, ("o/r", "s")),
    "latest_of_head": (LATEST_OF_HEAD, ("o/r", "h")),
    "history_page": (HISTORY_PAGE, ("o/r", 0.0, "x", 1)),
    "prune_old_analyses": (PRUNE_OLD_ANALYSES, (0.0,)),
    "acks_of_scope": (ACKS_OF_SCOPE, ("o/r", "s")),
    "count_acks": (COUNT_ACKS, ("o/r", "s")),
    "holds_ack": (HOLDS_ACK, ("o/r", "s", "x")),
    "upsert_ack": (UPSERT_ACK, ("o/r", "s", "x", 0.0, "{}")),
    "delete_ack": (DELETE_ACK, ("o/r", "s", "x")),
    "delete_scope_acks": (DELETE_SCOPE_ACKS, ("o/r", "s")),
    "prune_acks": (PRUNE_ACKS, (0.0,)),
    "insert_ack_event": (INSERT_ACK_EVENT, (0.0, "o/r", "{}")),
    "trim_ack_log": (TRIM_ACK_LOG, (1,)),
    "ack_log_page": (ACK_LOG_PAGE, (1, 1)),
    "ack_log_page_of_repository": (ACK_LOG_PAGE_OF_REPOSITORY, ("o/r", 1, 1)),
}


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Create or upgrade the schema in one transaction; refuse a file from a newer version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the job store {path} has schema version {version}, newer than this ChartImpact's"
                f" ({SCHEMA_VERSION}): upgrade ChartImpact or point CHARTIMPACT_QUEUE_URL elsewhere"
            )
        for script in MIGRATIONS[version:]:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        # PRAGMA takes no parameters; the value is our own integer.
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise

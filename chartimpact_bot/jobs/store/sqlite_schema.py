"""The sqlite schema, versioned with `PRAGMA user_version`, and the statements that must use an index.

Every query of intake (`add`, `for_delivery`) and of `claim` is named in `INDEXED` so a test can
read its query plan: none may scan the jobs table, whatever the number of jobs held. The hot
statements name their index (`INDEXED BY`): without statistics the planner prefers the
(state, seq) index, which walks every queued job, and with `INDEXED BY` sqlite refuses to run a
statement the named index cannot serve instead of silently scanning.
"""

from __future__ import annotations

import sqlite3

from .base import StoreError
from .codec import FIELDS

SCHEMA_VERSION = 5
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
MIGRATIONS = (V1, V2, V3, V4, V5)
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

# name → (statement, example parameters): the statements of intake and claim.
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

"""The embedded job store: one sqlite file in WAL mode, no extra service (what `python app.py` uses).

All database work runs on one thread per store, so the event loop never waits on the disk and
the connection is only ever used by the thread that opened it. Every change is one
`BEGIN IMMEDIATE` transaction: it takes the file's write lock before reading, so two stores on
one file (two processes) cannot both claim a job, and a reader never sees half a change.
`synchronous=NORMAL` in WAL mode keeps every committed transaction across a crash of the
process (kill -9); only a crash of the machine may lose the last ones.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from ...timestamps import iso
from ..analyses import AckEvent, Acknowledgement, AnalysisLimits, AnalysisRecord
from ..audit import AuditEntry, AuditQuery
from ..model import Ending, Job
from . import sqlite_analyses as analyses
from . import sqlite_results as results
from . import sqlite_schema as sql
from .base import (
    DELIVERY_WINDOW_SECONDS,
    LOST_WORKER,
    RATE_WINDOW_SECONDS,
    REVIVABLE,
    STATES,
    TERMINAL,
    Added,
    Clock,
    JobStore,
    Page,
    ResultLimits,
    Retention,
    StoreError,
    copy_stored,
    merge_newest,
)
from .codec import from_record, to_record

T = TypeVar("T")
BUSY_TIMEOUT_SECONDS = 10.0


class SqliteJobStore(JobStore):
    def __init__(self, path: str, *, clock: Clock = time.time) -> None:
        self.path = path
        self._clock = clock
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobstore-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._shut = False  # closed: no more calls (not to be confused with `_closed`, a paid run close)

    @classmethod
    async def open(cls, path: str, *, clock: Clock = time.time) -> SqliteJobStore:
        store = cls(path, clock=clock)
        try:
            await store._run(store._open)
        except BaseException:
            await store.close()
            raise
        return store

    # -- the protocol ---------------------------------------------------------------------

    async def add(self, job: Job, *, audit: AuditEntry | None = None) -> Added:
        return await self._run(self._tx, self._add, job, audit)

    async def get(self, job_id: str) -> Job | None:
        return await self._run(self._get, job_id)

    async def for_delivery(self, delivery_id: str) -> Job | None:
        return await self._run(self._for_delivery, delivery_id)

    async def _claim_next(self, owner: str, lease: float, installation_cap: int, repository_limit: int) -> Job | None:
        claim = functools.partial(
            self._claim, owner=owner, lease=lease, installation_cap=installation_cap, repository_limit=repository_limit
        )
        return await self._run(self._tx, claim)

    async def renew(self, job: Job, lease: float) -> bool:
        return await self._run(self._renew, job, lease)

    async def _save_held(self, job: Job) -> bool:
        return await self._run(self._tx, self._save, job)

    async def requeue(self, job: Job, *, not_before: float | None, error: str | None) -> Job | None:
        return await self._run(self._tx, self._requeue, job, not_before, error)

    async def revive(self, job_id: str) -> Added | None:
        return await self._run(self._tx, self._revive_by_id, job_id)

    async def recover(self) -> builtins.list[Job]:
        return await self._run(self._tx, self._recover)

    async def _hold_closes_due(self, limit: int, hold: float) -> builtins.list[Job]:
        return await self._run(self._tx, self._closes_due, limit, hold)

    async def closed(self, job_id: str) -> bool:
        return await self._run(self._tx, self._closed, job_id)

    async def close_later(self, job_id: str, at: float) -> bool:
        return await self._run(self._tx, self._close_later, job_id, at)

    async def _list_states(self, states: builtins.list[str], limit: int, before: int | None) -> Page[Job]:
        return await self._run(self._list, states, limit, before)

    async def counts(self) -> dict[str, int]:
        return await self._run(self._counts)

    async def prune(self, retention: Retention) -> int:
        return await self._run(self._tx, self._prune, retention)

    async def _get_result(self, digest: str) -> bytes | None:
        return await self._run(lambda: results.get(self._db(), self._clock(), digest))

    async def _put_result(self, digest: str, payload: bytes, ttl: float, limits: ResultLimits) -> None:
        await self._run(self._tx, lambda conn, now: results.put(conn, now, digest, payload, ttl=ttl, limits=limits))

    async def prune_results(self, limits: ResultLimits) -> int:
        return await self._run(self._tx, results.prune, limits)

    async def record_deliveries(self, entries: Sequence[AuditEntry], *, max_entries: int) -> None:
        await self._run(self._tx, self._record_deliveries, list(entries), max_entries)

    async def _list_deliveries(self, query: AuditQuery, limit: int, before: int | None) -> Page[AuditEntry]:
        return await self._run(self._deliveries, query, limit, before)

    async def prune_deliveries(self, retention: Retention) -> int:
        return await self._run(self._tx, self._prune_deliveries, retention)

    async def _put_analysis(self, record: AnalysisRecord, payload: bytes, limits: AnalysisLimits) -> None:
        await self._run(self._tx, analyses.put, record, payload, limits)

    async def _get_analysis(self, analysis_id: str) -> tuple[AnalysisRecord, bytes] | None:
        return await self._run(lambda: analyses.get(self._db(), analysis_id))

    async def _latest_analysis(self, repository: str, scope: str | None, head_sha: str | None) -> AnalysisRecord | None:
        return await self._run(lambda: analyses.latest(self._db(), repository, scope, head_sha))

    async def _list_analyses(self, repository: str, limit: int, cursor: str | None) -> Page[AnalysisRecord]:
        return await self._run(lambda: analyses.history(self._db(), repository, limit, cursor))

    async def prune_analyses(self, limits: AnalysisLimits) -> int:
        return await self._run(self._tx, analyses.prune, limits)

    async def acknowledgements(self, repository: str, scope: str) -> builtins.list[Acknowledgement]:
        return await self._run(lambda: analyses.acknowledgements(self._db(), repository, scope))

    async def _change_acknowledgements(
        self,
        repository: str,
        scope: str,
        *,
        add: builtins.list[Acknowledgement],
        remove: builtins.list[str] | None,
        events: builtins.list[AckEvent],
        max_per_scope: int,
        max_log: int,
    ) -> builtins.list[Acknowledgement]:
        change = functools.partial(
            analyses.change, add=add, remove=remove, events=events, max_per_scope=max_per_scope, max_log=max_log
        )
        return await self._run(self._tx, change, repository, scope)

    async def _list_acknowledgement_log(self, repository: str | None, limit: int, before: int | None) -> Page[AckEvent]:
        return await self._run(lambda: analyses.log(self._db(), repository, limit, before))

    async def ping(self) -> None:
        await self._run(lambda: self._db().execute("SELECT 1").fetchone())

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(self._close)
        self._shut = True
        self._thread.shutdown(wait=True)

    async def query_plans(self) -> dict[str, builtins.list[str]]:
        """EXPLAIN QUERY PLAN of every statement of `sqlite_schema.INDEXED` (tests read these)."""
        return await self._run(self._query_plans)

    # -- plumbing (all below runs on the store's thread) ------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._shut:
            raise StoreError(f"the job store {self.path} is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
        except sqlite3.Error as exc:
            # A locked, full or broken file: the store cannot be used now, which callers answer
            # (503, a retry later) rather than treat as a bug of theirs.
            raise StoreError(f"the job store {self.path} cannot be used: {exc}") from exc

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN ourselves, so sqlite3 never opens one behind us.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        self._conn = conn
        sql.migrate(conn, self.path)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the job store {self.path} is closed")
        return self._conn

    def _tx(self, fn: Callable[..., T], *args: Any) -> T:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            answer = fn(conn, self._clock(), *args)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return answer

    # -- operations, inside a transaction ------------------------------------------------------

    def _add(self, conn: sqlite3.Connection, now: float, job: Job, audit: AuditEntry | None) -> Added:
        added = self._add_job(conn, now, job)
        if audit is not None:
            audit.job_id = added.job.id
            if not (added.created or added.revived):
                audit.outcome, audit.status = "duplicate", 200
            _insert_audit(conn, audit)
        return added

    def _add_job(self, conn: sqlite3.Connection, now: float, job: Job) -> Added:
        seen = conn.execute(sql.SELECT_DELIVERY, (job.delivery_id,)).fetchone()
        if seen is not None and seen["seen_ts"] > now - DELIVERY_WINDOW_SECONDS:
            stored = self._load(conn, seen["job_id"])
            if stored is not None and stored.state == "dead":
                return self._revive(conn, now, stored)
            if stored is not None:
                return Added(stored, created=False)
        job.state, job.seq = "queued", self._next_seq(conn)
        job.lease_owner = job.lease_until = None
        superseded = self._supersede(conn, now, job)
        conn.execute(sql.INSERT_JOB, self._values(job, added=now, finished=None))
        conn.execute(sql.REMEMBER_DELIVERY, (job.delivery_id, job.id, now))
        return Added(job, created=True, superseded=superseded)

    def _claim(
        self,
        conn: sqlite3.Connection,
        now: float,
        *,
        owner: str,
        lease: float,
        installation_cap: int,
        repository_limit: int,
    ) -> Job | None:
        conn.execute(sql.PROMOTE_DUE, (now,))
        while True:
            row = conn.execute(sql.NEXT_RUNNABLE, (installation_cap or sql.NO_CAP,)).fetchone()
            if row is None:
                return None
            if not repository_limit:
                break
            allowed = _rate_allows_at(conn, now, row["repository"], repository_limit)
            if allowed is None:
                conn.execute(sql.RATE_START, (row["repository"], now))
                break
            # Out of the runnable index until its repository may start again; the next one is tried.
            conn.execute(sql.PARK, (allowed, row["id"]))
        job = _job(row)
        job.state, job.attempts, job.started_at = "running", job.attempts + 1, iso(now)
        job.not_before, job.finished_at = None, None
        # A token per claim, not the owner alone: after a recovery the same owner may claim the
        # job again, and the worker still holding the first claim must not be taken for it.
        job.lease_owner, job.lease_until = f"{owner}/{uuid.uuid4().hex[:12]}", now + lease
        self._write(conn, job, row["added_ts"], None)
        return job

    def _renew(self, job: Job, lease: float) -> bool:
        until = self._clock() + lease
        changed = self._db().execute(sql.RENEW, (until, job.id, job.lease_owner)).rowcount == 1
        if changed:
            job.lease_until = until
        return changed

    def _save(self, conn: sqlite3.Connection, now: float, job: Job) -> bool:
        row = self._held(conn, job)
        if row is None:
            return False
        stored = _take_writable(_job(row), job)
        finished = None
        if stored.state in TERMINAL:
            stored.finished_at, finished = stored.finished_at or iso(now), now
            stored.lease_owner = stored.lease_until = stored.not_before = None
            if stored.close_owed is not None:
                _owe_close(stored, stored.close_owed, now)
                finished = None  # kept from retention until its run is closed
        else:
            stored.close_owed = None  # only a finished job owes a close
        self._write(conn, stored, row["added_ts"], finished)
        copy_stored(job, stored)
        return True

    def _requeue(
        self, conn: sqlite3.Connection, now: float, job: Job, not_before: float | None, error: str | None
    ) -> Job | None:
        row = self._held(conn, job)
        if row is None:
            return None
        stored = _take_writable(_job(row), job)
        stored.error = error
        self._back_to_queue(conn, now, stored, row["added_ts"], not_before)
        copy_stored(job, stored)
        return stored

    def _recover(self, conn: sqlite3.Connection, now: float) -> builtins.list[Job]:
        recovered = []
        for row in conn.execute(sql.EXPIRED, (now,)).fetchall():
            job = _job(row)
            job.error = LOST_WORKER
            self._back_to_queue(conn, now, job, row["added_ts"], None)
            recovered.append(job)
        return recovered

    def _revive_by_id(self, conn: sqlite3.Connection, now: float, job_id: str) -> Added | None:
        stored = self._load(conn, job_id)
        if stored is None or stored.state not in REVIVABLE:
            return None
        return self._revive(conn, now, stored)

    def _revive(self, conn: sqlite3.Connection, now: float, job: Job) -> Added:
        # The newest job of its key now: it goes to the back of the queue and replaces queued ones.
        job.state, job.seq, job.attempts = "queued", self._next_seq(conn), 0
        job.started_at = job.finished_at = job.error = job.superseded_by = None
        job.not_before = job.lease_owner = job.lease_until = None
        job.close_owed, job.close_due = None, None  # it runs again: what it owes is its next ending's
        superseded = self._supersede(conn, now, job)
        self._write(conn, job, now, None)
        return Added(job, created=False, revived=True, superseded=superseded)

    def _closes_due(self, conn: sqlite3.Connection, now: float, limit: int, hold: float) -> builtins.list[Job]:
        due = [_job(row) for row in conn.execute(sql.CLOSES_DUE, (now, limit)).fetchall()]
        for job in due:
            job.close_due = now + hold
            conn.execute(sql.HOLD_CLOSE, (job.close_due, job.id))
        return due

    def _closed(self, conn: sqlite3.Connection, now: float, job_id: str) -> bool:
        return bool(conn.execute(sql.CLOSED, (now, job_id)).rowcount == 1)

    def _close_later(self, conn: sqlite3.Connection, now: float, job_id: str, at: float) -> bool:
        return bool(conn.execute(sql.HOLD_CLOSE, (at, job_id)).rowcount == 1)

    def _prune(self, conn: sqlite3.Connection, now: float, retention: Retention) -> int:
        removed = conn.execute(sql.PRUNE_AGE, (now - retention.max_age_seconds,)).rowcount
        held = int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
        if held > retention.max_kept:
            removed += conn.execute(sql.PRUNE_SIZE, (held - retention.max_kept,)).rowcount
        conn.execute(sql.PRUNE_DELIVERIES, (now - DELIVERY_WINDOW_SECONDS,))
        conn.execute(sql.RATE_FORGET_ALL, (now - RATE_WINDOW_SECONDS,))
        return removed

    def _record_deliveries(
        self, conn: sqlite3.Connection, now: float, entries: builtins.list[AuditEntry], max_entries: int
    ) -> None:
        for entry in entries:
            _insert_audit(conn, entry)
        conn.execute(sql.TRIM_AUDIT, (max_entries,))

    def _prune_deliveries(self, conn: sqlite3.Connection, now: float, retention: Retention) -> int:
        kept = conn.execute(sql.FIRST_KEPT_AUDIT, (now - retention.max_age_seconds,)).fetchone()
        if kept is None:
            removed = conn.execute("DELETE FROM audit").rowcount
        else:
            removed = conn.execute(sql.PRUNE_AUDIT_BEFORE, (kept["seq"],)).rowcount
        return int(removed + conn.execute(sql.TRIM_AUDIT, (retention.max_kept,)).rowcount)

    # -- reads, outside a transaction (one statement each, so each reads one snapshot) --------

    def _get(self, job_id: str) -> Job | None:
        return self._load(self._db(), job_id)

    def _for_delivery(self, delivery_id: str) -> Job | None:
        conn = self._db()
        seen = conn.execute(sql.SELECT_DELIVERY, (delivery_id,)).fetchone()
        if seen is None or seen["seen_ts"] <= self._clock() - DELIVERY_WINDOW_SECONDS:
            return None
        return self._load(conn, seen["job_id"])

    def _list(self, states: builtins.list[str], limit: int, before: int | None) -> Page[Job]:
        conn = self._db()
        bound = before if before is not None else 2**62
        pages = [[_job(r) for r in conn.execute(sql.PAGE, (s, bound, limit + 1))] for s in states]
        return merge_newest(pages, limit)

    def _deliveries(self, query: AuditQuery, limit: int, before: int | None) -> Page[AuditEntry]:
        filters = [(name, getattr(query, name)) for name in sql.AUDIT_FILTERS if getattr(query, name) is not None]
        statement = sql.AUDIT_PAGE.format(filters="".join(f" AND {name} = ?" for name, _ in filters))
        bound = before if before is not None else 2**62
        rows = self._db().execute(statement, (bound, *(value for _, value in filters), limit + 1)).fetchall()
        entries = [_audit_entry(row) for row in rows[:limit]]
        return Page(entries, str(entries[-1].seq) if len(rows) > limit else None)

    def _counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATES, 0)
        for state, count in self._db().execute(sql.COUNTS):
            counts[state] = count
        return counts

    def _query_plans(self) -> dict[str, builtins.list[str]]:
        conn = self._db()
        return {
            name: [row["detail"] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params)]
            for name, (statement, params) in sql.INDEXED.items()
        }

    # -- helpers ---------------------------------------------------------------------------

    def _load(self, conn: sqlite3.Connection, job_id: str) -> Job | None:
        row = conn.execute(sql.SELECT_JOB, (job_id,)).fetchone()
        return None if row is None else _job(row)

    def _held(self, conn: sqlite3.Connection, job: Job) -> sqlite3.Row | None:
        """The stored row if the caller still holds the job's lease."""
        row: sqlite3.Row | None = conn.execute(sql.SELECT_JOB, (job.id,)).fetchone()
        if row is None or row["state"] != "running" or job.lease_owner is None:
            return None
        return row if row["lease_owner"] == job.lease_owner else None

    def _next_seq(self, conn: sqlite3.Connection) -> int:
        return int(conn.execute(sql.NEXT_SEQ).fetchone()[0])

    def _supersede(self, conn: sqlite3.Connection, now: float, newer: Job) -> builtins.list[Job]:
        superseded = []
        for row in conn.execute(sql.QUEUED_OF_KEY, (newer.key,)).fetchall():
            if row["id"] == newer.id:
                continue
            old = _job(row)
            _finish_superseded(old, newer.id, now)
            self._write(conn, old, row["added_ts"], None)
            superseded.append(old)
        return superseded

    def _back_to_queue(
        self, conn: sqlite3.Connection, now: float, job: Job, added: float, not_before: float | None
    ) -> None:
        job.lease_owner = job.lease_until = None
        newer = next((r for r in conn.execute(sql.QUEUED_OF_KEY, (job.key,)) if r["id"] != job.id), None)
        if newer is not None:
            _finish_superseded(job, newer["id"], now)
            self._write(conn, job, added, None)
        else:
            job.state, job.not_before = "queued", not_before
            job.close_owed = job.close_due = None
            self._write(conn, job, added, None)

    def _write(self, conn: sqlite3.Connection, job: Job, added: float, finished: float | None) -> None:
        values = self._values(job, added=added, finished=finished)
        conn.execute(sql.UPDATE_JOB, (*values[1:], values[0]))

    @staticmethod
    def _values(job: Job, *, added: float, finished: float | None) -> tuple[Any, ...]:
        record = to_record(job)
        extra = {"added_ts": added, "finished_ts": finished}
        return tuple(record.get(c, extra.get(c)) for c in sql.COLUMNS)


def _finish_superseded(job: Job, by: str, now: float) -> None:
    job.state, job.superseded_by, job.finished_at = "superseded", by, iso(now)
    job.not_before = job.lease_owner = job.lease_until = None
    _owe_close(job, "superseded", now)


def _owe_close(job: Job, ending: Ending, now: float) -> None:
    """The job's run is to be closed, from now on (its row keeps no finished_ts meanwhile)."""
    job.close_owed, job.close_due = ending, now


def _take_writable(stored: Job, job: Job) -> Job:
    """The stored job with what a holder may change taken from the caller's copy."""
    return replace(
        stored,
        state=job.state,
        result=job.result,
        params=job.params,
        check_run=job.check_run,
        error=job.error,
        attempts=job.attempts,
        close_owed=job.close_owed,
    )


def _rate_allows_at(conn: sqlite3.Connection, now: float, repository: str, limit: int) -> float | None:
    """None when `repository` may start a job now, else the moment it may (base.py, rate limit)."""
    since = now - RATE_WINDOW_SECONDS
    conn.execute(sql.RATE_FORGET, (repository, since))
    nth = conn.execute(sql.RATE_NTH_RECENT, (repository, since, limit - 1)).fetchone()
    if nth is None:
        return None
    allowed = float(nth["at"]) + RATE_WINDOW_SECONDS
    return allowed if allowed > now else None  # a float's rounding must not park a job until now


def _insert_audit(conn: sqlite3.Connection, entry: AuditEntry) -> None:
    cursor = conn.execute(sql.INSERT_AUDIT, tuple(getattr(entry, c) for c in sql.AUDIT_COLUMNS))
    entry.seq = int(cursor.lastrowid or 0)


def _audit_entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(**{name: row[name] for name in (*sql.AUDIT_COLUMNS, "seq")})


def _job(row: sqlite3.Row) -> Job:
    return from_record(dict(zip(row.keys(), tuple(row), strict=True)))

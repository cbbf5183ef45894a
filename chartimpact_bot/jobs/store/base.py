"""The durable job store: what every backend promises (docs/adr/0002-job-store.md).

The store holds jobs and their scheduling state, nothing else; running them (workers, retry
policy, GitHub side effects) belongs to the queue built on top of it. Every operation below is
atomic on each backend, also between several store objects on one sqlite file or one Redis
(several instances of the App), so two workers never hold the same job at once.

Semantics, identical on sqlite and Redis:

- **Intake order and priority.** `add` gives a job the next `seq` (its age). A runnable job is
  one that is `queued`, whose `not_before` has passed, and whose `key` has no `running` job;
  `claim` takes the runnable job with the lowest `priority`, then the lowest `seq`.
- **Fairness.** `claim(..., installation_cap=n)` skips the jobs of an installation that already
  has `n` running jobs (counted in the store, so across every instance sharing it): one
  installation's fifty pull requests leave workers for the others. None (or 0): no cap.
- **Rate limit.** `claim(..., repository_limit=n)` starts at most `n` jobs of one repository in
  any `RATE_WINDOW_SECONDS` (a sliding window of the claims, counted in the store across every
  instance; every claim counts, a retry's too). A runnable job whose repository is at its limit
  is not claimed: claim parks it (it stays `queued`, attempts and error unchanged, `not_before`
  = the moment the window allows the repository's next start, its age kept) and goes on to the
  next job, so other repositories' jobs run meanwhile. None (or 0): no limit.
- **Deduplication.** A delivery id seen in the last `DELIVERY_WINDOW_SECONDS` is not stored
  twice: `add` answers the job it created. If that job is `dead`, the redelivery revives it
  (see `revive`), which is how an operator re-runs a dead job from GitHub's "Redeliver".
- **Supersede.** When a job is added (or revived), every other `queued` job of its key
  (waiting for its turn or for a retry) becomes `superseded` with `superseded_by` set, and is
  returned so the caller can close the check runs it opened. A running job is never
  superseded by the store: it finishes, and the newer job runs after it.
- **Leases.** `claim` marks the job `running`, `attempts + 1`, `started_at` now, and leases it
  to `owner` until now + `lease`. The holder extends it with `renew`; a job whose lease
  expired is returned to `queued` by `recover` (at-least-once: the job runs again, so side
  effects must be idempotent). A lease is identified by (owner, attempts): `renew` and `save`
  by a worker whose lease was lost (recovered, perhaps claimed by another) change nothing.
- **Retries.** `requeue` returns a running job to `queued` with an error and a `not_before`
  time. `requeue` and `recover` supersede the job instead when a newer queued job of its key
  already exists, since that one will publish newer results.
- **Finishing.** `save` writes a job the caller holds: its `result`, `params`, `check_run`,
  `error` and `attempts`, and its state, which is `running` (progress) or a terminal state; a
  terminal state sets `finished_at` and releases the lease and the key.
- **Owed closes.** A job that ends without its worker publishing a result may leave a check
  run `in_progress`; the store keeps that debt until it is paid, so that neither a crash nor
  GitHub failing at that moment strands the run. A job owes a close (`close_owed`: why it
  ended, `superseded`, `dead`, `stopped` or `failed`; `close_due`: when it is next tried) when
  the store supersedes it (in the same atomic change), or when a holder `save`s it finished
  with `close_owed` set. `closes_due(limit, hold)` answers up to `limit` finished jobs whose
  close is due, soonest first, and holds each for `hold` seconds (moves its `close_due` on), so
  several instances do not close the same run at once, and a close taken by an instance that
  vanished is due again after `hold`. `closed` pays the debt; `close_later(at)` keeps it, due
  at `at` (after a rate-limit reset, or a backoff). Both answer False when nothing was owed
  (another instance paid it). A job owing a close is kept from retention until it is closed,
  and its retention time starts then; `revive` forgets the debt (the job will end again).
- **Dead letters.** `dead` jobs are kept like any finished job; `revive` puts a `dead` or
  `failed` job back in the queue as the newest job, attempts reset, same id.
- **Listing.** `list` pages jobs in the given states newest first (by `seq`); the cursor is
  opaque. `counts` answers the number of jobs in every state.
- **Retention.** `prune` removes finished jobs older than `max_age_seconds` and then the oldest
  finished jobs while more than `max_kept` are held; `queued` and `running` jobs are never
  removed, so the store may hold more than `max_kept` when that many are unfinished.
- **Audit log.** Every webhook delivery is recorded as an `AuditEntry` (jobs/audit.py), in
  recording order (`seq`). `add(job, audit=entry)` records the delivery's entry in the same
  atomic change as the job, so an accepted delivery's entry exists exactly when its job does:
  the store sets the entry's `job_id` to the job it answers and, when that is a job already
  stored for the delivery (not created or revived), records the entry as `duplicate` with
  status 200. `record_deliveries(entries, max_entries)` records a batch (the other outcomes,
  written behind by jobs/audit_writer.py), sets their `seq`, and then removes the oldest
  entries while more than `max_entries` are held (a few thousand per call at most, so a
  lowered bound takes effect over several calls), so a flood of unsigned deliveries cannot
  grow the store without bound. `deliveries(query)` pages the entries matching every filter of the query, newest
  (highest `seq`) first, with an opaque cursor; a page may hold fewer than `limit` entries
  while a cursor is answered. `prune_deliveries` removes the oldest entries while they are
  older than `max_age_seconds` (in recording order, so an entry written behind a younger one
  goes on the next run), then the oldest while more than `max_kept` are held.
- **Cost.** `add`, `get`, `for_delivery`, `renew`, `save`, `closed` and `close_later` touch a bounded number of index
  entries whatever the number of jobs held; `claim` skips only the runnable-looking jobs whose
  key is busy (at most one queued job per key can exist, so at most one per running job), and
  with a cap the queued jobs of the installations at their cap; with a rate limit it parks each
  job of a repository at its limit once per window. An audit entry adds a bounded number of
  index entries to `add`.
- **Result cache.** `put_result` stores an opaque payload under a digest (hex, at most
  `MAX_DIGEST_CHARS`), replacing one stored before, expiring `ttl` seconds after now; then, while
  more than `limits.max_entries` entries or `limits.max_bytes` bytes of payload are held, it
  removes the entries that expire soonest (never the one just stored). A payload larger than
  `max_bytes` is not stored (False). `get_result` answers the payload until it expires, then
  None. `prune_results` removes the expired entries, then evicts as `put_result` does. The
  payload is bytes the store does not interpret: its reader must treat it as untrusted (a
  shared Redis is written by every instance and whoever else can reach it).
- **Stored analyses** (issue 12, jobs/analyses.py). `put_analysis` stores a record and its
  opaque payload under the record's id (replacing one stored before with that id); then, while
  more than `limits.max_bytes` bytes of payload are held, it removes the oldest analyses (by
  `created_at`, then id; never the one just stored). A payload larger than `max_bytes` is not
  stored (False). `get_analysis` answers the record and payload; `latest_analysis` the newest
  record (by `created_at`, then id) of a repository with the given scope, or with the given head
  commit; `analyses` pages a repository's records newest first (opaque cursor). `prune_analyses`
  removes the analyses older than `limits.max_age_seconds`, then evicts as `put_analysis` does,
  and removes acknowledgements made (`at`) more than `max_age_seconds` ago and the oldest
  acknowledgement log entries while older than that (in recording order, as the audit log's).
  Like the result cache's, a payload is untrusted when read back; so is a record: one that does
  not read back as one (corrupted, written by something else) is passed by, as if absent
  (`get_analysis` answers None, `latest_analysis` the newest that reads, and a page may hold
  fewer than `limit` while a cursor is answered). Records are encoded once for both backends
  (store/analyses_codec.py).
- **Acknowledgements.** Kept per (repository, scope), at most one per signal id.
  `change_acknowledgements` applies, in one atomic change, `remove` (signal ids; None: every
  acknowledgement of the scope) and then `add` (an acknowledgement of a signal already held
  replaces it), appends `events` to the acknowledgement log (each entry stored gets the next
  `seq`, in order; the caller's events, frozen, are left as they are), and answers the scope's
  acknowledgements after the change, sorted by signal id. A scope holding `max_per_scope`
  acknowledgements takes no new signal ids (replacing one held still works; every event is
  logged as given all the same); the log keeps at most `max_log` entries, removing the oldest (on
  Redis a few thousand per change at most, as the audit log's, so a lowered bound takes effect
  over several changes). `acknowledgement_log` pages the log newest first (by `seq`), all
  repositories or one. An acknowledgement or log entry that does not read back is passed by.
- **Time.** Every backend reads time from its `clock` (epoch seconds), so tests move time on
  instead of sleeping.
- **Errors.** A backend that cannot be used (unreachable, locked, closed, full) raises
  `StoreError`, never its driver's own exceptions, so callers can answer 503 or retry later.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..analyses import AckEvent, Acknowledgement, AnalysisLimits, AnalysisRecord, check_analysis_id
from ..audit import AuditEntry, AuditQuery
from ..model import Job, JobState

Clock = Callable[[], float]
DELIVERY_WINDOW_SECONDS = 24 * 3600
RATE_WINDOW_SECONDS = 60.0  # the repository rate limit counts the claims of the last minute
STATES: tuple[JobState, ...] = ("queued", "running", "succeeded", "failed", "superseded", "dead")
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "superseded", "dead"})
REVIVABLE: frozenset[str] = frozenset({"dead", "failed"})
LOST_WORKER = "the worker running this job stopped; queued again"
Item = TypeVar("Item", Job, AuditEntry, AnalysisRecord, AckEvent)


class StoreError(Exception):
    """The store cannot be used: unreachable, or its data is from a newer version."""


@dataclass(frozen=True, slots=True)
class Added:
    """What `add` did: `job` is the stored one (the new job, or the one seen for that delivery)."""

    job: Job
    created: bool
    revived: bool = False
    superseded: list[Job] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Page(Generic[Item]):
    """One page of a listing (jobs, or audit entries), newest first."""

    items: list[Item]
    cursor: str | None  # pass back for the next page; None when this is the last


@dataclass(frozen=True, slots=True)
class Retention:
    """What `prune` keeps of finished jobs, and `prune_deliveries` of audit entries."""

    max_age_seconds: float
    max_kept: int


@dataclass(frozen=True, slots=True)
class ResultLimits:
    """What the result cache may hold in all (RESULT_CACHE_MAX_ENTRIES, RESULT_CACHE_MAX_MB)."""

    max_entries: int
    max_bytes: int


class JobStore(abc.ABC):
    """What a backend implements. The checks of the callers' arguments are made here, once:
    a method that checks them calls the backend's step of the same name with a `_` (`save` →
    `_save_held`…), its arguments checked and normalized."""

    @abc.abstractmethod
    async def add(self, job: Job, *, audit: AuditEntry | None = None) -> Added:
        """Store a new job (state `queued`), or answer the job already stored for its delivery;
        record `audit`, the delivery's entry, with it (accepted, or duplicate)."""

    @abc.abstractmethod
    async def get(self, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    async def for_delivery(self, delivery_id: str) -> Job | None:
        """The job stored for a delivery id within the dedup window, if any."""

    async def claim(
        self,
        owner: str,
        lease: float,
        *,
        installation_cap: int | None = None,
        repository_limit: int | None = None,
    ) -> Job | None:
        """Take the next runnable job for `owner`, leased for `lease` seconds; None if none is.
        `installation_cap`: skip the jobs of installations with that many running jobs;
        `repository_limit`: park the jobs of repositories with that many starts in the window."""
        return await self._claim_next(owner, lease, installation_cap or 0, repository_limit or 0)

    @abc.abstractmethod
    async def _claim_next(self, owner: str, lease: float, installation_cap: int, repository_limit: int) -> Job | None:
        """`claim`, a cap or limit of 0 meaning none."""

    @abc.abstractmethod
    async def renew(self, job: Job, lease: float) -> bool:
        """Extend the lease of a job the caller holds; False when the lease was lost."""

    async def save(self, job: Job) -> bool:
        """Write a held job (state `running` or terminal); False when the lease was lost."""
        if job.state != "running" and job.state not in TERMINAL:
            raise ValueError(f"save takes a running or finished job, not {job.state!r}: use requeue or revive")
        return await self._save_held(job)

    @abc.abstractmethod
    async def _save_held(self, job: Job) -> bool: ...

    @abc.abstractmethod
    async def requeue(self, job: Job, *, not_before: float | None, error: str | None) -> Job | None:
        """Return a held job to the queue (retry); None when the lease was lost. The answer's
        state is `queued`, or `superseded` when a newer job of its key is waiting."""

    @abc.abstractmethod
    async def revive(self, job_id: str) -> Added | None:
        """Queue a dead or failed job again (same id, attempts 0); None if it is neither."""

    @abc.abstractmethod
    async def recover(self) -> builtins.list[Job]:
        """Return running jobs whose lease expired to the queue; answers them as now stored."""

    async def closes_due(self, limit: int, hold: float) -> builtins.list[Job]:
        """Finished jobs owing a close that is due now, soonest first; each held for `hold` s."""
        return await self._hold_closes_due(max(1, limit), hold)

    @abc.abstractmethod
    async def _hold_closes_due(self, limit: int, hold: float) -> builtins.list[Job]: ...

    @abc.abstractmethod
    async def closed(self, job_id: str) -> bool:
        """The job's owed close was made; False when it owed none."""

    @abc.abstractmethod
    async def close_later(self, job_id: str, at: float) -> bool:
        """The job's close is still owed, due at `at` (epoch seconds); False when it owed none."""

    async def list(self, states: Sequence[str], *, limit: int = 50, cursor: str | None = None) -> Page[Job]:
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise ValueError(f"unknown job state {unknown[0]!r}; expected one of {', '.join(STATES)}")
        return await self._list_states(list(dict.fromkeys(states)), max(1, limit), parse_cursor(cursor))

    @abc.abstractmethod
    async def _list_states(self, states: builtins.list[str], limit: int, before: int | None) -> Page[Job]:
        """Each state's jobs with a seq below `before` (all when None), newest first: merge_newest."""

    @abc.abstractmethod
    async def counts(self) -> dict[str, int]: ...

    @abc.abstractmethod
    async def prune(self, retention: Retention) -> int:
        """Remove finished jobs by age, then by number; answers how many were removed."""

    async def get_result(self, digest: str) -> bytes | None:
        """The result-cache payload stored under `digest`; None when absent or expired."""
        return await self._get_result(check_digest(digest))

    @abc.abstractmethod
    async def _get_result(self, digest: str) -> bytes | None: ...

    async def put_result(self, digest: str, payload: bytes, *, ttl: float, limits: ResultLimits) -> bool:
        """Store a result-cache payload for `ttl` seconds, then evict down to `limits`; False
        when it is larger than the whole cache (not stored)."""
        check_digest(digest)
        if not ttl > 0:
            raise ValueError(f"a result's ttl is a positive number of seconds, not {ttl!r}")
        if limits.max_entries < 1 or limits.max_bytes < 1:
            raise ValueError(f"result limits must be positive, not {limits}")
        if len(payload) > limits.max_bytes:
            return False
        await self._put_result(digest, payload, ttl, limits)
        return True

    @abc.abstractmethod
    async def _put_result(self, digest: str, payload: bytes, ttl: float, limits: ResultLimits) -> None: ...

    @abc.abstractmethod
    async def prune_results(self, limits: ResultLimits) -> int:
        """Remove expired result-cache entries, then evict down to `limits`; answers how many."""

    @abc.abstractmethod
    async def record_deliveries(self, entries: Sequence[AuditEntry], *, max_entries: int) -> None:
        """Record audit entries, then keep at most `max_entries`, removing the oldest."""

    async def deliveries(self, query: AuditQuery, *, limit: int = 50, cursor: str | None = None) -> Page[AuditEntry]:
        """Audit entries matching `query`, newest first."""
        return await self._list_deliveries(query, max(1, limit), parse_cursor(cursor))

    @abc.abstractmethod
    async def _list_deliveries(self, query: AuditQuery, limit: int, before: int | None) -> Page[AuditEntry]: ...

    @abc.abstractmethod
    async def prune_deliveries(self, retention: Retention) -> int:
        """Remove audit entries by age, then by number; answers how many were removed."""

    async def put_analysis(self, record: AnalysisRecord, payload: bytes, *, limits: AnalysisLimits) -> bool:
        """Store an analysis, then evict the oldest down to `limits`; False when its payload is
        larger than `limits.max_bytes` (not stored)."""
        if limits.max_bytes < 1 or not limits.max_age_seconds > 0:
            raise ValueError(f"analysis limits must be positive, not {limits}")
        if len(payload) > limits.max_bytes:
            return False
        await self._put_analysis(record, payload, limits)
        return True

    @abc.abstractmethod
    async def _put_analysis(self, record: AnalysisRecord, payload: bytes, limits: AnalysisLimits) -> None: ...

    async def get_analysis(self, analysis_id: str) -> tuple[AnalysisRecord, bytes] | None:
        """The record and payload of a stored analysis; None when absent (or pruned)."""
        return await self._get_analysis(check_analysis_id(analysis_id))

    @abc.abstractmethod
    async def _get_analysis(self, analysis_id: str) -> tuple[AnalysisRecord, bytes] | None: ...

    async def latest_analysis(
        self, repository: str, *, scope: str | None = None, head_sha: str | None = None
    ) -> AnalysisRecord | None:
        """The newest analysis of `repository` with that scope, or with that head commit (one of the two)."""
        if (scope is None) == (head_sha is None):
            raise ValueError("latest_analysis takes a scope or a head commit, not both or neither")
        return await self._latest_analysis(repository, scope, head_sha)

    @abc.abstractmethod
    async def _latest_analysis(
        self, repository: str, scope: str | None, head_sha: str | None
    ) -> AnalysisRecord | None: ...

    async def analyses(self, repository: str, *, limit: int = 50, cursor: str | None = None) -> Page[AnalysisRecord]:
        """The stored analyses of a repository, newest first."""
        return await self._list_analyses(repository, max(1, limit), cursor)

    @abc.abstractmethod
    async def _list_analyses(self, repository: str, limit: int, cursor: str | None) -> Page[AnalysisRecord]: ...

    @abc.abstractmethod
    async def prune_analyses(self, limits: AnalysisLimits) -> int:
        """Remove analyses by age, then by size, and old acknowledgements; answers how many analyses."""

    @abc.abstractmethod
    async def acknowledgements(self, repository: str, scope: str) -> builtins.list[Acknowledgement]:
        """The acknowledgements held for a scope, sorted by signal id."""

    async def change_acknowledgements(
        self,
        repository: str,
        scope: str,
        *,
        add: Sequence[Acknowledgement] = (),
        remove: Sequence[str] | None = (),
        events: Sequence[AckEvent] = (),
        max_per_scope: int = 1000,
        max_log: int = 100_000,
    ) -> builtins.list[Acknowledgement]:
        """Remove, then add, and log, atomically; answers the scope's acknowledgements after."""
        if max_per_scope < 1 or max_log < 1:
            raise ValueError("acknowledgement bounds must be positive")
        return await self._change_acknowledgements(
            repository,
            scope,
            add=list(add),
            remove=None if remove is None else list(remove),
            events=list(events),
            max_per_scope=max_per_scope,
            max_log=max_log,
        )

    @abc.abstractmethod
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
    ) -> builtins.list[Acknowledgement]: ...

    async def acknowledgement_log(
        self, repository: str | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> Page[AckEvent]:
        """Acknowledgement log entries, newest first; of one repository, or of all."""
        return await self._list_acknowledgement_log(repository, max(1, limit), parse_cursor(cursor))

    @abc.abstractmethod
    async def _list_acknowledgement_log(
        self, repository: str | None, limit: int, before: int | None
    ) -> Page[AckEvent]: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StoreError when the store cannot be reached (for /readyz)."""

    @abc.abstractmethod
    async def close(self) -> None: ...


MAX_DIGEST_CHARS = 128
_HEX = frozenset("0123456789abcdef")


def check_digest(digest: str) -> str:
    """A result digest is lowercase hex: it becomes part of a key name on Redis."""
    if not 0 < len(digest) <= MAX_DIGEST_CHARS or not set(digest) <= _HEX:
        raise ValueError(f"a result digest is 1 to {MAX_DIGEST_CHARS} lowercase hex digits, not {digest[:40]!r}")
    return digest


def merge_newest(pages: builtins.list[builtins.list[Job]], limit: int) -> Page[Job]:
    """Merge per-state pages into one page. Each page holds up to `limit + 1` jobs, newest first,
    so more jobs exist exactly when the pages hold more than `limit` together."""
    merged = sorted((job for page in pages for job in page), key=lambda j: j.seq, reverse=True)
    more = len(merged) > limit
    merged = merged[:limit]
    return Page(merged, str(merged[-1].seq) if more and merged else None)


def copy_stored(job: Job, stored: Job) -> None:
    """Give the caller's copy of a job what the store decided (its state, lease, times…)."""
    for name in _STORED_BY_US:
        setattr(job, name, getattr(stored, name))


_STORED_BY_US = (
    "state",
    "seq",
    "attempts",
    "started_at",
    "finished_at",
    "lease_owner",
    "lease_until",
    "not_before",
    "superseded_by",
    "error",
    "close_owed",
    "close_due",
)


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    # A seq is a 64-bit integer on both backends: anything longer did not come from a store.
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19 or int(cursor) >= 2**63:
        raise ValueError(f"not a cursor from this store: {cursor[:40]!r}")
    return int(cursor)

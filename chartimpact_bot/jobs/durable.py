"""The job queue on the durable job store (store/base.py says what the store promises).

- **Intake.** `submit` commits the job to the store before it returns, so the webhook's 202
  follows a durable write (with the delivery's audit entry, when one is given). A delivery
  already seen answers the job it created; a redelivery of a dead job revives it (same id,
  attempts from zero). The queued jobs the new one supersedes get their check runs completed
  ("superseded by <sha>") by the closer (below).
- **Workers.** `concurrency` tasks claim jobs from the store with a lease of `lease` seconds and
  renew it every third of that while the runner works. A job whose lease was lost (this instance
  stalled, another recovered and claimed it) is cancelled here and its outcome discarded.
  `installation_concurrency` caps the running jobs of one installation (in the store, so over
  every instance): one installation's burst of pull requests cannot starve the others.
  `repository_rate_limit` starts at most that many jobs of one repository per minute (in the
  store, over every instance): a job over it waits in the queue, not failed and its attempt not
  counted, while other repositories' jobs run. Several instances on one store (one sqlite
  file, one Redis) share the work: every claim is atomic in the store.
- **Retries.** A TransientError returns the job to the queue for attempt n + 1 after
  `retry_delay * 2**(n-1)`, ±20 % jitter, and at least the wait GitHub asked for. After
  `max_attempts` the job is `dead` with its error and its check run is completed by the closer.
  A job superseded while waiting for its retry has its run completed the same way as on intake.
- **Rate limits.** A RateLimited error (the installation's primary limit is spent) parks the job
  until the reset: it is queued with `not_before` = the reset, and the attempt is given back
  (attempts - 1), so waiting for GitHub never makes a job `dead`, however long or often.
- **Recovery.** `recover()` runs at start-up and every `lease / 3` seconds: jobs of a vanished
  instance come back to the queue once their lease expired, and their next attempt reuses the
  check run they opened (the runner checkpoints it).
- **Closing runs.** A job that ends without publishing (superseded, dead, stopped, or failed
  when the runner's own report of the failure did not reach GitHub) owes its check run a
  close, in the store, from the same write that ended it. The RunCloser (closer.py) pays these
  debts: at once when this instance ended the job, at start-up and every `lease / 3` seconds
  for any instance's (one that crashed, or met GitHub failing), holding each close it takes
  for `lease` seconds; a close GitHub refuses for now is tried again after the rate limit's
  reset or after `retry_delay`.
- **Shutdown.** `shutdown(grace)` stops intake (QueueClosed), stops claiming, lets the running
  jobs finish for up to `grace` seconds and then cancels the rest. On a durable store they are
  returned to the queue: their check runs stay `in_progress` until the next instance (or
  another one sharing the store) runs them again and completes them. On `memory://` nothing
  would resume them, so their runs are completed: "ChartImpact stopped; re-run to analyze",
  and the jobs end `failed`. The closes due are tried once more before the instance stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog

from ..core.errors import unexpected_failure
from .audit import AuditEntry
from .closer import RunCloser
from .model import Job, RateLimited, TransientError
from .queue import JobRunner, QueueClosed
from .store import Added, JobStore
from .store.base import Clock

log = structlog.get_logger(__name__)
IDLE_POLL_SECONDS = 0.5  # how often an idle worker looks for work other instances queued or due retries
RETURN_TIMEOUT_SECONDS = 10.0
STOPPED = "ChartImpact stopped; re-run to analyze"
RETURNED = "the instance stopped before the job finished; queued again"
# Told of every job that ended on this instance after running (succeeded, failed, dead), with
# the seconds its last attempt took: the web layer's metrics listen here (jobs/ imports no web).
JobEnded = Callable[[Job, float], None]


class _Attempt:
    """One claim of a job: `lost` once the store said another worker may have it."""

    __slots__ = ("lost",)

    def __init__(self) -> None:
        self.lost = False


class DurableJobQueue:
    def __init__(
        self,
        store: JobStore,
        runner: JobRunner,
        *,
        concurrency: int = 2,
        installation_concurrency: int | None = None,
        repository_rate_limit: int | None = None,
        max_attempts: int = 3,
        retry_delay: float = 30.0,
        lease: float = 30.0,
        durable: bool = True,
        clock: Clock = time.time,
        owner: str | None = None,
        on_job_ended: JobEnded | None = None,
    ) -> None:
        self.store = store
        self._runner = runner
        self._concurrency = concurrency
        self._installation_cap = installation_concurrency or None
        self._repository_limit = repository_rate_limit or None
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._lease = lease
        self._durable = durable
        self._clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()
        self._accepting = True
        self._claiming = True
        self._workers: list[asyncio.Task[None]] = []
        self._maintenance: asyncio.Task[None] | None = None
        self._running: dict[str, asyncio.Task[None]] = {}  # job id → the runner's task
        self._closer = RunCloser(store, runner, interval=lease / 3, hold=lease, retry_delay=retry_delay, clock=clock)
        self._finished: dict[str, asyncio.Event] = {}  # run_now waiting for a job
        self._on_job_ended = on_job_ended

    # -- intake and status ------------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        return self._accepting

    async def submit(self, job: Job, *, audit: AuditEntry | None = None) -> Added:
        if not self._accepting:
            raise QueueClosed("the instance is shutting down")
        added = await self.store.add(job, audit=audit)
        if added.superseded:
            self._closer.wanted()
        if added.created or added.revived:
            self._wake.set()
        return added

    async def run_now(self, job: Job, *, audit: AuditEntry | None = None) -> Added:
        added = await self.submit(job, audit=audit)
        if added.created or added.revived:
            await self.wait(added.job.id)
        stored = await self.store.get(added.job.id)
        return Added(stored or added.job, added.created, added.revived, added.superseded)

    async def wait(self, job_id: str) -> None:
        """Until the job finished, or waits for a retry (GitHub asked us to wait)."""
        event = self._finished.setdefault(job_id, asyncio.Event())
        try:
            while True:
                job = await self.store.get(job_id)
                waiting = job is not None and job.state == "queued" and bool(job.attempts or job.not_before)
                if job is None or job.state not in ("queued", "running") or waiting:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), IDLE_POLL_SECONDS)
        finally:
            self._finished.pop(job_id, None)

    async def get(self, job_id: str) -> Job | None:
        return await self.store.get(job_id)

    async def revive(self, job_id: str) -> Added | None:
        """Queue a dead or failed job again (the operator's retry); None if it is neither. The
        queued jobs of its key it supersedes get their runs completed, as on intake."""
        if not self._accepting:
            raise QueueClosed("the instance is shutting down")
        added = await self.store.revive(job_id)
        if added is not None:
            if added.superseded:
                self._closer.wanted()
            self._wake.set()
        return added

    async def for_delivery(self, delivery_id: str) -> Job | None:
        return await self.store.for_delivery(delivery_id)

    async def ping(self) -> None:
        await self.store.ping()

    @property
    def running_here(self) -> int:
        """Jobs this instance's workers are running now."""
        return len(self._running)

    def healthy(self) -> bool:
        return bool(self._workers) and all(not w.done() for w in self._workers)

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.recover()
        self._workers = [asyncio.create_task(self._work(), name=f"job-worker-{i}") for i in range(self._concurrency)]
        self._maintenance = asyncio.create_task(self._maintain(), name="job-recovery")
        self._closer.start()

    async def shutdown(self, grace: float) -> None:
        """Stop intake and claiming; running jobs get `grace` seconds, then go back to the queue."""
        if not self._accepting and not self._workers:
            return
        loop = asyncio.get_running_loop()
        began = loop.time()
        self._accepting = self._claiming = False
        self._wake.set()
        running = list(self._running.values())
        if running:
            log.info("waiting for running jobs before stopping", jobs=len(running), grace_seconds=grace)
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            if late:  # each returns its job to the store (or closes its run) as it is cancelled
                await asyncio.wait(late, timeout=RETURN_TIMEOUT_SECONDS)
        await self._cancel([*self._workers, *([self._maintenance] if self._maintenance else [])])
        self._workers, self._maintenance = [], None
        # The runs of jobs that ended just now (superseded, stopped) are closed before leaving,
        # in what is left of the grace: on memory:// nobody else would; on a durable store the
        # next instance would, later.
        await self._closer.stop(max(grace - (loop.time() - began), 1.0))

    async def drain(self) -> None:
        """Wait until no job is queued or running in the store, nor a due close under way here (tests)."""
        while True:
            counts = await self.store.counts()
            if not (counts["queued"] or counts["running"] or self._running or self._closer.busy):
                return
            await asyncio.sleep(0.01)

    async def recover(self) -> list[Job]:
        """Return the jobs whose lease expired to the queue; those superseded owe their runs a close."""
        recovered = await self.store.recover()
        for job in recovered:
            log.warning("job recovered from a lost worker", job_id=job.id, state=job.state)
        if recovered:
            self._closer.wanted()  # those superseded owe a close
            self._wake.set()
        return recovered

    # -- workers ----------------------------------------------------------------------------

    async def _work(self) -> None:
        while self._claiming:
            try:
                job = await self.store.claim(
                    self.owner,
                    self._lease,
                    installation_cap=self._installation_cap,
                    repository_limit=self._repository_limit,
                )
            except Exception:
                log.exception("the job store could not be read; trying again")
                await asyncio.sleep(1.0)
                continue
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)
                continue
            self._wake.set()  # there may be more: let another idle worker look too
            task = asyncio.create_task(self._execute(job), name=f"job-{job.id}")
            self._running[job.id] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():
                    raise  # the worker itself is being cancelled
            finally:
                self._running.pop(job.id, None)
                event = self._finished.get(job.id)
                if event is not None:
                    event.set()

    async def _execute(self, job: Job) -> None:
        with structlog.contextvars.bound_contextvars(job_id=job.id, attempt=job.attempts):
            attempt = _Attempt()
            began = time.monotonic()
            work = asyncio.create_task(self._runner.run(job, lambda: self._checkpoint(job, attempt)))
            keeper = asyncio.create_task(self._keep_lease(job, work, attempt))
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
                if attempt.lost:
                    log.warning("lease lost: another worker has the job; this attempt's outcome is discarded")
                else:
                    await self._stopped(job)
                return
            except RateLimited as exc:
                await self._park(job, exc)
                return
            except TransientError as exc:
                await self._retry(job, exc)
                if job.state == "dead":
                    self._ended(job, began)
                return
            except Exception:
                # The runner answers every error it expects; what reaches here is a bug, and its
                # text (the job's error is published on the check run and the status endpoint)
                # may quote anything: the traceback goes to the log only.
                log.exception("job crashed")
                job.state, job.error = "failed", unexpected_failure(job.id)
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
            if job.state == "running":
                job.state = "succeeded"
            if not await self.store.save(job):
                log.warning("lease lost before the job's outcome was saved")
            else:
                self._ended(job, began)
                if job.close_owed is not None:  # the runner could not report the failure on GitHub
                    self._closer.wanted()

    def _ended(self, job: Job, began: float) -> None:
        if self._on_job_ended is not None:
            try:
                self._on_job_ended(job, time.monotonic() - began)
            except Exception:
                log.exception("a listener of ended jobs failed")

    async def _checkpoint(self, job: Job, attempt: _Attempt) -> None:
        if not await self.store.save(job):
            attempt.lost = True
            raise asyncio.CancelledError  # not an Exception: the runner's error handling must not see it

    async def _keep_lease(self, job: Job, work: asyncio.Task[None], attempt: _Attempt) -> None:
        """Renew the lease until the work ends; cancel the work if the lease was lost."""
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                kept = await self.store.renew(job, self._lease)
            except Exception:
                log.exception("the job's lease could not be renewed; trying again")
                continue
            if not kept:
                attempt.lost = True
                work.cancel()
                return

    async def _retry(self, job: Job, exc: TransientError) -> None:
        error = str(exc)
        if job.attempts >= self._max_attempts:
            job.state, job.error, job.close_owed = "dead", error, "dead"
            log.warning("job is dead", error=error, attempts=job.attempts)
            if not await self.store.save(job):
                log.warning("lease lost before the job's outcome was saved")
            self._closer.wanted()
            return
        delay = self._retry_delay * 2 ** (job.attempts - 1) * random.uniform(0.8, 1.2)
        delay = max(delay, exc.retry_after or 0.0)
        stored = await self.store.requeue(job, not_before=self._clock() + delay, error=error)
        if stored is None:
            log.warning("lease lost before the job could be retried")
        elif stored.state == "superseded":
            self._closer.wanted()
        else:
            log.warning("job will be retried", error=error, delay_seconds=round(delay, 1))
            asyncio.get_running_loop().call_later(delay, self._wake.set)

    async def _park(self, job: Job, exc: RateLimited) -> None:
        """Until the installation's rate limit resets; this attempt does not count."""
        job.attempts = max(job.attempts - 1, 0)
        stored = await self.store.requeue(job, not_before=exc.until, error=str(exc))
        if stored is None:
            log.warning("lease lost before the job could be parked")
        elif stored.state == "superseded":
            self._closer.wanted()
        else:
            delay = max(exc.until - self._clock(), 0.0)
            log.info("job parked until the rate limit resets", installation=job.installation_id, seconds=round(delay))
            asyncio.get_running_loop().call_later(delay, self._wake.set)

    async def _stopped(self, job: Job) -> None:
        """The instance stops before the job finished: back to the queue, or closed if nothing resumes it."""
        if self._durable:
            stored = await self.store.requeue(job, not_before=None, error=RETURNED)
            if stored is not None and stored.state == "superseded":
                self._closer.wanted()
            log.info("job returned to the queue", state=stored.state if stored else "lost")
            return
        job.state, job.error, job.close_owed = "failed", STOPPED, "stopped"
        await self.store.save(job)
        self._closer.wanted()

    # -- helpers ----------------------------------------------------------------------------

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await self.recover()
            except Exception:
                log.exception("recovery of abandoned jobs failed; trying again")

    @staticmethod
    async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

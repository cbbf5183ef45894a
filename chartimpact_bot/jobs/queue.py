"""The job queue interface and an in-process implementation.

The in-process queue keeps jobs in memory: enough for one instance, and it loses queued work on
a crash. A durable store (sqlite, Redis) implements the same interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog
from cachetools import TTLCache

from ..analysis.errors import brief
from .model import Job, TransientError, now

log = structlog.get_logger(__name__)
DELIVERY_MEMORY_SECONDS = 24 * 3600
Runner = Callable[[Job], Awaitable[None]]


class JobQueue(Protocol):
    async def submit(self, job: Job) -> Job:
        """Queue a job; a delivery already seen returns the job it created instead."""
        ...

    def get(self, job_id: str) -> Job | None: ...

    def for_delivery(self, delivery_id: str) -> Job | None: ...

    async def run_now(self, job: Job) -> Job:
        """Run a job before returning (synchronous processing)."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def healthy(self) -> bool: ...


class InMemoryJobQueue:
    def __init__(
        self,
        runner: Runner,
        *,
        concurrency: int = 2,
        max_attempts: int = 3,
        retry_delay: float = 30.0,
        max_jobs: int = 10_000,
    ) -> None:
        self._runner = runner
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._jobs: TTLCache[str, Job] = TTLCache(maxsize=max_jobs, ttl=DELIVERY_MEMORY_SECONDS)
        self._deliveries: TTLCache[str, str] = TTLCache(maxsize=max_jobs, ttl=DELIVERY_MEMORY_SECONDS)
        self._pending: asyncio.Queue[str] = asyncio.Queue()
        self._locks: dict[str, asyncio.Lock] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.Task[None]] = set()
        self._active = 0  # jobs inside the runner, whatever state they already report

    async def submit(self, job: Job) -> Job:
        seen = self.for_delivery(job.delivery_id)
        if seen is not None:
            return seen
        self._remember(job)
        for other in list(self._jobs.values()):
            if other is not job and other.key == job.key and other.state == "queued":
                other.state, other.finished_at = "superseded", now()
        await self._pending.put(job.id)
        return job

    async def run_now(self, job: Job) -> Job:
        seen = self.for_delivery(job.delivery_id)
        if seen is not None:
            return seen
        self._remember(job)
        await self._execute(job)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def for_delivery(self, delivery_id: str) -> Job | None:
        job_id = self._deliveries.get(delivery_id)
        return self._jobs.get(job_id) if job_id else None

    async def start(self) -> None:
        self._workers = [asyncio.create_task(self._work(), name=f"job-worker-{i}") for i in range(self._concurrency)]

    async def stop(self) -> None:
        for task in (*self._workers, *self._timers):
            task.cancel()
        for task in (*self._workers, *self._timers):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []

    def healthy(self) -> bool:
        return all(not w.done() for w in self._workers)

    async def drain(self) -> None:
        """Wait until every queued job has run (tests, shutdown)."""
        while (
            self._pending.qsize() or self._active or any(j.state in ("queued", "running") for j in self._jobs.values())
        ):
            await asyncio.sleep(0.01)

    def _remember(self, job: Job) -> None:
        self._jobs[job.id] = job
        self._deliveries[job.delivery_id] = job.id

    async def _work(self) -> None:
        while True:
            job_id = await self._pending.get()
            job = self._jobs.get(job_id)
            if job is not None and job.state == "queued":
                await self._execute(job)
            self._pending.task_done()

    async def _execute(self, job: Job) -> None:
        lock = self._locks.setdefault(job.key, asyncio.Lock())
        self._active += 1
        try:
            await self._execute_locked(job, lock)
        finally:
            self._active -= 1

    async def _execute_locked(self, job: Job, lock: asyncio.Lock) -> None:
        async with lock:
            if job.state == "superseded":
                return
            job.state, job.started_at = "running", now()
            job.attempts += 1
            try:
                await self._runner(job)
            except TransientError as exc:
                if job.attempts >= self._max_attempts:
                    job.state, job.error, job.finished_at = "dead", str(exc), now()
                else:
                    job.state, job.error = "queued", str(exc)
                    self._retry_later(job)
                log.warning(
                    "job will be retried" if job.state == "queued" else "job is dead", job_id=job.id, error=str(exc)
                )
            except Exception as exc:  # the runner reports failures itself; this is a bug
                job.state, job.error, job.finished_at = "failed", brief(f"{type(exc).__name__}: {exc}"), now()
                log.exception("job crashed", job_id=job.id)
            else:
                if job.state == "running":
                    job.state = "succeeded"
                job.finished_at = now()

    def _retry_later(self, job: Job) -> None:
        delay = self._retry_delay * (2 ** (job.attempts - 1)) * random.uniform(0.8, 1.2)

        async def later() -> None:
            await asyncio.sleep(delay)
            await self._pending.put(job.id)

        task = asyncio.create_task(later())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

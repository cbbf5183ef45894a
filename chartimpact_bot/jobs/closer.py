"""The closer: pays the check-run closes the job store says are owed (store/base.py).

A job that ends without publishing (superseded, dead, stopped, or failed when the runner's own
report did not reach GitHub) owes its check run a close, from the same store write that ended
it. The closer looks for due closes when told one may be (`wanted`), at start-up and every
`interval` seconds, so it also pays what a crashed instance, or GitHub failing, left unpaid:

- it takes at most CLOSE_CONCURRENCY closes at a time; the store holds each for `hold` seconds
  so no other instance takes it meanwhile (if this one dies, another does after the hold; a
  second PATCH of the same ending is harmless);
- a close GitHub refuses for now stays owed: after a primary rate limit it is due at the reset
  (RateLimited; nothing is sent before it), after a 5xx or no answer `retry_delay` later;
- the runner sends it past the installation's circuit breaker (github/runner.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time

import structlog

from .model import Ending, Job, RateLimited, TransientError
from .queue import JobRunner
from .store import JobStore
from .store.base import Clock

log = structlog.get_logger(__name__)
CLOSE_CONCURRENCY = 4  # closes under way at once, per instance
MIN_RETRY_SECONDS = 1.0  # a close GitHub refused is not tried again sooner, whatever retry_delay says


class RunCloser:
    def __init__(
        self,
        store: JobStore,
        runner: JobRunner,
        *,
        interval: float,
        hold: float,
        retry_delay: float,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._runner = runner
        self._interval = interval
        self._hold = hold
        self._retry_delay = max(retry_delay, MIN_RETRY_SECONDS)
        self._clock = clock
        self._wanted = asyncio.Event()  # a close may be due: look at once
        self._looking = False
        self._closing: dict[str, asyncio.Task[None]] = {}  # job id → its close, under way here
        self._task: asyncio.Task[None] | None = None

    def wanted(self) -> None:
        """A close may be due now (this instance just ended a job that owes one)."""
        self._wanted.set()

    @property
    def busy(self) -> bool:
        """Closes are under way here, or about to be looked for."""
        return bool(self._closing) or self._looking or (self._task is not None and self._wanted.is_set())

    def start(self) -> None:
        self._wanted.set()  # what crashed instances (or GitHub's failures) left unclosed
        self._task = asyncio.create_task(self._run(), name="run-closer")

    async def stop(self, seconds: float) -> None:
        """Make the closes due now, for up to `seconds`; those left stay owed in the store."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            while True:
                await self._take_due()
                left = deadline - loop.time()
                if not self._closing or left <= 0:
                    break
                await asyncio.wait(list(self._closing.values()), timeout=left, return_when=asyncio.FIRST_COMPLETED)
        except Exception:
            log.exception("the owed closes of check runs could not be read before stopping")
        closing = list(self._closing.values())
        for task in closing:
            task.cancel()
        for task in closing:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that comes
            # as the event is set (as it is at start-up), and stopping would wait for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wanted.wait()
            self._wanted.clear()
            try:
                await self._take_due()
            except Exception:
                log.exception("the owed closes of check runs could not be read; trying again")

    async def _take_due(self) -> None:
        self._looking = True
        try:
            free = CLOSE_CONCURRENCY - len(self._closing)
            if free <= 0:
                return  # each close that ends looks again
            for job in await self._store.closes_due(free, hold=self._hold):
                if job.id not in self._closing:
                    task = asyncio.create_task(self._pay(job), name=f"close-{job.id}")
                    self._closing[job.id] = task
                    task.add_done_callback(functools.partial(self._done, job.id))
        finally:
            self._looking = False

    def _done(self, job_id: str, _: asyncio.Task[None]) -> None:
        self._closing.pop(job_id, None)
        self._wanted.set()  # a place is free: more may be due

    async def _pay(self, job: Job) -> None:
        """Close one owed run; when GitHub refuses, keep the debt, due again when worth trying."""
        ending: Ending = job.close_owed or "stopped"
        with structlog.contextvars.bound_contextvars(job_id=job.id, ending=ending):
            try:
                newer = await self._store.get(job.superseded_by) if job.superseded_by else None
                await self._runner.close(job, ending, newer)
            except RateLimited as exc:
                log.info("closing the check run waits for the rate limit's reset", seconds=round(exc.retry_after or 0))
                await self._later(job, exc.until)
            except TransientError as exc:
                delay = max(exc.retry_after or 0.0, self._retry_delay)
                log.warning("the check run could not be closed; trying again", error=str(exc), delay_seconds=delay)
                await self._later(job, self._clock() + delay)
            except Exception:
                log.exception("closing the check run failed; trying again")
                await self._later(job, self._clock() + self._retry_delay)
            else:
                try:
                    await self._store.closed(job.id)
                except Exception:  # the debt stays: closed again once its hold ends, to no harm
                    log.exception("a closed check run could not be recorded as closed")

    async def _later(self, job: Job, at: float) -> None:
        try:
            await self._store.close_later(job.id, at)
        except Exception:
            log.exception("the owed close could not be put off; it is due again after its hold")

"""The job queue interface, and what the queue asks of the code that runs a job.

The implementation is `durable.DurableJobQueue`, on the job store CHARTIMPACT_QUEUE_URL names
(store/base.py). The queue knows nothing of GitHub: the runner (github/runner.py) does the work
and completes the check runs of jobs that end without publishing (`JobRunner.close`), so the
dependency direction stays web → github → jobs → analysis.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from .audit import AuditEntry
from .model import Ending, Job
from .store import Added

__all__ = ["Checkpoint", "Ending", "JobQueue", "JobRunner", "QueueClosed"]
Checkpoint = Callable[[], Awaitable[None]]


class QueueClosed(Exception):
    """The instance is shutting down and takes no new work (the webhook answers 503)."""


class JobRunner(Protocol):
    async def run(self, job: Job, checkpoint: Checkpoint) -> None:
        """Do the job. Set `job.state` to `failed` (with `job.error`) for a failure already
        reported on GitHub, and `job.close_owed` to `failed` when GitHub did not take that
        report (the queue keeps the debt and has `close` pay it); raise TransientError for one
        worth retrying. Await `checkpoint()` after a side effect the next attempt must know of
        (a check run created), so that a crash right after it does not repeat it."""
        ...

    async def close(self, job: Job, ending: Ending, newer: Job | None) -> None:
        """Complete the check runs `job` opened (if any), saying why it ended: superseded by
        `newer`, dead after its last attempt (`job.error`), stopped with the instance and not
        resumed, or failed (`job.error`) when `run` could not report that itself. Returns once
        done, or when it can never be done (the run is gone, the App may not write it); raises
        TransientError (RateLimited until a reset) when GitHub could not be reached: the close
        is owed in the store and the queue tries it again later."""
        ...


class JobQueue(Protocol):
    async def submit(self, job: Job, *, audit: AuditEntry | None = None) -> Added:
        """Commit a job to the store before returning, with the delivery's audit entry when
        given; a delivery already seen answers the job it created (a dead one is revived).
        Raises QueueClosed while shutting down."""
        ...

    async def run_now(self, job: Job, *, audit: AuditEntry | None = None) -> Added:
        """Submit a job and wait until it has run (synchronous processing)."""
        ...

    async def get(self, job_id: str) -> Job | None: ...

    async def for_delivery(self, delivery_id: str) -> Job | None: ...

    @property
    def accepting(self) -> bool:
        """False once shutdown began."""
        ...

    async def start(self) -> None: ...

    async def shutdown(self, grace: float) -> None:
        """Stop intake, let running jobs finish for up to `grace` seconds, return the rest."""
        ...

    async def ping(self) -> None:
        """Raise StoreError when the store cannot be reached."""
        ...

    def healthy(self) -> bool: ...

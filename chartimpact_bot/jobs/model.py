"""A job: one analysis a delivery asked for, and what became of it (CONTRACT §4 status)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from ..timestamps import now
from .params import JobKind, JobParams, check_params

JobState = Literal["queued", "running", "succeeded", "failed", "superseded", "dead"]
# Why a job ended without publishing its results, for the runner to say on its check run
# ("failed": the runner reported the failure, but GitHub did not take that report).
Ending = Literal["superseded", "dead", "stopped", "failed"]


# Lower runs first: a reviewer waits on a pull request's check run; pushes and releases can wait.
# A command is a person waiting for an answer, and its work is small.
KIND_PRIORITY: dict[JobKind, int] = {"command": 0, "pull_request": 0, "compare": 0, "push": 1, "release": 2}


@dataclass(frozen=True, slots=True)
class CheckRun:
    """The check run a job opened, kept with it so that its retries complete that one run.
    `seq`: the job's seq when it opened the run; a revived job (a new seq) opens its own."""

    id: int
    url: str
    seq: int


@dataclass(slots=True)
class Job:
    """An analysis to run. `key` serializes work: jobs with the same key never run at once, and a
    newer one supersedes an older one still waiting (the same pull request, or the same ref)."""

    delivery_id: str
    event: str
    action: str | None
    repository: str
    installation_id: int
    kind: JobKind
    params: JobParams  # what the delivery asked for; the kind says which (jobs/params.py)
    key: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: JobState = "queued"
    attempts: int = 0
    created_at: str = field(default_factory=now)
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    result: dict[str, Any] = field(default_factory=lambda: {"verdict": None, "checkRunIds": [], "commentId": None})
    # Scheduling, kept by the job store (jobs/store/base.py says what each means). A negative
    # priority means "by kind" (KIND_PRIORITY), so callers that do not care need not say.
    priority: int = -1
    not_before: float | None = None  # epoch seconds: a retry waits until then
    lease_owner: str | None = None  # the worker holding a running job
    lease_until: float | None = None  # epoch seconds: after this the job counts as abandoned
    superseded_by: str | None = None  # the job id that replaced this one, for the run's reason
    # A finished job whose check run is still to be completed, and why it ended (store/base.py):
    # kept in the store until the close went through, so neither a crash nor GitHub failing
    # at that moment leaves the run in progress.
    close_owed: Ending | None = None
    close_due: float | None = None  # epoch seconds: when the owed close is (next) tried
    seq: int = 0  # the store's intake order (age); 0 until stored
    check_run: CheckRun | None = None  # the run it opened, checkpointed before anything else

    def __post_init__(self) -> None:
        check_params(self.kind, self.params)
        if self.priority < 0:
            self.priority = KIND_PRIORITY[self.kind]

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def repo(self) -> str:
        return self.repository.split("/", 1)[1]

    def status(self) -> dict[str, Any]:
        return {
            "jobId": self.id,
            "state": self.state,
            "event": self.event,
            "action": self.action,
            "repository": self.repository,
            "attempts": self.attempts,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "error": self.error,
            "result": dict(self.result),
        }


class TransientError(Exception):
    """A failure worth retrying later (GitHub unavailable, rate limited for long). `retry_after`:
    the seconds the other side asked us to wait, when it said; the retry waits at least that."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """GitHub's primary rate limit of one installation is spent until `until` (epoch seconds,
    `x-ratelimit-reset`). The queue parks the job until then, and the parked attempt does not
    count toward `dead`: waiting for the reset is not a failure."""

    def __init__(self, message: str, *, installation_id: int | None, until: float, now: float) -> None:
        super().__init__(message, retry_after=max(until - now, 0.0))
        self.installation_id = installation_id
        self.until = until

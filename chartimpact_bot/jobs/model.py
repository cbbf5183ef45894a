"""A job: one analysis a delivery asked for, and what became of it (CONTRACT §4 status)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

JobState = Literal["queued", "running", "succeeded", "failed", "superseded", "dead"]
JobKind = Literal["pull_request", "push", "release", "rerun"]


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


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
    params: dict[str, Any]
    key: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: JobState = "queued"
    attempts: int = 0
    created_at: str = field(default_factory=now)
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    result: dict[str, Any] = field(default_factory=lambda: {"verdict": None, "checkRunIds": [], "commentId": None})

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
    """A failure worth retrying later (GitHub unavailable, rate limited for long)."""

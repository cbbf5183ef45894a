"""The audit log of webhook deliveries (issue 8 point 9): one entry per delivery, whatever became of it.

An entry says what the delivery claimed to be and what the App answered. Every text field is
bounded and escaped here, on construction, so whatever a sender put in a header or a payload,
an entry is small and safe to show: control characters and non-ASCII are escaped (`\\x1b`,
`\\u2028`), printable ASCII is kept as sent (so a value is one line of plain text, and bounding
a stored value again changes nothing), and a value longer than its field is cut with "…". For
a delivery whose signature did not verify, the caller fills in only what the headers say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..timestamps import iso

Outcome = Literal["accepted", "ignored", "duplicate", "rejected"]
OUTCOMES: tuple[Outcome, ...] = ("accepted", "ignored", "duplicate", "rejected")
# Field bounds, in characters after escaping. GitHub's own values fit: a login has at most 39
# characters, a repository name 100, a delivery id is a UUID; event and action names are short.
LIMITS = {
    "delivery_id": 128,
    "event": 64,
    "action": 64,
    "repository": 160,
    "sender": 64,
    "job_id": 64,
}
MAX_INSTALLATION_ID = 2**63 - 1  # sqlite's INTEGER; ids beyond it did not come from GitHub


def bounded(value: object, limit: int) -> str | None:
    """`value` as an entry stores it: escaped ASCII of at most `limit` characters, or None
    for anything that is not a non-empty string."""
    if not isinstance(value, str) or not value:
        return None
    pieces = [_escaped(char) for char in value[: limit + 1]]  # more could never be kept
    if len(value) <= limit and sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    kept: list[str] = []
    size = 0
    for piece in pieces:  # whole escapes only, and room left for the ellipsis
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept) + "…"


def _escaped(char: str) -> str:
    # Our own ellipsis stays too: reading an entry back must not escape it a second time.
    return char if " " <= char <= "~" or char == "…" else char.encode("unicode_escape").decode("ascii")


def installation(value: object) -> int | None:
    """An installation id as GitHub sends it (a positive integer), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_INSTALLATION_ID:
        return None
    return value


@dataclass(slots=True)
class AuditEntry:
    """One delivery. `seq` is the store's recording order (0 until stored); `at` the epoch
    seconds the delivery arrived; `status` the HTTP status answered; `job_id` the job created
    or answered, if any."""

    at: float
    outcome: Outcome
    status: int
    delivery_id: str | None = None
    event: str | None = None
    action: str | None = None
    repository: str | None = None
    installation_id: int | None = None
    sender: str | None = None
    job_id: str | None = None
    seq: int = 0

    def __post_init__(self) -> None:
        for name, limit in LIMITS.items():
            setattr(self, name, bounded(getattr(self, name), limit))
        self.installation_id = installation(self.installation_id)
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown delivery outcome {self.outcome!r}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"not an HTTP status: {self.status!r}")

    def shown(self) -> dict[str, object]:
        """The shape of `GET /api/jobs/deliveries` (web/api.py)."""
        return {
            "at": iso(self.at),
            "deliveryId": self.delivery_id,
            "event": self.event,
            "action": self.action,
            "repository": self.repository,
            "installation": self.installation_id,
            "sender": self.sender,
            "outcome": self.outcome,
            "status": self.status,
            "jobId": self.job_id,
        }


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of a listing; None matches anything. Values are compared as entries store them."""

    delivery_id: str | None = None
    event: str | None = None
    outcome: Outcome | None = None
    repository: str | None = None
    installation_id: int | None = None

    def matches(self, entry: AuditEntry) -> bool:
        return all(
            wanted is None or wanted == getattr(entry, name)
            for name, wanted in (
                ("delivery_id", self.delivery_id),
                ("event", self.event),
                ("outcome", self.outcome),
                ("repository", self.repository),
                ("installation_id", self.installation_id),
            )
        )

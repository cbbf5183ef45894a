"""What the audit log records of one webhook delivery, learned as the handler goes (jobs/audit.py).

Until the signature verified, only the headers are known (`X-GitHub-Delivery`,
`X-GitHub-Event`); the payload's action, repository, installation and sender are read only from
a verified body, so an unsigned delivery cannot write a repository or sender of its choosing
into the log. Every value is bounded and escaped by `AuditEntry` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..jobs.audit import AuditEntry, Outcome


@dataclass(slots=True)
class DeliveryRecord:
    at: float
    delivery_id: str | None
    event: str | None
    action: str | None = None
    repository: str | None = None
    installation_id: int | None = None
    sender: str | None = None
    job_id: str | None = None
    stored: bool = False  # the entry was written with the delivery's job (store.add)

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], at: float) -> DeliveryRecord:
        return cls(at=at, delivery_id=headers.get("X-GitHub-Delivery"), event=headers.get("X-GitHub-Event"))

    def verified(self, payload: Mapping[str, Any]) -> None:
        """Take the facts of a payload whose signature verified; a field of the wrong type is left out."""
        self.action = _text(payload.get("action"))
        self.repository = _text(_field(payload, "repository", "full_name"))
        installation = _field(payload, "installation", "id")
        self.installation_id = installation if isinstance(installation, int) else None
        self.sender = _text(_field(payload, "sender", "login"))

    def entry(self, outcome: Outcome, status: int) -> AuditEntry:
        return AuditEntry(
            at=self.at,
            outcome=outcome,
            status=status,
            delivery_id=self.delivery_id,
            event=self.event,
            action=self.action,
            repository=self.repository,
            installation_id=self.installation_id,
            sender=self.sender,
            job_id=self.job_id,
        )


def _field(payload: Mapping[str, Any], name: str, inner: str) -> object:
    value = payload.get(name)
    return value.get(inner) if isinstance(value, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None

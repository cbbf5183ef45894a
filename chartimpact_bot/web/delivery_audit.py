"""What the audit log records of one webhook delivery, learned as the handler goes (jobs/audit.py).

Until the signature verified, only the headers are known (`X-GitHub-Delivery`,
`X-GitHub-Event`); the payload's action, repository, installation and sender are read only from
a verified body, so an unsigned delivery cannot write a repository or sender of its choosing
into the log. Every value is bounded and escaped by `AuditEntry` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..jobs.audit import AuditEntry, Outcome


@dataclass(slots=True)
class DeliveryRecord:
    """`facts`: the delivery's entry as known so far; its outcome and status are placeholders
    until `entry` gives the answer's. `stored`: the entry was written with the delivery's job
    (store.add), so it is not recorded again."""

    facts: AuditEntry
    stored: bool = False

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], at: float) -> DeliveryRecord:
        facts = AuditEntry(
            at=at,
            outcome="rejected",
            status=500,
            delivery_id=headers.get("X-GitHub-Delivery"),
            event=headers.get("X-GitHub-Event"),
        )
        return cls(facts)

    def verified(self, payload: Mapping[str, Any]) -> None:
        """Take the facts of a payload whose signature verified; a field of the wrong type is left out."""
        installation = _field(payload, "installation", "id")
        self.facts = replace(
            self.facts,
            action=_text(payload.get("action")),
            repository=_text(_field(payload, "repository", "full_name")),
            installation_id=installation if isinstance(installation, int) else None,
            sender=_text(_field(payload, "sender", "login")),
        )

    def entry(self, outcome: Outcome, status: int) -> AuditEntry:
        return replace(self.facts, outcome=outcome, status=status)


def _field(payload: Mapping[str, Any], name: str, inner: str) -> object:
    value = payload.get(name)
    return value.get(inner) if isinstance(value, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None

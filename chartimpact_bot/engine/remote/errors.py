"""What every kind of remote repository answers: a chart archive, or why there is none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class FetchError(Exception):
    """A dependency could not be fetched; the message says why, in a few words. It never holds
    a credential: messages name hosts and paths, not the headers that were sent."""


@dataclass(frozen=True, slots=True)
class FetchedChart:
    version: str
    archive: bytes


class DependencyFetcher(Protocol):
    def fetch(self, repository: str, name: str, version: str | None) -> FetchedChart:
        """The archive of `name` from `repository` satisfying `version` (a constraint)."""
        ...

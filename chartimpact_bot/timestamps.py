"""The one shape of a time in everything we publish: RFC 3339 in UTC to the second, `Z` suffix.

The report's `generatedAt` (CONTRACT §2) and the status API's times (§4) are written by the same
two functions, so they cannot drift apart. It imports only the standard library, so the analysis
core may use it as well as the job machinery."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(timestamp: float) -> str:
    """A POSIX timestamp as `2024-05-01T12:00:00Z`."""
    return _shape(datetime.fromtimestamp(timestamp, UTC))


def now() -> str:
    """This moment as `2024-05-01T12:00:00Z`."""
    return _shape(datetime.now(UTC))


def _shape(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")

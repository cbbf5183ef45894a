"""Stored analyses and acknowledgements (issue 12): what the job store keeps of every published
analysis, for the report page, the history of a repository and acknowledgements.

An analysis is stored as an `AnalysisRecord` (what listings show: the history page, the latest
analysis of a pull request) and an opaque payload (jobs/analysis_codec.py: the report and what
republishing it needs), which only the report page and a republish decode.

An acknowledgement is kept per *scope*, the job key of the work it belongs to (`owner/repo#12`
for a pull request, store/base.py), so it follows a signal id across pushes to the same pull
request. `fingerprint` is the digest of the signal's before and after when it was acknowledged:
a later analysis whose signal differs ends it (core/acknowledgements.py).

Every text field is bounded here, on construction, so what a comment's author wrote (a reason)
cannot grow the store; logins and reasons are shown through the escaping renderers only. A
reason keeps the language it was written in: only control, bidi and line-separator characters
are escaped (`one_line`), where logins and the other fields are ASCII (`bounded`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..core.report.safe_text import one_line
from .audit import bounded

ANALYSIS_ID = re.compile(r"[0-9a-f]{32}")
SIGNAL_ID = re.compile(r"[0-9a-f]{8,64}")
MAX_REASON_CHARS = 500
MAX_CHARTS_SUMMARIZED = 200  # a record's summary of charts; the payload holds them all
AckChange = Literal["ack", "unack"]


def reason_text(value: str) -> str:
    """A reason as stored: at most MAX_REASON_CHARS characters as written, then escaped."""
    return one_line(value[:MAX_REASON_CHARS].strip())


def check_analysis_id(value: str) -> str:
    """An analysis id is 32 lowercase hex digits (secrets.token_hex(16)): it is part of a Redis
    key and of a URL, and unguessable on its own."""
    if not ANALYSIS_ID.fullmatch(value):
        raise ValueError(f"not an analysis id: {value[:40]!r}")
    return value


@dataclass(frozen=True, slots=True)
class ChartSummary:
    """One chart of an analysis, as the history lists it: signals counted by category."""

    path: str
    environment: str
    verdict: str
    counts: dict[str, int] = field(default_factory=dict)  # category → signals (acknowledged ones too)


@dataclass(frozen=True, slots=True)
class AnalysisRecord:
    """What a listing shows of one stored analysis. `created_at`: epoch seconds.

    `scope` is the job key (acknowledgements are kept per scope); `pull_number` the pull request
    it was published on, if any; `check_run_id` the run it completed, if any (a republish after
    an acknowledgement patches that run)."""

    id: str
    installation_id: int
    repository: str
    scope: str
    kind: str
    ref: str
    head_sha: str
    base_sha: str | None
    created_at: float
    verdict: str
    pull_number: int | None = None
    check_run_id: int | None = None
    charts: tuple[ChartSummary, ...] = ()

    def __post_init__(self) -> None:
        check_analysis_id(self.id)
        object.__setattr__(self, "charts", self.charts[:MAX_CHARTS_SUMMARIZED])


@dataclass(frozen=True, slots=True)
class AnalysisLimits:
    """What the store keeps of analyses (CHARTIMPACT_RESULT_RETENTION_DAYS, CHARTIMPACT_MAX_STORED_REPORTS_MB)."""

    max_age_seconds: float
    max_bytes: int


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """A person accepted a signal: `by` (a GitHub login) at `at` (epoch seconds), for `reason`."""

    signal_id: str
    fingerprint: str
    by: str
    at: float
    reason: str = ""

    def __post_init__(self) -> None:
        if not SIGNAL_ID.fullmatch(self.signal_id):
            raise ValueError(f"not a signal id: {self.signal_id[:40]!r}")
        object.__setattr__(self, "by", bounded(self.by, 64) or "unknown")
        object.__setattr__(self, "reason", reason_text(self.reason))
        object.__setattr__(self, "fingerprint", self.fingerprint[:64])


@dataclass(frozen=True, slots=True)
class AckEvent:
    """One entry of the acknowledgement audit log: who acknowledged (or withdrew) which signal
    of which scope, when, and how (`via`: comment, check_run, page)."""

    at: float
    repository: str
    scope: str
    signal_id: str
    change: AckChange
    by: str
    via: str
    reason: str = ""
    seq: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "by", bounded(self.by, 64) or "unknown")
        object.__setattr__(self, "reason", reason_text(self.reason))
        object.__setattr__(self, "via", bounded(self.via, 32) or "")

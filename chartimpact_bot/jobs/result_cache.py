"""The result cache (issue 8 point 8): a report stored by the digest of its inputs
(input_digest.py), so re-running an unchanged analysis (the re-run button, a second push of the
same tree, a re-opened pull request) publishes it again without rendering.

Entries live in the job store's backend (store/base.py, "Result cache"), shared by every
instance, and expire after RESULT_CACHE_TTL_HOURS (remote chart dependencies may change under
an unpinned version range); 0 turns the cache off.

The cache never fails a job: a store that cannot be read or written, or an entry that cannot be
decoded, is a miss (logged), and the analysis renders as it would have. Every lookup is counted
once, as a `hit`, a `miss` or an `error` (the store or the entry could not be read).

Only reports that a re-run would reproduce are stored: one with a chart that failed to render
(a timeout or the memory limit may pass on a re-run) or carries warnings (a dependency that
could not be fetched may be fetched next time) is not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import structlog

from ..core.model import Report
from .report_codec import UnreadableEntry, decode_report, encode_report
from .store import JobStore, ResultLimits

log = structlog.get_logger(__name__)
Outcome = Literal["hit", "miss", "error"]
LookupHook = Callable[[Outcome], None]
STORE_TIMEOUT_SECONDS = 5.0  # a slow store costs a job at most this, then it renders


@dataclass(frozen=True, slots=True)
class CachePolicy:
    ttl_seconds: float  # 0: no cache
    limits: ResultLimits

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0


class ResultCache:
    def __init__(self, store: JobStore, policy: CachePolicy, *, on_lookup: LookupHook | None = None) -> None:
        self.store = store
        self.policy = policy
        self.on_lookup = on_lookup

    @property
    def enabled(self) -> bool:
        return self.policy.enabled

    async def lookup(self, digest: str | None) -> Report | None:
        """The stored report of these inputs, or None (a miss). `digest` None: inputs that
        cannot be named exactly, a miss."""
        if not self.enabled:
            return None
        if digest is None:
            return self._counted("miss", None)
        try:
            async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
                payload = await self.store.get_result(digest)
        except Exception as exc:  # any failure of the store is a miss, never the end of the job
            log.warning("the result cache could not be read; analyzing", error=_brief(exc))
            return self._counted("error", None)
        if payload is None:
            return self._counted("miss", None)
        try:
            report = await asyncio.to_thread(decode_report, payload)
        except UnreadableEntry as exc:
            log.warning("a result cache entry is unreadable; analyzing", digest=digest[:16], error=str(exc))
            return self._counted("error", None)
        return self._counted("hit", report)

    async def remember(self, digest: str | None, report: Report) -> bool:
        """Store a report under its inputs' digest; False when it was not stored."""
        if not self.enabled or digest is None or not reproducible(report):
            return False
        payload = await asyncio.to_thread(encode_report, report)
        if payload is None:
            log.info("a report is too large or unusual for the result cache; not stored")
            return False
        try:
            async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
                return await self.store.put_result(
                    digest, payload, ttl=self.policy.ttl_seconds, limits=self.policy.limits
                )
        except Exception as exc:  # the report is published all the same
            log.warning("the result cache could not be written", error=_brief(exc))
            return False

    async def prune(self) -> int:
        """Expired entries, then the ones expiring soonest while over the limits (retention.py)."""
        return await self.store.prune_results(self.policy.limits)

    def _counted(self, outcome: Outcome, report: Report | None) -> Report | None:
        if self.on_lookup is not None:
            self.on_lookup(outcome)
        return report


def reproducible(report: Report) -> bool:
    """Whether a re-run of the same inputs would give this report (see the module's docstring)."""
    return all(chart.status != "render_error" and not chart.warnings for chart in report.charts)


def _brief(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]

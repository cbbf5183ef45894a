"""Every published analysis, kept for its report page, the repository's history and
acknowledgements (issue 12): the job store's analyses (store/base.py) with the payload codec
(analysis_codec.py) and the bounds of CHARTIMPACT_RESULT_RETENTION_DAYS and
CHARTIMPACT_MAX_STORED_REPORTS_MB.

Keeping an analysis never fails its job: a store that cannot be written is logged, and the
check run and comment are published without a link to a page (there would be none to open).
Reading one back treats the payload as untrusted: what does not decode is absent.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence

import structlog

from ..core.acknowledgements import apply_acknowledgements
from ..core.model import CATEGORIES, Report
from .analyses import AckEvent, Acknowledgement, AnalysisLimits, AnalysisRecord, ChartSummary
from .analysis_codec import StoredAnalysis, UnreadableEntry, decode_analysis, encode_analysis
from .store import JobStore, Page

log = structlog.get_logger(__name__)
STORE_TIMEOUT_SECONDS = 5.0
MAX_ACKS_PER_SCOPE = 1000


def new_analysis_id() -> str:
    return secrets.token_hex(16)


def chart_summaries(report: Report) -> tuple[ChartSummary, ...]:
    return tuple(
        ChartSummary(
            path=chart.path,
            environment=chart.environment,
            verdict=chart.verdict,
            counts={c: n for c in CATEGORIES if (n := sum(1 for s in chart.signals if s.category == c))},
        )
        for chart in report.charts
    )


class AnalysisArchive:
    def __init__(self, store: JobStore, limits: AnalysisLimits, *, max_log: int = 100_000) -> None:
        self.store = store
        self.limits = limits
        self.max_log = max_log

    async def keep(self, record: AnalysisRecord, analysis: StoredAnalysis) -> bool:
        """Store an analysis; False (logged) when it is too large or the store failed."""
        payload = await asyncio.to_thread(encode_analysis, analysis)
        if payload is None:
            log.warning("an analysis is too large or unusual to keep; published without a report page")
            return False
        try:
            async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
                kept = await self.store.put_analysis(record, payload, limits=self.limits)
        except Exception as exc:  # the analysis is published all the same
            log.warning("the analysis could not be kept", error=" ".join(str(exc).split())[:300])
            return False
        if not kept:
            log.warning("an analysis is larger than CHARTIMPACT_MAX_STORED_REPORTS_MB; not kept")
        return kept

    async def load(self, analysis_id: str) -> tuple[AnalysisRecord, StoredAnalysis] | None:
        """A stored analysis, or None when absent, pruned or unreadable (StoreError when the
        store cannot be reached)."""
        found = await self.store.get_analysis(analysis_id)
        if found is None:
            return None
        record, payload = found
        try:
            return record, await asyncio.to_thread(decode_analysis, payload)
        except UnreadableEntry as exc:
            log.warning("a stored analysis is unreadable", analysis_id=analysis_id, error=str(exc))
            return None

    async def shown(self, record: AnalysisRecord, analysis: StoredAnalysis) -> Report:
        """The report with the scope's acknowledgements as they stand now."""
        acks = await self.store.acknowledgements(record.repository, record.scope)
        return apply_acknowledgements(analysis.report, acks)

    async def latest(
        self, repository: str, *, scope: str | None = None, head_sha: str | None = None
    ) -> AnalysisRecord | None:
        return await self.store.latest_analysis(repository, scope=scope, head_sha=head_sha)

    async def history(self, repository: str, *, limit: int, cursor: str | None = None) -> Page[AnalysisRecord]:
        return await self.store.analyses(repository, limit=limit, cursor=cursor)

    async def acknowledgements(self, repository: str, scope: str) -> list[Acknowledgement]:
        return await self.store.acknowledgements(repository, scope)

    async def change(
        self,
        repository: str,
        scope: str,
        *,
        add: Sequence[Acknowledgement] = (),
        remove: Sequence[str] | None = (),
        events: Sequence[AckEvent] = (),
    ) -> list[Acknowledgement]:
        return await self.store.change_acknowledgements(
            repository,
            scope,
            add=add,
            remove=remove,
            events=events,
            max_per_scope=MAX_ACKS_PER_SCOPE,
            max_log=self.max_log,
        )

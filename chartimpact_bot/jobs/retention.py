"""Retention of finished jobs (CONTRACT §3 `CHARTIMPACT_RESULT_RETENTION_DAYS`, issue 8 point 6)
and of the result cache (point 8), the audit log of deliveries
(`CHARTIMPACT_AUDIT_RETENTION_DAYS`, point 9) and the stored analyses (issue 12).

`prune_periodically` runs `prune_once` at start-up and then every `interval` seconds: finished
jobs older than the retention period go, then the oldest finished ones while more than
`max_jobs` are held. The store never removes a `queued` or `running` job (store/base.py), so
this never drops work. With `results`, expired result-cache entries go too, then those expiring
soonest while the cache is over its limits (each write also keeps to them; pruning frees what
expired since). With `audit`, audit entries older than their period, then the oldest beyond
their bound (each batch written also keeps that bound). With `analyses`, stored analyses older
than their period, then the oldest while over their bytes (each write also keeps to them), and
acknowledgements and their log entries older than that period. With several instances on one
store each prunes; pruning is idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import structlog

from .analyses import AnalysisLimits
from .store import JobStore
from .store.base import ResultLimits, Retention

log = structlog.get_logger(__name__)
DAY_SECONDS = 24 * 3600.0


def retention(days: float, max_kept: int) -> Retention:
    """Of finished jobs, or of audit entries."""
    return Retention(max_age_seconds=days * DAY_SECONDS, max_kept=max_kept)


async def prune_periodically(
    store: JobStore,
    policy: Retention,
    interval: float,
    audit: Retention | None = None,
    *,
    results: ResultLimits | None = None,
    analyses: AnalysisLimits | None = None,
) -> None:
    while True:
        await prune_once(store, policy, audit, results=results, analyses=analyses)
        await asyncio.sleep(interval)


async def prune_once(
    store: JobStore,
    policy: Retention,
    audit: Retention | None,
    *,
    results: ResultLimits | None = None,
    analyses: AnalysisLimits | None = None,
) -> None:
    """One pass; a failure is logged and left for the next pass, and does not stop the others."""
    await _prune("finished jobs", store.prune(policy))
    if results is not None:
        await _prune("result cache entries", store.prune_results(results))
    if analyses is not None:
        await _prune("stored analyses", store.prune_analyses(analyses))
    if audit is not None:
        await _prune("audit entries", store.prune_deliveries(audit))


async def _prune(what: str, pruning: Awaitable[int]) -> None:
    try:
        removed = await pruning
    except Exception:
        log.exception(f"{what} could not be pruned; trying again later")
    else:
        if removed:
            log.info(f"{what} pruned", removed=removed)

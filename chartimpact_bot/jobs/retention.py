"""Retention of finished jobs (CONTRACT §3 `CHARTIMPACT_RESULT_RETENTION_DAYS`, issue 8 point 6).

`prune_periodically` runs `store.prune` at start-up and then every `interval` seconds: finished
jobs older than the retention period go, then the oldest finished ones while more than
`max_jobs` are held. The store never removes a `queued` or `running` job (store/base.py), so
this never drops work. With several instances on one store each prunes; pruning is idempotent.
"""

from __future__ import annotations

import asyncio

import structlog

from .store import JobStore
from .store.base import Retention

log = structlog.get_logger(__name__)
DAY_SECONDS = 24 * 3600.0


def retention(days: float, max_jobs: int) -> Retention:
    return Retention(max_age_seconds=days * DAY_SECONDS, max_jobs=max_jobs)


async def prune_periodically(store: JobStore, policy: Retention, interval: float) -> None:
    while True:
        try:
            removed = await store.prune(policy)
        except Exception:
            log.exception("finished jobs could not be pruned; trying again later")
        else:
            if removed:
                log.info("finished jobs pruned", removed=removed)
        await asyncio.sleep(interval)

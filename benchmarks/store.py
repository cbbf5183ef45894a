"""Job store benchmark: `python -m benchmarks.store` (also run by `make bench`).

For each backend (a sqlite file, a redis-server of our own on loopback): the latency of `add`
(intake: what the webhook handler waits on before its 202), alone and interleaved with adds
that record the delivery's audit entry in the same write (what an accepted delivery costs), of
`claim` followed by `save`, first on an empty store, then with 10,000 jobs already held (2,000
queued, 8,000 finished); and of one batch of 500 audit entries written behind (the other
outcomes). Figures printed, nothing asserted; the rows of a backend should be alike (no growth).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from chartimpact_bot.jobs.audit import AuditEntry
from chartimpact_bot.jobs.model import Job
from chartimpact_bot.jobs.params import PullRequestParams
from chartimpact_bot.jobs.store.base import JobStore
from chartimpact_bot.jobs.store.redis import RedisJobStore
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore
from tests.jobs.redis_server import redis_server

HELD = 10_000
QUEUED = 2_000
SAMPLES = 1_000
BATCH = 500
BATCHES = 20


def held_job(n: int, repository: str = "octo/charts") -> Job:
    """Pull request `n` of `repository`, as a store holds thousands of them."""
    return Job(
        delivery_id=uuid.uuid4().hex,
        event="pull_request",
        action="synchronize",
        repository=repository,
        installation_id=42,
        kind="pull_request",
        params=PullRequestParams("a" * 40, "b" * 40, number=n),
        key=f"{repository}#{n}",
    )


async def _timed(times: list[float], operation: Awaitable[object]) -> None:
    started = time.perf_counter()
    await operation
    times.append((time.perf_counter() - started) * 1000)


async def _fill(store: JobStore) -> None:
    """HELD jobs: all added, then all but QUEUED claimed and finished (keys are all distinct)."""
    for n in range(HELD):
        await store.add(held_job(n))
    for _ in range(HELD - QUEUED):
        job = await store.claim("filler", 60)
        assert job is not None
        job.state = "succeeded"
        await store.save(job)


def _entry(job: Job | None = None) -> AuditEntry:
    return AuditEntry(
        at=time.time(),
        outcome="accepted" if job else "rejected",
        status=202 if job else 401,
        delivery_id=job.delivery_id if job else uuid.uuid4().hex,
        event="pull_request",
        action="synchronize" if job else None,
        repository=job.repository if job else None,
        installation_id=job.installation_id if job else None,
        sender="octocat" if job else None,
    )


async def _measure(store: JobStore, first: int) -> tuple[list[float], list[float], list[float]]:
    """Adds alone and adds with their audit entry, interleaved so both meet the same load."""
    adds: list[float] = []
    audited: list[float] = []
    claims: list[float] = []
    for n in range(SAMPLES):
        await _timed(adds, store.add(held_job(first + 2 * n)))
        audited_job = held_job(first + 2 * n + 1)
        await _timed(audited, store.add(audited_job, audit=_entry(audited_job)))
    for _ in range(SAMPLES):
        started = time.perf_counter()
        job = await store.claim("bench", 60)
        assert job is not None
        job.state = "succeeded"
        await store.save(job)
        claims.append((time.perf_counter() - started) * 1000)
    return adds, audited, claims


async def _batches(store: JobStore) -> list[float]:
    times: list[float] = []
    for _ in range(BATCHES):
        await _timed(times, store.record_deliveries([_entry() for _ in range(BATCH)], max_entries=HELD))
    return times


def _row(label: str, times: list[float]) -> str:
    cuts = statistics.quantiles(times, n=100)
    return f"  {label:<38} p50 {cuts[49]:6.2f} ms   p95 {cuts[94]:6.2f} ms   p99 {cuts[98]:6.2f} ms"


async def _backend(name: str, opener: Callable[[str], Awaitable[JobStore]]) -> None:
    print(f"{name}:")
    empty = await opener("empty")
    try:
        adds, audited, claims = await _measure(empty, 10**6)
    finally:
        await empty.close()
    full = await opener("full")
    try:
        started = time.perf_counter()
        await _fill(full)
        filled = time.perf_counter() - started
        held_adds, held_audited, held_claims = await _measure(full, 2 * 10**6)
        batches = await _batches(full)
        counts = await full.counts()
    finally:
        await full.close()
    print(_row("add, empty store", adds))
    print(_row(f"add, {HELD:,} jobs held", held_adds))
    print(_row("add + audit entry, empty store", audited))
    print(_row(f"add + audit entry, {HELD:,} jobs held", held_audited))
    print(_row("claim + save, empty store", claims))
    print(_row(f"claim + save, {HELD:,} jobs held", held_claims))
    print(_row(f"{BATCH} audit entries written behind", batches))
    print(f"  (filling {HELD:,} jobs took {filled:.1f} s; held at the end: {sum(counts.values()):,})")


async def main() -> None:
    print(f"Job store: {SAMPLES} adds and {SAMPLES} audited adds, then {SAMPLES} claims each followed by a save")
    with tempfile.TemporaryDirectory(prefix="chartimpact-store-bench-") as tmp:

        async def sqlite(label: str) -> JobStore:
            return await SqliteJobStore.open(str(Path(tmp) / f"{label}.sqlite3"))

        await _backend("sqlite (WAL, one file)", sqlite)
    with redis_server() as url:

        async def redis(label: str) -> JobStore:
            return await RedisJobStore.open(url, prefix=f"bench-{label}")

        await _backend("redis (loopback)", redis)


if __name__ == "__main__":
    asyncio.run(main())

"""Job store benchmark: `python -m benchmarks.store` (also run by `make bench`).

For each backend (a sqlite file, a redis-server of our own on loopback): the latency of `add`
(intake: what the webhook handler waits on before its 202) and of `claim` followed by `save`,
first on an empty store, then with 10,000 jobs already held (2,000 queued, 8,000 finished).
Figures printed, nothing asserted; the two rows of a backend should be alike (no growth).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from chartimpact_bot.jobs.model import Job
from chartimpact_bot.jobs.store.base import JobStore
from chartimpact_bot.jobs.store.redis import RedisJobStore
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore
from tests.jobs.redis_server import redis_server

HELD = 10_000
QUEUED = 2_000
SAMPLES = 1_000


def held_job(n: int, repository: str = "octo/charts") -> Job:
    """Pull request `n` of `repository`, as a store holds thousands of them."""
    return Job(
        delivery_id=uuid.uuid4().hex,
        event="pull_request",
        action="synchronize",
        repository=repository,
        installation_id=42,
        kind="pull_request",
        params={"number": n, "base": "a" * 40, "head": "b" * 40},
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


async def _measure(store: JobStore, first: int) -> tuple[list[float], list[float]]:
    adds: list[float] = []
    claims: list[float] = []
    for n in range(SAMPLES):
        await _timed(adds, store.add(held_job(first + n)))
    for _ in range(SAMPLES):
        started = time.perf_counter()
        job = await store.claim("bench", 60)
        assert job is not None
        job.state = "succeeded"
        await store.save(job)
        claims.append((time.perf_counter() - started) * 1000)
    return adds, claims


def _row(label: str, times: list[float]) -> str:
    cuts = statistics.quantiles(times, n=100)
    return f"  {label:<34} p50 {cuts[49]:6.2f} ms   p95 {cuts[94]:6.2f} ms   p99 {cuts[98]:6.2f} ms"


async def _backend(name: str, opener: Callable[[str], Awaitable[JobStore]]) -> None:
    print(f"{name}:")
    empty = await opener("empty")
    try:
        adds, claims = await _measure(empty, 10**6)
    finally:
        await empty.close()
    full = await opener("full")
    try:
        started = time.perf_counter()
        await _fill(full)
        filled = time.perf_counter() - started
        held_adds, held_claims = await _measure(full, 2 * 10**6)
        counts = await full.counts()
    finally:
        await full.close()
    print(_row("add, empty store", adds))
    print(_row(f"add, {HELD:,} jobs held", held_adds))
    print(_row("claim + save, empty store", claims))
    print(_row(f"claim + save, {HELD:,} jobs held", held_claims))
    print(f"  (filling {HELD:,} jobs took {filled:.1f} s; held at the end: {sum(counts.values()):,})")


async def main() -> None:
    print(f"Job store: {SAMPLES} adds, then {SAMPLES} claims each followed by a save, per backend")
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

"""Retention (jobs/retention.py, wired in web/app.py): the App prunes finished jobs by age and
by number, and never a queued or running one."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from chartimpact_bot.jobs.model import Job
from chartimpact_bot.jobs.store import ResultLimits, open_store
from tests.jobs.conftest import FakeClock

from .conftest import MakeApp, pull_request_job
from .test_api import _finished_jobs


async def _unfinished(queue_url: str) -> tuple[Job, Job]:
    """A job running elsewhere (a long lease), and a queued one waiting for it (same key)."""
    store = await open_store(queue_url)
    try:
        running = pull_request_job("pr:busy")
        await store.add(running)
        claimed = await store.claim("elsewhere", 3600.0)
        assert claimed is not None and claimed.id == running.id
        waiting = pull_request_job("pr:busy")
        await store.add(waiting)
        return claimed, waiting
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("overrides", "kept"),
    [
        ({"max_stored_jobs": 3}, 1),  # 6 held: the 3 oldest finished go, the newest finished stays
        ({"result_retention_days": 1e-9}, 0),  # every finished job is older than that
    ],
)
async def test_the_app_prunes_finished_jobs_and_keeps_unfinished_ones(
    make_app: MakeApp, tmp_path: Path, overrides: dict[str, float], kept: int
) -> None:
    queue_url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    finished = await _finished_jobs(queue_url, ["succeeded", "dead", "failed", "superseded"])
    running, waiting = await _unfinished(queue_url)
    app = await make_app(prune_interval_seconds=0.05, **overrides)
    store = app.queue.store
    for _ in range(200):
        counts = await store.counts()
        if sum(counts.values()) == 2 + kept:
            break
        await asyncio.sleep(0.02)
    remaining = [job.id for job in finished if await store.get(job.id) is not None]
    assert remaining == [job.id for job in finished][len(finished) - kept :]
    assert (await store.get(running.id)).state == "running"  # type: ignore[union-attr]
    assert (await store.get(waiting.id)).state == "queued"  # type: ignore[union-attr]
    await asyncio.sleep(0.2)  # several more rounds change nothing
    assert (await store.counts())["running"] == 1 and (await store.counts())["queued"] == 1


async def test_the_app_prunes_expired_result_cache_entries(make_app: MakeApp, tmp_path: Path) -> None:
    clock = FakeClock(time.time())
    queue_url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    store = await open_store(queue_url, clock=clock)
    try:
        limits = ResultLimits(max_entries=10, max_bytes=1_000_000)
        assert await store.put_result("a" * 64, b"expires soon", ttl=60, limits=limits)
        assert await store.put_result("b" * 64, b"expires later", ttl=3600, limits=limits)
    finally:
        await store.close()
    clock.advance(120)
    await make_app(clock=clock, prune_interval_seconds=0.05)
    for _ in range(200):
        with sqlite3.connect(tmp_path / "jobs.sqlite3") as conn:
            held = [row[0] for row in conn.execute("SELECT digest FROM results ORDER BY digest")]
        if held == ["b" * 64]:
            break
        await asyncio.sleep(0.02)
    assert held == ["b" * 64]

"""The per-repository rate limit through the DurableJobQueue (jobs/durable.py) on a real sqlite
store: a burst from one repository waits its turn, and another repository's job runs at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chartimpact_bot.jobs.durable import DurableJobQueue
from chartimpact_bot.jobs.model import Job
from chartimpact_bot.jobs.queue import Checkpoint, Ending
from chartimpact_bot.jobs.store.base import RATE_WINDOW_SECONDS
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore
from tests.jobs.conftest import FakeClock
from tests.jobs.test_rate_limit_contract import of

WAIT_SECONDS = 30.0  # a loaded machine may be slow; a correct queue finishes in well under a second
LIMIT = 2


class RecordingRunner:
    """Runs nothing: notes which job ran, and when by the store's clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.ran: list[tuple[str, float]] = []

    async def run(self, job: Job, checkpoint: Checkpoint) -> None:
        self.ran.append((job.id, self.clock()))

    async def close(self, job: Job, ending: Ending, newer: Job | None) -> None:
        raise AssertionError(f"no job should end without running, {job.id} did ({ending})")


@pytest.fixture
async def queue(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[DurableJobQueue, RecordingRunner]]:
    store = await SqliteJobStore.open(str(tmp_path / "jobs.sqlite3"), clock=clock)
    runner = RecordingRunner(clock)
    jobs = DurableJobQueue(
        store, runner, concurrency=2, installation_concurrency=0, repository_rate_limit=LIMIT, clock=clock
    )
    await jobs.start()
    yield jobs, runner
    await jobs.shutdown(1.0)
    await store.close()


async def _succeeded(queue: DurableJobQueue, job_ids: list[str]) -> None:
    """Until the workers (real tasks, polling the store) have run these jobs to success."""
    async with asyncio.timeout(WAIT_SECONDS):
        for job_id in job_ids:
            while (job := await queue.get(job_id)) is None or job.state != "succeeded":
                await asyncio.sleep(0.01)


async def test_a_burst_from_one_repository_does_not_delay_another(
    queue: tuple[DurableJobQueue, RecordingRunner], clock: FakeClock
) -> None:
    jobs, runner = queue
    start = clock()
    burst = [(await jobs.submit(of("octo/busy", n))).job.id for n in range(5)]
    other = (await jobs.submit(of("octo/quiet", 0))).job.id
    await _succeeded(jobs, [*burst[:LIMIT], other])
    assert {job_id for job_id, _ in runner.ran} == {*burst[:LIMIT], other}
    for job_id in burst[LIMIT:]:
        waiting = await jobs.get(job_id)
        assert waiting is not None and (waiting.state, waiting.attempts) == ("queued", 0)
        assert waiting.not_before == start + RATE_WINDOW_SECONDS

    clock.advance(RATE_WINDOW_SECONDS)  # the window has room for two more
    await _succeeded(jobs, burst[LIMIT : 2 * LIMIT])
    last = await jobs.get(burst[-1])
    assert last is not None and last.state == "queued" and last.not_before == clock() + RATE_WINDOW_SECONDS

    clock.advance(RATE_WINDOW_SECONDS)
    await _succeeded(jobs, burst[-1:])
    assert [at for _, at in runner.ran] == [start] * 3 + [start + 60] * 2 + [start + 120]
    # Waiting for the window cost no attempt: each job ran once.
    assert [(await jobs.get(job_id)).attempts for job_id in burst] == [1] * 5  # type: ignore[union-attr]

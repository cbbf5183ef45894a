"""The per-repository rate limit of `claim` (store/base.py, "Rate limit"), on sqlite and on Redis."""

from __future__ import annotations

from chartimpact_bot.jobs.model import Job
from chartimpact_bot.jobs.store.base import RATE_WINDOW_SECONDS, JobStore
from tests.jobs.conftest import FakeClock, OpenStore, make_job

LEASE = 600.0  # longer than every test's span: no lease expires unless a test says so


def of(repository: str, n: int) -> Job:
    job = make_job(f"{repository}-{n}", key=f"{repository}#{n}")
    job.repository = repository
    return job


async def finish(store: JobStore, job: Job) -> None:
    job.state = "succeeded"
    assert await store.save(job)


async def test_a_repository_at_its_limit_waits_while_others_run(store: JobStore, clock: FakeClock) -> None:
    start = clock()
    burst = [(await store.add(of("octo/busy", n))).job.id for n in range(4)]
    other = (await store.add(of("octo/quiet", 0))).job.id
    claimed = [await store.claim("w", LEASE, repository_limit=2) for _ in range(4)]
    # The third and fourth of the burst are parked, the other repository's job runs now.
    assert [j.id if j else None for j in claimed] == [burst[0], burst[1], other, None]
    for job_id in burst[2:]:
        parked = await store.get(job_id)
        assert parked is not None
        assert (parked.state, parked.attempts, parked.error) == ("queued", 0, None)
        assert parked.not_before == start + RATE_WINDOW_SECONDS
    clock.advance(RATE_WINDOW_SECONDS - 1)
    assert await store.claim("w", LEASE, repository_limit=2) is None
    clock.advance(1)  # the first two starts leave the window: two more may start
    again = [await store.claim("w", LEASE, repository_limit=2) for _ in range(3)]
    assert [j.id if j else None for j in again] == [burst[2], burst[3], None]
    assert all(j is not None and j.attempts == 1 and j.not_before is None for j in again[:2])


async def test_the_window_slides_and_counts_the_claims_of_every_instance(
    open_store: OpenStore, clock: FakeClock
) -> None:
    one, two = await open_store(), await open_store()
    start = clock()
    ids = [(await one.add(of("octo/charts", n))).job.id for n in range(4)]
    first = await one.claim("a", LEASE, repository_limit=2)
    clock.advance(30)
    second = await two.claim("b", LEASE, repository_limit=2)
    assert [first and first.id, second and second.id] == ids[:2]
    assert await one.claim("a", LEASE, repository_limit=2) is None
    # The window slides: the claim of `start` leaves it at start + 60, the one of start + 30 later.
    clock.advance(30)
    third = await two.claim("b", LEASE, repository_limit=2)
    assert third is not None and third.id == ids[2]
    assert await one.claim("a", LEASE, repository_limit=2) is None
    fourth = await one.get(ids[3])
    assert fourth is not None and fourth.not_before == start + 30 + RATE_WINDOW_SECONDS
    clock.advance(30)
    last = await one.claim("a", LEASE, repository_limit=2)
    assert last is not None and last.id == ids[3]


async def test_a_retry_counts_as_a_start_and_a_parked_job_keeps_its_age(store: JobStore, clock: FakeClock) -> None:
    older, younger = (await store.add(of("octo/charts", 1))).job, (await store.add(of("octo/charts", 2))).job
    job = await store.claim("w", LEASE, repository_limit=1)
    assert job is not None and job.id == older.id
    retry = await store.requeue(job, not_before=None, error="GitHub answered 502")
    assert retry is not None and retry.state == "queued"
    # Both are parked until the window allows one more start; the retry keeps its attempt.
    assert await store.claim("w", LEASE, repository_limit=1) is None
    parked = [await store.get(older.id), await store.get(younger.id)]
    assert [(j.attempts, j.error) for j in parked if j] == [(1, "GitHub answered 502"), (0, None)]
    clock.advance(RATE_WINDOW_SECONDS)
    again = await store.claim("w", LEASE, repository_limit=1)
    assert again is not None and again.id == older.id and again.attempts == 2  # the older goes first
    assert await store.claim("w", LEASE, repository_limit=1) is None
    await finish(store, again)
    clock.advance(RATE_WINDOW_SECONDS)
    last = await store.claim("w", LEASE, repository_limit=1)
    assert last is not None and last.id == younger.id


async def test_without_a_limit_nothing_is_parked(store: JobStore) -> None:
    ids = [(await store.add(of("octo/charts", n))).job.id for n in range(5)]
    for limit in (None, 0):
        claimed = await store.claim("w", LEASE, repository_limit=limit)
        assert claimed is not None and claimed.not_before is None
    claimed_ids = [j.id for j in [await store.claim("w", LEASE) for _ in range(3)] if j]
    assert claimed_ids == ids[2:]


async def test_the_limit_and_the_installation_cap_hold_together(store: JobStore, clock: FakeClock) -> None:
    """A job skipped for its installation's cap is not parked (nor counted): only a job that
    would start now meets the rate limit."""
    capped = of("octo/a", 1)
    capped.installation_id = 1
    running = of("octo/b", 1)
    running.installation_id = 1
    await store.add(running)
    await store.add(capped)
    first = await store.claim("w", LEASE, installation_cap=1, repository_limit=1)
    assert first is not None and first.id == running.id
    assert await store.claim("w", LEASE, installation_cap=1, repository_limit=1) is None
    waiting = await store.get(capped.id)
    assert waiting is not None and waiting.not_before is None  # waits for the cap, not the window
    await finish(store, first)
    second = await store.claim("w", LEASE, installation_cap=1, repository_limit=1)
    assert second is not None and second.id == capped.id

"""The job store contract (chartimpact_bot/jobs/store/base.py), run on sqlite and on Redis."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from chartimpact_bot.jobs.model import CheckRun, Job
from chartimpact_bot.jobs.params import PullRequestParams
from chartimpact_bot.jobs.store import Retention, StoreError, open_store
from chartimpact_bot.jobs.store.base import DELIVERY_WINDOW_SECONDS, STATES, JobStore
from chartimpact_bot.jobs.store.factory import sqlite_path
from chartimpact_bot.jobs.store.redis import RedisJobStore
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore
from tests.jobs.conftest import FakeClock, OpenStore, make_job

LEASE = 30.0


async def finish(store: JobStore, job: Job, state: str = "succeeded") -> None:
    job.state = state  # type: ignore[assignment]
    assert await store.save(job)


# -- intake, status, dedup ---------------------------------------------------------------------


async def test_added_job_is_queued_and_answers_the_status_shape(store: JobStore) -> None:
    added = await store.add(make_job(1))
    assert added.created and not added.revived and added.superseded == []
    stored = await store.get(added.job.id)
    assert stored is not None and stored.state == "queued" and stored.seq > 0
    status = stored.status()
    assert list(status) == [
        "jobId", "state", "event", "action", "repository", "attempts",
        "createdAt", "startedAt", "finishedAt", "error", "result",
    ]  # fmt: skip
    assert status["result"] == {"verdict": None, "checkRunIds": [], "commentId": None}
    assert stored.params == PullRequestParams("a" * 40, "b" * 40, "main", "feature-1", number=1)
    assert stored.check_run is None
    assert await store.get("no-such-job") is None


async def test_any_instance_answers_for_any_job(open_store: OpenStore) -> None:
    one, two = await open_store(), await open_store()
    added = await one.add(make_job(1))
    seen = await two.get(added.job.id)
    assert seen is not None and seen.status() == added.job.status()
    assert (await two.for_delivery("delivery-1")) is not None


async def test_a_redelivery_answers_the_original_job(open_store: OpenStore, clock: FakeClock) -> None:
    one, two = await open_store(), await open_store()
    first = await one.add(make_job(1))
    again = await two.add(make_job(1))
    assert not again.created and again.job.id == first.job.id and again.superseded == []
    assert (await one.counts())["queued"] == 1
    clock.advance(DELIVERY_WINDOW_SECONDS - 1)
    assert (await two.add(make_job(1))).job.id == first.job.id
    # After the window the delivery id is forgotten: GitHub keeps redeliveries for far less.
    clock.advance(2)
    assert await one.for_delivery("delivery-1") is None
    later = await two.add(make_job(1))
    assert later.created and later.job.id != first.job.id


async def test_a_redelivery_of_a_dead_job_runs_it_again(store: JobStore) -> None:
    job = (await store.add(make_job(1))).job
    claimed = await store.claim("w", LEASE)
    assert claimed is not None
    claimed.error = "GitHub kept answering 502"
    await finish(store, claimed, "dead")
    again = await store.add(make_job(1))
    assert not again.created and again.revived and again.job.id == job.id
    assert again.job.state == "queued" and again.job.attempts == 0 and again.job.error is None
    rerun = await store.claim("w", LEASE)
    assert rerun is not None and rerun.id == job.id and rerun.attempts == 1


async def test_a_redelivery_of_a_failed_or_finished_job_is_only_answered(store: JobStore) -> None:
    await store.add(make_job(1))
    claimed = await store.claim("w", LEASE)
    assert claimed is not None
    await finish(store, claimed, "failed")
    again = await store.add(make_job(1))
    assert not again.created and not again.revived and again.job.state == "failed"


# -- supersede ---------------------------------------------------------------------------------


async def test_a_newer_job_supersedes_queued_jobs_of_its_key(store: JobStore, clock: FakeClock) -> None:
    old = (await store.add(make_job(1, key="pr"))).job
    other = (await store.add(make_job(2, key="another pr"))).job
    new = await store.add(make_job(3, key="pr"))
    assert [j.id for j in new.superseded] == [old.id]
    gone = new.superseded[0]
    assert gone.state == "superseded" and gone.superseded_by == new.job.id and gone.finished_at
    assert (await store.get(old.id)) == gone
    assert (await store.get(other.id)).state == "queued"  # type: ignore[union-attr]
    claimed = [await store.claim("w", LEASE), await store.claim("w", LEASE), await store.claim("w", LEASE)]
    assert {j.id for j in claimed if j} == {other.id, new.job.id}


async def test_a_job_waiting_for_a_retry_is_superseded_too(store: JobStore, clock: FakeClock) -> None:
    await store.add(make_job(1, key="pr"))
    running = await store.claim("w", LEASE)
    assert running is not None
    waiting = await store.requeue(running, not_before=clock() + 300, error="rate limited")
    assert waiting is not None and waiting.state == "queued"
    newer = await store.add(make_job(2, key="pr"))
    assert [j.id for j in newer.superseded] == [running.id]
    clock.advance(301)
    claimed = await store.claim("w", LEASE)
    assert claimed is not None and claimed.id == newer.job.id
    assert await store.claim("w", LEASE) is None


async def test_a_running_job_is_not_superseded_and_its_key_waits(store: JobStore) -> None:
    await store.add(make_job(1, key="pr"))
    running = await store.claim("w", LEASE)
    assert running is not None
    newer = await store.add(make_job(2, key="pr"))
    assert newer.superseded == []
    assert (await store.get(running.id)).state == "running"  # type: ignore[union-attr]
    assert await store.claim("w", LEASE) is None  # the key is busy
    await finish(store, running)
    claimed = await store.claim("w", LEASE)
    assert claimed is not None and claimed.id == newer.job.id


# -- claim ---------------------------------------------------------------------------------------


async def test_claim_takes_priority_then_age_and_leases(store: JobStore, clock: FakeClock) -> None:
    release = (await store.add(make_job(1, kind="release"))).job
    push = (await store.add(make_job(2, kind="push"))).job
    pr_old = (await store.add(make_job(3))).job
    pr_new = (await store.add(make_job(4))).job
    order = []
    while (job := await store.claim("worker-a", LEASE)) is not None:
        order.append(job.id)
        assert job.state == "running" and job.attempts == 1 and job.started_at
        assert job.lease_owner is not None and job.lease_owner.startswith("worker-a/")
        assert job.lease_until == clock() + LEASE
    assert order == [pr_old.id, pr_new.id, push.id, release.id]
    assert (await store.counts())["running"] == 4


def _of(installation: int, job: Job) -> Job:
    job.installation_id = installation
    return job


async def test_claim_caps_the_running_jobs_of_an_installation(open_store: OpenStore, clock: FakeClock) -> None:
    """Fifty pull requests of one installation, then one of another: with a cap of 2 the other
    runs third, also when the claims come from two instances."""
    one, two = await open_store(), await open_store()
    busy = [(await one.add(_of(1, make_job(n)))).job.id for n in range(50)]
    other = (await one.add(_of(2, make_job("other")))).job
    first = [await one.claim("a", LEASE, installation_cap=2), await two.claim("b", LEASE, installation_cap=2)]
    assert [j.id for j in first if j] == busy[:2]
    third = await two.claim("b", LEASE, installation_cap=2)
    assert third is not None and third.id == other.id
    assert await one.claim("a", LEASE, installation_cap=2) is None  # both installations at their cap
    # Every way a running job ends frees its place: finished, requeued, recovered.
    held = first[0]
    assert held is not None
    await finish(one, held)
    freed = await one.claim("a", LEASE, installation_cap=2)
    assert freed is not None and freed.id == busy[2]
    assert await one.requeue(freed, not_before=None, error="retry")
    again = await two.claim("b", LEASE, installation_cap=2)
    assert again is not None and again.id == busy[2]
    clock.advance(LEASE + 1)
    recovered = await one.recover()
    assert {j.id for j in recovered} == {busy[1], busy[2], other.id}
    ids = [j.id for j in [await one.claim("a", LEASE, installation_cap=2) for _ in range(4)] if j]
    assert ids == [busy[1], busy[2], other.id]
    assert await one.claim("a", LEASE) is not None  # without a cap the installation takes more


async def test_two_instances_racing_claim_each_job_once(open_store: OpenStore) -> None:
    stores = [await open_store(), await open_store()]
    ids = {(await stores[0].add(make_job(n))).job.id for n in range(60)}
    claimed: list[str] = []

    async def worker(store: JobStore, name: str) -> None:
        while (job := await store.claim(name, LEASE)) is not None:
            claimed.append(job.id)
            await asyncio.sleep(0)
            await finish(store, job)

    await asyncio.gather(*(worker(stores[i % 2], f"w{i}") for i in range(8)))
    assert sorted(claimed) == sorted(ids)
    assert (await stores[1].counts())["succeeded"] == 60


async def test_one_job_per_key_runs_at_a_time_under_concurrency(open_store: OpenStore) -> None:
    stores = [await open_store(), await open_store()]
    keys = ["pr-1", "pr-2", "pr-3"]
    running: dict[str, str] = {}
    overlaps: list[str] = []
    done: list[str] = []

    async def worker(store: JobStore, name: str) -> None:
        idle = 0
        while idle < 30:
            job = await store.claim(name, LEASE)
            if job is None:
                idle += 1
                await asyncio.sleep(0.005)
                continue
            idle = 0
            if job.key in running:
                overlaps.append(job.key)
            running[job.key] = job.id
            await asyncio.sleep(0.01)  # longer than deliveries of one key are apart
            del running[job.key]
            await finish(store, job)
            done.append(job.id)

    async def deliveries() -> None:
        for n in range(45):
            await stores[n % 2].add(make_job(n, key=keys[n % 3]))
            await asyncio.sleep(0.002)

    await asyncio.gather(deliveries(), *(worker(stores[i % 2], f"w{i}") for i in range(6)))
    assert overlaps == []
    counts = await stores[0].counts()
    assert len(done) > len(keys)  # several jobs of a key ran, so the keys were contended
    assert counts["queued"] == counts["running"] == 0
    assert counts["succeeded"] + counts["superseded"] == 45 == len(done) + counts["superseded"]


# -- leases and recovery -----------------------------------------------------------------------


async def test_renew_extends_the_lease_of_its_holder(store: JobStore, clock: FakeClock) -> None:
    await store.add(make_job(1))
    job = await store.claim("w", LEASE)
    assert job is not None
    clock.advance(20)
    assert await store.renew(job, LEASE)
    assert job.lease_until == clock() + LEASE
    clock.advance(20)  # past the first lease, within the renewed one
    assert await store.recover() == []
    assert (await store.get(job.id)).state == "running"  # type: ignore[union-attr]


async def test_an_expired_lease_returns_the_job_and_fences_its_old_holder(
    open_store: OpenStore, clock: FakeClock
) -> None:
    one, two = await open_store(), await open_store()
    await one.add(make_job(1))
    lost = await one.claim("instance-1", LEASE)
    assert lost is not None
    clock.advance(LEASE - 1)
    assert await two.recover() == []
    clock.advance(2)
    recovered = await two.recover()
    assert [j.id for j in recovered] == [lost.id]
    assert recovered[0].state == "queued" and recovered[0].lease_owner is None and recovered[0].error
    again = await two.claim("instance-2", LEASE)
    assert again is not None and again.id == lost.id and again.attempts == 2
    # The vanished worker comes back: it holds nothing any more and changes nothing.
    assert not await one.renew(lost, LEASE)
    lost.state = "succeeded"
    assert not await one.save(lost)
    assert await one.requeue(lost, not_before=None, error="x") is None
    assert (await two.get(lost.id)).lease_owner == again.lease_owner  # type: ignore[union-attr]
    await finish(two, again)


async def test_the_same_owner_claiming_again_is_a_new_lease(store: JobStore, clock: FakeClock) -> None:
    await store.add(make_job(1))
    first = await store.claim("instance", LEASE)
    assert first is not None
    clock.advance(LEASE + 1)
    await store.recover()
    second = await store.claim("instance", LEASE)
    assert second is not None and second.lease_owner != first.lease_owner
    first.state = "failed"
    assert not await store.save(first)


async def test_recovery_supersedes_a_job_a_newer_one_replaced(store: JobStore, clock: FakeClock) -> None:
    await store.add(make_job(1, key="pr"))
    lost = await store.claim("w", LEASE)
    newer = await store.add(make_job(2, key="pr"))
    assert lost is not None
    clock.advance(LEASE + 1)
    [recovered] = await store.recover()
    assert recovered.state == "superseded" and recovered.superseded_by == newer.job.id
    claimed = await store.claim("w", LEASE)
    assert claimed is not None and claimed.id == newer.job.id


# -- retries, finishing, dead letters --------------------------------------------------------


async def test_a_retry_waits_for_its_not_before(store: JobStore, clock: FakeClock) -> None:
    await store.add(make_job(1))
    job = await store.claim("w", LEASE)
    assert job is not None
    job.result["checkRunIds"] = [7]  # recorded before the failure: the retry reuses the run
    requeued = await store.requeue(job, not_before=clock() + 60, error="GitHub answered 502")
    assert requeued is not None and requeued.state == "queued" and requeued.not_before == clock() + 60
    assert requeued.error == "GitHub answered 502" and requeued.lease_owner is None
    assert await store.claim("w", LEASE) is None
    clock.advance(59)
    assert await store.claim("w", LEASE) is None
    clock.advance(1)
    retry = await store.claim("w", LEASE)
    assert retry is not None and retry.id == job.id and retry.attempts == 2
    assert retry.result["checkRunIds"] == [7] and retry.not_before is None


async def test_a_retry_without_delay_keeps_its_age(store: JobStore) -> None:
    await store.add(make_job(1))
    await store.add(make_job(2))
    first = await store.claim("w", LEASE)
    assert first is not None
    await store.requeue(first, not_before=None, error="busy")
    again = await store.claim("w", LEASE)
    assert again is not None and again.id == first.id


async def test_a_retry_is_superseded_when_a_newer_job_waits(store: JobStore) -> None:
    await store.add(make_job(1, key="pr"))
    job = await store.claim("w", LEASE)
    newer = await store.add(make_job(2, key="pr"))
    assert job is not None
    answer = await store.requeue(job, not_before=None, error="502")
    assert answer is not None and answer.state == "superseded" and answer.superseded_by == newer.job.id


async def test_save_writes_progress_and_finishes(store: JobStore, clock: FakeClock) -> None:
    await store.add(make_job(1, key="pr"))
    job = await store.claim("w", LEASE)
    assert job is not None
    job.result["checkRunIds"] = [11, 12]
    job.check_run = CheckRun(7, "https://github.example/octo/charts/runs/7", job.seq)
    assert await store.save(job)  # still running: progress only
    stored = await store.get(job.id)
    assert stored is not None and stored.state == "running" and stored.result["checkRunIds"] == [11, 12]
    assert stored.check_run == job.check_run
    clock.advance(5)
    job.result["verdict"] = "warn"
    await finish(store, job)
    stored = await store.get(job.id)
    assert stored is not None and stored.state == "succeeded" and stored.lease_owner is None
    assert stored.finished_at and stored.result == {"verdict": "warn", "checkRunIds": [11, 12], "commentId": None}
    assert not await store.save(job)  # finished: nobody holds it any more
    await store.add(make_job(2, key="pr"))
    assert (await store.claim("w", LEASE)) is not None  # the key was released


async def test_save_refuses_a_state_that_needs_another_operation(store: JobStore) -> None:
    await store.add(make_job(1))
    job = await store.claim("w", LEASE)
    assert job is not None
    job.state = "queued"
    with pytest.raises(ValueError, match="requeue or revive"):
        await store.save(job)


async def test_dead_jobs_are_listed_and_revived(store: JobStore) -> None:
    for n in range(3):
        await store.add(make_job(n))
        job = await store.claim("w", LEASE)
        assert job is not None
        job.error = f"gave up {n}"
        await finish(store, job, "dead" if n else "succeeded")
    dead = await store.list(["dead"])
    assert [j.error for j in dead.items] == ["gave up 2", "gave up 1"] and dead.cursor is None
    revived = await store.revive(dead.items[0].id)
    assert revived is not None and revived.revived and revived.job.state == "queued"
    assert [j.id for j in (await store.list(["dead"])).items] == [dead.items[1].id]
    succeeded = (await store.list(["succeeded"])).items[0]
    assert await store.revive(succeeded.id) is None
    assert await store.revive("no-such-job") is None
    claimed = await store.claim("w", LEASE)
    assert claimed is not None and claimed.id == dead.items[0].id and claimed.attempts == 1


# -- owed closes -------------------------------------------------------------------------------


async def test_a_superseded_job_owes_a_close_until_it_is_closed(open_store: OpenStore, clock: FakeClock) -> None:
    one, two = await open_store(), await open_store()
    old = (await one.add(make_job(1, key="pr"))).job
    newer = await one.add(make_job(2, key="pr"))
    (gone,) = newer.superseded
    assert (gone.close_owed, gone.close_due) == ("superseded", clock())
    assert (await two.get(old.id)) == gone  # owed in the same change that superseded it
    (due,) = await one.closes_due(10, hold=LEASE)
    assert due.id == old.id and due.close_due == clock() + LEASE
    # Held by the first instance: the other does not take it meanwhile…
    assert await two.closes_due(10, hold=LEASE) == []
    clock.advance(LEASE + 1)
    # …unless the first vanished before paying: then it is due again.
    assert [j.id for j in await two.closes_due(10, hold=LEASE)] == [old.id]
    assert await two.closed(old.id)
    assert not await one.closed(old.id)  # paid already
    assert not await one.close_later(old.id, clock() + 60)
    clock.advance(LEASE + 1)
    assert await one.closes_due(10, hold=LEASE) == []
    stored = await one.get(old.id)
    assert stored is not None and (stored.state, stored.close_owed, stored.close_due) == ("superseded", None, None)


async def test_every_way_of_superseding_owes_a_close(store: JobStore, clock: FakeClock) -> None:
    await store.add(make_job(1, key="retried"))
    await store.add(make_job(2, key="lost"))
    retried, lost = await store.claim("w", LEASE), await store.claim("w", LEASE)
    assert retried is not None and lost is not None
    await store.add(make_job(3, key="retried"))
    await store.add(make_job(4, key="lost"))
    requeued = await store.requeue(retried, not_before=None, error="502")
    assert requeued is not None and (requeued.state, requeued.close_owed) == ("superseded", "superseded")
    clock.advance(LEASE + 1)
    (recovered,) = await store.recover()
    assert (recovered.state, recovered.close_owed) == ("superseded", "superseded")
    assert {j.id for j in await store.closes_due(10, hold=LEASE)} == {retried.id, lost.id}


async def test_a_job_saved_finished_owing_a_close_is_retained_until_closed(store: JobStore, clock: FakeClock) -> None:
    await store.add(make_job(1))
    job = await store.claim("w", LEASE)
    assert job is not None
    job.state, job.error, job.close_owed = "dead", "GitHub kept answering 502", "dead"
    assert await store.save(job)
    assert (job.close_owed, job.close_due) == ("dead", clock())
    assert await store.prune(Retention(max_age_seconds=0, max_kept=0)) == 0  # the debt keeps it
    # GitHub failed again: tried later, not before.
    assert [j.id for j in await store.closes_due(10, hold=LEASE)] == [job.id]
    assert await store.close_later(job.id, clock() + 300)
    clock.advance(299)
    assert await store.closes_due(10, hold=LEASE) == []
    clock.advance(1)
    (due,) = await store.closes_due(10, hold=LEASE)
    assert due.id == job.id and due.close_owed == "dead" and due.error == "GitHub kept answering 502"
    assert await store.closed(job.id)
    # Retention counts from the close.
    clock.advance(10)
    assert await store.prune(Retention(max_age_seconds=50, max_kept=1000)) == 0
    clock.advance(50)
    assert await store.prune(Retention(max_age_seconds=50, max_kept=1000)) == 1


async def test_closes_due_come_soonest_first_and_by_the_limit(store: JobStore, clock: FakeClock) -> None:
    ids = []
    for n in range(5):
        await store.add(make_job(n, key=f"pr-{n}"))
        job = await store.claim("w", LEASE)
        assert job is not None
        job.state, job.close_owed = "failed", "stopped"
        await store.save(job)
        ids.append(job.id)
        clock.advance(1)
    await store.close_later(ids[0], clock() + 100)
    assert [j.id for j in await store.closes_due(2, hold=LEASE)] == ids[1:3]
    assert [j.id for j in await store.closes_due(10, hold=LEASE)] == ids[3:]


async def test_a_revived_job_owes_nothing_and_a_running_one_cannot(store: JobStore) -> None:
    await store.add(make_job(1))
    job = await store.claim("w", LEASE)
    assert job is not None
    job.close_owed = "dead"
    assert await store.save(job)  # progress: only a finished job owes a close
    stored = await store.get(job.id)
    assert stored is not None and stored.close_owed is None and await store.closes_due(10, hold=LEASE) == []
    job.state, job.close_owed = "dead", "dead"
    assert await store.save(job)
    revived = await store.revive(job.id)
    assert revived is not None and (revived.job.close_owed, revived.job.close_due) == (None, None)
    assert await store.closes_due(10, hold=LEASE) == []
    assert not await store.closed(job.id)


# -- listing, counts, retention ----------------------------------------------------------------


async def test_listing_pages_newest_first(store: JobStore) -> None:
    for n in range(23):
        await store.add(make_job(n))
    for _ in range(5):
        job = await store.claim("w", LEASE)
        assert job is not None
        await finish(store, job, "dead")
    seen: list[Job] = []
    cursor = None
    while True:
        page = await store.list(["queued", "dead"], limit=10, cursor=cursor)
        seen.extend(page.items)
        assert len(page.items) <= 10
        if page.cursor is None:
            break
        cursor = page.cursor
    assert len(seen) == 23 == len({j.id for j in seen})
    assert [j.seq for j in seen] == sorted((j.seq for j in seen), reverse=True)
    only_dead = await store.list(["dead"], limit=5)
    assert len(only_dead.items) == 5 and only_dead.cursor is None
    with pytest.raises(ValueError, match="unknown job state"):
        await store.list(["lost"])
    with pytest.raises(ValueError, match="cursor"):
        await store.list(["dead"], cursor="drop table")


async def test_counts_by_state(store: JobStore) -> None:
    assert await store.counts() == dict.fromkeys(STATES, 0)
    for n in range(4):
        await store.add(make_job(n))
    job = await store.claim("w", LEASE)
    assert job is not None
    counts = await store.counts()
    assert counts == {**dict.fromkeys(STATES, 0), "queued": 3, "running": 1}


async def test_prune_by_age_and_size_never_drops_unfinished_jobs(store: JobStore, clock: FakeClock) -> None:
    finished = []
    for n in range(6):
        await store.add(make_job(n))
        job = await store.claim("w", LEASE)
        assert job is not None
        await finish(store, job, ("succeeded", "failed", "dead")[n % 3])
        finished.append(job.id)
        clock.advance(3600)
    running = (await store.add(make_job("r"))).job
    assert await store.claim("w", LEASE) is not None
    queued = (await store.add(make_job("q"))).job
    # The oldest two finished more than 4.5 h ago.
    assert await store.prune(Retention(max_age_seconds=4.5 * 3600, max_kept=1000)) == 2
    assert [await store.get(i) for i in finished[:2]] == [None, None]
    # Then by size: the oldest finished go first, and unfinished jobs stay even over the limit.
    assert await store.prune(Retention(max_age_seconds=10**9, max_kept=4)) == 2
    assert [await store.get(i) is not None for i in finished[2:]] == [False, False, True, True]
    assert await store.prune(Retention(max_age_seconds=0, max_kept=0)) == 2
    remaining = await store.counts()
    assert remaining["queued"] == 1 and remaining["running"] == 1 and sum(remaining.values()) == 2
    assert (await store.get(running.id)) is not None and (await store.get(queued.id)) is not None
    # A pruned job's delivery no longer deduplicates: the job it named is gone.
    assert await store.for_delivery("delivery-0") is None


# -- intake cost, by shape -----------------------------------------------------------------------


async def test_sqlite_intake_and_claim_use_indexes(tmp_path: Path) -> None:
    store = await SqliteJobStore.open(str(tmp_path / "plans.sqlite3"))
    try:
        plans = await store.query_plans()
    finally:
        await store.close()
    for name, plan in plans.items():
        steps = [s for s in plan if not s.startswith(("CORRELATED", "LIST SUBQUERY", "SCALAR SUBQUERY"))]
        if name == "next_runnable":
            # An ordered walk of the runnable index that stops at the first free key.
            assert steps[0] == "SCAN j USING INDEX jobs_ready", plan
            steps = steps[1:]
        assert all(s.startswith("SEARCH") for s in steps), (name, plan)
        assert not any("TEMP B-TREE" in s for s in plan), (name, plan)


async def _commands(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_config|resetstat"))


async def test_redis_intake_and_claim_cost_does_not_grow_with_jobs_held(redis_url: str, clock: FakeClock) -> None:
    """Commands run by the server (scripts' own calls included) for one add and one claim, with
    10 and with 400 jobs held: the same, so no step walks the jobs held."""
    store = await RedisJobStore.open(redis_url, prefix="cost", clock=clock)
    client = aioredis.Redis.from_url(redis_url)
    try:
        costs: list[tuple[int, int]] = []
        for held in (10, 400):
            for n in range(held - len(costs) * 10):
                await store.add(make_job(f"{held}-{n}"))
            await client.config_resetstat()
            await store.add(make_job(f"probe-{held}"))
            added = await _commands(client)
            await client.config_resetstat()
            assert await store.claim("w", LEASE) is not None
            costs.append((added, await _commands(client)))
        assert costs[0] == costs[1], costs
    finally:
        await client.aclose()
        await store.close()


# -- opening ---------------------------------------------------------------------------------


async def test_open_store_reads_the_queue_url(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite:///./data/jobs.sqlite3", f"sqlite:///{tmp_path}/abs.sqlite3", "memory://"):
        store = await open_store(url)
        await store.add(make_job(1))
        await store.ping()
        await store.close()
    assert (tmp_path / "data" / "jobs.sqlite3").is_file() and (tmp_path / "abs.sqlite3").is_file()
    store = await open_store(f"{redis_url}?prefix=open-test")
    try:
        await store.add(make_job(1))
        assert (await store.counts())["queued"] == 1
    finally:
        await store.close()
    with pytest.raises(ValueError, match="CHARTIMPACT_QUEUE_URL"):
        await open_store("postgres://db/jobs")
    with pytest.raises(ValueError, match="no host"):
        sqlite_path("sqlite://data/jobs.sqlite3")
    assert sqlite_path("sqlite:////var/lib/ci.sqlite3") == "/var/lib/ci.sqlite3"


async def test_an_unreachable_redis_is_one_store_error() -> None:
    with pytest.raises(StoreError, match=r"redis://127\.0\.0\.1:1/0 cannot be used"):
        await open_store("redis://:secret@127.0.0.1:1/0")


async def test_a_store_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    await (await SqliteJobStore.open(str(path))).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        await SqliteJobStore.open(str(path))


async def test_a_reopened_sqlite_store_keeps_its_jobs(tmp_path: Path, clock: FakeClock) -> None:
    path = str(tmp_path / "kept.sqlite3")
    store = await SqliteJobStore.open(path, clock=clock)
    job = (await store.add(make_job(1))).job
    await store.close()
    store = await SqliteJobStore.open(path, clock=clock)
    try:
        assert (await store.get(job.id)) == job
        assert (await store.add(make_job(2))).job.seq == job.seq + 1
    finally:
        await store.close()


async def test_a_version_2_sqlite_file_is_upgraded_and_its_jobs_owe_nothing(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "v2.sqlite3"
    store = await SqliteJobStore.open(str(path), clock=clock)
    job = (await store.add(make_job(1))).job
    await store.close()
    with sqlite3.connect(path) as conn:  # back to version 2: what versions 3 to 6 added, dropped
        for table in ("results", "audit", "repository_starts", "analyses", "acknowledgements", "acknowledgement_log"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DROP INDEX jobs_close_due")
        conn.execute("ALTER TABLE jobs DROP COLUMN close_owed")
        conn.execute("ALTER TABLE jobs DROP COLUMN close_due")
        conn.execute("PRAGMA user_version = 2")
    store = await SqliteJobStore.open(str(path), clock=clock)
    try:
        assert (await store.get(job.id)) == job
        assert await store.closes_due(10, hold=LEASE) == []
        newer = await store.add(make_job(2, key=job.key))
        assert [j.close_owed for j in newer.superseded] == ["superseded"]
    finally:
        await store.close()

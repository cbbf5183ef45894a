"""Retries that respect GitHub, per installation (issue 8, points 4 and 7): a primary rate limit
parks the installation's jobs until its reset with no call in between and without charging
attempts; one installation's outage or burst never delays another's jobs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from chartimpact_bot.web.keys import GITHUB
from tests.conftest import init_repo
from tests.github.conftest import INSTALLATION, REPOSITORY, AppUnderTest, MakeApp, Repo, chart_files, pull_request
from tests.github.fake_github import Call
from tests.github.test_deliveries import _head
from tests.github.test_durable_queue import _status, _until
from tests.jobs.conftest import FakeClock

OTHER_REPOSITORY = "zeta/charts"
OTHER_INSTALLATION = 777
LIMITED = {"message": "API rate limit exceeded for installation ID 4242."}


def _other_repo(app: AppUnderTest, tmp_path: Path) -> tuple[Repo, str]:
    repo = Repo(init_repo(tmp_path / "other-repo"))
    base = repo.commit(chart_files("db"), "one chart")
    app.fake.add_repo(OTHER_REPOSITORY, repo.path)
    return repo, base


def _of_other(payload: dict[str, Any]) -> dict[str, Any]:
    owner, name = OTHER_REPOSITORY.split("/")
    payload["repository"].update({"full_name": OTHER_REPOSITORY, "name": name})
    payload["repository"]["owner"]["login"] = owner
    payload["installation"]["id"] = OTHER_INSTALLATION
    return payload


def _of(repository: str, call: Call) -> bool:
    return call.path.startswith(f"/repos/{repository}/")


async def test_a_primary_rate_limit_parks_the_installations_jobs_until_the_reset(
    make_app: MakeApp, repo: Repo, tmp_path: Path
) -> None:
    clock = FakeClock(time.time())
    # One attempt only: being parked (twice here) must not make the jobs dead.
    app = await make_app(clock=clock, worker_concurrency=2, installation_concurrency=2, job_max_attempts=1)
    other, other_base = _other_repo(app, tmp_path)
    reset = float(int(clock()) + 3600)
    spent: list[str] = []  # every call of the installation before its reset (GitHub answers 403)

    def primary_limit(call: Call) -> tuple[int, dict[str, str], Any] | None:
        if not _of(REPOSITORY, call) or clock() >= reset:
            return None
        if call.operation == "git/get-tree" or spent:  # spent: GitHub refuses every call until the reset
            spent.append(f"{call.method} {call.path}")
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset)), "x-ratelimit-limit": "5000"}
            return 403, headers, LIMITED
        return None

    app.fake.rules.append(primary_limit)
    base = _head(repo)
    head1 = repo.commit(chart_files("web", tag="1.26"))
    _, first = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head1))

    async def parked(job_id: str) -> bool:
        job = await app.queue.store.get(job_id)
        return job is not None and job.state == "queued" and job.not_before is not None

    await _until(lambda: parked(first["jobId"]))
    # Another job of the limited installation fails fast before any call; another
    # installation's job runs meanwhile.
    head2 = repo.commit(chart_files("api", tag="1.27"))
    _, second = await app.deliver("pull_request", pull_request("opened", number=2, base_sha=base, head_sha=head2))
    other_head = other.commit(chart_files("db", tag="1.30"))
    _, unrelated = await app.deliver(
        "pull_request", _of_other(pull_request("opened", number=9, base_sha=other_base, head_sha=other_head))
    )
    await _until(lambda: parked(second["jobId"]))

    async def done(job_id: str) -> bool:
        return bool((await _status(app, job_id))["state"] == "succeeded")

    await _until(lambda: done(unrelated["jobId"]))
    for job_id in (first["jobId"], second["jobId"]):
        job = await app.queue.store.get(job_id)
        assert job is not None and job.not_before == reset, job
        assert (job.state, job.attempts) == ("queued", 0)  # the parked attempt is not charged
        assert job.error and "rate limit of installation 4242" in job.error
    # Nothing was sent for the installation once the limit was known, except the head tree
    # already in flight beside the base tree that met it: both trees are fetched at once.
    trees = {f"GET /repos/{REPOSITORY}/git/trees/{sha}" for sha in (base, head1)}
    assert set(spent) <= trees and 1 <= len(spent) <= 2, spent
    assert app.fake.runs_for(head2) == []  # its first call was never sent
    (unrelated_run,) = app.fake.runs_for(other_head)
    assert unrelated_run["status"] == "completed"

    clock.advance(3601)  # the reset has come
    await app.settle()
    for job_id, head in ((first["jobId"], head1), (second["jobId"], head2)):
        state = await _status(app, job_id)
        assert (state["state"], state["attempts"]) == ("succeeded", 1), state
        (run,) = app.fake.runs_for(head)  # the parked job reused the run it opened
        assert run["status"] == "completed"


async def test_one_installations_outage_does_not_pause_another(make_app: MakeApp, repo: Repo, tmp_path: Path) -> None:
    app = await make_app(job_max_attempts=2, job_retry_delay_seconds=0.01)
    other, other_base = _other_repo(app, tmp_path)

    def outage(call: Call) -> tuple[int, dict[str, str], Any] | None:
        return (503, {}, {"message": "Service Unavailable"}) if _of(REPOSITORY, call) else None

    app.fake.rules.append(outage)
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    _, broken = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    await app.settle()
    assert (await _status(app, broken["jobId"]))["state"] == "dead"
    github = app.client.app[GITHUB]
    assert github.breaker(INSTALLATION).opened_at is not None  # open for its cooldown

    other_head = other.commit(chart_files("db", tag="1.30"))
    _, unrelated = await app.deliver(
        "pull_request", _of_other(pull_request("opened", number=9, base_sha=other_base, head_sha=other_head))
    )
    await app.settle()
    state = await _status(app, unrelated["jobId"])
    assert (state["state"], state["attempts"], state["error"]) == ("succeeded", 1, None)
    assert github.breaker(OTHER_INSTALLATION).opened_at is None
    assert github.breaker(INSTALLATION).opened_at is not None


async def test_one_installations_burst_does_not_starve_another(make_app: MakeApp, repo: Repo, tmp_path: Path) -> None:
    app = await make_app(worker_concurrency=2, installation_concurrency=1)
    app.fake.latency = 0.02
    other, other_base = _other_repo(app, tmp_path)
    base = _head(repo)
    heads = [repo.commit(chart_files("web", tag=f"1.{n}"), f"tag {n}") for n in range(1, 4)]
    for n, head in enumerate(heads, 1):
        await app.deliver("pull_request", pull_request("opened", number=n, base_sha=base, head_sha=head))
    other_head = other.commit(chart_files("db", tag="1.30"))
    await app.deliver(
        "pull_request", _of_other(pull_request("opened", number=9, base_sha=other_base, head_sha=other_head))
    )
    await app.settle()
    created = [c.body["head_sha"] for c in app.fake.operations("checks/create")]
    # Delivered last, the other installation's job ran beside the first, not after the burst.
    assert created.index(other_head) == 1, created
    assert sorted(created) == sorted([*heads, other_head])


class ClockSleep:
    """The App's sleep on the test's clock: it returns once the test moved the clock past the
    wake-up time, and counts what is waiting in it (something that will call GitHub again)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waiting = 0

    async def __call__(self, seconds: float) -> None:
        until = self.clock() + seconds
        self.waiting += 1
        try:
            while self.clock() < until:
                await asyncio.sleep(0.01)
        finally:
            self.waiting -= 1


async def test_a_primary_limit_met_by_one_side_stops_the_other_side_too(make_app: MakeApp, repo: Repo) -> None:
    """Base and head trees are fetched at once. The base tree meets a primary limit that resets
    soon (so its fetch sleeps until the reset); the head tree, in flight, comes back truncated
    and its walk meets the closed gate. The job is parked until the reset, and nothing of it is
    left waiting to call GitHub: the sleeping side was cancelled with the attempt."""
    clock = FakeClock(time.time())
    sleep = ClockSleep(clock)
    app = await make_app(clock=clock, sleep=sleep, job_max_attempts=1)
    gate = app.client.app[GITHUB].gate
    assert gate is not None
    reset = float(int(clock()) + 60)  # within the client's max wait: it sleeps rather than raising
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    base_tree, head_tree = (f"/repos/{REPOSITORY}/git/trees/{sha}" for sha in (base, head))

    def primary_limit(call: Call) -> tuple[int, dict[str, str], Any] | None:
        if call.path == base_tree and clock() < reset:
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset)), "x-ratelimit-limit": "5000"}
            return 403, headers, LIMITED
        return None

    async def head_after_the_limit(call: Call) -> None:
        # The head tree was sent beside the base tree; its answer comes once the 403 closed the gate.
        if call.path == head_tree:
            while gate.until(app.settings.api_url, INSTALLATION) is None:
                await asyncio.sleep(0.01)

    app.fake.rules.append(primary_limit)
    app.fake.hold = head_after_the_limit
    app.fake.truncate_trees = True  # the head's listing needs a walk, a call per directory
    _, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))

    async def parked() -> bool:
        job = await app.queue.store.get(answer["jobId"])
        return job is not None and job.state == "queued" and job.not_before == reset

    await _until(parked)
    assert sleep.waiting == 0, "a side of the parked job still waits to call GitHub"
    limited_at = next(i for i, c in enumerate(app.fake.calls) if c.path == base_tree)
    after = [c.path for c in app.fake.calls[limited_at + 1 :] if _of(REPOSITORY, c)]
    assert after == [head_tree]  # only the answer already in flight; the walk was never sent

    app.fake.hold, app.fake.truncate_trees = None, False
    clock.advance(61)  # the reset has come: the job runs again and completes
    await app.settle()
    state = await _status(app, answer["jobId"])
    assert (state["state"], state["attempts"]) == ("succeeded", 1), state
    (run,) = app.fake.runs_for(head)
    assert run["status"] == "completed"

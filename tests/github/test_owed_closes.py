"""No check run is left in progress when its job ends without publishing (issue 8, point 2): the
close is owed in the store from the write that ended the job, and paid by whichever instance
runs next, also after a crash right after the supersede, and after GitHub refused the close for
a while (a 5xx, a primary rate limit: nothing is sent before the reset). Every App here runs on
a real sqlite file (conftest.make_app) and a clock the test moves."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from chartimpact_bot.github.events import decide
from chartimpact_bot.jobs.store import open_store
from chartimpact_bot.web.keys import GITHUB
from tests.github.conftest import INSTALLATION, REPOSITORY, AppUnderTest, MakeApp, Repo, chart_files, pull_request
from tests.github.fake_github import Call
from tests.github.test_deliveries import _head
from tests.github.test_durable_queue import _comments, _status, _until
from tests.jobs.conftest import FakeClock

SECONDARY_FOR_AN_HOUR: tuple[str, int, dict[str, str], Any] = (
    "git/get-tree",
    403,
    {"retry-after": "3600"},
    {"message": "You have exceeded a secondary rate limit"},
)
LEASE = 1.5  # the closer looks for due closes every LEASE / 3 seconds


async def _waiting_for_a_retry(app: AppUnderTest, base: str, head: str) -> tuple[str, int]:
    """A pull request's job that opened its run and waits an hour for a retry: (job id, run id)."""
    app.fake.injected.append(SECONDARY_FOR_AN_HOUR)
    _, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))

    async def waiting() -> bool:
        state = await _status(app, answer["jobId"])
        return bool(state["state"] == "queued" and state["attempts"] == 1)

    await _until(waiting)
    (run,) = app.fake.runs_for(head)
    assert run["status"] == "in_progress"
    return answer["jobId"], run["id"]


async def test_a_run_superseded_by_an_instance_killed_right_after_is_closed_after_a_restart(
    make_app: MakeApp, repo: Repo
) -> None:
    first = await make_app()
    base = _head(repo)
    head1 = repo.commit(chart_files("web", tag="1.26"))
    job_id, run_id = await _waiting_for_a_retry(first, base, head1)
    await first.client.close()  # nothing runs: the job waits for its retry in the store
    # The synchronize reached another instance, killed -9 right after the store superseded the
    # waiting job (in the same write that owes the run its close), before it sent the close.
    head2 = repo.commit(chart_files("web", tag="1.27"))
    decision = await decide(
        "pull_request", str(uuid.uuid4()), pull_request("synchronize", number=1, base_sha=base, head_sha=head2)
    )
    assert decision.job is not None
    store = await open_store(first.settings.queue_url)
    try:
        added = await store.add(decision.job)
    finally:
        await store.close()
    assert [(j.id, j.close_owed) for j in added.superseded] == [(job_id, "superseded")]
    assert first.fake.check_runs[run_id]["status"] == "in_progress"

    second = await make_app()  # the restart: it pays what the killed instance owed
    await second.settle()
    old = second.fake.check_runs[run_id]
    assert (old["status"], old["conclusion"], old["output"]["title"]) == (
        "completed",
        "cancelled",
        f"superseded by {head2[:7]}",
    )
    (new,) = second.fake.runs_for(head2)
    assert new["status"] == "completed" and new["conclusion"] != "cancelled"
    stored = await second.queue.store.get(job_id)
    assert stored is not None and (stored.state, stored.close_owed) == ("superseded", None)
    assert len(_comments(second, 1)) == 1


@pytest.mark.parametrize("refusal", ["5xx", "primary rate limit"])
async def test_a_close_github_refuses_is_tried_again_later_and_completes(
    make_app: MakeApp, repo: Repo, refusal: str
) -> None:
    clock = FakeClock(time.time())
    app = await make_app(clock=clock, job_lease_seconds=LEASE, job_retry_delay_seconds=30)
    base = _head(repo)
    head1 = repo.commit(chart_files("web", tag="1.26"))
    job_id, run_id = await _waiting_for_a_retry(app, base, head1)
    back = float(int(clock()) + (20 if refusal == "5xx" else 600))  # GitHub answers again then (the reset)
    refused: list[float] = []  # when each close GitHub refused was sent, by the test's clock

    def refuse_the_close(call: Call) -> tuple[int, dict[str, str], Any] | None:
        if call.operation != "checks/update" or not call.path.endswith(f"/{run_id}") or clock() >= back:
            return None
        refused.append(clock())
        if refusal == "5xx":
            return 502, {}, {"message": "Bad Gateway"}
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(back)), "x-ratelimit-limit": "5000"}
        return 403, headers, {"message": "API rate limit exceeded for installation ID 4242."}

    app.fake.rules.append(refuse_the_close)
    head2 = repo.commit(chart_files("web", tag="1.27"))
    await app.deliver("pull_request", pull_request("synchronize", number=1, base_sha=base, head_sha=head2))

    async def postponed() -> bool:
        job = await app.queue.store.get(job_id)
        # Put off beyond the hold of a close being made (LEASE): GitHub refused it.
        return job is not None and job.close_owed == "superseded" and (job.close_due or 0) > clock() + LEASE

    await _until(postponed)
    job = await app.queue.store.get(job_id)
    assert job is not None and job.close_due is not None
    if refusal == "5xx":  # the client's own retries, then the queue's later try
        assert len(refused) == 4 and job.close_due == pytest.approx(clock() + 30)
    else:  # nothing more is sent for the installation before the reset
        assert len(refused) == 1 and job.close_due == back
    assert app.fake.check_runs[run_id]["status"] == "in_progress"
    sent = len(refused)
    clock.advance(job.close_due - clock() - 1)  # a second before it is due
    await asyncio.sleep(LEASE)  # the closer looks every LEASE / 3 s of the loop's own time: thrice
    assert len(refused) == sent and app.fake.check_runs[run_id]["status"] == "in_progress"

    clock.advance(max(back - clock(), 1.0))  # due, and GitHub answers again
    await _until(lambda: _completed(app, run_id), seconds=30)
    await app.settle()
    old = app.fake.check_runs[run_id]
    assert (old["conclusion"], old["output"]["title"]) == ("cancelled", f"superseded by {head2[:7]}")
    stored = await app.queue.store.get(job_id)
    assert stored is not None and stored.close_owed is None
    (new,) = app.fake.runs_for(head2)
    assert new["status"] == "completed"
    assert len(_comments(app, 1)) == 1


async def test_a_failure_github_would_not_take_the_report_of_is_reported_later(make_app: MakeApp, repo: Repo) -> None:
    """The analysis fails for good (GitHub answers 404 for a tree), and the PATCH reporting it
    meets a 502: the job is failed and owes its run the report, made once GitHub answers."""
    clock = FakeClock(time.time())
    app = await make_app(clock=clock, job_lease_seconds=LEASE, job_retry_delay_seconds=30)
    back = clock() + 20

    def bad_gateway(call: Call) -> tuple[int, dict[str, str], Any] | None:
        if call.operation == "checks/update" and clock() < back:
            return 502, {}, {"message": "Bad Gateway"}
        return None

    app.fake.rules.append(bad_gateway)
    app.fake.injected.append(("git/get-tree", 404, {}, {"message": "Not Found"}))
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    _, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))

    async def failed_and_owing() -> bool:
        job = await app.queue.store.get(answer["jobId"])
        return job is not None and job.state == "failed" and (job.close_due or 0) > clock() + LEASE

    await _until(failed_and_owing)
    (run,) = app.fake.runs_for(head)
    assert run["status"] == "in_progress"
    clock.advance(31)
    await _until(lambda: _completed(app, run["id"]), seconds=30)
    await app.settle()
    run = app.fake.check_runs[run["id"]]
    assert run["conclusion"] == "failure" and "404" in run["output"]["summary"]
    state = await _status(app, answer["jobId"])
    assert (state["state"], state["attempts"]) == ("failed", 1)


async def test_an_outage_of_two_minutes_ends_with_a_completed_run(make_app: MakeApp, repo: Repo) -> None:
    """GitHub's git API and the check run's PATCH answer 503 for two minutes: the attempts fail,
    the installation's breaker opens, the job is dead; its close fails while GitHub is down and
    goes out once it is back, past the breaker that is still open."""
    clock = FakeClock(time.time())
    app = await make_app(clock=clock, job_lease_seconds=LEASE, job_max_attempts=3, job_retry_delay_seconds=20)
    down_until = clock() + 120

    def outage(call: Call) -> tuple[int, dict[str, str], Any] | None:
        down = clock() < down_until and call.path.startswith(f"/repos/{REPOSITORY}/")
        if down and call.operation in ("git/get-tree", "git/get-blob", "checks/update"):
            return 503, {}, {"message": "Service Unavailable"}
        return None

    app.fake.rules.append(outage)
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    _, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    job_id = answer["jobId"]
    for attempt in (1, 2):  # each retry waits 20 s · 2^(n-1) ± 20 %: moved on past it
        await _until(lambda attempt=attempt: _queued_after(app, job_id, attempt))
        clock.advance(20 * 2 ** (attempt - 1) * 1.2 + 1)

    async def dead_and_postponed() -> bool:
        job = await app.queue.store.get(job_id)
        return job is not None and job.state == "dead" and (job.close_due or 0) > clock() + LEASE

    await _until(dead_and_postponed)
    assert clock() < down_until
    (run,) = app.fake.runs_for(head)
    assert run["status"] == "in_progress"  # its close met the outage too
    breaker = app.client.app[GITHUB].breaker(INSTALLATION)
    assert breaker.opened_at is not None

    while clock() < down_until:  # GitHub comes back after two minutes
        clock.advance(21)
    await _until(lambda: _completed(app, run["id"]), seconds=30)
    await app.settle()
    run = app.fake.check_runs[run["id"]]
    assert run["conclusion"] == "failure" and "tried 3 times" in run["output"]["summary"]
    assert breaker.opened_at is not None  # the PATCH went out past the installation's open breaker
    assert (await _status(app, job_id))["state"] == "dead"


async def _queued_after(app: AppUnderTest, job_id: str, attempts: int) -> bool:
    state = await _status(app, job_id)
    return bool(state["state"] == "queued" and state["attempts"] == attempts)


async def _completed(app: AppUnderTest, run_id: int) -> bool:
    return bool(app.fake.check_runs[run_id]["status"] == "completed")


async def test_an_instance_on_memory_closes_the_runs_of_the_jobs_it_stops(make_app: MakeApp, repo: Repo) -> None:
    """Nothing resumes a job of memory:// after the instance stopped: the close it owes is made
    before the instance is gone."""
    app = await make_app(queue_url="memory://", shutdown_grace_seconds=0)
    app.fake.latency = 0.3  # the job is mid-flight when the instance stops
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))

    async def run_opened() -> bool:
        return bool(app.fake.runs_for(head))

    await _until(run_opened)
    await app.client.close()  # SIGTERM, no grace
    (run,) = app.fake.runs_for(head)
    assert (run["status"], run["conclusion"]) == ("completed", "cancelled")
    assert run["output"]["title"] == "ChartImpact stopped; re-run to analyze"

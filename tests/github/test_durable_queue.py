"""The App on the durable job queue (jobs/durable.py): restarts, supersede, retries, dead letters,
shutdown, and two instances sharing one Redis. Every App here runs on a real sqlite file in
tmp_path (conftest.make_app) or on a real redis-server of its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
import uuid
from typing import Any

from chartimpact_bot.jobs.store import open_store
from chartimpact_bot.web.keys import GITHUB
from tests.github.conftest import INSTALLATION, REPOSITORY, AppUnderTest, MakeApp, Repo, chart_files, pull_request
from tests.github.test_deliveries import _head
from tests.jobs.conftest import redis_url  # noqa: F401 - the session's redis-server fixture

UNAVAILABLE: tuple[str, int, dict[str, str], Any] = ("git/get-tree", 503, {}, {"message": "Service Unavailable"})


async def _status(app: AppUnderTest, job_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = await (await app.client.get(f"/api/webhooks/status/{job_id}")).json()
    return answer


async def _until(condition: Any, *, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition did not come true in time")


def _comments(app: AppUnderTest, number: int) -> list[dict[str, Any]]:
    return [c for c in app.fake.comments.values() if (c["repository"], c["issue"]) == (REPOSITORY, number)]


async def _two_slow_pull_requests(
    app: AppUnderTest, repo: Repo
) -> tuple[str, str, str, dict[str, Any], dict[str, Any]]:
    """Two pull requests delivered to an App whose GitHub answers slowly (the first job runs
    while the second waits): the base commit, both heads, and both delivery answers."""
    app.fake.latency = 0.3
    base = _head(repo)
    head1 = repo.commit(chart_files("web", tag="1.26"), "web image")
    head2 = repo.commit(chart_files("api", tag="1.27"), "api image")
    _, one = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head1))
    _, two = await app.deliver("pull_request", pull_request("opened", number=2, base_sha=base, head_sha=head2))
    return base, head1, head2, one, two


async def test_jobs_survive_a_restart_of_the_app(make_app: MakeApp, repo: Repo) -> None:
    """One job is running and one waits when the App stops (no grace): the next App on the same
    sqlite file runs both; the running one's check run is reused, not doubled."""
    first = await make_app(worker_concurrency=1, shutdown_grace_seconds=0)
    base, head1, head2, one, two = await _two_slow_pull_requests(first, repo)

    async def run_opened() -> bool:
        return bool(first.fake.runs_for(head1))

    await _until(run_opened)
    await asyncio.sleep(0.1)  # the run's id is checkpointed to the store right after it is created
    await first.client.close()  # SIGTERM: intake stops, the running job is returned to the queue
    store = await open_store(first.settings.queue_url)
    try:
        returned = [await store.get(job["jobId"]) for job in (one, two)]
    finally:
        await store.close()
    assert [(j.state, j.attempts) for j in returned if j] == [("queued", 1), ("queued", 0)]
    assert first.fake.runs_for(head1)[0]["status"] == "in_progress"

    first.fake.latency = 0.0
    second = await make_app()
    await second.settle()
    for job, head, number in ((one, head1, 1), (two, head2, 2)):
        state = await _status(second, job["jobId"])
        assert state["state"] == "succeeded", state
        (run,) = second.fake.runs_for(head)
        assert run["status"] == "completed"
        assert len(_comments(second, number)) == 1
    assert (await _status(second, one["jobId"]))["attempts"] == 2


async def test_jobs_stored_by_the_previous_version_run_after_an_upgrade(make_app: MakeApp, repo: Repo) -> None:
    """The App stops with one job running (its check run open) and one waiting; their rows are
    rewritten as the previous version stored them (`params`: a JSON object of its own keys,
    tests/jobs/test_stored_params.py has every kind). The upgraded App runs both, and the
    running one completes the check run it opened."""
    first = await make_app(worker_concurrency=1, shutdown_grace_seconds=0)
    base, head1, head2, one, two = await _two_slow_pull_requests(first, repo)

    async def run_checkpointed() -> bool:
        store = await open_store(first.settings.queue_url)
        try:
            job = await store.get(one["jobId"])
        finally:
            await store.close()
        return job is not None and job.check_run is not None

    await _until(run_checkpointed)
    await first.client.close()
    (run,) = first.fake.runs_for(head1)
    legacy = {
        one["jobId"]: {
            "number": 1,
            "base_sha": base,
            "head_sha": head1,
            "base_ref": "main",
            "head_ref": "feature",
            "check_run_id": run["id"],
            "check_run_url": run["html_url"],
            "check_run_seq": 1,
            "comment_mode": "changes",
            "comment_max_signals": 30,
        },
        two["jobId"]: {"number": 2, "base_sha": base, "head_sha": head2, "base_ref": "main", "head_ref": "feature"},
    }
    path = first.settings.queue_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for job_id, params in legacy.items():
            text = json.dumps(params, separators=(",", ":"), sort_keys=True)
            conn.execute("UPDATE jobs SET params = ? WHERE id = ?", (text, job_id))

    first.fake.latency = 0.0
    second = await make_app()
    await second.settle()
    for job, head, number in ((one, head1, 1), (two, head2, 2)):
        assert (await _status(second, job["jobId"]))["state"] == "succeeded"
        (completed,) = second.fake.runs_for(head)
        assert completed["status"] == "completed"
        assert len(_comments(second, number)) == 1
    assert second.fake.runs_for(head1)[0]["id"] == run["id"]


async def test_webhooks_answer_503_with_retry_after_once_shutdown_began(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    await app.queue.shutdown(0)
    base = _head(repo)
    status, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=base))
    assert status == 503
    ready = await app.client.get("/readyz")
    assert ready.status == 503
    assert "shutting down" in (await ready.text())
    response = await app.client.post("/api/webhooks/github", data=b"{}", headers={"X-GitHub-Event": "ping"})
    assert response.status == 503
    assert response.headers["Retry-After"] == "30"


async def test_a_job_superseded_while_waiting_for_its_retry_gets_its_run_completed(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app()
    app.fake.injected.append(
        ("git/get-tree", 403, {"retry-after": "3600"}, {"message": "You have exceeded a secondary rate limit"})
    )
    base = _head(repo)
    head1 = repo.commit(chart_files("web", tag="1.26"))
    _, first = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head1))

    async def waiting() -> bool:
        state = await _status(app, first["jobId"])
        return bool(state["state"] == "queued" and state["attempts"] == 1)

    await _until(waiting)
    job = await app.queue.store.get(first["jobId"])
    assert job is not None and job.not_before is not None  # parked for GitHub's hour, not 30 s
    assert job.not_before - time.time() > 3000
    head2 = repo.commit(chart_files("web", tag="1.27"))
    await app.deliver("pull_request", pull_request("synchronize", number=1, base_sha=base, head_sha=head2))
    await app.settle()
    assert (await _status(app, first["jobId"]))["state"] == "superseded"
    (old,) = app.fake.runs_for(head1)
    assert (old["status"], old["conclusion"]) == ("completed", "cancelled")
    assert old["output"]["title"] == f"superseded by {head2[:7]}"
    (new,) = app.fake.runs_for(head2)
    assert new["status"] == "completed" and new["conclusion"] != "cancelled"
    assert len(_comments(app, 1)) == 1


async def test_transient_failures_are_retried_then_the_job_is_dead(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(job_max_attempts=2, job_retry_delay_seconds=0.01)
    app.fake.injected.extend([UNAVAILABLE] * 100)
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    _, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    await app.settle()
    state = await _status(app, answer["jobId"])
    assert (state["state"], state["attempts"]) == ("dead", 2)
    assert state["error"]
    dead = await app.queue.store.list(["dead"])
    assert [j.id for j in dead.items] == [answer["jobId"]]
    # The installation's circuit breaker opened on the 503s; the run is completed all the same.
    assert app.client.app[GITHUB].breaker(INSTALLATION).opened_at is not None
    (run,) = app.fake.runs_for(head)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert "tried 2 times" in run["output"]["summary"]


async def test_a_redelivery_of_a_dead_jobs_delivery_runs_it_again(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(job_max_attempts=1)
    app.fake.injected.extend([UNAVAILABLE] * 100)
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    delivery = str(uuid.uuid4())
    payload = pull_request("opened", number=1, base_sha=base, head_sha=head)
    _, answer = await app.deliver("pull_request", payload, delivery_id=delivery)
    await app.settle()
    assert (await _status(app, answer["jobId"]))["state"] == "dead"

    app.fake.injected.clear()  # GitHub is back, and a minute has passed for the breaker
    breaker = app.client.app[GITHUB].breaker(INSTALLATION)
    breaker.opened_at, breaker.failures = None, 0
    status, again = await app.deliver("pull_request", payload, delivery_id=delivery)
    assert (status, again["jobId"]) == (202, answer["jobId"])
    await app.settle()
    state = await _status(app, answer["jobId"])
    assert (state["state"], state["attempts"], state["error"]) == ("succeeded", 1, None)
    old, new = app.fake.runs_for(head)
    assert (old["conclusion"], new["status"]) == ("failure", "completed")
    assert new["conclusion"] in ("success", "neutral", "failure") and new["id"] in state["result"]["checkRunIds"]
    assert len(_comments(app, 1)) == 1
    status, third = await app.deliver("pull_request", payload, delivery_id=delivery)
    assert (status, third["status"]) == (200, "duplicate")


async def test_two_instances_on_one_redis_process_each_delivery_once(
    make_app: MakeApp,
    repo: Repo,
    redis_url: str,  # noqa: F811
) -> None:
    url = f"{redis_url}?prefix=test-{uuid.uuid4().hex[:8]}"
    apps = [await make_app(queue_url=url), await make_app(queue_url=url)]
    base = _head(repo)
    heads = {n: repo.commit(chart_files("web", tag=f"1.{n}"), f"tag {n}") for n in range(1, 7)}
    jobs = {}
    for n, head in heads.items():
        delivery = str(uuid.uuid4())
        payload = pull_request("opened", number=n, base_sha=base, head_sha=head)
        status, answer = await apps[n % 2].deliver("pull_request", payload, delivery_id=delivery)
        assert status == 202
        status, again = await apps[(n + 1) % 2].deliver("pull_request", payload, delivery_id=delivery)
        assert (status, again["jobId"]) == (200, answer["jobId"])  # the other instance knows it
        jobs[n] = answer["jobId"]
    for app in apps:
        await app.settle()
    for n, head in heads.items():
        (run,) = apps[0].fake.runs_for(head)
        assert run["status"] == "completed"
        assert len(_comments(apps[0], n)) == 1
        for app in apps:
            assert (await _status(app, jobs[n]))["state"] == "succeeded"
    assert sum(c.operation == "checks/create" for c in apps[0].fake.calls) == len(heads)

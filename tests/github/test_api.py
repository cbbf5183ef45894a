"""The operator API (web/api.py, CONTRACT §4): bearer token, job listing, manual retry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chartimpact_bot.jobs.model import Job
from chartimpact_bot.jobs.store import open_store
from chartimpact_bot.web.keys import GITHUB

from .conftest import INSTALLATION, AppUnderTest, MakeApp, Repo, chart_files, pull_request, pull_request_job
from .test_deliveries import _head
from .test_durable_queue import UNAVAILABLE, _comments, _status

TOKEN = "s3cret-operator-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _get(app: AppUnderTest, path: str) -> tuple[int, dict[str, Any]]:
    response = await app.client.get(path, headers=AUTH)
    return response.status, await response.json()


def _queue_url(tmp_path: Path) -> str:
    """The sqlite file `make_app` gives the App of this test."""
    return f"sqlite:///{tmp_path / 'jobs.sqlite3'}"


async def _finished_jobs(queue_url: str, states: list[str]) -> list[Job]:
    """Jobs that ran elsewhere and ended in `states` (oldest first), written by another store
    object on the App's sqlite file, as another instance would. Call it before the App starts:
    a running App's workers would claim a queued job before this store could."""
    store = await open_store(queue_url)
    jobs = []
    try:
        for number, state in enumerate(states, 1):
            job = pull_request_job(f"pr:{number}", number)
            await store.add(job)
            claimed = await store.claim("elsewhere", 60.0)
            assert claimed is not None and claimed.id == job.id
            claimed.state, claimed.error = state, (None if state == "succeeded" else "it broke")  # type: ignore[assignment]
            assert await store.save(claimed)
            jobs.append(claimed)
    finally:
        await store.close()
    return jobs


async def test_without_a_configured_token_the_operator_api_answers_403(make_app: MakeApp) -> None:
    app = await make_app()
    for method, path in (
        ("GET", "/api/jobs"),
        ("GET", "/api/jobs?state=dead"),
        ("POST", "/api/jobs/abc/retry"),
        ("POST", "/api/compare"),
    ):
        response = await app.client.request(method, path, headers=AUTH)
        assert response.status == 403, path
        assert "CHARTIMPACT_API_TOKEN" in (await response.json())["error"]


async def test_a_missing_or_wrong_token_answers_401(make_app: MakeApp) -> None:
    app = await make_app(api_token=TOKEN)
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer \u00e9t\u00e9"},
    ):
        for method, path in (("GET", "/api/jobs"), ("POST", "/api/jobs/abc/retry"), ("POST", "/api/compare")):
            response = await app.client.request(method, path, headers=headers)
            assert response.status == 401, (headers, path)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await app.client.get("/api/jobs", headers={"Authorization": f"bearer {TOKEN}"})).status == 200
    # Other endpoints are not behind the token.
    assert (await app.client.get("/healthz")).status == 200
    assert (await app.client.get("/metrics")).status == 200


async def test_jobs_are_listed_by_state_newest_first_in_pages(make_app: MakeApp, tmp_path: Path) -> None:
    jobs = await _finished_jobs(
        _queue_url(tmp_path), ["dead", "succeeded", "dead", "failed", "dead", "dead", "succeeded"]
    )
    app = await make_app(api_token=TOKEN)
    dead = [j.id for j in reversed(jobs) if j.state == "dead"]

    status, page = await _get(app, "/api/jobs?state=dead&limit=3")
    assert status == 200
    assert [j["jobId"] for j in page["jobs"]] == dead[:3]
    assert page["nextCursor"]
    status, rest = await _get(app, f"/api/jobs?state=dead&limit=3&cursor={page['nextCursor']}")
    assert (status, [j["jobId"] for j in rest["jobs"]], rest["nextCursor"]) == (200, dead[3:], None)

    # Each item is the status shape of /api/webhooks/status/{jobId}.
    assert page["jobs"][0] == await _status(app, dead[0])
    assert set(page["jobs"][0]) == {
        "jobId", "state", "event", "action", "repository", "attempts",
        "createdAt", "startedAt", "finishedAt", "error", "result",
    }  # fmt: skip

    wanted = [j.id for j in reversed(jobs) if j.state in ("dead", "failed")]
    for query in ("state=dead,failed", "state=failed&state=dead", "state=dead,%20failed,dead"):
        status, both = await _get(app, f"/api/jobs?{query}")
        assert (status, [j["jobId"] for j in both["jobs"]], both["nextCursor"]) == (200, wanted, None), query
    status, every = await _get(app, "/api/jobs")
    assert (status, [j["jobId"] for j in every["jobs"]]) == (200, [j.id for j in reversed(jobs)])
    status, none = await _get(app, "/api/jobs?state=running")
    assert (status, none) == (200, {"jobs": [], "nextCursor": None})


async def test_bad_query_parameters_answer_400_with_a_reason(make_app: MakeApp, tmp_path: Path) -> None:
    await _finished_jobs(_queue_url(tmp_path), ["dead", "dead"])
    app = await make_app(api_token=TOKEN)
    for query in (
        "state=bogus",
        "state=dead,zombie",
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=ten",
        "limit=1e3",
        "limit=%D9%A3",
        "limit=" + "9" * 5000,
        "cursor=abc",
        "cursor=%00",
        "cursor=" + "9" * 5000,
        "cursor=" + "9" * 19,  # beyond a 64-bit seq
        "cursor=%D9%A3",  # an Arabic-Indic digit: isdigit, but no seq
        "colour=red",
    ):
        status, answer = await _get(app, f"/api/jobs?{query}")
        assert status == 400, query
        assert answer["error"], query
    status, answer = await _get(app, "/api/jobs?limit=200&state=dead")
    assert (status, len(answer["jobs"])) == (200, 2)


async def test_retry_answers_404_for_an_unknown_job_and_409_for_one_neither_dead_nor_failed(
    make_app: MakeApp, tmp_path: Path
) -> None:
    (done,) = await _finished_jobs(_queue_url(tmp_path), ["succeeded"])
    app = await make_app(api_token=TOKEN)
    for job_id in ("0" * 32, "not a job id", "x" * 65):
        response = await app.client.post(f"/api/jobs/{job_id}/retry", headers=AUTH)
        assert response.status == 404, job_id
    response = await app.client.post(f"/api/jobs/{done.id}/retry", headers=AUTH)
    assert response.status == 409
    assert "succeeded" in (await response.json())["error"]
    assert (await _status(app, done.id))["state"] == "succeeded"


async def test_a_dead_job_is_listed_and_retried_to_success(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(api_token=TOKEN, job_max_attempts=1)
    app.fake.injected.extend([UNAVAILABLE] * 100)
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    _, answer = await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    await app.settle()
    status, listed = await _get(app, "/api/jobs?state=dead")
    assert status == 200
    assert [(j["jobId"], j["state"], j["attempts"]) for j in listed["jobs"]] == [(answer["jobId"], "dead", 1)]
    assert listed["jobs"][0]["error"]

    app.fake.injected.clear()  # GitHub is back, and a minute has passed for the breaker
    breaker = app.client.app[GITHUB].breaker(INSTALLATION)
    breaker.opened_at, breaker.failures = None, 0
    response = await app.client.post(f"/api/jobs/{answer['jobId']}/retry", headers=AUTH)
    assert response.status == 202
    revived = await response.json()
    assert (revived["jobId"], revived["state"], revived["attempts"], revived["error"]) == (
        answer["jobId"],
        "queued",
        0,
        None,
    )
    await app.settle()
    state = await _status(app, answer["jobId"])
    assert (state["state"], state["attempts"], state["error"]) == ("succeeded", 1, None)
    old, new = app.fake.runs_for(head)
    assert (old["status"], old["conclusion"]) == ("completed", "failure")
    assert new["status"] == "completed" and new["id"] in state["result"]["checkRunIds"]
    assert len(_comments(app, 1)) == 1
    assert (await _get(app, "/api/jobs?state=dead"))[1]["jobs"] == []
    response = await app.client.post(f"/api/jobs/{answer['jobId']}/retry", headers=AUTH)
    assert response.status == 409

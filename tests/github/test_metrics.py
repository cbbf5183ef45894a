"""GET /metrics (web/metrics.py): the scrape parsed with prometheus-client's own parser after
real deliveries through the App against the fake GitHub."""

from __future__ import annotations

import json
import uuid

from prometheus_client.parser import text_string_to_metric_families

from tests.github.conftest import INSTALLATION, AppUnderTest, MakeApp, Repo, chart_files, example, pull_request
from tests.github.test_deliveries import _head
from tests.github.test_durable_queue import UNAVAILABLE

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def _scrape(app: AppUnderTest) -> Samples:
    response = await app.client.get("/metrics")  # no token: unauthenticated, like /healthz
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_count_deliveries_jobs_and_github_requests(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app()
    empty = await _scrape(app)
    assert _value(empty, "chartimpact_queue_depth") == 0
    assert _value(empty, "chartimpact_store_up") == 1
    assert _value(empty, "chartimpact_jobs", state="succeeded") == 0

    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    delivery = str(uuid.uuid4())
    payload = pull_request("opened", number=1, base_sha=base, head_sha=head)
    assert (await app.deliver("pull_request", payload, delivery_id=delivery))[0] == 202
    await app.settle()
    assert (await app.deliver("pull_request", payload, delivery_id=delivery))[0] == 200  # duplicate
    assert (await app.deliver("ping", example("ping")))[0] == 200  # ignored
    assert (await app.deliver("pull_request", payload, secret="wrong"))[0] == 401
    assert (await app.deliver("no-such-event", {"zen": "x"}))[0] == 200  # ignored, event shown as "other"
    body = json.dumps(payload).encode()
    response = await app.client.post("/api/webhooks/github", data=body, headers={"X-GitHub-Event": "push"})
    assert response.status == 401

    samples = await _scrape(app)
    deliveries = {
        (dict(labels)["event"], dict(labels)["outcome"], dict(labels)["status"]): value
        for (name, labels), value in samples.items()
        if name == "chartimpact_deliveries_total"
    }
    assert deliveries == {
        ("pull_request", "accepted", "202"): 1,
        ("pull_request", "duplicate", "200"): 1,
        ("ping", "ignored", "200"): 1,
        ("pull_request", "rejected", "401"): 1,
        ("other", "ignored", "200"): 1,
        ("push", "rejected", "401"): 1,
    }
    assert _value(samples, "chartimpact_jobs", state="succeeded") == 1
    assert _value(samples, "chartimpact_jobs", state="queued") == 0
    assert _value(samples, "chartimpact_queue_depth") == 0
    assert _value(samples, "chartimpact_job_duration_seconds_count", state="succeeded") == 1
    assert _value(samples, "chartimpact_job_duration_seconds_sum", state="succeeded") > 0
    assert _value(samples, "chartimpact_job_attempts_sum", state="succeeded") == 1
    assert _value(samples, "chartimpact_job_attempts_bucket", state="succeeded", le="1.0") == 1
    assert _value(samples, "chartimpact_dead_letters_total") == 0
    github = {
        dict(labels)["status"]: v for (n, labels), v in samples.items() if n == "chartimpact_github_requests_total"
    }
    assert github.get("200", 0) > 0 and github.get("201", 0) > 0  # reads, and the check run created
    assert sum(github.values()) == len(app.fake.calls)
    assert _value(samples, "chartimpact_github_rate_limit_remaining", installation=str(INSTALLATION)) == 4999
    assert _value(samples, "chartimpact_jobs_running_here") == 0
    # One analysis, looked up once in the (empty) result cache.
    assert _value(samples, "chartimpact_result_cache_total", outcome="miss") == 1
    assert _value(samples, "chartimpact_result_cache_total", outcome="hit") == 0


async def test_a_dead_job_is_counted_as_a_dead_letter(make_app: MakeApp, repo: Repo) -> None:
    app = await make_app(job_max_attempts=2, job_retry_delay_seconds=0.01)
    app.fake.injected.extend([UNAVAILABLE] * 100)
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head))
    await app.settle()
    samples = await _scrape(app)
    assert _value(samples, "chartimpact_dead_letters_total") == 1
    assert _value(samples, "chartimpact_jobs", state="dead") == 1
    assert _value(samples, "chartimpact_job_attempts_sum", state="dead") == 2
    assert _value(samples, "chartimpact_github_requests_total", status="503") > 0


async def test_every_app_has_a_registry_of_its_own(make_app: MakeApp) -> None:
    first, second = await make_app(), await make_app()
    await first.deliver("ping", example("ping"))
    assert _value(await _scrape(first), "chartimpact_deliveries_total", event="ping", outcome="ignored", status="200")
    assert not _value(
        await _scrape(second), "chartimpact_deliveries_total", event="ping", outcome="ignored", status="200"
    )


async def test_metrics_time_each_stage_of_an_analysis_and_the_use_of_the_analysis_processes(
    make_app: MakeApp, repo: Repo
) -> None:
    app = await make_app(worker_concurrency=2)
    before = await _scrape(app)
    busy_before = _value(before, "chartimpact_analysis_busy_seconds_total")
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    assert (await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head)))[0] == 202
    await app.settle()

    samples = await _scrape(app)
    stages = ("fetch_metadata", "prepare", "fetch_inputs", "analyze", "publish")
    for stage in stages:
        assert _value(samples, "chartimpact_job_stage_duration_seconds_count", stage=stage) == 1, stage
    analysis = _value(samples, "chartimpact_job_stage_duration_seconds_sum", stage="analyze")
    job = _value(samples, "chartimpact_job_duration_seconds_sum", state="succeeded")
    total = sum(_value(samples, "chartimpact_job_stage_duration_seconds_sum", stage=s) for s in stages)
    assert 0 < analysis <= total <= job  # the stages are parts of the job
    assert _value(samples, "chartimpact_job_workers") == 2
    assert _value(samples, "chartimpact_analysis_processes") == 2  # the tests' shared pool
    assert _value(samples, "chartimpact_analysis_processes_busy") == 0  # nothing runs now
    assert _value(samples, "chartimpact_analysis_calls_waiting") == 0
    # The processes worked for the preparation and the analysis, and no longer than they took.
    prepare = _value(samples, "chartimpact_job_stage_duration_seconds_sum", stage="prepare")
    worked = _value(samples, "chartimpact_analysis_busy_seconds_total") - busy_before
    assert 0.5 * (prepare + analysis) <= worked <= prepare + analysis + 0.05

"""Every metric deploy/monitoring's alert rules and dashboard name is in a real /metrics scrape
of a running App (after a real analysis against the fake GitHub and a rejected delivery), with
the labels they match on and group by, and the label values they select (states, outcomes,
stages); and the same check rejects a misspelt metric, label or value."""

from __future__ import annotations

from typing import get_args

import pytest

from chartimpact_bot.jobs.audit import OUTCOMES
from chartimpact_bot.jobs.result_cache import Outcome
from chartimpact_bot.jobs.store.base import STATES
from tests.github.conftest import AppUnderTest, MakeApp, Repo, chart_files, pull_request
from tests.github.test_deliveries import _head
from tests.monitoring_rules import Scrape, dashboard_exprs, rule_exprs

STAGES = {"fetch_metadata", "prepare", "fetch_inputs", "analyze", "publish"}


def _domains() -> dict[tuple[str, str], set[str]]:
    states: dict[tuple[str, str], set[str]] = {
        (f"chartimpact_{name}", "state"): set[str](STATES)
        for name in ("jobs", "job_duration_seconds_count", "job_duration_seconds_bucket", "job_attempts_count")
    }
    stages = {
        (f"chartimpact_job_stage_duration_seconds_{suffix}", "stage"): STAGES for suffix in ("bucket", "count", "sum")
    }
    return {
        **states,
        **stages,
        ("chartimpact_deliveries_total", "outcome"): set(OUTCOMES),
        ("chartimpact_result_cache_total", "outcome"): set(get_args(Outcome)),
    }


async def _scrape_after_work(app: AppUnderTest, repo: Repo) -> Scrape:
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"))
    assert (await app.deliver("pull_request", pull_request("opened", number=1, base_sha=base, head_sha=head)))[0] == 202
    await app.settle()
    assert (
        await app.deliver(
            "pull_request", pull_request("opened", number=2, base_sha=base, head_sha=head), secret="wrong"
        )
    )[0] == 401
    response = await app.client.get("/metrics")
    assert response.status == 200
    return Scrape.parse(await response.text())


@pytest.fixture
async def scrape(make_app: MakeApp, repo: Repo) -> Scrape:
    return await _scrape_after_work(await make_app(), repo)


async def test_every_metric_of_the_rules_and_the_dashboard_is_in_a_real_scrape(scrape: Scrape) -> None:
    exprs = rule_exprs() + dashboard_exprs()
    assert len(exprs) >= 35
    assert scrape.problems(exprs, _domains()) == []
    # The stages and states the domains list are the ones the App reports.
    assert scrape.labels["chartimpact_job_stage_duration_seconds_count"]["stage"] == STAGES
    assert scrape.labels["chartimpact_jobs"]["state"] == set(STATES)


async def test_the_check_rejects_a_misspelt_metric_label_or_value(scrape: Scrape) -> None:
    domains = _domains()
    assert scrape.problems([("alert", "increase(chartimpact_dead_leters_total[15m]) > 0")], domains) == [
        "alert: no metric chartimpact_dead_leters_total in the scrape"
    ]
    # Without the suffix Prometheus stores a counter with, the name is not a series either.
    assert scrape.problems([("alert", "rate(chartimpact_dead_letters[5m])")], domains)
    assert scrape.problems([("alert", "chartimpact_job_duration_seconds > 1")], domains)
    assert scrape.problems([("p", 'sum(rate(chartimpact_deliveries_total{outcom="rejected"}[5m]))')], domains) == [
        "p: chartimpact_deliveries_total has no label outcom"
    ]
    assert scrape.problems([("p", 'max(chartimpact_jobs{state="runing"})')], domains) == [
        "p: chartimpact_jobs{state} never takes 'runing'"
    ]
    assert scrape.problems([("p", 'chartimpact_job_duration_seconds_count{state=~"failed|ded"}')], domains)
    assert scrape.problems([("p", "sum by (stat) (chartimpact_jobs)")], domains) == [
        "p: no metric of it has a label stat"
    ]
    # What is right passes.
    assert scrape.problems([("p", 'sum by (state, job) (chartimpact_jobs{state=~"dead|failed"})')], domains) == []

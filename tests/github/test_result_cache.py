"""The result cache through the whole App (issue 8 point 8): re-running an unchanged analysis
publishes the stored report without asking a worker to analyze, against the fake GitHub, with
the real worker pool (wrapped to count its calls) and a real sqlite file or redis-server."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chartimpact_bot.core.config import AnalysisConfig
from chartimpact_bot.core.model import Report
from chartimpact_bot.engine.sources import SnapshotSource
from chartimpact_bot.jobs import input_digest
from chartimpact_bot.jobs.analysis_process import AnalysisPool, Preparation, WorkerOptions
from tests.conftest import git
from tests.github.conftest import AppUnderTest, MakeApp, Repo, chart_files, check_run_rerequested, pull_request
from tests.jobs.conftest import (
    FakeClock,
    redis_url,  # noqa: F401 - the session's redis-server fixture
)

HOUR = 3600.0


class CountingPool(AnalysisPool):
    """The session's real workers, counting the analyses they are asked for."""

    def __init__(self, inner: AnalysisPool) -> None:
        super().__init__(1)
        self.inner = inner
        self.analyses = 0
        self.preparations = 0

    async def prepare(
        self, base: SnapshotSource, head: SnapshotSource, only: tuple[str, ...] | None = None
    ) -> Preparation:
        self.preparations += 1
        return await self.inner.prepare(base, head, only)

    async def manifest_paths(self, base: SnapshotSource, head: SnapshotSource) -> tuple[list[str], list[str]]:
        return await self.inner.manifest_paths(base, head)

    async def analyze_snapshots(
        self,
        base: SnapshotSource,
        head: SnapshotSource,
        config: AnalysisConfig,
        options: WorkerOptions,
        only: tuple[str, ...] | None = None,
    ) -> Report:
        self.analyses += 1
        return await self.inner.analyze_snapshots(base, head, config, options, only)

    async def warm_up(self) -> None:
        return None


@pytest.fixture
def pool(analysis_pool: AnalysisPool) -> CountingPool:
    return CountingPool(analysis_pool)


async def _lookups(app: AppUnderTest) -> dict[str, float]:
    response = await app.client.get("/metrics")
    counts = {"hit": 0.0, "miss": 0.0, "error": 0.0}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            if sample.name == "chartimpact_result_cache_total":
                counts[sample.labels["outcome"]] = sample.value
    return counts


# Every run links its own stored analysis with a fresh signed link: the same report otherwise.
_REPORT_LINK = re.compile(r"https?://[^/\s)]+/reports/[0-9a-f]{32}\?exp=[0-9]+&sig=[A-Za-z0-9_-]{43}")


def _unlinked(value: Any) -> Any:
    return json.loads(_REPORT_LINK.sub("<report link>", json.dumps(value)))


def _published(run: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(_unlinked([run["status"], run["conclusion"], run["output"], run["annotations"]]))


async def _open_pr(app: AppUnderTest, repo: Repo, *, number: int = 3) -> tuple[str, str]:
    base = git(repo.path, "rev-parse", "HEAD")
    head = repo.commit(chart_files("web", readiness=False, tag="1.26"), "web loses its readiness probe")
    await app.deliver("pull_request", pull_request("opened", number=number, base_sha=base, head_sha=head))
    await app.settle()
    return base, head


async def test_a_rerun_publishes_the_stored_report_without_analyzing(
    make_app: MakeApp, repo: Repo, pool: CountingPool
) -> None:
    app = await make_app(pool=pool)
    base, head = await _open_pr(app, repo)
    assert (pool.analyses, await _lookups(app)) == (1, {"hit": 0, "miss": 1, "error": 0})
    (first,) = app.fake.runs_for(head)
    (comment,) = app.fake.comments.values()
    body = comment["body"]

    status, answer = await app.deliver("check_run", check_run_rerequested(first, number=3, base_sha=base))
    assert status == 202
    await app.settle()
    assert pool.analyses == 1  # nothing rendered
    assert pool.preparations == 2  # the configuration is still read (its problems are the run's own)
    assert await _lookups(app) == {"hit": 1, "miss": 1, "error": 0}
    old, new = app.fake.runs_for(head)
    assert new["id"] != old["id"] and _published(new) == _published(old)
    assert new["conclusion"] == "failure" and "Readiness probe removed" in new["output"]["summary"]
    assert list(app.fake.comments.values()) == [comment] and _unlinked(comment["body"]) == _unlinked(body)
    status_body = await (await app.client.get(answer["statusUrl"])).json()
    assert status_body["state"] == "succeeded" and status_body["result"]["verdict"] == "fail"


async def test_a_reopened_pull_request_is_a_hit(make_app: MakeApp, repo: Repo, pool: CountingPool) -> None:
    app = await make_app(pool=pool)
    base, head = await _open_pr(app, repo)
    await app.deliver("pull_request", pull_request("reopened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    assert pool.analyses == 1
    assert await _lookups(app) == {"hit": 1, "miss": 1, "error": 0}
    first, second = app.fake.runs_for(head)
    assert _published(first) == _published(second)


async def test_a_second_push_of_the_same_tree_is_a_hit_that_names_the_new_commits(
    make_app: MakeApp, repo: Repo, pool: CountingPool
) -> None:
    app = await make_app(pool=pool)
    base, head = await _open_pr(app, repo)
    git(repo.path, "commit", "-q", "--allow-empty", "-m", "the same tree again")  # amended, rebased…
    again = git(repo.path, "rev-parse", "HEAD")
    assert git(repo.path, "rev-parse", f"{again}^{{tree}}") == git(repo.path, "rev-parse", f"{head}^{{tree}}")
    await app.deliver("pull_request", pull_request("synchronize", number=3, base_sha=base, head_sha=again))
    await app.settle()
    assert pool.analyses == 1
    assert await _lookups(app) == {"hit": 1, "miss": 1, "error": 0}
    (old,) = app.fake.runs_for(head)
    (new,) = app.fake.runs_for(again)
    assert new["conclusion"] == old["conclusion"] and _unlinked(new["annotations"]) == _unlinked(old["annotations"])
    # Every revision the outputs show is the current job's, not the stored run's.
    assert again[:7] in new["output"]["summary"] and head[:7] not in new["output"]["summary"]
    assert _unlinked(new["output"]["summary"]) == _unlinked(old["output"]["summary"]).replace(head[:7], again[:7])
    (comment,) = app.fake.comments.values()
    assert again[:7] in comment["body"] and head[:7] not in comment["body"]


async def test_a_changed_values_file_is_a_miss(make_app: MakeApp, repo: Repo, pool: CountingPool) -> None:
    app = await make_app(pool=pool)
    base, _ = await _open_pr(app, repo)
    changed = repo.commit(chart_files("web", readiness=False, tag="1.27"), "another tag")
    await app.deliver("pull_request", pull_request("synchronize", number=3, base_sha=base, head_sha=changed))
    await app.settle()
    assert pool.analyses == 2
    assert await _lookups(app) == {"hit": 0, "miss": 2, "error": 0}
    (run,) = app.fake.runs_for(changed)
    assert "1.27" in run["output"]["text"]


async def test_a_changed_configuration_on_the_base_is_a_miss(make_app: MakeApp, repo: Repo, pool: CountingPool) -> None:
    app = await make_app(pool=pool)
    base, head = await _open_pr(app, repo)
    git(repo.path, "checkout", "-q", "-b", "configured", base)
    configured = repo.commit({".chartimpact.yml": "thresholds: {availability: {high: warn}}\n"}, "configure")
    git(repo.path, "checkout", "-q", "main")
    await app.deliver("pull_request", pull_request("synchronize", number=3, base_sha=configured, head_sha=head))
    await app.settle()
    assert pool.analyses == 2
    assert await _lookups(app) == {"hit": 0, "miss": 2, "error": 0}
    first, second = app.fake.runs_for(head)
    assert (first["conclusion"], second["conclusion"]) == ("failure", "neutral")


async def test_another_engine_version_is_a_miss(
    make_app: MakeApp, repo: Repo, pool: CountingPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await make_app(pool=pool)
    base, head = await _open_pr(app, repo)
    monkeypatch.setattr(input_digest, "ENGINE_VERSION", "99.0.0")
    await app.deliver("pull_request", pull_request("reopened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    assert pool.analyses == 2
    assert await _lookups(app) == {"hit": 0, "miss": 2, "error": 0}


async def test_an_instance_with_other_worker_options_does_not_share_entries(
    make_app: MakeApp, repo: Repo, pool: CountingPool
) -> None:
    app = await make_app(pool=pool)
    base, head = await _open_pr(app, repo)
    diffs_only = await make_app(pool=pool, signals_enabled=False)  # the same sqlite file
    await diffs_only.deliver("pull_request", pull_request("reopened", number=3, base_sha=base, head_sha=head))
    await diffs_only.settle()
    assert pool.analyses == 2
    assert await _lookups(diffs_only) == {"hit": 0, "miss": 1, "error": 0}
    _, second = app.fake.runs_for(head)
    assert second["conclusion"] == "success" and second["annotations"] == []


async def test_an_expired_entry_is_a_miss(make_app: MakeApp, repo: Repo, pool: CountingPool) -> None:
    clock = FakeClock(time.time())
    app = await make_app(pool=pool, clock=clock, result_cache_ttl_hours=2)
    base, head = await _open_pr(app, repo)
    clock.advance(2 * HOUR - 60)
    await app.deliver("pull_request", pull_request("reopened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    assert (pool.analyses, (await _lookups(app))["hit"]) == (1, 1)
    clock.advance(60)
    await app.deliver("pull_request", pull_request("reopened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    assert pool.analyses == 2
    assert await _lookups(app) == {"hit": 1, "miss": 2, "error": 0}


async def test_a_corrupted_entry_is_a_miss_and_is_replaced(
    make_app: MakeApp, repo: Repo, pool: CountingPool, tmp_path: Path
) -> None:
    app = await make_app(pool=pool)
    base, head = await _open_pr(app, repo)
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as conn:
        assert conn.execute("UPDATE results SET payload = x'01789c0bdeadbeef'").rowcount == 1
    await app.deliver("pull_request", pull_request("reopened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    assert pool.analyses == 2
    assert await _lookups(app) == {"hit": 0, "miss": 1, "error": 1}
    first, second = app.fake.runs_for(head)
    assert _published(first) == _published(second)
    await app.deliver("pull_request", pull_request("reopened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    assert pool.analyses == 2  # the rendered report replaced the broken entry
    assert (await _lookups(app))["hit"] == 1


async def test_a_store_that_fails_the_cache_still_publishes(
    make_app: MakeApp, repo: Repo, pool: CountingPool, tmp_path: Path
) -> None:
    app = await make_app(pool=pool)
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as conn:
        conn.execute("DROP TABLE results")  # every read and write of the cache now fails
    base, head = await _open_pr(app, repo)
    await app.deliver("pull_request", pull_request("reopened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    assert pool.analyses == 2
    assert await _lookups(app) == {"hit": 0, "miss": 0, "error": 2}
    runs = app.fake.runs_for(head)
    assert [r["conclusion"] for r in runs] == ["failure", "failure"]
    assert (await app.queue.store.counts())["succeeded"] == 2


async def test_configuration_problems_are_still_published_on_a_hit(
    make_app: MakeApp, repo: Repo, pool: CountingPool
) -> None:
    app = await make_app(pool=pool)
    base = git(repo.path, "rev-parse", "HEAD")
    head = repo.commit({".chartimpact.yml": "version: 1\ncomment:\n  mode: sometimes\n"}, "configure")
    for action in ("opened", "reopened"):
        await app.deliver("pull_request", pull_request(action, number=5, base_sha=base, head_sha=head))
        await app.settle()
    assert pool.analyses == 1
    first, second = app.fake.runs_for(head)
    assert _published(first) == _published(second)
    assert second["output"]["title"].endswith(".chartimpact.yml is invalid")
    assert [a["path"] for a in second["annotations"]] == [".chartimpact.yml"]


async def test_a_ttl_of_zero_turns_the_cache_off(make_app: MakeApp, repo: Repo, pool: CountingPool) -> None:
    app = await make_app(pool=pool, result_cache_ttl_hours=0)
    base, head = await _open_pr(app, repo)
    await app.deliver("pull_request", pull_request("reopened", number=3, base_sha=base, head_sha=head))
    await app.settle()
    assert pool.analyses == 2
    assert await _lookups(app) == {"hit": 0, "miss": 0, "error": 0}


async def test_instances_on_one_redis_share_the_cache(
    make_app: MakeApp,
    repo: Repo,
    pool: CountingPool,
    redis_url: str,  # noqa: F811
) -> None:
    url = f"{redis_url}?prefix=test-{uuid.uuid4().hex[:8]}"
    one, two = await make_app(pool=pool, queue_url=url), await make_app(pool=pool, queue_url=url)
    base, head = await _open_pr(one, repo)
    await two.deliver("pull_request", pull_request("reopened", number=3, base_sha=base, head_sha=head))
    await two.settle()
    assert pool.analyses == 1
    # Either instance may have claimed either job: the counts are per instance.
    counted = [await _lookups(one), await _lookups(two)]
    assert {k: counted[0][k] + counted[1][k] for k in counted[0]} == {"hit": 1, "miss": 1, "error": 0}
    first, second = one.fake.runs_for(head)
    assert _published(first) == _published(second)

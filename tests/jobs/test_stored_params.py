"""Jobs stored before the parameters were typed (jobs/params.py): a row whose `params` is the JSON
object the previous version wrote decodes on sqlite and on Redis, is claimed with its typed
parameters, and reads the same once this version has saved it."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from chartimpact_bot.jobs.model import CheckRun
from chartimpact_bot.jobs.params import Commits, JobKind, JobParams, PullRequestParams, ReleaseParams
from chartimpact_bot.jobs.store import params_codec
from chartimpact_bot.jobs.store.base import JobStore
from chartimpact_bot.jobs.store.redis import RedisJobStore
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore

from .conftest import FakeClock, make_job

BASE, HEAD = "a" * 40, "b" * 40
RUN_URL = "https://github.example/octo/charts/runs/91"
RUN: dict[str, Any] = {"check_run_id": 91, "check_run_url": RUN_URL, "check_run_seq": 1}
# What the previous version's runner added as it went: not parameters, and no longer stored.
SETTINGS = {"comment_mode": "changes", "comment_max_signals": 30}

# (kind, the `params` object as the previous version stored it, the parameters and check run read)
CASES: list[tuple[JobKind, dict[str, Any], JobParams, CheckRun | None]] = [
    (
        "pull_request",
        {"number": 7, "base_sha": BASE, "head_sha": HEAD, "base_ref": "main", "head_ref": "feature"},
        PullRequestParams(BASE, HEAD, "main", "feature", number=7),
        None,
    ),
    (
        "pull_request",
        {"number": 7, "base_sha": BASE, "head_sha": HEAD, "base_ref": "", "head_ref": "", **RUN, **SETTINGS},
        PullRequestParams(BASE, HEAD, "", "", number=7),
        CheckRun(91, RUN_URL, 1),
    ),
    (
        "push",
        {"base_sha": BASE, "head_sha": HEAD, "base_ref": BASE[:7], "head_ref": "main"},
        Commits(BASE, HEAD, BASE[:7], "main"),
        None,
    ),
    ("release", {"tag": "v1.1.0", "release_id": 2}, ReleaseParams("v1.1.0", 2), None),
    (
        # A release retried: the previous version kept the commits it had looked up (the first
        # release has none before it), which this version looks up again on each attempt.
        "release",
        {"tag": "v1.0.0", "release_id": 1, "base_sha": None, "head_sha": HEAD, "head_ref": "v1.0.0", **RUN, **SETTINGS},
        ReleaseParams("v1.0.0", 1),
        CheckRun(91, RUN_URL, 1),
    ),
    (
        # The re-run of a release's check run names both commits, not the release.
        "release",
        {"base_sha": BASE, "head_sha": HEAD, "base_ref": BASE[:7], "head_ref": HEAD[:7]},
        Commits(BASE, HEAD, BASE[:7], HEAD[:7]),
        None,
    ),
    (
        # A run opened by a version that did not keep its seq is not taken for this job's.
        "push",
        {"base_sha": BASE, "head_sha": HEAD, "check_run_id": 91},
        Commits(BASE, HEAD),
        CheckRun(91, "", 0),
    ),
]


@pytest.mark.parametrize(
    ("kind", "stored", "params", "check_run"),
    CASES,
    ids=["pull request", "pull request retried", "push", "release", "release retried", "release re-run", "no seq"],
)
async def test_a_job_stored_by_the_previous_version_is_read_and_runs(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    clock: FakeClock,
    kind: JobKind,
    stored: dict[str, Any],
    params: JobParams,
    check_run: CheckRun | None,
) -> None:
    store, write_params = await _store_with_raw_access(backend, request, tmp_path, clock)
    try:
        job = (await store.add(make_job(1, kind=kind))).job
        # The row as the previous version wrote it: json.dumps of the dict, sorted and compact.
        await write_params(job.id, json.dumps(stored, separators=(",", ":"), sort_keys=True))
        read = await store.get(job.id)
        assert read is not None and (read.kind, read.params, read.check_run) == (kind, params, check_run)
        claimed = await store.claim("w", 30.0)
        assert claimed is not None and claimed.id == job.id
        assert (claimed.params, claimed.check_run) == (params, check_run)
        claimed.state = "succeeded"
        assert await store.save(claimed)
        saved = await store.get(job.id)
        assert saved is not None and (saved.params, saved.check_run) == (params, check_run)
    finally:
        await store.close()


WriteParams = Callable[[str, str], Awaitable[None]]


async def _store_with_raw_access(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> tuple[JobStore, WriteParams]:
    """A store, and a way to overwrite a stored job's `params` text behind its back."""
    if backend == "sqlite":
        path = tmp_path / "jobs.sqlite3"
        sqlite_store = await SqliteJobStore.open(str(path), clock=clock)

        async def write_sqlite(job_id: str, text: str) -> None:
            with sqlite3.connect(path) as conn:
                conn.execute("UPDATE jobs SET params = ? WHERE id = ?", (text, job_id))
            conn.close()

        return sqlite_store, write_sqlite
    url = request.getfixturevalue("redis_url")
    prefix = f"legacy-{uuid.uuid4().hex[:10]}"
    redis_store = await RedisJobStore.open(url, prefix=prefix, clock=clock)

    async def write_redis(job_id: str, text: str) -> None:
        client = aioredis.Redis.from_url(url)
        try:
            await client.hset(f"{prefix}:job:{job_id}", "params", text)
        finally:
            await client.aclose()

    return redis_store, write_redis


def test_parameters_a_kind_does_not_have_are_a_value_error_naming_the_key() -> None:
    with pytest.raises(ValueError, match="pull_request job cannot be read: Object missing required field `number`"):
        params_codec.decode("pull_request", json.dumps({"base_sha": BASE, "head_sha": HEAD}))
    with pytest.raises(ValueError, match=r"release job cannot be read: Expected `int`, got `str` - at `\$.release_id`"):
        params_codec.decode("release", json.dumps({"tag": "v1", "release_id": "1"}))
    params = PullRequestParams(BASE, HEAD, number=3)
    assert params_codec.decode("pull_request", params_codec.encode(params, None)) == (params, None)

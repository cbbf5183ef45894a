"""Fixtures of the job store tests: a real redis-server per session, a real sqlite file per test,
and a clock the tests move by hand (no sleeping)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from chartimpact_bot.jobs.model import Job
from chartimpact_bot.jobs.params import Commits, JobKind, JobParams, PullRequestParams, ReleaseParams
from chartimpact_bot.jobs.store.base import JobStore
from chartimpact_bot.jobs.store.redis import RedisJobStore
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore
from tests.jobs.redis_server import redis_server

BACKENDS = ("sqlite", "redis")
OpenStore = Callable[[], Awaitable[JobStore]]


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server of our own for the session (redis_server.py)."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not on PATH: .ci/run installs it (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with redis_server() as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def open_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[OpenStore]:
    """Opens store objects on one shared backing (one sqlite file, one Redis prefix), as
    several instances of the App would; all are closed at the end."""
    opened: list[JobStore] = []
    url = request.getfixturevalue("redis_url") if backend == "redis" else ""
    prefix = f"test-{uuid.uuid4().hex[:10]}"

    async def open_one() -> JobStore:
        store: JobStore
        if backend == "sqlite":
            store = await SqliteJobStore.open(str(tmp_path / "jobs.sqlite3"), clock=clock)
        else:
            store = await RedisJobStore.open(url, prefix=prefix, clock=clock)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: OpenStore) -> JobStore:
    return await open_store()


def make_job(
    n: int | str, *, key: str | None = None, kind: JobKind = "pull_request", delivery: str | None = None
) -> Job:
    params: JobParams = Commits("a" * 40, "b" * 40, "main", f"feature-{n}")
    if kind == "pull_request":
        params = PullRequestParams("a" * 40, "b" * 40, "main", f"feature-{n}", number=n if isinstance(n, int) else 1)
    elif kind == "release":
        params = ReleaseParams(f"v{n}", n if isinstance(n, int) else 1)
    return Job(
        delivery_id=delivery or f"delivery-{n}",
        event="push" if kind == "push" else "release" if kind == "release" else "pull_request",
        action=None if kind in ("push", "release") else "synchronize",
        repository="octo/charts",
        installation_id=42,
        kind=kind,
        params=params,
        key=key or f"octo/charts#{n}",
    )

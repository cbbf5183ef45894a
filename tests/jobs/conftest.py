"""Fixtures of the job store tests: a real redis-server per session, a real sqlite file per test,
and a clock the tests move by hand (no sleeping)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from chartimpact_bot.jobs.model import Job
from chartimpact_bot.jobs.store.base import JobStore
from chartimpact_bot.jobs.store.redis import RedisJobStore
from chartimpact_bot.jobs.store.sqlite import SqliteJobStore

BACKENDS = ("sqlite", "redis")
OpenStore = Callable[[], Awaitable[JobStore]]


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on a free loopback port, nothing persisted, stopped at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not on PATH: .ci/run installs it (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    workdir = tmp_path_factory.mktemp("redis")
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(workdir)]
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


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


def make_job(n: int | str, *, key: str | None = None, kind: str = "pull_request", delivery: str | None = None) -> Job:
    return Job(
        delivery_id=delivery or f"delivery-{n}",
        event="push" if kind == "push" else "release" if kind == "release" else "pull_request",
        action=None if kind in ("push", "release") else "synchronize",
        repository="octo/charts",
        installation_id=42,
        kind=kind,  # type: ignore[arg-type]
        params={"number": n, "base": "a" * 40, "head": "b" * 40},
        key=key or f"octo/charts#{n}",
    )

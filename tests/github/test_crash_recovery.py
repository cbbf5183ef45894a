"""kill -9 of the server mid-job: `python -m chartimpact_bot serve` in its own process against the
fake GitHub (in this process), killed while a job runs, started again on the same sqlite file.
The job completes once its lease expired, with one check run (the one it opened) and one comment,
and nothing of the killed server's process tree is left (its analysis workers, their render
children, multiprocessing's helpers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from tests.github.conftest import APP_ID, REPOSITORY, SECRET, Repo, chart_files, pull_request, sign
from tests.github.fake_github import FakeGitHub
from tests.github.test_deliveries import _head
from tests.jobs.redis_server import free_port
from tests.process_tree import descendants, left_after

ROOT = Path(__file__).resolve().parent.parent.parent
LEASE_SECONDS = 2


def server_environment(github: TestServer, app_keys: tuple[str, str], tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The URL and environment of a server against the fake GitHub, its jobs in tmp_path's sqlite file."""
    port = free_port()
    env = {
        **os.environ,
        "GITHUB_APP_ID": APP_ID,
        "GITHUB_PRIVATE_KEY": app_keys[0],
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": str(github.make_url("/")).rstrip("/"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "CHARTIMPACT_QUEUE_URL": f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
        "CHARTIMPACT_CREDENTIALS_FILE": str(tmp_path / "none.env"),
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "WORKER_CONCURRENCY": "1",
        "WORKER_MEMORY_MB": "2048",
        "LOG_FORMAT": "console",
    }
    return f"http://127.0.0.1:{port}", env


def start_server(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "chartimpact_bot", "serve"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own process group: what is left of it after kill -9 is an orphan
        )


async def wait_ready(session: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        assert process.poll() is None, "the server exited"
        try:
            async with session.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the server did not start")


async def test_kill_9_mid_job_then_restart_completes_the_job(
    aiohttp_server: Any, fake: FakeGitHub, app_keys: tuple[str, str], repo: Repo, tmp_path: Path
) -> None:
    server: TestServer = await aiohttp_server(fake.app())
    url, env = server_environment(server, app_keys, tmp_path)
    log = tmp_path / "server.log"
    base = _head(repo)
    head = repo.commit(chart_files("web", tag="1.26"), "web image")
    body = pull_request("opened", number=1, base_sha=base, head_sha=head)
    data = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(data),
    }
    fake.latency = 0.3  # every GitHub answer takes 0.3 s: the job is mid-flight for seconds
    first = start_server(env, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, first)
            async with session.post(f"{url}/api/webhooks/github", data=data, headers=headers) as response:
                assert response.status == 202
                job_id = (await response.json())["jobId"]
            for _ in range(400):
                if fake.runs_for(head):
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # past the checkpoint of the run's id, before the analysis ends
            assert fake.runs_for(head)[0]["status"] == "in_progress"
            tree = descendants(first.pid)
            assert tree, "the server has no analysis worker mid-job"
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            killed = time.monotonic()
            orphans = left_after(tree, pgid=first.pid)
            fake.latency = 0.0

            second = start_server(env, log)
            await wait_ready(session, url, second)
            state: dict[str, Any] = {}
            for _ in range(1500):
                async with session.get(f"{url}/api/webhooks/status/{job_id}") as response:
                    state = await response.json()
                if state["state"] not in ("queued", "running"):
                    break
                await asyncio.sleep(0.02)
            recovered_in = time.monotonic() - killed
    finally:
        if second is not None and second.poll() is None:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
        if first.poll() is None:
            first.kill()
    print(f"kill -9 to the recovered job's completion: {recovered_in:.1f} s (lease {LEASE_SECONDS} s)")
    for pid in orphans:  # not to leave them to the next test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert orphans == {}, f"left by the server killed with -9: {orphans}"
    assert state["state"] == "succeeded", (state, log.read_text()[-3000:])
    assert state["attempts"] == 2
    (run,) = fake.runs_for(head)
    assert run["status"] == "completed"
    comments = [c for c in fake.comments.values() if (c["repository"], c["issue"]) == (REPOSITORY, 1)]
    assert len(comments) == 1
    assert fake.violations == []

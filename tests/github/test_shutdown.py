"""SIGTERM with a job running and others queued: `python -m chartimpact_bot serve` in its own
process against the fake GitHub (in this process), as in test_crash_recovery.py. The server
stops within its grace period (plus the few seconds stopping takes), returns the running job to
the queue, leaves no process behind; started again on the same sqlite file it completes every
job: no run left in progress, one comment per pull request."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from tests.github.conftest import REPOSITORY, Repo, chart_files, pull_request, sign
from tests.github.fake_github import FakeGitHub
from tests.github.test_crash_recovery import server_environment, start_server, wait_ready
from tests.github.test_deliveries import _head
from tests.process_tree import descendants, left_after

GRACE_SECONDS = 1.0
# What stopping takes beyond the grace: returning the jobs, closing the store and the workers.
STOPPING_SECONDS = 4.0
PULL_REQUESTS = 3


async def _states(session: aiohttp.ClientSession, url: str, jobs: list[str]) -> list[dict[str, Any]]:
    states = []
    for job_id in jobs:
        async with session.get(f"{url}/api/webhooks/status/{job_id}") as response:
            states.append(await response.json())
    return states


async def test_sigterm_with_running_and_queued_jobs_then_restart_completes_them_all(
    aiohttp_server: Any, fake: FakeGitHub, app_keys: tuple[str, str], repo: Repo, tmp_path: Path
) -> None:
    server: TestServer = await aiohttp_server(fake.app())
    url, env = server_environment(server, app_keys, tmp_path)
    env["SHUTDOWN_GRACE_SECONDS"] = str(GRACE_SECONDS)
    log = tmp_path / "server.log"
    base = _head(repo)
    heads = [repo.commit(chart_files("web", tag=f"1.{26 + n}"), f"web image {n}") for n in range(PULL_REQUESTS)]
    fake.latency = 0.3  # a job takes seconds: longer than the grace period
    first = start_server(env, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, first)
            jobs = []
            for number, head in enumerate(heads, start=1):
                data = json.dumps(pull_request("opened", number=number, base_sha=base, head_sha=head)).encode()
                headers = {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": sign(data),
                }
                async with session.post(f"{url}/api/webhooks/github", data=data, headers=headers) as response:
                    assert response.status == 202
                    jobs.append((await response.json())["jobId"])
            for _ in range(400):
                if fake.runs_for(heads[0]):
                    break
                await asyncio.sleep(0.02)
            at_sigterm = [s["state"] for s in await _states(session, url, jobs)]
            assert at_sigterm == ["running", "queued", "queued"]
            tree = descendants(first.pid)
            sent = time.monotonic()
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=30)
            stopped_in = time.monotonic() - sent
            orphans = left_after(tree, pgid=first.pid)
            assert first.returncode == 0, log.read_text()[-3000:]
            assert [r["status"] for r in fake.runs_for(heads[0])] == ["in_progress"]  # resumed below

            fake.latency = 0.0
            second = start_server(env, log)
            await wait_ready(session, url, second)
            states: list[dict[str, Any]] = []
            for _ in range(1500):
                states = await _states(session, url, jobs)
                if all(s["state"] not in ("queued", "running") for s in states):
                    break
                await asyncio.sleep(0.05)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
    print(f"SIGTERM to exit: {stopped_in:.1f} s (grace {GRACE_SECONDS:g} s)")
    assert stopped_in < GRACE_SECONDS + STOPPING_SECONDS, log.read_text()[-3000:]
    assert orphans == {}
    assert [s["state"] for s in states] == ["succeeded"] * PULL_REQUESTS, (states, log.read_text()[-3000:])
    assert states[0]["attempts"] == 2  # returned at SIGTERM, run again after the restart
    for number, head in enumerate(heads, start=1):
        assert [r["status"] for r in fake.runs_for(head)] == ["completed"]
        comments = [c for c in fake.comments.values() if (c["repository"], c["issue"]) == (REPOSITORY, number)]
        assert len(comments) == 1
    assert fake.violations == []

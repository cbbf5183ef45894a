"""Two App processes on one real redis-server (issue 8's acceptance): `python -m chartimpact_bot
serve` twice, against the fake GitHub in this process, as test_crash_recovery.py starts one.

- Deliveries sent to either instance are each processed once, by one of them, and the work
  is shared by both; a redelivery to the other instance answers the same job, and either
  instance answers the status of any job.
- `opened` and `synchronize` of one pull request sent at once to different instances leave one
  comment, and no run in progress.
- The instance running a job is killed with -9 mid-job: the other finishes it once the lease
  expired (attempt 2), with the run the first opened and one comment.

Leases are short (LEASE_SECONDS) so recovery takes seconds; the waits are generous for a loaded
machine and still end in a failure when a job is lost or run twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from chartimpact_bot.jobs.model import Job
from chartimpact_bot.jobs.store.redis import RedisJobStore
from tests.github.conftest import REPOSITORY, Repo, chart_files, pull_request, sign
from tests.github.fake_github import FakeGitHub
from tests.github.test_crash_recovery import server_environment, start_server, wait_ready
from tests.github.test_deliveries import _head
from tests.jobs.conftest import redis_url  # noqa: F401 - the session's redis-server fixture
from tests.process_tree import descendants, left_after

LEASE_SECONDS = 5
WAIT_SECONDS = 90.0  # for every job of a phase to end: generous, a lost job never ends


class Instance:
    def __init__(self, url: str, env: dict[str, str], log: Path) -> None:
        self.url, self.env, self.log = url, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_server(self.env, self.log)

    def started(self) -> list[str]:
        """The job ids whose analysis this instance started, one per attempt (its JSON log)."""
        ids = []
        for line in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and entry.get("event") == "analysis started":
                    ids.append(str(entry["job_id"]))
        return ids

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def _deliver(
    session: aiohttp.ClientSession, instance: Instance, payload: dict[str, Any], delivery: str | None = None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(data),
    }
    async with session.post(f"{instance.url}/api/webhooks/github", data=data, headers=headers) as response:
        return response.status, await response.json()


async def _status(session: aiohttp.ClientSession, instance: Instance, job_id: str) -> dict[str, Any]:
    async with session.get(f"{instance.url}/api/webhooks/status/{job_id}") as response:
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def _ended(session: aiohttp.ClientSession, instances: list[Instance], jobs: list[str]) -> list[dict[str, Any]]:
    """Every job's status once all ended, as each instance answers it (they must agree)."""
    states: list[dict[str, Any]] = []
    for _ in range(int(WAIT_SECONDS / 0.1)):
        states = [await _status(session, instances[n % len(instances)], job) for n, job in enumerate(jobs)]
        if all(s["state"] not in ("queued", "running") for s in states):
            break
        await asyncio.sleep(0.1)
    for instance in instances:
        assert [await _status(session, instance, job) for job in jobs] == states
    return states


def _comments(fake: FakeGitHub, number: int) -> list[dict[str, Any]]:
    return [c for c in fake.comments.values() if (c["repository"], c["issue"]) == (REPOSITORY, number)]


async def test_two_instances_on_one_redis_share_the_work_and_recover_each_others_jobs(
    aiohttp_server: Any,
    fake: FakeGitHub,
    app_keys: tuple[str, str],
    repo: Repo,
    tmp_path: Path,
    redis_url: str,  # noqa: F811
) -> None:
    github: TestServer = await aiohttp_server(fake.app())
    queue_url = f"{redis_url}?prefix=two-{uuid.uuid4().hex[:8]}"
    instances = []
    for name in ("one", "two"):
        url, env = server_environment(github, app_keys, tmp_path)
        env.update(
            {
                "CHARTIMPACT_QUEUE_URL": queue_url,
                "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
                "INSTALLATION_CONCURRENCY": "2",  # one installation's jobs may run on both at once
                "LOG_FORMAT": "json",
            }
        )
        instances.append(Instance(url, env, tmp_path / f"{name}.log"))
    one, two = instances
    base = _head(repo)
    store = await RedisJobStore.open(redis_url, prefix=queue_url.rsplit("=", 1)[1])
    orphans: dict[int, str] = {}
    try:
        for instance in instances:
            instance.start()
        async with aiohttp.ClientSession() as session:
            for instance in instances:
                assert instance.process is not None
                await wait_ready(session, instance.url, instance.process)

            # -- every delivery once, shared by both; any instance answers for any job -----
            fake.latency = 0.05  # a job takes a while, so the other instance's worker claims the next
            heads = [repo.commit(chart_files("web", tag=f"1.{n}"), f"tag {n}") for n in range(4)]
            jobs = []
            for n, head in enumerate(heads, start=1):
                delivery = str(uuid.uuid4())
                payload = pull_request("opened", number=n, base_sha=base, head_sha=head)
                status, answer = await _deliver(session, instances[n % 2], payload, delivery)
                assert status == 202, answer
                status, again = await _deliver(session, instances[(n + 1) % 2], payload, delivery)
                assert (status, again["jobId"]) == (200, answer["jobId"])  # the other knows the delivery
                jobs.append(answer["jobId"])
            states = await _ended(session, instances, jobs)
            assert [(s["state"], s["attempts"]) for s in states] == [("succeeded", 1)] * len(jobs), states
            started = Counter(one.started() + two.started())
            assert all(started[job] == 1 for job in jobs), started  # each processed once, in all
            assert set(one.started()) & set(jobs) and set(two.started()) & set(jobs), "one instance did all"
            for n, head in enumerate(heads, start=1):
                assert [r["status"] for r in fake.runs_for(head)] == ["completed"]
                assert len(_comments(fake, n)) == 1

            # -- opened and synchronize of one pull request, at once, to different instances --
            concurrent = []
            for number in (11, 12):
                opened = repo.commit(chart_files("api", tag=f"2.{number}"), f"open {number}")
                pushed = repo.commit(chart_files("api", tag=f"3.{number}"), f"push {number}")
                answers = await asyncio.gather(
                    _deliver(session, one, pull_request("opened", number=number, base_sha=base, head_sha=opened)),
                    _deliver(session, two, pull_request("synchronize", number=number, base_sha=base, head_sha=pushed)),
                )
                assert [status for status, _ in answers] == [202, 202], answers
                concurrent.append((number, [answer["jobId"] for _, answer in answers], (opened, pushed)))
            for number, pair, pair_heads in concurrent:
                states = await _ended(session, instances, pair)
                assert {s["state"] for s in states} <= {"succeeded", "superseded"}, states
                assert len(_comments(fake, number)) == 1
                runs = [r for head in pair_heads for r in fake.runs_for(head)]
                assert runs and all(r["status"] == "completed" for r in runs), runs

            # -- the instance running a job is killed with -9; the other finishes it ---------
            fake.latency = 0.3  # the job is mid-flight for seconds
            head = repo.commit(chart_files("worker", tag="4.0"), "worker image")
            status, answer = await _deliver(
                session, one, pull_request("opened", number=21, base_sha=base, head_sha=head)
            )
            assert status == 202
            job_id = answer["jobId"]
            running = await _checkpointed(store, job_id)
            victim = next(i for i in instances if i.process is not None and _pid(running) == i.process.pid)
            survivor = two if victim is one else one
            assert victim.process is not None
            tree = descendants(victim.process.pid)
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=10)
            killed = time.monotonic()
            orphans = left_after(tree, pgid=victim.process.pid)
            fake.latency = 0.0
            (state,) = await _ended(session, [survivor], [job_id])
            print(
                f"kill -9 to the other instance's completion: {time.monotonic() - killed:.1f} s (lease {LEASE_SECONDS} s)"
            )
            assert (state["state"], state["attempts"]) == ("succeeded", 2), (state, survivor.log.read_text()[-3000:])
            assert victim.started().count(job_id) == survivor.started().count(job_id) == 1  # then after the lease
            (run,) = fake.runs_for(head)  # the run the killed instance opened, completed by the other
            assert run["status"] == "completed" and run["id"] in state["result"]["checkRunIds"]
            assert len(_comments(fake, 21)) == 1
    finally:
        for instance in instances:
            instance.stop()
        await store.close()
        for pid in orphans:  # not to leave them to the next test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert orphans == {}, f"left by the instance killed with -9: {orphans}"
    assert [r for r in fake.check_runs.values() if r["status"] != "completed"] == []
    assert fake.violations == []


async def _checkpointed(store: RedisJobStore, job_id: str) -> Job:
    """The job once running with its check run's id stored (so the kill lands mid-job)."""
    for _ in range(int(WAIT_SECONDS / 0.02)):
        job = await store.get(job_id)
        if job is not None and job.state == "running" and job.check_run is not None and job.lease_owner:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError("the job did not start")


def _pid(job: Job) -> int:
    """The process holding a job: its lease owner is `host:pid:suffix/claim token`."""
    assert job.lease_owner is not None
    return int(job.lease_owner.split("/", 1)[0].split(":")[1])

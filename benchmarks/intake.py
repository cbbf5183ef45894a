"""Intake and recovery on the durable job store: `python -m benchmarks.intake` (in `make bench`).

`chartimpact serve` in its own process on loopback (signatures checked), against the fake GitHub
in a third one, as in benchmarks/github.py; figures printed, nothing asserted. Per backend (a
sqlite file, the default; a redis-server of our own on loopback):

1. Steady load: 10,000 jobs already in the store (8,000 finished, 2,000 waiting for a retry an
   hour away), then 100 pull_request deliveries per second for 30 s, open loop (latency counted
   from each request's scheduled time). p50/p95/p99, and the p95 of the last 5 s against the
   first 5 s: growth would mean intake slows as jobs accumulate. The jobs the deliveries cause
   (ten pull requests, each delivery superseding the last) run while the load goes on.
2. Throughput: stepped load, 10 s at each of 50, 100, 200 and 400 deliveries per second; the
   highest step whose p95 stays under 100 ms. The sender shares the machine with the server.

Then crash recovery (sqlite): kill -9 of the server while a job runs, a new server on the same
file, and the time from the kill to the job's completion, with the default lease (30 s) and a
short one (2 s): a recovered job waits for its lease to expire.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.github import APP_ID, ROOT, SECRET, _example_repo, _fake_process, _free_port, _headers, _keys, _wait
from benchmarks.store import held_job
from chartimpact_bot.jobs.store import open_store
from tests.jobs.redis_server import redis_server

HELD = 10_000
WAITING = 2_000
STEADY_RATE = 100
STEADY_SECONDS = 30
WINDOW_SECONDS = 5
STEPS = (50, 100, 200, 400)
STEP_SECONDS = 10
P95_LIMIT = 0.100
SHORT_LEASE = 2.0
DEFAULT_LEASE = 30.0


async def _fill(url: str) -> float:
    """HELD jobs in the store the server will open: all finished but WAITING, which wait for a
    retry an hour away (held, unfinished, not run during the benchmark)."""
    started = time.perf_counter()
    store = await open_store(url)
    try:
        for n in range(HELD):
            await store.add(held_job(n, "octo/held"))
        for n in range(HELD):
            job = await store.claim("filler", 600)
            assert job is not None
            if n < WAITING:
                await store.requeue(job, not_before=time.time() + 3600, error="held by the benchmark")
            else:
                job.state = "succeeded"
                await store.save(job)
    finally:
        await store.close()
    return time.perf_counter() - started


def _pull_requests(base: str, head: str) -> list[bytes]:
    from tests.github.conftest import pull_request  # noqa: PLC0415

    return [
        json.dumps(pull_request("synchronize", number=n, base_sha=base, head_sha=head)).encode() for n in range(1, 11)
    ]


async def _open_loop(
    url: str, bodies: list[bytes], rate: float, seconds: float
) -> tuple[list[tuple[float, float]], int]:
    """(scheduled offset, latency) of every delivery, and how many were not answered 202."""
    samples: list[tuple[float, float]] = []
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500)) as session:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.5

        async def one(index: int) -> None:
            nonlocal errors
            offset = index / rate
            await asyncio.sleep(max(0.0, start + offset - loop.time()))
            body = bodies[index % len(bodies)]
            try:
                async with session.post(url, data=body, headers=_headers("pull_request", body)) as response:
                    await response.read()
                    errors += response.status != 202
            except aiohttp.ClientError:
                errors += 1
            samples.append((offset, loop.time() - start - offset))

        await asyncio.gather(*(one(i) for i in range(int(rate * seconds))))
    return samples, errors


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def _server_env(work: Path, keys: tuple[str, str], github_port: int, queue_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GITHUB_APP_ID": APP_ID,
        "GITHUB_PRIVATE_KEY": keys[0],
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": f"http://127.0.0.1:{github_port}",
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "warning",
        "CHARTIMPACT_CREDENTIALS_FILE": str(work / "none.env"),
        "CHARTIMPACT_QUEUE_URL": queue_url,
        "SHUTDOWN_GRACE_SECONDS": "2",
        # No per-repository rate limit: the ten pull requests' analyses run as fast as the workers
        # allow while the load goes on, the heaviest background intake can have (and the
        # figures stay comparable with those measured before the limit existed).
        "REPOSITORY_RATE_LIMIT": "0",
        **extra,
    }


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "chartimpact_bot", "serve"],
        env={**env, "PORT": str(port)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/healthz")
    return server, url


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _fake(repo: Path, public_key: str, latency: float) -> tuple[multiprocessing.process.BaseProcess, int]:
    context = multiprocessing.get_context("spawn")
    port = context.Value("i", 0)
    process = context.Process(target=_fake_process, args=(str(repo), public_key, latency, port), daemon=True)
    process.start()
    while not port.value:
        time.sleep(0.05)
    return process, int(port.value)


def bench_backend(
    name: str, queue_url: str, work: Path, keys: tuple[str, str], *, github_port: int, bodies: list[bytes]
) -> None:
    filled = asyncio.run(_fill(queue_url))
    server, url = _serve(_server_env(work, keys, github_port, queue_url))
    intake = f"{url}/api/webhooks/github"
    try:
        samples, errors = asyncio.run(_open_loop(intake, bodies, STEADY_RATE, STEADY_SECONDS))
        steps = []
        for rate in STEPS:
            step, step_errors = asyncio.run(_open_loop(intake, bodies, rate, STEP_SECONDS))
            steps.append((rate, _p([latency for _, latency in step], 0.95), step_errors))
    finally:
        _stop(server)
    latencies = [latency for _, latency in samples]
    first = [latency for offset, latency in samples if offset < WINDOW_SECONDS]
    last = [latency for offset, latency in samples if offset >= STEADY_SECONDS - WINDOW_SECONDS]
    print(f"{name}: {HELD:,} jobs held before the load (filled in {filled:.1f} s)")
    print(
        f"  {len(samples):,} deliveries at {STEADY_RATE}/s for {STEADY_SECONDS} s: p50 {_ms(_p(latencies, 0.5))}, "
        f"p95 {_ms(_p(latencies, 0.95))}, p99 {_ms(_p(latencies, 0.99))}, max {_ms(max(latencies))}; "
        f"not 202: {errors}"
    )
    print(
        f"  p95 of the first {WINDOW_SECONDS} s {_ms(_p(first, 0.95))}, of the last {WINDOW_SECONDS} s "
        f"{_ms(_p(last, 0.95))} (growth would mean intake slows as jobs accumulate)"
    )
    sustained = [rate for rate, p95, step_errors in steps if p95 < P95_LIMIT and not step_errors]
    print(
        "  stepped load, p95: "
        + ", ".join(f"{rate}/s {_ms(p95)}" + (f" ({e} not 202)" if e else "") for rate, p95, e in steps)
    )
    best = f"{max(sustained)}/s" if sustained else f"below {STEPS[0]}/s"
    print(f"  sustained with p95 < {P95_LIMIT * 1000:.0f} ms: {best} (the highest step tried: {STEPS[-1]}/s)")


async def _status(session: aiohttp.ClientSession, url: str, job_id: str) -> str:
    async with session.get(f"{url}/api/webhooks/status/{job_id}") as response:
        return str((await response.json())["state"])


async def _crash_once(env: dict[str, str], body: bytes) -> tuple[float, str]:
    """kill -9 of a server while its job runs; seconds from the kill to the job's end on a new one."""
    first, url = _serve(env)
    second = None
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{url}/api/webhooks/github", data=body, headers=_headers("pull_request", body)
            ) as response:
                job_id = (await response.json())["jobId"]
            while await _status(session, url, job_id) != "running":
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            first.send_signal(signal.SIGKILL)
            first.wait()
            killed = time.monotonic()
            second, url = _serve(env)
            while (state := await _status(session, url, job_id)) in ("queued", "running"):
                await asyncio.sleep(0.05)
            return time.monotonic() - killed, state
    finally:
        if first.poll() is None:
            first.kill()
        if second is not None:
            _stop(second)


def bench_crash_recovery(work: Path, keys: tuple[str, str], repo: Path, base: str, head: str) -> None:
    from tests.github.conftest import pull_request  # noqa: PLC0415

    fake, port = _fake(repo, keys[1], 0.2)  # every GitHub answer after 200 ms: the job runs for seconds
    try:
        print("Crash recovery (sqlite): kill -9 mid-job to the recovered job's completion on a new server")
        for number, lease in enumerate((DEFAULT_LEASE, SHORT_LEASE), start=100):
            queue_url = f"sqlite:///{work / f'crash-{number}.sqlite3'}"
            env = _server_env(work, keys, port, queue_url, JOB_LEASE_SECONDS=f"{lease:g}")
            body = json.dumps(pull_request("opened", number=number, base_sha=base, head_sha=head)).encode()
            seconds, state = asyncio.run(_crash_once(env, body))
            print(
                f"  JOB_LEASE_SECONDS={lease:g}: {seconds:.1f} s (job {state}; includes its own run, GitHub at 200 ms)"
            )
    finally:
        fake.terminate()


def main() -> None:
    keys = _keys()
    with tempfile.TemporaryDirectory(prefix="chartimpact-intake-bench-") as tmp:
        work = Path(tmp)
        repo, base, head = _example_repo(work)
        bodies = _pull_requests(base, head)
        print(
            f"Intake with {HELD:,} jobs held: pull_request deliveries, open loop, loopback, signatures checked "
            f"({os.cpu_count()} cores shared by the sender, the server, its workers and the fake GitHub)"
        )
        fake, port = _fake(repo, keys[1], 0.0)
        try:
            bench_backend(
                "sqlite (default)", f"sqlite:///{work / 'intake.sqlite3'}", work, keys, github_port=port, bodies=bodies
            )
            with redis_server() as redis_url:
                bench_backend("redis (loopback)", redis_url, work, keys, github_port=port, bodies=bodies)
        finally:
            fake.terminate()
        print()
        bench_crash_recovery(work, keys, repo, base, head)


if __name__ == "__main__":
    main()

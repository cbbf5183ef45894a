"""GitHub App benchmarks: `python -m benchmarks.github` (also run by `make bench`).

1. Delivery intake: 100 deliveries per second for 30 s, open loop (latency counted from each
   request's scheduled time, so a slow server cannot hide behind a slow sender), against
   `chartimpact serve` in its own process on loopback, signatures checked. The deliveries are
   pull_request synchronize events on ten pull requests plus pings; the jobs they cause run
   against a fake GitHub in a third process while the load goes on.
2. Delivery to completed check run (benchmarks/check_runs.py): 20 pull requests on the example
   charts and 20 on the 300-resource benchmark chart, the fake GitHub answering every call after
   50 ms: p50/p95, API calls per pull request, render processes; then re-runs of an unchanged
   analysis, which the result cache answers without rendering.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.check_runs import bench_check_runs

ROOT = Path(__file__).resolve().parent.parent
SECRET = "benchmark-secret"
APP_ID = "4242"
RATE = 100
SECONDS = 30


def _keys() -> tuple[str, str]:
    from tests.github.conftest import generate_app_keys  # noqa: PLC0415

    return generate_app_keys()


def _example_repo(root: Path) -> tuple[Path, str, str]:
    """A git repository whose two commits hold the example chart's base and head versions."""
    from tests.conftest import commit_all, init_repo  # noqa: PLC0415

    repo = init_repo(root / "repo")
    target = repo / "charts" / "storefront"
    shas = []
    for side in ("base", "head"):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "examples" / "charts" / side / "storefront", target)
        shas.append(commit_all(repo, side))
    return repo, shas[0], shas[1]


def _fake_process(repo: str, public_key: str, latency: float, port: Any) -> None:
    """Runs the fake GitHub until terminated (in its own process)."""
    from tests.github.fake_github import FakeGitHub  # noqa: PLC0415
    from tests.github.material import rest_description  # noqa: PLC0415
    from tests.github.openapi import RestDescription  # noqa: PLC0415

    fake = FakeGitHub(RestDescription(rest_description()), app_id=APP_ID, public_key=public_key)
    fake.add_repo("acme/charts", Path(repo))
    fake.latency = latency

    async def main() -> None:
        runner = web.AppRunner(fake.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.value = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _payloads(base: str, head: str) -> list[tuple[str, bytes]]:
    from tests.github.conftest import example, pull_request  # noqa: PLC0415

    bodies = [
        ("pull_request", json.dumps(pull_request("synchronize", number=n, base_sha=base, head_sha=head)).encode())
        for n in range(1, 11)
    ]
    bodies.append(("ping", json.dumps(example("ping")).encode()))
    return bodies


def _headers(event: str, body: bytes) -> dict[str, str]:
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }


async def _load(url: str, payloads: list[tuple[str, bytes]]) -> tuple[list[float], dict[str, int]]:
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.5

        async def one(index: int) -> None:
            scheduled = start + index / RATE
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            event, body = payloads[index % len(payloads)]
            try:
                async with session.post(url, data=body, headers=_headers(event, body)) as response:
                    await response.read()
                    key = str(response.status)
            except aiohttp.ClientError as exc:
                key = type(exc).__name__
            latencies.append(loop.time() - scheduled)
            outcomes[key] = outcomes.get(key, 0) + 1

        await asyncio.gather(*(one(i) for i in range(RATE * SECONDS)))
    return latencies, outcomes


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench_intake(work: Path, keys: tuple[str, str], repo: Path, base: str, head: str) -> None:
    context = multiprocessing.get_context("spawn")
    port = context.Value("i", 0)
    fake = context.Process(target=_fake_process, args=(str(repo), keys[1], 0.0, port), daemon=True)
    fake.start()
    while not port.value:
        time.sleep(0.05)
    app_port = _free_port()
    env = {
        **os.environ,
        "GITHUB_APP_ID": APP_ID,
        "GITHUB_PRIVATE_KEY": keys[0],
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": f"http://127.0.0.1:{port.value}",
        "HOST": "127.0.0.1",
        "PORT": str(app_port),
        "LOG_LEVEL": "warning",
        "CHARTIMPACT_CREDENTIALS_FILE": str(work / "none.env"),
        "CHARTIMPACT_QUEUE_URL": f"sqlite:///{work / 'intake.sqlite3'}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "chartimpact_bot", "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    try:
        _wait(f"http://127.0.0.1:{app_port}/healthz")
        latencies, outcomes = asyncio.run(
            _load(f"http://127.0.0.1:{app_port}/api/webhooks/github", _payloads(base, head))
        )
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        fake.terminate()
    errors = sum(n for k, n in outcomes.items() if not k.startswith("2"))
    print(f"Delivery intake: {len(latencies)} deliveries at {RATE}/s for {SECONDS} s, loopback, signatures checked")
    print(
        f"  latency p50 {_percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p95 {_percentile(latencies, 0.95) * 1000:.1f} ms, "
        f"p99 {_percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms (target: p95 < 100 ms)"
    )
    print(f"  answers: {dict(sorted(outcomes.items()))}; errors: {errors} (target: none)")


def _wait(url: str) -> None:
    import urllib.request  # noqa: PLC0415

    for _ in range(200):
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def main() -> None:
    keys = _keys()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        repo, base, head = _example_repo(work)
        bench_intake(work, keys, repo, base, head)
        asyncio.run(bench_check_runs(keys, work / "check-runs"))


if __name__ == "__main__":
    main()

"""Delivery to completed check run, and re-runs that the result cache answers (run by
`python -m benchmarks.github`, so by `make bench`).

`chartimpact serve` in its own process, as deployed (sqlite job store, WORKER_CONCURRENCY 2),
against the fake GitHub (validated against `@octokit/openapi`) in another process answering
every call after 50 ms. For each chart, 20 pull requests one after another, each with a head
commit of its own whose files differ (a comment line in Chart.yaml), so the result cache, keyed
by the files, never answers them; one more before them warms the workers up and is printed
apart. Per pull request: the time from sending the delivery to GitHub holding a completed check
run (the fake's answer to the call that completed it), the API calls by operation, and the
render processes the server started (its process tree watched from /proc).

Then, on the last pull request of each chart, two re-runs of the same analysis, which the
result cache answers: the re-run button (`check_run rerequested`) and the same `synchronize`
delivered again; each prints the render processes it caused (none is the goal), its latency
and the cache's counters from /metrics.

The fake keeps git's answers (trees and blobs by SHA do not change once the commits are made),
so what is measured is the App and GitHub's 50 ms, not the fake starting `git` for each blob.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import multiprocessing
import os
import queue
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.generate import generate
from benchmarks.proctree import TreeWatch

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".work"
REPOSITORY = "acme/charts"
LATENCY = 0.05
PULL_REQUESTS = 20
RENDER_PROCESS = "chartimpact_bot.engine.render_worker"
DONE_STATES = {"succeeded", "failed", "dead", "superseded"}
TARGETS = {"example charts": 5.0, "300-resource chart": 10.0}


@dataclass(frozen=True, slots=True)
class Record:
    """One call the fake answered: when (time.monotonic, the same clock in every process on
    Linux), its operation, the check run's status it sent, and the check run's id answered."""

    at: float
    operation: str
    status: int
    check_status: str | None
    check_run_id: int | None
    request: Any


@dataclass
class Outcome:
    seconds: float  # delivery sent → completed check run held by GitHub
    answered: float  # delivery sent → its HTTP answer
    calls: Counter[str] = field(default_factory=Counter)
    renders: int = 0
    conclusion: str | None = None


# --- the fake GitHub, in its own process -------------------------------------------------------


@functools.cache
def _git(path: str, args: tuple[str, ...], binary: bool) -> Any:
    done = subprocess.run(["git", "-C", path, *args], capture_output=True, check=False)
    if done.returncode != 0:
        return None
    return done.stdout if binary else done.stdout.decode().strip()


def _fake_process(repo: str, public_key: str, app_id: str, port: Any, records: Queue[Record]) -> None:
    """The fake GitHub until terminated; every answered call is put on `records`."""
    from tests.github.fake_github import FakeGitHub, FakeRepo  # noqa: PLC0415
    from tests.github.material import rest_description  # noqa: PLC0415
    from tests.github.openapi import RestDescription  # noqa: PLC0415

    def cached_git(self: FakeRepo, *args: str, binary: bool = False) -> Any:
        return _git(str(self.path), args, binary)

    FakeRepo.git = cached_git  # type: ignore[method-assign] # the commits are all made before
    fake = FakeGitHub(RestDescription(rest_description()), app_id=app_id, public_key=public_key)
    fake.add_repo(REPOSITORY, Path(repo), installation_id=42)
    fake.latency = LATENCY

    @web.middleware
    async def record(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
        response = await handler(request)
        operation = fake.rest.find(request.method, request.rel_url.raw_path)
        body = json.loads(await request.read() or b"null")
        check_status = body.get("status") if isinstance(body, dict) else None
        run_id = None
        if operation is not None and operation.id == "checks/create" and isinstance(response, web.Response):
            run_id = json.loads(response.body or b"{}").get("id")  # type: ignore[arg-type]
        kept = body if operation is not None and operation.id.startswith("checks/") else None
        name = operation.id if operation else f"{request.method} {request.path}"
        records.put(Record(time.monotonic(), name, response.status, check_status, run_id, kept))
        return response

    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[record])
        app.router.add_route("*", "/{tail:.*}", fake._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.value = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


# --- the repository: a base commit and a head commit per pull request -------------------------


def _repository(root: Path, base_chart: Path, head_chart: Path, pull_requests: int) -> tuple[str, list[str]]:
    """acme/charts with the chart at charts/<name>: (base SHA, head SHA of each pull request)."""
    from tests.conftest import commit_all, init_repo  # noqa: PLC0415

    repo = init_repo(root)
    target = repo / "charts" / head_chart.name
    shutil.copytree(base_chart, target)
    base = commit_all(repo, "base")
    heads = []
    for number in range(pull_requests):
        shutil.rmtree(target)
        shutil.copytree(head_chart, target)
        with (target / "Chart.yaml").open("a") as chart_yaml:
            chart_yaml.write(f"# benchmark pull request {number}\n")
        heads.append(commit_all(repo, f"pull request {number}"))
    return base, heads


# --- the run ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, session: aiohttp.ClientSession, app_url: str, records: Queue[Record], watch: TreeWatch) -> None:
        self.session = session
        self.app_url = app_url
        self.records = records
        self.watch = watch
        self.runs: dict[str, dict[str, Any]] = {}  # head SHA → the last check run created on it

    async def deliver(self, event: str, payload: dict[str, Any], *, timeout: float = 300.0) -> Outcome:
        from benchmarks.github import _headers  # noqa: PLC0415

        self._drain()
        renders_before = self.watch.count(RENDER_PROCESS)
        body = json.dumps(payload).encode()
        sent = time.monotonic()
        async with self.session.post(
            f"{self.app_url}/api/webhooks/github", data=body, headers=_headers(event, body)
        ) as response:
            answer = await response.json()
        outcome = Outcome(seconds=math.nan, answered=time.monotonic() - sent)
        if response.status != 202:
            raise RuntimeError(f"the delivery was answered {response.status}: {answer}")
        ends = sent + timeout
        while time.monotonic() < ends:
            for record in self._drain():
                outcome.calls[record.operation] += 1
                if record.check_status == "completed" and math.isnan(outcome.seconds):
                    outcome.seconds = record.at - sent
                    outcome.conclusion = (record.request or {}).get("conclusion")
            async with self.session.get(f"{self.app_url}{answer['statusUrl']}") as status:
                state = (await status.json())["state"]
            if state in DONE_STATES:
                await asyncio.sleep(0.1)  # the fake's last records on their way
                for record in self._drain():
                    outcome.calls[record.operation] += 1
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError(f"the job of the {event} delivery did not end within {timeout:.0f} s")
        if state != "succeeded" or math.isnan(outcome.seconds):
            raise RuntimeError(f"the job ended {state} with no completed check run")
        outcome.renders = self.watch.count(RENDER_PROCESS) - renders_before
        return outcome

    def _drain(self) -> Iterator[Record]:
        records = []
        while True:
            try:
                records.append(self.records.get_nowait())
            except queue.Empty:
                break
        for record in records:
            if record.operation == "checks/create" and record.check_run_id and isinstance(record.request, dict):
                self.runs[record.request["head_sha"]] = {"id": record.check_run_id, **record.request}
        return iter(records)

    async def cache_counts(self) -> dict[str, float]:
        from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

        async with self.session.get(f"{self.app_url}/metrics") as response:
            text = await response.text()
        counts = {"hit": 0.0, "miss": 0.0, "error": 0.0}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "chartimpact_result_cache_total":
                    counts[sample.labels["outcome"]] = sample.value
        return counts


def nearest_rank(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `share` of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _calls(outcomes: list[Outcome]) -> str:
    """API calls per pull request by operation: 'n' when every one made n, else 'min-max'."""
    operations = sorted({op for o in outcomes for op in o.calls})
    parts = []
    for op in operations:
        counts = [o.calls[op] for o in outcomes]
        low, high = min(counts), max(counts)
        parts.append(f"{op} {low}" if low == high else f"{op} {low}-{high}")
    totals = [sum(o.calls.values()) for o in outcomes]
    total = f"{min(totals)}" if min(totals) == max(totals) else f"{min(totals)}-{max(totals)}"
    return f"{total} calls: " + ", ".join(parts)


@contextmanager
def _server(work: Path, keys: tuple[str, str], app_id: str, secret: str, github_port: int) -> Iterator[tuple[int, str]]:
    from benchmarks.github import _free_port, _wait  # noqa: PLC0415

    app_port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CHARTIMPACT_", "RENDER_"))},
        "GITHUB_APP_ID": app_id,
        "GITHUB_PRIVATE_KEY": keys[0],
        "GITHUB_WEBHOOK_SECRET": secret,
        "GITHUB_API_URL": f"http://127.0.0.1:{github_port}",
        "HOST": "127.0.0.1",
        "PORT": str(app_port),
        "LOG_LEVEL": "warning",
        "CHARTIMPACT_CREDENTIALS_FILE": str(work / "none.env"),
        "CHARTIMPACT_QUEUE_URL": f"sqlite:///{work / 'jobs.sqlite3'}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "chartimpact_bot", "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    try:
        _wait(f"http://127.0.0.1:{app_port}/healthz")
        yield server.pid, f"http://127.0.0.1:{app_port}"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


async def _chart(label: str, base_chart: Path, head_chart: Path, work: Path, keys: tuple[str, str]) -> None:
    from benchmarks.github import APP_ID, SECRET  # noqa: PLC0415
    from tests.github.conftest import check_run_rerequested, pull_request  # noqa: PLC0415

    base, heads = _repository(work / "repo", base_chart, head_chart, PULL_REQUESTS + 1)
    context = multiprocessing.get_context("spawn")
    port = context.Value("i", 0)
    records: Queue[Record] = context.Queue()
    fake = context.Process(target=_fake_process, args=(str(work / "repo"), keys[1], APP_ID, port, records), daemon=True)
    fake.start()
    try:
        while not port.value:
            await asyncio.sleep(0.05)
        with _server(work, keys, APP_ID, SECRET, port.value) as (server_pid, url):
            async with aiohttp.ClientSession() as session:
                with TreeWatch(server_pid, period=0.01) as watch:
                    bench = Bench(session, url, records, watch)
                    outcomes = []
                    for number, head in enumerate(heads, start=1):
                        payload = pull_request("opened", number=number, base_sha=base, head_sha=head)
                        outcomes.append(await bench.deliver("pull_request", payload))
                    number, head = len(heads), heads[-1]
                    rerun = check_run_rerequested(bench.runs[head], number=number, base_sha=base)
                    button = await bench.deliver("check_run", rerun)
                    again = await bench.deliver(
                        "pull_request", pull_request("synchronize", number=number, base_sha=base, head_sha=head)
                    )
                    counts = await bench.cache_counts()
    finally:
        fake.terminate()
        fake.join()
    warm_up, measured = outcomes[0], outcomes[1:]
    seconds = [o.seconds for o in measured]
    target = TARGETS[label]
    p95 = nearest_rank(seconds, 0.95)
    print()
    print(f"Delivery to completed check run, {label}: {len(measured)} pull requests one after another")
    print(
        f"  p50 {nearest_rank(seconds, 0.50):.2f} s, p95 {p95:.2f} s, max {max(seconds):.2f} s "
        f"(target: p95 < {target:g} s: {'met' if p95 < target else 'NOT met'}); "
        f"the delivery answered in p95 {nearest_rank([o.answered for o in measured], 0.95) * 1000:.0f} ms"
    )
    print(
        f"  first pull request after the server started (not counted): {warm_up.seconds:.2f} s, "
        f"{warm_up.renders} render processes"
    )
    renders = sorted({o.renders for o in measured})
    print(f"  render processes per pull request: {', '.join(map(str, renders))}; conclusion {measured[-1].conclusion}")
    print(f"  API calls per pull request: {_calls(measured)}")
    print(f"Re-running the last pull request's unchanged analysis ({label}):")
    for name, outcome in (("re-run button (check_run rerequested)", button), ("the same synchronize again", again)):
        print(
            f"  {name:40s} {outcome.renders} render processes (target: none), completed check run after "
            f"{outcome.seconds:.2f} s; {_calls([outcome])}"
        )
    print(
        f"  result cache lookups (/metrics): {counts['hit']:.0f} hits, {counts['miss']:.0f} misses, "
        f"{counts['error']:.0f} errors"
    )


async def bench_check_runs(keys: tuple[str, str], work: Path) -> None:
    examples = ROOT / "examples" / "charts"
    (work / "examples").mkdir(parents=True)
    await _chart(
        "example charts", examples / "base" / "storefront", examples / "head" / "storefront", work / "examples", keys
    )
    pair = generate(WORK, 300)
    (work / "bench").mkdir(parents=True)
    await _chart("300-resource chart", pair.base_dir, pair.head_dir, work / "bench", keys)


def main() -> None:
    """This part alone: `python -m benchmarks.check_runs`."""
    import tempfile  # noqa: PLC0415

    from benchmarks.github import _keys  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="chartimpact-check-runs-bench-") as tmp:
        asyncio.run(bench_check_runs(_keys(), Path(tmp)))


if __name__ == "__main__":
    main()

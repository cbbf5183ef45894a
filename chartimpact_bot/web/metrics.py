"""GET /metrics: Prometheus text format (prometheus-client), unauthenticated like /healthz.

Every application has a registry of its own (not prometheus-client's global one), so several
Apps in one process (tests) do not share counters. What is measured:

- `chartimpact_deliveries_total{event, outcome, status}`: webhook deliveries; `outcome` is
  `accepted` (202), `ignored`, `duplicate` or `rejected` (`status` says why: 401, 400, 413, 503…).
  `event` is the `X-GitHub-Event` when it is one the App reads, else `other` (the header is
  the sender's, so its values are bounded here).
- `chartimpact_jobs{state}` and `chartimpact_queue_depth`: jobs held in the store, read from the
  store at each scrape (any instance answers for all of them); `chartimpact_store_up` is 0 when
  the store did not answer.
- `chartimpact_job_duration_seconds{state}` and `chartimpact_job_attempts{state}` (histograms):
  observed when a job ends on this instance after running (succeeded, failed, dead); the
  duration is its last attempt's.
- `chartimpact_dead_letters_total`: jobs that became `dead` on this instance.
- `chartimpact_audit_dropped_total`: audit entries of deliveries this instance could not write
  (its write-behind buffer was full, or the store refused the batch; jobs/audit_writer.py).
- `chartimpact_jobs_running_here`: jobs this instance's workers run now (of `WORKER_CONCURRENCY`).
- `chartimpact_job_stage_duration_seconds{stage}` (histogram): each stage of an analysis on
  this instance (runner.StageHook): `fetch_metadata`, `prepare`, `fetch_inputs`, `analyze`,
  `publish`; a stage that failed is observed too.
- `chartimpact_analysis_processes`, `chartimpact_analysis_processes_busy`,
  `chartimpact_analysis_calls_waiting` and `chartimpact_analysis_busy_seconds_total`: the
  analysis worker processes, how many work now, how many calls wait for one, and the
  process-seconds spent working; `rate(busy_seconds_total) / processes` is their utilization.
  `chartimpact_job_workers` is WORKER_CONCURRENCY, so `jobs_running_here / job_workers` is the
  use of this instance's job slots.
- `chartimpact_github_requests_total{status}` and
  `chartimpact_github_rate_limit_remaining{installation}` (`x-ratelimit-remaining` of the last
  response; `installation="app"` for calls made as the App itself).
- `chartimpact_result_cache_total{outcome}`: result cache lookups on this instance; `hit` (the
  stored report was published, nothing rendered), `miss` (rendered) or `error` (the store or
  the stored entry could not be read; rendered, as on a miss). None while the cache is off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..github.events import NO_INSTALLATION_NEEDED
from ..github.payloads import PARSERS
from ..jobs.analysis_process import AnalysisPool
from ..jobs.model import Job
from ..jobs.result_cache import Outcome
from ..jobs.store import StoreError
from ..jobs.store.base import STATES
from .keys import JOBS

SCRAPE_STORE_TIMEOUT_SECONDS = 2.0
KNOWN_EVENTS = frozenset(PARSERS) | NO_INSTALLATION_NEEDED
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
ATTEMPT_BUCKETS = (1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.deliveries = Counter(
            "chartimpact_deliveries",
            "Webhook deliveries by event and outcome (accepted, ignored, duplicate, rejected) and status code.",
            ["event", "outcome", "status"],
            registry=registry,
        )
        self.jobs = Gauge("chartimpact_jobs", "Jobs held in the job store, by state.", ["state"], registry=registry)
        self.queue_depth = Gauge(
            "chartimpact_queue_depth", "Jobs queued: waiting for a worker or for a retry.", registry=registry
        )
        self.store_up = Gauge("chartimpact_store_up", "1 when the job store answered this scrape.", registry=registry)
        self.running_here = Gauge(
            "chartimpact_jobs_running_here", "Jobs this instance's workers are running.", registry=registry
        )
        self.job_duration = Histogram(
            "chartimpact_job_duration_seconds",
            "Duration of a job's last attempt, observed when it ends, by final state.",
            ["state"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.job_attempts = Histogram(
            "chartimpact_job_attempts",
            "Attempts a job took, observed when it ends, by final state.",
            ["state"],
            buckets=ATTEMPT_BUCKETS,
            registry=registry,
        )
        self.dead_letters = Counter(
            "chartimpact_dead_letters", "Jobs that became dead after their last attempt.", registry=registry
        )
        self.audit_dropped = Counter(
            "chartimpact_audit_dropped",
            "Audit entries of deliveries that could not be written (buffer full or store unavailable).",
            registry=registry,
        )
        self.github_requests = Counter(
            "chartimpact_github_requests", "Responses from GitHub's REST API, by status.", ["status"], registry=registry
        )
        self.rate_limit_remaining = Gauge(
            "chartimpact_github_rate_limit_remaining",
            "x-ratelimit-remaining of GitHub's last response, per installation ('app': the App's own calls).",
            ["installation"],
            registry=registry,
        )
        self.result_cache = Counter(
            "chartimpact_result_cache",
            "Result cache lookups by outcome: hit (published without rendering), miss, error (read as a miss).",
            ["outcome"],
            registry=registry,
        )

        self.stage_duration = Histogram(
            "chartimpact_job_stage_duration_seconds",
            "Duration of each stage of an analysis on this instance.",
            ["stage"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.job_workers = Gauge(
            "chartimpact_job_workers", "Jobs this instance runs at once (WORKER_CONCURRENCY).", registry=registry
        )
        self._pool = _PoolCollector()
        registry.register(self._pool)

    def watch_pool(self, pool: AnalysisPool) -> None:
        self._pool.pool = pool

    def stage(self, name: str, seconds: float) -> None:
        self.stage_duration.labels(name).observe(seconds)

    def delivery(self, event: str | None, status: int, outcome: str) -> None:
        self.deliveries.labels(event if event in KNOWN_EVENTS else "other", outcome, str(status)).inc()

    def job_ended(self, job: Job, seconds: float) -> None:
        self.job_duration.labels(job.state).observe(seconds)
        self.job_attempts.labels(job.state).observe(job.attempts)
        if job.state == "dead":
            self.dead_letters.inc()

    def github_response(self, installation_id: int | None, status: int, headers: Mapping[str, str]) -> None:
        self.github_requests.labels(str(status)).inc()
        remaining = headers.get("x-ratelimit-remaining", "")
        if remaining.isdigit():
            installation = "app" if installation_id is None else str(installation_id)
            self.rate_limit_remaining.labels(installation).set(int(remaining))

    def result_cache_lookup(self, outcome: Outcome) -> None:
        self.result_cache.labels(outcome).inc()


class _PoolCollector(Collector):
    """The analysis processes, read from the pool at each scrape."""

    def __init__(self) -> None:
        self.pool: AnalysisPool | None = None

    def collect(self) -> Iterator[Metric]:
        pool = self.pool
        if pool is None:
            return
        yield GaugeMetricFamily("chartimpact_analysis_processes", "Analysis worker processes.", value=pool.size)
        yield GaugeMetricFamily(
            "chartimpact_analysis_processes_busy", "Analysis worker processes working now.", value=pool.busy
        )
        yield GaugeMetricFamily(
            "chartimpact_analysis_calls_waiting",
            "Calls waiting for an analysis worker process.",
            value=max(pool.in_flight - pool.size, 0),
        )
        yield CounterMetricFamily(
            "chartimpact_analysis_busy_seconds",
            "Process-seconds the analysis workers spent working.",
            value=pool.busy_seconds(),
        )


METRICS = web.AppKey("metrics", Metrics)


async def scrape(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    queue = request.app[JOBS]
    try:
        async with asyncio.timeout(SCRAPE_STORE_TIMEOUT_SECONDS):
            counts = await queue.store.counts()
    except (StoreError, TimeoutError):
        metrics.store_up.set(0)
    else:
        metrics.store_up.set(1)
        for state in STATES:
            metrics.jobs.labels(state).set(counts.get(state, 0))
        metrics.queue_depth.set(counts.get("queued", 0))
    metrics.running_here.set(queue.running_here)
    response = web.Response(body=generate_latest(metrics.registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response

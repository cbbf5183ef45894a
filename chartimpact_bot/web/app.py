"""The application factory: everything the server needs comes from Settings (and, for tests,
the GitHub session and sleep function)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import aiohttp
import structlog
from aiohttp import web

from ..github.auth import AppAuth
from ..github.client import AppClient, BreakerRegistry, Clock, Sleep
from ..github.credentials import CredentialCheck
from ..github.runner import AnalysisRunner, GitHubContext
from ..jobs.analyses import AnalysisLimits
from ..jobs.analysis_archive import AnalysisArchive
from ..jobs.analysis_process import AnalysisPool
from ..jobs.audit_writer import AuditWriter
from ..jobs.durable import DurableJobQueue
from ..jobs.result_cache import CachePolicy, ResultCache
from ..jobs.retention import DAY_SECONDS, prune_periodically, retention
from ..jobs.store import ResultLimits, StoreError, open_store
from ..logs import configure_logging
from ..report_links import ReportLinks, derive_link_key
from ..settings import Settings
from . import webhooks
from .api import add_api_routes, bearer_auth
from .compare import COMPARISONS, ComparisonSlots
from .keys import AUDIT, CREDENTIALS, GITHUB, JOBS, QUEUE, RUNNER, SETTINGS
from .metrics import METRICS, Metrics, scrape
from .pages import add_page_routes
from .pages.context import PAGES, Pages
from .setup import add_setup_routes

log = structlog.get_logger(__name__)
READY_TIMEOUT_SECONDS = 2.0
PAGES_ON = web.AppKey("pages_on", bool)
SessionFactory = Callable[[], aiohttp.ClientSession]


def create_app(
    settings: Settings,
    *,
    session_factory: SessionFactory | None = None,
    sleep: Sleep = asyncio.sleep,
    configure_logs: bool = True,
    analysis_pool: AnalysisPool | None = None,
    clock: Clock = time.time,
) -> web.Application:
    """`analysis_pool`: worker processes to share (tests start one for the whole session); by
    default the application starts its own and stops it on shutdown. `clock` (epoch seconds)
    is read by the job store, the queue and the rate-limit gate: tests move it instead of waiting."""
    if configure_logs:
        configure_logging(settings.log_level, settings.log_format)
    app = web.Application(client_max_size=settings.max_webhook_bytes + 1024, middlewares=[bearer_auth])
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[COMPARISONS] = ComparisonSlots(2 * max(1, settings.worker_concurrency))
    app.cleanup_ctx.append(_github_and_queue(session_factory, sleep, analysis_pool, clock))
    app.on_shutdown.append(_stop_intake)
    app.router.add_post("/api/webhooks/github", webhooks.receive)
    app.router.add_get("/api/webhooks/status/{job_id}", webhooks.status)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", scrape)
    add_api_routes(app)
    if settings.private_key or settings.webhook_secret:  # report links need the App's secret
        app[PAGES_ON] = True
        add_page_routes(app)
    if settings.setup_mode:
        add_setup_routes(app, settings, Path(settings.credentials_file), pages=PAGES_ON in app)
    return app


def _github_and_queue(
    session_factory: SessionFactory | None, sleep: Sleep, shared_pool: AnalysisPool | None, clock: Clock
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        session = (
            session_factory() if session_factory else aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        )
        breakers = BreakerRegistry()
        app_breaker = breakers.get(settings.api_url, None)  # the App's own calls (tokens, GET /app)
        metrics = app[METRICS]

        def observe(installation_id: int | None, status: int, headers: Mapping[str, str]) -> None:
            metrics.github_response(installation_id, status, headers)
            credentials.observe(installation_id, status, headers)  # the App's own calls: is its key accepted

        as_app = AppClient(session, settings.api_url, app_breaker, sleep, on_response=observe)
        auth = AppAuth(settings.app_id or "", settings.private_key or "", as_app.access_token, fetch_app=as_app.app)
        credentials = app[CREDENTIALS] = CredentialCheck(as_app.app, auth.app_jwt)
        github = GitHubContext(
            settings,
            session,
            auth,
            breakers=breakers,
            sleep=sleep,
            clock=clock,
            on_response=observe,
            on_stage=metrics.stage,
        )
        app[GITHUB] = github
        try:
            store = await open_store(settings.queue_url, clock=clock)
        except Exception:
            await session.close()
            raise
        pool = shared_pool or AnalysisPool(
            settings.worker_concurrency,
            memory_mb=settings.worker_memory_mb,
            log=(settings.log_level, settings.log_format),
        )
        cache = ResultCache(store, result_cache_policy(settings), on_lookup=metrics.result_cache_lookup)
        archive = AnalysisArchive(store, analysis_limits(settings), max_log=settings.max_audit_entries)
        if app.get(PAGES_ON):
            github.links = ReportLinks(derive_link_key(settings.private_key, settings.webhook_secret))
            app[PAGES] = Pages(archive, github.links, clock, settings, web_url=settings.web_url)
        runner = app[RUNNER] = AnalysisRunner(github, pool, cache=cache, archive=archive)
        metrics.watch_pool(pool)
        metrics.job_workers.set(settings.worker_concurrency)
        queue = DurableJobQueue(
            store,
            runner,
            concurrency=settings.worker_concurrency,
            installation_concurrency=settings.installation_concurrency,
            repository_rate_limit=settings.repository_rate_limit,
            max_attempts=settings.job_max_attempts,
            retry_delay=settings.job_retry_delay_seconds,
            lease=settings.job_lease_seconds,
            durable=not settings.queue_url.startswith("memory://"),
            on_job_ended=app[METRICS].job_ended,
            clock=clock,
        )
        app[QUEUE] = app[JOBS] = queue
        audit = app[AUDIT] = AuditWriter(
            store, max_entries=settings.max_audit_entries, on_dropped=app[METRICS].audit_dropped.inc, clock=clock
        )
        warming = pruning = None
        try:
            await queue.start()
            audit.start()
            pruning = asyncio.create_task(
                prune_periodically(
                    store,
                    retention(settings.result_retention_days, settings.max_stored_jobs),
                    settings.prune_interval_seconds,
                    retention(settings.audit_retention_days, settings.max_audit_entries),
                    results=cache.policy.limits,
                    analyses=archive.limits,
                ),
                name="job-retention",
            )
            log.info("job queue started", store=settings.queue_url.split(":", 1)[0], owner=queue.owner)
            warming = None if settings.setup_mode else asyncio.create_task(pool.warm_up())
            yield
        finally:
            for task in (warming, pruning):
                if task is not None:
                    task.cancel()
            await queue.shutdown(settings.shutdown_grace_seconds)
            await credentials.close()
            await audit.close()  # the deliveries answered until now, written before the store closes
            await store.close()
            await session.close()
            if shared_pool is None:
                # The queue has returned what was still running: nothing waits for those analyses.
                await asyncio.to_thread(pool.close, stop_running=True)

    return context


def analysis_limits(settings: Settings) -> AnalysisLimits:
    return AnalysisLimits(settings.result_retention_days * DAY_SECONDS, settings.max_stored_reports_mb * 1024 * 1024)


def result_cache_policy(settings: Settings) -> CachePolicy:
    limits = ResultLimits(settings.result_cache_max_entries, settings.result_cache_max_mb * 1024 * 1024)
    return CachePolicy(ttl_seconds=settings.result_cache_ttl_hours * 3600.0, limits=limits)


async def _stop_intake(app: web.Application) -> None:
    """SIGTERM (or the end of a test): webhooks answer 503 from now on, running jobs get the grace
    period, the rest go back to the store. on_shutdown runs while connections are still open."""
    await app[QUEUE].shutdown(app[SETTINGS].shutdown_grace_seconds)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    problems = []
    if settings.setup_mode or not settings.private_key:
        problems.append("GitHub App credentials are not loaded")
    else:
        rejected = await request.app[CREDENTIALS].problem()
        if rejected:
            problems.append(rejected)
    if not settings.webhook_enabled:
        # Issue 8 asks readiness to fail while intake is disabled: a load balancer then sends
        # GitHub's deliveries to instances that take them. /api/compare still answers here.
        problems.append("webhook intake is disabled (WEBHOOK_ENABLED=false)")
    queue = request.app[QUEUE]
    if not queue.accepting:
        problems.append("the instance is shutting down")
    elif not queue.healthy():
        problems.append("the job queue is not running")
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await queue.ping()
    except StoreError as exc:
        problems.append(str(exc))
    except TimeoutError:
        problems.append(f"the job store did not answer within {READY_TIMEOUT_SECONDS:g} s")
    if problems:
        return web.json_response({"status": "unavailable", "problems": problems}, status=503)
    return web.json_response({"status": "ready"})

"""One job's work on GitHub: the analysis of base vs head, published as a Check Run, a PR
comment and (optionally) a commit status.

The event loop only talks to GitHub: it lists both commits, fetches their chart metadata and
`.chartimpact.yml`, and hands them to a worker process, which parses them (they are written by
the pull request's author, see SECURITY.md) and answers which files the analysis reads; the loop
fetches those concurrently and a worker renders, diffs and detects signals. Nothing from the pull
request is parsed in the server process, and nothing CPU-heavy holds its interpreter lock.
Between the two steps, an analysis whose inputs match one in the result cache
(jobs/result_cache.py) takes the stored report and fetches and renders nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, assert_never

import aiohttp
import gidgethub
import structlog

from ..core.acknowledgements import apply_acknowledgements
from ..core.config import AnalysisConfig
from ..core.config_file import CONFIG_FILE
from ..core.errors import AnalysisError, brief, unexpected_failure
from ..core.model import Report, Revision
from ..engine.gitops import manifest_candidates
from ..engine.sources import SnapshotSource
from ..jobs.analyses import Acknowledgement, AnalysisRecord
from ..jobs.analysis_archive import AnalysisArchive, chart_summaries, new_analysis_id
from ..jobs.analysis_codec import StoredAnalysis, StoredProblem
from ..jobs.analysis_process import AnalysisPool, Preparation, WorkerOptions
from ..jobs.input_digest import SideInputs, input_digest
from ..jobs.model import CheckRun, Job, TransientError
from ..jobs.params import CommandParams, Commits, CompareParams, JobKind, PullRequestParams, ReleaseParams, named_head
from ..jobs.queue import Checkpoint, Ending
from ..jobs.result_cache import ResultCache
from ..jobs.store import StoreError
from ..report_links import ReportLinks
from ..settings import Settings
from .auth import AppAuth
from .checks import (
    STOPPED_TITLE,
    ConfigProblem,
    cancel_check_run,
    create_check_run,
    fail_check_run,
)
from .client import (
    AppClient,
    BreakerRegistry,
    CircuitBreaker,
    Clock,
    GitHubClient,
    RateLimitGate,
    ResponseHook,
    Sleep,
)
from .command_runner import run_command
from .installations import InstallationDirectory
from .publish import CommentSettings, Target, publish_analysis
from .source import BlobCache, GitHubSource, Tree, TreeCache, fetch_tree
from .statuses import set_status

log = structlog.get_logger(__name__)
# Where a job's delivery came to, kept with the job at intake (web/webhooks.py) for its links.
PUBLIC_URL_KEY = "publicUrl"
CHART_METADATA = ("Chart.yaml", "Chart.lock", "requirements.yaml", "requirements.lock")
MAX_SIDE_BYTES = 256 * 1024 * 1024
A = TypeVar("A")
B = TypeVar("B")


# Told the seconds each stage of an analysis took: "fetch_metadata" (trees, chart metadata and
# configuration), "prepare" (a worker parses and plans), "fetch_inputs" (the files it asked
# for), "analyze" (a worker renders, diffs and detects) and "publish" (check run, comment, status).
StageHook = Callable[[str, float], None]


class UnknownRef(Exception):
    """A ref or commit the repository does not have."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """What `POST /api/compare` answers: the report, and the problems of `.chartimpact.yml`."""

    report: Report
    problems: list[ConfigProblem]


@dataclass(frozen=True, slots=True)
class Analysis:
    """A job's analysis, before it is published: the report, the problems and settings of
    `.chartimpact.yml` (its comment mode), and every path of the head commit."""

    report: Report
    problems: list[ConfigProblem]
    config: AnalysisConfig
    head_paths: set[str]


@dataclass(slots=True)
class GitHubContext:
    """What every job shares: the HTTP session, authentication and caches, a circuit breaker
    per (API host, installation) and the installations' primary rate limits (client.py)."""

    settings: Settings
    session: Any
    auth: AppAuth
    breakers: BreakerRegistry = field(default_factory=BreakerRegistry)
    blobs: BlobCache = field(default_factory=BlobCache)
    trees: TreeCache = field(default_factory=TreeCache)
    sleep: Sleep = asyncio.sleep
    clock: Clock = time.time
    gate: RateLimitGate | None = None
    on_response: ResponseHook | None = None  # every GitHub response, for /metrics
    on_stage: StageHook | None = None  # every stage of an analysis and its seconds, for /metrics
    links: ReportLinks | None = None  # signs links to report pages; None: no page is linked
    # The App's public base URL: CHARTIMPACT_PUBLIC_URL, else learned from a delivery GitHub signed.
    public_url: str | None = None
    _installations: InstallationDirectory | None = None

    def __post_init__(self) -> None:
        if self.gate is None:
            self.gate = RateLimitGate(self.clock)

    async def installation_of(self, owner: str, repo: str) -> int:
        """The installation that reads `owner/repo` (for work no delivery named); NotInstalled."""
        if self._installations is None:
            app = AppClient(self.session, self.settings.api_url, self.breaker(None), self.sleep, self.on_response)
            self._installations = InstallationDirectory(app, self.auth)
        return await self._installations.installation_of(owner, repo)

    def report_url(self, report_id: str, installation_id: int, job: Job | None = None) -> str | None:
        """A fresh signed link to a report page, when links can be made and the App knows its
        URL: CHARTIMPACT_PUBLIC_URL, else the address the job's delivery came to (every
        instance sharing the store can run the job, also one that never received a delivery),
        else the one this instance learned."""
        learned = job.result.get(PUBLIC_URL_KEY) if job is not None else None
        base = self.settings.public_url or (learned if isinstance(learned, str) else None) or self.public_url
        if self.links is None or base is None:
            return None
        return self.links.url(base, report_id, installation_id, self.clock())

    def breaker(self, installation_id: int | None) -> CircuitBreaker:
        """The breaker of an installation's calls (None: the App's own, for tokens)."""
        return self.breakers.get(self.settings.api_url, installation_id)

    def client(self, installation_id: int, *, breaker: CircuitBreaker | None = None) -> GitHubClient:
        return GitHubClient(
            self.session,
            self.auth,
            installation_id,
            base_url=self.settings.api_url,
            breaker=breaker or self.breaker(installation_id),
            sleep=self.sleep,
            on_response=self.on_response,
            gate=self.gate,
            clock=self.clock,
        )


class AnalysisRunner:
    """`cache`: reports by the digest of their inputs (jobs/result_cache.py); None: none.
    `archive`: where published analyses are kept for their report page (jobs/analysis_archive.py);
    None: none kept, and nothing links to a page."""

    def __init__(
        self,
        context: GitHubContext,
        pool: AnalysisPool,
        *,
        cache: ResultCache | None = None,
        archive: AnalysisArchive | None = None,
    ) -> None:
        self.github = context
        self.pool = pool
        self.cache = cache
        self.archive = archive
        settings = context.settings
        self.options = WorkerOptions(
            render=settings.render,
            signals_enabled=settings.signals_enabled,
            helm_binary=settings.helm_binary,
            time_budget_seconds=settings.job_time_budget_seconds,
            fingerprint_key=settings.fingerprint_key(),
            repositories=settings.repositories,
        )

    async def run(self, job: Job, checkpoint: Checkpoint) -> None:
        with self._bound(job):
            await self._run(job, checkpoint)

    async def close(self, job: Job, ending: Ending, newer: Job | None) -> None:
        """Complete the check run of a job that ended without publishing (queue.py's JobRunner).

        Its client has a circuit breaker of its own: when GitHub failed often enough to open the
        installation's (which is why a job may be dead), this one PATCH still goes out. The
        rate-limit gate still holds: nothing is sent for an installation before its reset, and
        RateLimited says when to try again. GitHub unreachable or failing raises TransientError
        (the queue keeps the close owed); a refusal that no retry changes (the run was deleted,
        the App may no longer write it) ends the close."""
        if job.check_run is None or not self.github.settings.checks_enabled:
            return
        run_id = job.check_run.id
        client = self.github.client(job.installation_id, breaker=CircuitBreaker())
        with self._bound(job):
            try:
                if ending == "dead":
                    reason = f"GitHub kept failing; the analysis was tried {job.attempts} times: {job.error}"
                    await fail_check_run(client, job.owner, job.repo, run_id, reason)
                elif ending == "failed":
                    await fail_check_run(client, job.owner, job.repo, run_id, job.error or "the analysis failed")
                elif ending == "superseded":
                    sha = ((named_head(newer.params) if newer else None) or "")[:7]
                    title = f"superseded by {sha}" if sha else "superseded by a newer analysis"
                    await cancel_check_run(client, job.owner, job.repo, run_id, title)
                else:
                    await cancel_check_run(client, job.owner, job.repo, run_id, STOPPED_TITLE)
                log.info("check run completed", check_run_id=run_id, ending=ending)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise TransientError(f"GitHub is unreachable ({type(exc).__name__})") from exc
            except gidgethub.GitHubException as exc:  # 5xx and rate limits come as TransientError
                log.warning(
                    "the check run cannot be completed", check_run_id=run_id, ending=ending, error=_sentence(exc)
                )

    async def compare(
        self, owner: str, repo: str, base_ref: str, head_ref: str, only: tuple[str, ...] | None = None
    ) -> Comparison:
        """The analysis of a job, without a job: base and head named by ref, nothing published.

        Runs the same steps as a delivery's analysis (`_analyze`) with the installation's
        credentials, so its report has the signals `analyze --repo` finds on the same commits.
        Raises NotInstalled, UnknownRef, and what a job's analysis raises (RateLimited,
        TransientError, AnalysisError)."""
        installation_id = await self.github.installation_of(owner, repo)
        client = self.github.client(installation_id)
        job = Job(
            delivery_id="",
            event="compare",
            action=None,
            repository=f"{owner}/{repo}",
            installation_id=installation_id,
            kind="compare",
            params=CompareParams(base_ref, head_ref),
            key=f"compare:{owner}/{repo}",
        )
        with self._bound(job):
            analysis = await self._analyze(client, job, await self._commits(client, job), only=only)
        return Comparison(analysis.report, analysis.problems)

    async def _commit_of_ref(self, client: GitHubClient, job: Job, ref: str) -> str:
        try:
            return await self._commit(client, job, ref)
        except gidgethub.BadRequest as exc:
            if exc.status_code in (404, 422):  # GitHub answers 422 "No commit found for SHA"
                raise UnknownRef(f"{job.repository} has no branch, tag or commit {ref!r}") from exc
            raise

    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        """Time one stage of an analysis for /metrics (StageHook), however it ends."""
        began = time.monotonic()
        try:
            yield
        finally:
            if self.github.on_stage is not None:
                self.github.on_stage(name, time.monotonic() - began)

    @staticmethod
    def _bound(job: Job) -> contextlib.AbstractContextManager[Any]:
        return structlog.contextvars.bound_contextvars(
            delivery_id=job.delivery_id,
            github_event=job.event,
            repository=job.repository,
            installation=job.installation_id,
            job_id=job.id,
        )

    async def _run(self, job: Job, checkpoint: Checkpoint) -> None:
        client = self.github.client(job.installation_id)
        if isinstance(job.params, CommandParams):
            await self._command(client, job, job.params, checkpoint)
            return
        settings = self.github.settings
        # The first attempt opens a run (also when a dead job is revived: its old run is
        # completed); a retry, a job parked for a rate limit (its attempt given back) or one
        # recovered from a lost worker reuses the one it opened. A revived job has a new seq.
        if job.check_run is not None and job.check_run.seq != job.seq:
            job.check_run = None
        try:
            commits = await self._commits(client, job)
            if settings.checks_enabled and job.check_run is None:
                external_id = _external_id(job.kind, commits)
                run_id, run_url = await create_check_run(client, job.owner, job.repo, commits.head_sha, external_id)
                job.check_run = CheckRun(run_id, run_url, job.seq)
                job.result["checkRunIds"] = [run_id]
                await checkpoint()  # stored before anything else, so no later attempt opens a second run
            run_url = job.check_run.url if job.check_run is not None else ""
            if settings.status_enabled and job.attempts == 1:
                await set_status(
                    client,
                    job.owner,
                    job.repo,
                    commits.head_sha,
                    state="pending",
                    description="ChartImpact is analyzing the charts",
                    target_url=run_url or None,
                )
            log.info("analysis started", base=commits.base_sha, head=commits.head_sha)
            analysis = await self._analyze(client, job, commits)
            with self._stage("publish"):
                await self._publish(client, job, commits.head_sha, analysis)
            log.info("analysis published", verdict=job.result["verdict"])
        except TransientError:
            raise  # the queue retries it, and closes the run after the last attempt
        except (AnalysisError, gidgethub.GitHubException) as exc:  # raised on purpose: its sentence says what failed
            error = _sentence(exc)
            log.warning("analysis failed", error=error)
            await self._fail(job, error)
        except Exception:  # a bug: the Check Run still completes, but says nothing of its text
            log.exception("analysis failed unexpectedly")
            await self._fail(job, unexpected_failure(job.id))

    async def _command(self, client: GitHubClient, job: Job, params: CommandParams, checkpoint: Checkpoint) -> None:
        async def analyze(analysis: Job) -> None:  # a re-run: the pull request's analysis, its run kept by this job
            async def saved() -> None:
                job.check_run = analysis.check_run
                job.result.update(analysis.result)
                await checkpoint()

            await self._run(analysis, saved)

        try:
            await run_command(self, client, job, params, analyze)
        except TransientError:
            raise
        except StoreError as exc:  # the store is back soon: the queue tries again
            raise TransientError(str(exc)) from exc
        except (AnalysisError, gidgethub.GitHubException) as exc:
            job.state, job.error = "failed", _sentence(exc)
            log.warning("command failed", command=params.command, error=job.error)

    async def _fail(self, job: Job, error: str) -> None:
        job.state, job.error = "failed", error
        if job.check_run is not None:
            await self._give_up(job, job.check_run.id, error)

    async def _give_up(self, job: Job, run_id: int, reason: str) -> None:
        client = self.github.client(job.installation_id, breaker=CircuitBreaker())
        try:
            await fail_check_run(client, job.owner, job.repo, run_id, reason)
        except (TransientError, aiohttp.ClientError, TimeoutError):
            log.warning("could not complete the check run; it is owed", check_run_id=run_id)
            job.close_owed = "failed"  # the queue saves the debt with the job; its closer pays it
        except gidgethub.GitHubException:
            log.warning("could not complete the check run", check_run_id=run_id)

    async def _commits(self, client: GitHubClient, job: Job) -> Commits:
        """The two commits the job compares: named by its delivery, or looked up now."""
        match job.params:
            case Commits():  # a pull request's too
                return job.params
            case ReleaseParams():
                return await self._release_commits(client, job, job.params)
            case CommandParams():
                raise AnalysisError("a command names no commits")  # run by _command, never analyzed
            case CompareParams(base_ref=base_ref, head_ref=head_ref):
                base_sha, head_sha = await _both(
                    self._commit_of_ref(client, job, base_ref), self._commit_of_ref(client, job, head_ref)
                )
                return Commits(base_sha, head_sha, base_ref, head_ref)
            case _:
                assert_never(job.params)

    async def _release_commits(self, client: GitHubClient, job: Job, release: ReleaseParams) -> Commits:
        """This release's commit, and the commit of the release published before it (none for
        the first release: every chart in it is new)."""
        vars_ = {"owner": job.owner, "repo": job.repo}
        releases = await client.getall("/repos/{owner}/{repo}/releases?per_page=100", vars_)
        this = next((r for r in releases if r.get("id") == release.release_id), None)
        published_at = _when((this or {}).get("published_at")) or datetime.max
        earlier = [
            (when, r)
            for r in releases
            if r.get("id") != release.release_id
            and not r.get("draft")
            and (when := _when(r.get("published_at"))) is not None
            and when < published_at
        ]
        earlier.sort(key=lambda pair: pair[0])
        head_sha = await self._commit(client, job, release.tag)
        if not earlier:
            return Commits(None, head_sha, None, release.tag)
        previous = str(earlier[-1][1]["tag_name"])
        return Commits(await self._commit(client, job, previous), head_sha, previous, release.tag)

    async def _commit(self, client: GitHubClient, job: Job, ref: str) -> str:
        answer = await client.getitem(
            "/repos/{owner}/{repo}/commits/{ref}", {"owner": job.owner, "repo": job.repo, "ref": ref}
        )
        return str(answer["sha"])

    async def _tree(self, client: GitHubClient, job: Job, sha: str) -> Tree:
        key = f"{job.repository}@{sha}"
        cached = self.github.trees.get(key)
        if cached is None:
            cached = await fetch_tree(client, job.owner, job.repo, sha)
            self.github.trees.put(key, cached)
        return cached

    async def _source(self, client: GitHubClient, job: Job, sha: str | None, ref: str | None) -> GitHubSource:
        """One commit of the job: its listing fetched (or cached), its blobs on demand. A side
        without a commit (the first release has no earlier one) is empty."""
        if sha is None:
            return GitHubSource(
                client,
                job.owner,
                job.repo,
                revision=Revision(None, None),
                tree=Tree({}, {}),
                blobs=self.github.blobs,
                loop=asyncio.get_running_loop(),
            )
        return GitHubSource(
            client,
            job.owner,
            job.repo,
            revision=Revision(ref or None, sha),
            tree=await self._tree(client, job, sha),
            blobs=self.github.blobs,
            loop=asyncio.get_running_loop(),
        )

    async def _analyze(
        self, client: GitHubClient, job: Job, commits: Commits, *, only: tuple[str, ...] | None = None
    ) -> Analysis:
        """Fetch on the event loop, parse and analyze in a worker process.

        The event loop never parses what the pull request wrote: it fetches the chart metadata
        and `.chartimpact.yml`, a worker reads them and answers which files the analysis needs,
        the loop fetches those, and a worker analyzes them.
        """
        with self._stage("fetch_metadata"):
            base, head = await _both(
                self._source(client, job, commits.base_sha, commits.base_ref),
                self._source(client, job, commits.head_sha, commits.head_ref),
            )
            base_listing, head_listing = base.list_files(), head.list_files()
            metadata = {
                p for p in {**base_listing, **head_listing} if p.rsplit("/", 1)[-1] in (*CHART_METADATA, CONFIG_FILE)
            }
            snapshots = await _both(_snapshot(base, metadata), _snapshot(head, metadata))
            # The files that may be Argo CD or Flux manifests (engine/gitops.py), read when
            # planning: every YAML file outside charts, unless the base's `.chartimpact.yml`
            # narrows them (`gitops.manifests`), which a worker reads.
            if CONFIG_FILE in base_listing:
                base_manifests, head_manifests = await self.pool.manifest_paths(*snapshots)
            else:
                base_manifests, head_manifests = manifest_candidates(base_listing), manifest_candidates(head_listing)
            manifests = {*base_manifests, *head_manifests} - metadata
            if manifests:
                metadata |= manifests
                snapshots = await _both(_snapshot(base, metadata), _snapshot(head, metadata))
        with self._stage("prepare"):
            preparation = await self.pool.prepare(*snapshots, only)
        more = (preparation.missing[0] | preparation.missing[1]) - metadata
        if more:
            # Files ApplicationSets generate Applications from (JSON ones too): fetched, and the
            # plan made again with them; once, whatever those files say.
            with self._stage("fetch_metadata"):
                metadata |= more
                snapshots = await _both(_snapshot(base, metadata), _snapshot(head, metadata))
            with self._stage("prepare"):
                preparation = await self.pool.prepare(*snapshots, only)
        problems = [ConfigProblem(p.line, p.message, where) for where, p in preparation.problems]
        report = await self.analyze_prepared(job.repository, base, head, metadata, preparation, only=only)
        return Analysis(report, problems, preparation.config, set(head_listing))

    async def analyze_prepared(
        self,
        repository: str,
        base: GitHubSource,
        head: GitHubSource,
        metadata: set[str],
        preparation: Preparation,
        *,
        only: tuple[str, ...] | None = None,
    ) -> Report:
        """The report of two prepared commits: the stored one when the same analysis ran within
        RESULT_CACHE_TTL_HOURS (input_digest.py says what "the same" is), else fetched, rendered
        in a worker and stored. `metadata`: the chart metadata and configuration files read.

        The digest needs only the listings, so a hit fetches no file and renders nothing. A hit
        names this analysis' commits, not those of the run that stored it (the same tree pushed
        again has new SHAs); its `generatedAt` stays the time it was rendered."""
        base_read, head_read = metadata | preparation.base_paths, metadata | preparation.head_paths
        digest = None
        if self.cache is not None and self.cache.enabled:
            digest = input_digest(
                repository=repository,
                config=preparation.config,
                options=self.options,
                base=SideInputs(base.list_files(), base_read, base.left_out()),
                head=SideInputs(head.list_files(), head_read, head.left_out()),
                only=only,
            )
            cached = await self.cache.lookup(digest)
            if cached is not None:
                log.info("analysis taken from the result cache", digest=(digest or "")[:16])
                return dataclasses.replace(cached, base=base.revision, head=head.revision)
        with self._stage("fetch_inputs"):
            base_snapshot, head_snapshot = await _both(_snapshot(base, base_read), _snapshot(head, head_read))
        with self._stage("analyze"):
            report = await self.pool.analyze_snapshots(
                base_snapshot, head_snapshot, preparation.config, self.options, only
            )
        if self.cache is not None:
            await self.cache.remember(digest, report)
        return report

    async def _publish(self, client: GitHubClient, job: Job, head_sha: str, analysis: Analysis) -> None:
        """Keep the analysis (its report page), apply the acknowledgements of its pull request
        and publish it with links to the page."""
        report, problems, config = analysis.report, analysis.problems, analysis.config
        pull = job.params.number if isinstance(job.params, PullRequestParams) else None
        acknowledgements = await self._acknowledgements(job)
        shown = apply_acknowledgements(report, acknowledgements)
        annotated = {s.source.file for c in report.charts for s in c.signals if s.source} | {CONFIG_FILE}
        stored = StoredAnalysis(
            report=report,
            problems=tuple(StoredProblem(p.line, p.message, p.where) for p in problems),
            annotated_files=tuple(sorted(annotated & analysis.head_paths)),
            comment_mode=config.comment_mode,
            comment_max_signals=config.comment_max_signals,
        )
        page_url = await self._keep(job, head_sha, pull, shown, stored)
        target = Target(
            job.owner,
            job.repo,
            head_sha,
            check_run_id=job.check_run.id if job.check_run is not None else None,
            check_run_url=job.check_run.url if job.check_run is not None else "",
            pull_number=pull,
        )
        published = await publish_analysis(
            client,
            self.github.settings,
            target,
            shown,
            problems=problems,
            head_paths=analysis.head_paths,
            comment=CommentSettings(config.comment_mode, config.comment_max_signals),
            page_url=page_url,
        )
        job.result["verdict"] = published.verdict
        if pull is not None and self.github.settings.commenting_enabled and config.comment_mode != "never":
            job.result["commentId"] = published.comment_id

    async def _acknowledgements(self, job: Job) -> list[Acknowledgement]:
        """The acknowledgements of the job's pull request (or ref); none when they cannot be read."""
        if self.archive is None:
            return []
        try:
            return await self.archive.acknowledgements(job.repository, job.key)
        except Exception as exc:  # the analysis is published all the same, every signal counting
            log.warning("acknowledgements could not be read; publishing without them", error=brief(exc, 300))
            return []

    async def _keep(
        self, job: Job, head_sha: str, pull: int | None, shown: Report, stored: StoredAnalysis
    ) -> str | None:
        """Store the analysis; the signed link to its page, or None (no store, no public URL,
        or it could not be kept)."""
        if self.archive is None or job.kind == "compare":
            return None
        record = AnalysisRecord(
            id=new_analysis_id(),
            installation_id=job.installation_id,
            repository=job.repository,
            scope=job.key,
            kind=job.kind,
            ref=stored.report.head.ref or head_sha[:7],
            head_sha=head_sha,
            base_sha=stored.report.base.sha,
            created_at=self.github.clock(),
            verdict=shown.verdict,
            pull_number=pull,
            check_run_id=job.check_run.id if job.check_run is not None else None,
            charts=chart_summaries(shown),
        )
        if not await self.archive.keep(record, stored):
            return None
        job.result["analysisId"] = record.id
        return self.github.report_url(record.id, record.installation_id, job)


async def _both(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Both at once, as one: the first to fail cancels the other and is raised as itself.

    Not `gather`, which leaves the sibling running: the side that met GitHub's primary rate
    limit would raise while the other, sleeping until the reset or walking a tree, went on
    calling GitHub for a job that is already parked until the reset."""
    error: BaseException | None = None
    try:
        async with asyncio.TaskGroup() as group:
            one, two = group.create_task(first), group.create_task(second)
    except BaseExceptionGroup as failed:
        # The runner and the queue tell failures apart by type (RateLimited parks the job), so
        # the first error is raised itself, outside this block so it keeps its own context.
        error = failed.exceptions[0]
    if error is not None:
        raise error
    return one.result(), two.result()


async def _snapshot(source: GitHubSource, paths: set[str]) -> SnapshotSource:
    """The whole listing of a commit, with the contents of those of `paths` it holds.

    The contents pass through the server's memory on their way to a worker, so one side of
    one job may not ask for more than MAX_SIDE_BYTES: a pull request full of large files
    must not exhaust the process that serves every other delivery.
    """
    listing = source.list_files()
    wanted = sorted(p for p in paths if p in listing)
    total = sum(listing[p].size for p in wanted)
    if total > MAX_SIDE_BYTES:
        raise AnalysisError(
            f"the charts of {source.revision.sha or 'this commit'} hold {total // (1024 * 1024)} MB of files, "
            f"more than the {MAX_SIDE_BYTES // (1024 * 1024)} MB one analysis may read"
        )
    await source.prefetch(wanted)
    contents = await asyncio.to_thread(source.read_many, wanted)
    return SnapshotSource(source.revision, listing, contents, source.left_out())


def _external_id(kind: JobKind, commits: Commits) -> str:
    """Enough to run the same analysis again when someone asks for a re-run (events.py)."""
    return json.dumps({"kind": kind, "base": commits.base_sha}, separators=(",", ":"))


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


def _sentence(exc: AnalysisError | gidgethub.GitHubException) -> str:
    """The published sentence of an error raised on purpose: the analysis library's, or GitHub's
    own answer. Bounded, since both may quote what the pull request wrote."""
    if isinstance(exc, gidgethub.BadRequest):
        return f"GitHub refused a request ({exc.status_code}): {brief(exc, 450)}"
    return brief(exc, 500) or type(exc).__name__

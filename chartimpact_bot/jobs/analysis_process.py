"""Analyses in worker processes: the server's event loop only plans, fetches and publishes.

Workers are started with `spawn` (the Go runtime inside Helm is not fork-safe, and a forked
aiohttp server is no better) and replaced after a number of jobs, which bounds what a leak in
any library can cost. The pool replaces them itself, a whole generation at a time, rather
than with ProcessPoolExecutor's `max_tasks_per_child`: on CPython 3.11 to 3.13 that option
deadlocks the executor once a worker retires while calls are waiting (python/cpython#115634),
and the App always has calls waiting under load. They run at a lower CPU priority than the server (their render children
inherit it): answering GitHub's deliveries within its ten seconds matters more than finishing
an analysis a few milliseconds sooner. A worker handles data from pull requests, so it also runs
under an address-space limit (WORKER_MEMORY_MB; its render children set their own), and each
analysis under a total time budget (JOB_TIME_BUDGET_SECONDS). A worker dies with the server,
even one killed with -9 (engine/parent_death.py), and so do the render children it started;
multiprocessing's resource tracker then ends on its own (its pipe closes with the last of them).
Each generation has a scratch directory of the server's for its temporary files (charts laid out
for a render): a worker killed mid-analysis cannot remove its own, so the server removes the
generation's once its processes have ended, and at start those of servers no longer running.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, TypeVarTuple

import structlog

from ..core.config import AnalysisConfig
from ..core.config_file import Problem
from ..core.model import Report
from ..engine.config_source import repository_config
from ..engine.gitops import generator_files, manifest_candidates
from ..engine.options import PipelineOptions
from ..engine.parent_death import die_with_parent
from ..engine.pipeline import run_plan
from ..engine.plan import AnalysisPlan, plan_repository
from ..engine.remote import RemoteFetcher, RepositoryAccess, build_fetcher
from ..engine.render import IsolatedHelmRenderer, RenderLimits
from ..engine.snapshot import plan_inputs
from ..engine.sources import SnapshotSource
from ..logs import configure_logging
from .model import TransientError

T = TypeVar("T")
Args = TypeVarTuple("Args")

log = structlog.get_logger(__name__)
JOBS_PER_WORKER = 50  # calls a generation of workers takes per worker before it is replaced
WORKER_NICENESS = 10
STOP_TIMEOUT_SECONDS = 2.0  # a worker's time to end after SIGTERM, before SIGKILL
SCRATCH_PREFIX = "chartimpact-workers-"  # then the server's pid: chartimpact-workers-1234-…


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What a worker needs to build its PipelineOptions (which hold unpicklable parts)."""

    render: RenderLimits = field(default_factory=RenderLimits)
    signals_enabled: bool = True
    helm_binary: str | None = None
    time_budget_seconds: float | None = None
    fingerprint_key: bytes = field(default=b"", repr=False)  # Settings.fingerprint_key(); see PipelineOptions
    # Settings.repositories: credentials, private networks, the archive cache (repr masks the credentials)
    repositories: RepositoryAccess = field(default_factory=RepositoryAccess)


# One per worker process and configuration, so repository indexes, registry tokens and tag
# manifests stay cached across the jobs it runs (archives are cached on disk, for every process).
_fetchers: dict[RepositoryAccess, RemoteFetcher] = {}


@dataclass(frozen=True, slots=True)
class Preparation:
    """What a worker read from a pull request's metadata: the configuration to apply, the
    configuration problems (with the version each is in), and the files the analysis needs."""

    config: AnalysisConfig
    problems: list[tuple[str, Problem]]
    base_paths: set[str]
    head_paths: set[str]
    # Files the plan could not read and would have: what ApplicationSets' git files generators
    # name (a `config.json`). Fetched, then the plan is made again with them.
    missing: tuple[set[str], set[str]] = (set(), set())


def manifest_paths(base: SnapshotSource, head: SnapshotSource) -> tuple[list[str], list[str]]:
    """Runs in a worker: the files of each side that may hold Argo CD or Flux manifests, as the
    base's `.chartimpact.yml` narrows them (`gitops.manifests`); the configuration is the pull
    request's, so it is parsed here, not on the server's event loop."""
    config, _ = repository_config(base, head)
    return (
        manifest_candidates(base.list_files(""), config.manifests),
        manifest_candidates(head.list_files(""), config.manifests),
    )


def prepare_snapshots(base: SnapshotSource, head: SnapshotSource, only: tuple[str, ...] | None = None) -> Preparation:
    """Runs in a worker: parse `.chartimpact.yml` and every chart's metadata, and plan.

    This is the untrusted-input boundary of the App: Chart.yaml, Chart.lock and the
    configuration are written by the pull request's author, so the server only fetches them
    and never parses them itself. `only`: the chart directories to analyze (all when None).
    """
    config, problems = repository_config(base, head)
    base_paths, head_paths = plan_inputs(plan_repository(base, head, config, only=only))
    missing = tuple({p for p in generator_files(side, config.manifests) if not side.holds(p)} for side in (base, head))
    return Preparation(config, problems, base_paths, head_paths, missing=(missing[0], missing[1]))


def analyze_snapshots(
    base: SnapshotSource,
    head: SnapshotSource,
    config: AnalysisConfig,
    options: WorkerOptions,
    only: tuple[str, ...] | None = None,
) -> Report:
    """Runs in a worker: plan again over the complete snapshots, then analyze."""
    return analyze_detached(plan_repository(base, head, config, only=only), config, options)


def analyze_detached(plan: AnalysisPlan, config: AnalysisConfig, options: WorkerOptions) -> Report:
    """Runs in a worker process; the plan's sources must be snapshots (see analysis.snapshot)."""
    fetcher = _fetchers.get(options.repositories)
    if fetcher is None:
        if len(_fetchers) >= 4:  # one configuration in practice; tests use a few
            _fetchers.clear()
        fetcher = _fetchers[options.repositories] = build_fetcher(options.repositories)
    pipeline = PipelineOptions(
        renderer=IsolatedHelmRenderer(options.render, helm_binary=options.helm_binary),
        fetcher=fetcher,
        signals_enabled=options.signals_enabled,
        time_budget_seconds=options.time_budget_seconds,
        fingerprint_key=options.fingerprint_key,
    )
    return run_plan(plan, config, pipeline)


def _start_worker(
    memory_mb: int | None, server: int | None = None, log: tuple[str, str] | None = None, scratch: str | None = None
) -> None:
    die_with_parent(server)  # first of all: an orphaned worker would go on rendering for nobody
    if scratch is not None:  # the generation's: the server removes it (the module's docstring)
        os.environ["TMPDIR"] = tempfile.tempdir = scratch
    if log is not None:  # the server's format: a worker's lines (a render's traceback) join its log
        configure_logging(*log)
    with contextlib.suppress(OSError):  # not permitted everywhere; the analysis runs regardless
        os.nice(WORKER_NICENESS)
    if memory_mb is not None:
        limit = memory_mb * 1024 * 1024
        # Soft and hard alike: nothing in the worker may lift it. Render children lower their own.
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def warm_up() -> None:
    """Nothing: running it starts a worker and imports the analysis (about half a second),
    so the first delivery does not wait for that."""


class AnalysisPool:
    """A process pool that replaces itself when a worker dies."""

    def __init__(
        self,
        workers: int,
        *,
        memory_mb: int | None = None,
        jobs_per_worker: int = JOBS_PER_WORKER,
        log: tuple[str, str] | None = None,
    ) -> None:
        """`log`: (LOG_LEVEL, LOG_FORMAT) for the workers' own lines; None leaves them unset."""
        self._workers = max(1, workers)
        self._log = log
        self._memory_mb = memory_mb
        self._executor: ProcessPoolExecutor | None = None
        self._calls_per_generation = max(1, jobs_per_worker) * self._workers
        self._calls_taken = 0  # by the current generation
        # Generations replaced while they still had calls to answer: they end once those are done
        # (shutdown without waiting), and `close` stops them with the current one.
        self._retiring: list[_Generation] = []
        self._scratch: Path | None = None  # the current generation's
        _remove_orphaned_scratch()
        self.in_flight = 0  # calls sent to the pool and not answered: running, or waiting for a process
        self._busy_seconds = 0.0
        self._counted_at = time.monotonic()

    @property
    def size(self) -> int:
        return self._workers

    @property
    def busy(self) -> int:
        """Processes working now (the calls beyond `size` wait for one)."""
        return min(self.in_flight, self._workers)

    def busy_seconds(self) -> float:
        """Process-seconds spent working since the pool was made: its rate over `size` is the
        pool's utilization (/metrics)."""
        self._count()
        return self._busy_seconds

    def _count(self) -> None:
        now = time.monotonic()
        self._busy_seconds += self.busy * (now - self._counted_at)
        self._counted_at = now

    async def analyze(self, plan: AnalysisPlan, config: AnalysisConfig, options: WorkerOptions) -> Report:
        return await self._call(analyze_detached, plan, config, options)

    async def manifest_paths(self, base: SnapshotSource, head: SnapshotSource) -> tuple[list[str], list[str]]:
        return await self._call(manifest_paths, base, head)

    async def prepare(
        self, base: SnapshotSource, head: SnapshotSource, only: tuple[str, ...] | None = None
    ) -> Preparation:
        return await self._call(prepare_snapshots, base, head, only)

    async def analyze_snapshots(
        self,
        base: SnapshotSource,
        head: SnapshotSource,
        config: AnalysisConfig,
        options: WorkerOptions,
        only: tuple[str, ...] | None = None,
    ) -> Report:
        return await self._call(analyze_snapshots, base, head, config, options, only)

    async def _call(self, fn: Callable[[*Args], T], *args: *Args) -> T:
        executor = self._current()
        self._count()
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        except BrokenProcessPool as exc:
            log.warning("an analysis process died; starting new ones")
            if self._executor is executor:
                self._retire(executor)
                executor.shutdown(wait=False, cancel_futures=True)
            raise TransientError("the analysis process stopped unexpectedly") from exc
        finally:
            self._count()
            self.in_flight -= 1

    async def warm_up(self) -> None:
        executor = self._current()
        try:
            await asyncio.get_running_loop().run_in_executor(executor, warm_up)
        except BrokenProcessPool:
            log.warning("could not start an analysis process; the first job will try again")
            if self._executor is executor:
                self._retire(executor)

    def close(self, *, stop_running: bool = False) -> None:
        """Stop the workers. `stop_running`: end the analyses still running instead of waiting
        for them (the server stopping: their jobs are already back in the queue, so nobody wants
        their results, and waiting could outlast the grace period). Render children die with
        their worker."""
        executor = self._executor
        if executor is not None:
            self._retire(executor)
        generations, self._retiring = self._retiring, []
        processes = [p for generation in generations for p in generation.processes]
        if executor is not None:
            executor.shutdown(wait=not stop_running, cancel_futures=True)
        if stop_running:
            for process in processes:
                if process.is_alive():
                    process.terminate()
        for process in processes:
            process.join(timeout=None if not stop_running else STOP_TIMEOUT_SECONDS)
            if process.is_alive():
                process.kill()
        if executor is not None:
            executor.shutdown(wait=True)
        for generation in generations:
            shutil.rmtree(generation.scratch, ignore_errors=True)

    def _current(self) -> ProcessPoolExecutor:
        """The generation that takes the next call: a new one once the current one took its
        share. The old one answers the calls it holds and then ends; its processes are kept
        here until then, for `close`."""
        if self._executor is not None and self._calls_taken >= self._calls_per_generation:
            old = self._executor
            self._retire(old)
            old.shutdown(wait=False)  # its calls still run; its processes exit after them
        executor = self._executor or self._start()
        self._calls_taken += 1
        return executor

    def _retire(self, executor: ProcessPoolExecutor) -> None:
        """The current generation stops taking calls; it is kept until its processes have ended."""
        processes = _processes(executor)  # before shutdown, which forgets them
        self._forget_ended()
        if self._scratch is not None:
            self._retiring.append(_Generation(processes, self._scratch))
        self._executor, self._scratch = None, None

    def _forget_ended(self) -> None:
        """Retired generations whose processes have all ended: their scratch directories go."""
        ended = [g for g in self._retiring if all(_ended(p) for p in g.processes)]
        for generation in ended:
            shutil.rmtree(generation.scratch, ignore_errors=True)
        self._retiring = [g for g in self._retiring if g not in ended]

    def _start(self) -> ProcessPoolExecutor:
        self._forget_ended()  # a generation broken by a killed worker, most likely
        self._calls_taken = 0
        self._scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        self._executor = ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self._memory_mb, os.getpid(), self._log, str(self._scratch)),
        )
        return self._executor


def _ended(process: multiprocessing.process.BaseProcess) -> bool:
    """Whether the process has exited, by its sentinel (closed when it exits), not `is_alive`:
    while the executor's thread reaps a dead worker, `is_alive` can still answer True."""
    try:
        return bool(multiprocessing.connection.wait([process.sentinel], timeout=0))
    except (ValueError, OSError):  # closed: long gone
        return True


@dataclass(frozen=True, slots=True, eq=False)
class _Generation:
    processes: list[multiprocessing.process.BaseProcess]
    scratch: Path


def _remove_orphaned_scratch() -> None:
    """The scratch directories of servers that are no longer running (killed with -9: their
    workers died with them, and nobody removed what they left)."""
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        pid = path.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _processes(executor: ProcessPoolExecutor) -> list[multiprocessing.process.BaseProcess]:
    """An executor's worker processes: CPython's private `_processes` (stable since 3.2). If it
    is ever missing, `close(stop_running=True)` cannot end running analyses and waits for them."""
    return list((getattr(executor, "_processes", None) or {}).values())

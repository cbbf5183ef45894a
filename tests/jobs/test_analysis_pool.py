"""The analysis pool (jobs/analysis_process.py) replaces its workers after a number of calls,
also while calls are waiting: ProcessPoolExecutor's own `max_tasks_per_child` deadlocks then on
CPython 3.11-3.13 (python/cpython#115634), which hung a job of the test suite for 300 s."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from chartimpact_bot.jobs import analysis_process
from chartimpact_bot.jobs.analysis_process import AnalysisPool
from chartimpact_bot.jobs.model import TransientError
from tests.process_tree import left_after


async def test_workers_are_replaced_after_their_calls_even_with_a_backlog() -> None:
    pool = AnalysisPool(1, jobs_per_worker=2)
    try:
        # Ten calls at once on one worker: eight wait while generations retire under them.
        pids = await asyncio.wait_for(asyncio.gather(*(pool._call(os.getpid) for _ in range(10))), 120)
        assert len(pids) == 10
        assert len(set(pids)) == 5  # two calls per generation of one worker
        assert os.getpid() not in pids
    finally:
        await asyncio.to_thread(pool.close)
    assert left_after(set(pids), timeout=5) == {}  # retired generations ended too


async def test_closing_stops_retired_generations_still_answering() -> None:
    pool = AnalysisPool(1, jobs_per_worker=1)
    slow = asyncio.ensure_future(pool._call(time.sleep, 60))  # the first generation's call
    await asyncio.sleep(0.5)
    second = await asyncio.wait_for(pool._call(os.getpid), 60)  # a new generation answers
    retired = [p.pid for generation in pool._retiring for p in generation.processes if p.pid is not None]
    assert retired and second not in retired
    await asyncio.to_thread(pool.close, stop_running=True)
    assert left_after({*retired, second}, timeout=5) == {}
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(slow, 5)


def _leave_files_and_die() -> None:
    """A worker killed mid-analysis (its memory, the kernel): what it laid out stays behind."""
    chart = Path(tempfile.mkdtemp(prefix="chartimpact-")) / "chart"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("name: left\n")
    os.kill(os.getpid(), signal.SIGKILL)


async def test_what_a_killed_worker_left_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pool = AnalysisPool(1)
    try:
        with pytest.raises(TransientError):
            await asyncio.wait_for(pool._call(_leave_files_and_die), 60)
        left = list(tmp_path.glob("chartimpact-workers-*/chartimpact-*/chart/Chart.yaml"))
        assert len(left) == 1  # in the dead generation's scratch directory, not loose in TMPDIR
        await asyncio.wait_for(pool._call(os.getpid), 60)  # the next call starts a new generation
        assert not left[0].exists()
        assert len(list(tmp_path.glob("chartimpact-workers-*"))) == 1  # the new generation's
    finally:
        await asyncio.to_thread(pool.close)
    assert list(tmp_path.iterdir()) == []


def test_scratch_directories_of_servers_no_longer_running_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    ended.start()
    ended.join()
    gone = tmp_path / f"chartimpact-workers-{ended.pid}-abc"
    alive = tmp_path / f"chartimpact-workers-{os.getpid()}-def"  # this one's: still in use
    for directory in (gone, alive):
        (directory / "chart").mkdir(parents=True)
    analysis_process._remove_orphaned_scratch()
    assert not gone.exists() and alive.exists()

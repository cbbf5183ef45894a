"""Render children and analysis workers die with their parent, even one killed with -9
(engine/parent_death.py). Linux only: elsewhere a watcher thread polls, tested by hand."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from chartimpact_bot.engine.parent_death import PARENT_VARIABLE, die_with_parent
from chartimpact_bot.engine.render import PACKAGE_PARENT, WORKER_MODULE
from chartimpact_bot.jobs.analysis_process import AnalysisPool
from chartimpact_bot.jobs.model import TransientError
from tests.process_tree import alive, descendants, left_after

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's")

# A stand-in for an analysis worker: starts what it is given the way the real code does, prints
# the pids it wants watched, then waits to be killed.
RENDER_PARENT = textwrap.dedent(
    f"""
    import os, subprocess, sys, time
    env = {{"PATH": os.environ.get("PATH", ""), "PYTHONPATH": {str(PACKAGE_PARENT)!r},
           {PARENT_VARIABLE!r}: str(os.getpid())}}
    # stdin is the test's pipe, which stays open: the child waits for its request for ever
    child = subprocess.Popen([sys.executable, "-m", {WORKER_MODULE!r}],
                             stdout=subprocess.PIPE, start_new_session=True, env=env)
    print(child.pid, flush=True)
    time.sleep(60)
    """
)

POOL_PARENT = textwrap.dedent(
    """
    import asyncio, multiprocessing, time
    from chartimpact_bot.jobs.analysis_process import AnalysisPool
    pool = AnalysisPool(2, memory_mb=None)
    asyncio.run(pool.warm_up())
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    time.sleep(60)
    """
)


def _start(script: str, stdin: int | None = None) -> tuple[subprocess.Popen[str], set[int]]:
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=stdin,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PACKAGE_PARENT,
        start_new_session=True,
    )
    assert parent.stdout is not None
    pids = {int(p) for p in parent.stdout.readline().split()}
    assert pids and all(alive(p) for p in pids)
    return parent, pids


def _kill_9(parent: subprocess.Popen[str], watched: set[int]) -> dict[int, str]:
    tree = descendants(parent.pid) | watched
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    left = left_after(tree, pgid=parent.pid)
    for pid in left:  # a failing test leaves nothing to the next one
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def test_a_render_child_dies_with_the_worker_killed_with_9() -> None:
    """It is in a session of its own (so killing the worker's group would miss it) and blocked
    reading its request: only the kernel's parent-death signal ends it."""
    read, write = os.pipe()
    try:
        parent, children = _start(RENDER_PARENT, stdin=read)
        assert _kill_9(parent, children) == {}
    finally:
        os.close(read)
        os.close(write)


def test_analysis_workers_and_the_multiprocessing_helpers_die_with_the_server() -> None:
    parent, workers = _start(POOL_PARENT)
    tree = descendants(parent.pid)
    assert workers < tree  # and multiprocessing's resource tracker
    assert _kill_9(parent, workers) == {}


def test_a_child_whose_parent_died_before_it_asked_ends_at_once() -> None:
    """The race prctl alone would lose: the parent it names is no longer its parent."""
    stranger = os.getppid()  # alive, but not the child's parent
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PACKAGE_PARENT), PARENT_VARIABLE: str(stranger)}
    done = subprocess.run(
        [sys.executable, "-m", WORKER_MODULE], input=b"{}", capture_output=True, env=env, timeout=30, check=False
    )
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == b""


def test_without_a_parent_nothing_is_set_up() -> None:
    assert die_with_parent(None) == "none"


def test_process_tree_reads_this_process(tmp_path: Path) -> None:
    with subprocess.Popen(["sleep", "30"]) as child:
        try:
            assert child.pid in descendants(os.getpid())
        finally:
            child.kill()


async def test_closing_the_pool_ends_the_analyses_still_running() -> None:
    """The server stopping: its jobs are back in the queue, nobody waits for the analyses."""
    pool = AnalysisPool(1)
    running = asyncio.ensure_future(pool._call(time.sleep, 60))
    workers: set[int] = set()
    for _ in range(200):  # this pool's own workers (the session may hold other pools)
        executor = pool._executor
        workers = {p.pid for p in getattr(executor, "_processes", {}).values() if p.pid is not None}
        if workers:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the worker started and took the call
    assert workers
    started = time.monotonic()
    await asyncio.to_thread(pool.close, stop_running=True)
    assert time.monotonic() - started < 5
    assert left_after(workers, timeout=1) == {}
    with contextlib.suppress(TransientError, asyncio.CancelledError):
        await asyncio.wait_for(running, 5)

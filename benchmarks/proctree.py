"""A process and everything it starts, watched from /proc: peak resident memory of the whole tree
and the processes seen in it (to count render processes). Linux only; used by the benchmarks.

A thread looks every `period` seconds. The kernels this runs on may lack the per-task
`children` files (CONFIG_PROC_CHILDREN), so each look lists /proc and learns a new process's
parent from its `stat`. The first look reads every process; one seen outside the tree then stays
outside (a process never moves into another's subtree: an orphan goes to init), so later looks
read only the tree's own files and those of processes started since the last one.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

PROC = "/proc"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, resident set in KB) of `pid`, None when it is gone."""
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[21]) * PAGE_KB


def _cmdline(pid: int) -> str:
    try:
        with open(f"{PROC}/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


@dataclass
class TreeWatch:
    """Watches `root` and its descendants while in a `with` block."""

    root: int
    period: float = 0.005
    peak_kb: int = 0
    samples: int = 0
    sampler_cpu: float = 0.0  # seconds of CPU the looks cost this process
    # every process seen in the tree: pid → its command lines seen (a child reads as its parent
    # between fork and exec, so one pid may show two)
    seen: dict[int, set[str]] = field(default_factory=dict)
    _outside: set[int] = field(default_factory=set)
    _done: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> TreeWatch:
        self.look()  # reads every process once: those already in the tree are found, the rest left out
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        began = time.thread_time()
        while not self._done.is_set():
            self.look()
            self._done.wait(self.period)
        self.sampler_cpu = time.thread_time() - began

    def look(self) -> int:
        """One look: the tree's resident memory now, in KB (and the peak and `seen` updated)."""
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir(PROC):
            if not entry.isdigit() or (pid := int(entry)) in self._outside:
                continue
            stat = _stat(pid)
            if stat is not None:
                parents[pid], rss[pid] = stat
        inside = {self.root} if self.root in parents else set()
        grew = True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if pid not in inside and parent in inside:
                    inside.add(pid)
                    grew = True
        self._outside.update(pid for pid in parents if pid not in inside and pid not in self.seen)
        total = 0
        for pid in inside:
            total += rss[pid]
            self.seen.setdefault(pid, set()).add(_cmdline(pid))
        self.peak_kb = max(self.peak_kb, total)
        self.samples += 1
        return total

    def count(self, needle: str) -> int:
        """Processes seen whose command line contains `needle`."""
        return sum(1 for lines in self.seen.values() if any(needle in line for line in lines))

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


@dataclass(frozen=True, slots=True)
class Watched:
    seconds: float
    returncode: int
    peak_mb: float
    sampler_cpu: float
    stderr: str


def run_watched(argv: list[str], *, cwd: Path, env: Mapping[str, str] | None = None, period: float = 0.005) -> Watched:
    """Run one command (stdout discarded, stderr kept), watching its process tree."""
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, cwd=cwd, env=dict(env) if env is not None else None, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    with TreeWatch(child.pid, period=period) as watch:
        _, stderr = child.communicate()
    seconds = time.perf_counter() - started
    return Watched(seconds, child.returncode, watch.peak_mb, watch.sampler_cpu, stderr.decode(errors="replace"))

"""The resident memory of a render process, read from /proc, and when to look at it next.

RENDER_MEMORY_MB bounds the memory a render really uses: the resident set of the render process
and of anything it started (the `helm` binary of the CLI backend). An address-space limit does
not measure that: the Go runtime inside the Helm engine reserves address space it never touches
(about 1.4 GB at start-up, next to a resident set of 75 MB), so under RLIMIT_AS = 1024 MB an
ordinary chart failed at random while using 200 MB (docs/adr/0003-render-memory-bound.md).

The parent (render.py) reads the tree's resident set while it waits for the render and kills
the process group when it would pass the limit. It looks more often as the render nears the
limit, so memory growing at up to `GROWTH_BYTES_PER_SECOND` is caught before it gets there.
Linux only: elsewhere `available()` is False and the render falls back to an address-space
limit at RENDER_MEMORY_MB (render.py).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

PROC = "/proc"
# Faster than anything measured: a template filling a 2 GB string, or the `until` bomb of the
# tests, grows by 1.5 to 2 GB/s here (docs/adr/0003-render-memory-bound.md).
GROWTH_BYTES_PER_SECOND = 4 * 1024**3
FASTEST_POLL_SECONDS = 0.002  # near the limit only
SLOWEST_POLL_SECONDS = 0.05  # far from it: a look costs this process ~0.2 ms (render.py's loop)


@functools.cache
def page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE")


@functools.cache
def available() -> bool:
    """Whether this system shows processes' resident memory in /proc (Linux does)."""
    return _resident_bytes(os.getpid()) is not None


def tree_resident_bytes(pid: int) -> int | None:
    """Resident memory of `pid` and its descendants, None when `pid` cannot be read (no /proc,
    or the process was reaped). A zombie reads as 0: it holds no memory any more."""
    own = _resident_bytes(pid)
    if own is None:
        return None
    return own + sum(tree_resident_bytes(child) or 0 for child in _children(pid))


def _resident_bytes(pid: int) -> int | None:
    # statm's second field is the resident set in pages (VmRSS of /proc/PID/status: anonymous,
    # file-backed and shared memory), read without walking the mappings as smaps_rollup would.
    try:
        with open(f"{PROC}/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * page_size()
    except (OSError, IndexError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    """Children of the main thread of `pid`, the one that starts processes here: the render
    worker runs `helm` from it, and neither the Helm engine nor `helm template` starts any.
    Reading every thread's list instead would cost four times as much (a Go process has 7
    threads). Empty where the kernel has no `children` files (CONFIG_PROC_CHILDREN)."""
    try:
        with open(f"{PROC}/{pid}/task/{pid}/children", "rb") as handle:
            return [int(child) for child in handle.read().split()]
    except (OSError, ValueError):
        return []


@dataclass(frozen=True, slots=True)
class ResidentLimit:
    """When a render's resident memory is over its limit, and when to look again."""

    limit_bytes: int

    def exceeded(self, resident: int) -> bool:
        """True when the render could pass its limit before the fastest next look sees it."""
        return resident + GROWTH_BYTES_PER_SECOND * FASTEST_POLL_SECONDS > self.limit_bytes

    def next_look(self, resident: int) -> float:
        """Seconds until the next look: how long the memory left would last at the fastest growth."""
        seconds = (self.limit_bytes - resident) / GROWTH_BYTES_PER_SECOND
        return min(SLOWEST_POLL_SECONDS, max(FASTEST_POLL_SECONDS, seconds))

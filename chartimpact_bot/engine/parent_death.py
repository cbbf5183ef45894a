"""Child processes that die with their parent, so nothing outlives the server (not even kill -9).

The server's analysis workers and the render children they start call `die_with_parent` first
thing in their own process. On Linux it asks the kernel to SIGKILL the process when its parent
dies (`prctl(PR_SET_PDEATHSIG, SIGKILL)`, through ctypes: `preexec_fn` is not safe in a process
with threads, and the server and the workers have threads), then checks that its parent is
still the one that started it: a parent that died before the call would go unnoticed, since the
process has already been handed to init by then. Standard library only (render_worker.py uses it).

The kernel sends the signal when the *thread* that started the child ends, not only the process:
every child here is started by a thread that outlives it (the event loop's, the pool's manager
thread, a render thread waiting on the render), so that changes nothing in practice.

Elsewhere (macOS, the BSDs) there is no such call: a daemon thread polls `os.getppid()` every
`POLL_SECONDS` and ends the process once its parent is gone, so an orphan lives a second at most.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0
PARENT_VARIABLE = "CHARTIMPACT_PARENT_PID"  # how a render child learns which parent started it


def die_with_parent(parent: int | None) -> str:
    """End this process when `parent` (the pid that started it) dies. Answers how: "prctl",
    "poll" (no prctl on this system) or "none" (no parent given)."""
    if parent is None or parent <= 1:
        return "none"
    how = "prctl" if _prctl_pdeathsig() else "poll"
    if os.getppid() != parent:  # it died before prctl: nothing will signal us
        _die()
    if how == "poll":
        threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
    return how


def parent_from_environment() -> int | None:
    value = os.environ.get(PARENT_VARIABLE, "")
    return int(value) if value.isdigit() else None


def _prctl_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    _die()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)

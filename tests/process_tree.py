"""A process tree read from /proc (Linux): what a test checks is left after it killed a server."""

from __future__ import annotations

import os
import time
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a process, None once it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parens
    return fields[0], int(fields[1]), int(fields[2])


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def alive(pid: int) -> bool:
    """Running (a zombie is dead: in a container nobody may reap what was handed to pid 1)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def descendants(pid: int) -> set[int]:
    """Every living process below `pid` (children, their children, ...)."""
    children: dict[int, list[int]] = {}
    for other in _pids():
        stat = _stat(other)
        if stat is not None and stat[0] not in ("Z", "X"):
            children.setdefault(stat[1], []).append(other)
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def group(pgid: int) -> set[int]:
    """Every living process of a process group."""
    return {p for p in _pids() if (s := _stat(p)) is not None and s[2] == pgid and s[0] not in ("Z", "X")}


def command(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def left_after(pids: set[int], pgid: int | None = None, timeout: float = 5.0) -> dict[int, str]:
    """What is still alive of `pids` (and of process group `pgid`) after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = {p for p in pids if alive(p)} | (group(pgid) if pgid is not None else set())
        left.discard(os.getpid())
        if not left or time.monotonic() > deadline:
            return {p: command(p) for p in left}
        time.sleep(0.05)

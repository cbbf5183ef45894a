"""Rendering charts with the real Helm engine, each render in its own child process.

A hostile chart can loop forever or allocate gigabytes, and the Go runtime inside the Helm
engine is not fork-safe, so this process never loads it: every render is a fresh interpreter
running `render_worker.py`. While it waits, this process watches the child's resident memory
(memory_watch.py) and kills its process group at RENDER_MEMORY_MB or when the timeout passes;
an address-space limit several times larger stays as a far backstop (see `address_space_mb`).
The child dies with the worker that started it (parent_death.py): each child sets that up
itself, before the Go runtime starts, from the pid in CHARTIMPACT_PARENT_PID.
Failures come back as RenderError with one sentence (RenderOutOfMemory for lack of memory).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..core.documents import ParsedDocument, RenderedChart
from ..core.errors import BudgetExhausted, RenderError, RenderOutOfMemory
from . import memory_watch
from .parent_death import PARENT_VARIABLE

log = logging.getLogger(__name__)

WORKER_MODULE = "chartimpact_bot.engine.render_worker"
# The directory holding the `chartimpact_bot` package, so the child can import it wherever the
# package is installed (a checkout, site-packages).
PACKAGE_PARENT = Path(__file__).resolve().parents[2]
# Below this the Go runtime cannot start where RENDER_MEMORY_MB is an address-space limit (no
# /proc to watch); the same floor everywhere keeps the setting's meaning the same on every system.
MIN_MEMORY_MB = 1024
# Where a render is bounded by its address space only (no /proc), parsing and writing its output
# get this much more than the render; elsewhere this much of RENDER_MEMORY_MB is left out of the
# Go heap's soft limit (GOMEMLIMIT) for the Python side of the render process.
OUTPUT_HEADROOM_MB = 256


@dataclass(frozen=True, slots=True)
class RenderLimits:
    timeout_seconds: float = 60.0
    memory_mb: int = 1024


@dataclass(frozen=True, slots=True)
class ValuesFile:
    name: str
    text: str
    # Where its lines are in the repository, when it is part of another file (values written in
    # a deployment manifest): that file, and the 0-based offset of its first line there.
    origin: str | None = None
    line_offset: int = 0
    pinned_line: int | None = None  # every value of it is at this line of `origin`


@dataclass(frozen=True, slots=True)
class RenderRequest:
    chart_dir: Path
    release_name: str = "release"
    namespace: str = "default"
    values_files: tuple[ValuesFile, ...] = ()
    set_values: tuple[str, ...] = ()
    set_string_values: tuple[str, ...] = ()  # `--set-string`, applied after `--set` as Helm does
    set_literal_values: tuple[str, ...] = ()  # `--set-literal` (a `--set-file`'s text), applied last
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()
    # time.monotonic() by which the whole analysis must end; the render is cut short at it.
    deadline: float | None = None


class Renderer(Protocol):
    @property
    def lints(self) -> bool:
        """Whether `repeat=0` runs `helm lint` (the embedded engine does, the helm binary not)."""
        ...

    def render(self, request: RenderRequest, *, repeat: int = 1) -> list[RenderedChart]:
        """Render `repeat` times from the same input; `repeat=0` runs `helm lint` instead (one
        empty render holding its errors). Raises RenderError (RenderOutOfMemory when the render
        ran out of memory)."""
        ...


class IsolatedHelmRenderer:
    """The Helm SDK (default) or a `helm` binary, in a child process with limits."""

    def __init__(self, limits: RenderLimits | None = None, helm_binary: str | None = None) -> None:
        self.limits = limits or RenderLimits()
        self.helm_binary = helm_binary

    @property
    def lints(self) -> bool:
        return self.helm_binary is None

    @property
    def backend(self) -> str:
        return f"helm-cli:{self.helm_binary}" if self.helm_binary else "helm-python-sdk"

    def render(self, request: RenderRequest, *, repeat: int = 1) -> list[RenderedChart]:
        watched = memory_watch.available()
        if not watched:
            _warn_once(
                "no /proc on this system: render processes are bounded by an address-space limit of "
                "RENDER_MEMORY_MB instead of their resident memory, and some charts fail well below it"
            )
        render_mb, output_mb = address_space_mb(self.limits.memory_mb, watched=watched)
        payload = json.dumps(
            {
                "chart_dir": str(request.chart_dir),
                "release_name": request.release_name,
                "namespace": request.namespace,
                "values_files": [{"name": v.name, "text": v.text} for v in request.values_files],
                "set_values": list(request.set_values),
                "set_string_values": list(request.set_string_values),
                "set_literal_values": list(request.set_literal_values),
                "kube_version": request.kube_version,
                "api_versions": list(request.api_versions),
                "repeat": repeat,
                "address_space_mb": [render_mb, output_mb],
                "helm_binary": self.helm_binary,
            }
        ).encode()
        watch = memory_watch.ResidentLimit(self.limits.memory_mb * 2**20) if watched else None
        stdout, stderr, returncode = self._run_worker(payload, request.deadline, watch)
        return self._read_result(stdout, stderr, returncode)

    def _run_worker(
        self, payload: bytes, deadline: float | None, watch: memory_watch.ResidentLimit | None
    ) -> tuple[bytes, bytes, int]:
        timeout = self.limits.timeout_seconds
        budget_left = None if deadline is None else deadline - time.monotonic()
        if budget_left is not None and budget_left <= 0:
            raise BudgetExhausted("the analysis ran out of time before this chart was rendered")
        cut_by_budget = budget_left is not None and budget_left < timeout
        if budget_left is not None:
            timeout = min(timeout, budget_left)
        env = render_environment(os.environ)
        # The Go runtime would otherwise size its threads to the host, not to one render.
        env.setdefault("GOMAXPROCS", "2")
        # The Go heap's soft limit: the collector works harder as the heap nears it, so garbage
        # is not what kills a render, and the rest of the limit is left to the Python side.
        env.setdefault("GOMEMLIMIT", f"{self.limits.memory_mb - OUTPUT_HEADROOM_MB}MiB")
        # glibc reserves 64 MB of address space per malloc arena, one per busy thread: under
        # RLIMIT_AS that randomly starves the Go heap (measured: 2 failures in 60 renders at
        # 1024 MB by default, none in 400 with two arenas).
        env.setdefault("MALLOC_ARENA_MAX", "2")
        env[PARENT_VARIABLE] = str(os.getpid())
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p)
        # A scratch directory of the parent's for the child's temporary files (helm's, the
        # worker's values files): removed here once the child has ended, even when it was
        # killed for its time or memory, which leaves no chance to clean up after itself.
        with tempfile.TemporaryDirectory(prefix="chartimpact-render-") as scratch:
            env["TMPDIR"] = env["HOME"] = scratch
            # The request goes in through a file, not a pipe: `communicate` with a timeout sends its
            # input only on its first call (a retry after TimeoutExpired never writes the rest), and
            # the memory watch below calls it with a timeout of milliseconds. A request larger than
            # one select round (values files) then never arrived whole, and the child waited for
            # the rest of it until the render timed out.
            with tempfile.TemporaryFile(prefix="chartimpact-request-") as request_file:
                request_file.write(payload)
                request_file.seek(0)
                child = subprocess.Popen(
                    # -P: the package is the one PYTHONPATH names, never one in the working directory.
                    [sys.executable, "-P", "-m", WORKER_MODULE],
                    stdin=request_file,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                    env=env,
                )
            with child:
                ends = time.monotonic() + timeout
                look = memory_watch.FASTEST_POLL_SECONDS
                while True:
                    left = ends - time.monotonic()
                    try:
                        # Between looks at its memory. `communicate` may be called again after a
                        # timeout and loses no output. The child is only reaped when it returns, so
                        # its pid (its group's id) stays ours to kill.
                        stdout, stderr = child.communicate(timeout=max(0.001, min(left, look) if watch else left))
                        return stdout, stderr, child.returncode
                    except subprocess.TimeoutExpired:
                        pass
                    if time.monotonic() >= ends:
                        _kill_group(child)
                        child.communicate()
                        if cut_by_budget:
                            raise BudgetExhausted(
                                "the analysis ran out of time while this chart was rendering"
                            ) from None
                        raise RenderError(
                            f"rendering timed out after {self.limits.timeout_seconds:g} s "
                            "(RENDER_TIMEOUT_SECONDS); the chart may loop forever"
                        )
                    if watch is None:
                        continue
                    resident = memory_watch.tree_resident_bytes(child.pid)
                    if resident is None:  # not reaped, so there: /proc hides it, and only the backstop is left
                        _warn_once("cannot read the resident memory of render processes: only RLIMIT_AS bounds them")
                        watch = None
                    elif watch.exceeded(resident):
                        _kill_group(child)
                        child.communicate()
                        log.info(
                            "render process killed at %d MB resident, over its limit of %d MB",
                            resident >> 20,
                            self.limits.memory_mb,
                        )
                        raise RenderOutOfMemory(self._out_of_memory())
                    else:
                        look = watch.next_look(resident)

    def _out_of_memory(self) -> str:
        return f"rendering ran out of memory (limit {self.limits.memory_mb} MB, RENDER_MEMORY_MB)"

    def _read_result(self, stdout: bytes, stderr: bytes, returncode: int) -> list[RenderedChart]:
        if returncode != 0 or not stdout:
            raise self._crash_error(stderr, returncode)
        try:
            result = json.loads(stdout)
        except ValueError as exc:
            raise RenderError("the render process returned unreadable output") from exc
        if not result.get("ok"):
            if result.get("out_of_memory"):
                raise RenderOutOfMemory(self._out_of_memory())
            if result.get("unexpected"):  # a bug in the worker: its traceback is for the operator only
                log.error("the render process failed unexpectedly:\n%s", _tail(stderr))
            raise RenderError(str(result.get("error") or "rendering failed"))
        renders: list[RenderedChart] = []
        for raw in result["renders"]:
            first = renders[0] if renders else RenderedChart()
            renders.append(
                RenderedChart(
                    templates=_documents(raw.get("templates"), first.templates),
                    crds=_documents(raw.get("crds"), first.crds),
                    timings=dict(result.get("timings") or {}),
                    lint_errors=tuple(raw.get("lint") or ()),
                )
            )
        return renders

    def _crash_error(self, stderr: bytes, returncode: int) -> RenderError:
        text = stderr.decode(errors="replace")
        # The Go runtime aborts when the address-space backstop refuses it memory.
        if returncode == -signal.SIGABRT or "out of memory" in text:
            return RenderOutOfMemory(self._out_of_memory())
        if returncode == -signal.SIGKILL:  # not by us: the kernel's OOM killer, most likely
            return RenderOutOfMemory("the render process was killed, most likely for using too much memory")
        if returncode < 0:
            return RenderError(f"the render process died with signal {signal.Signals(-returncode).name}")
        # Anything else is a crash nobody reported on purpose (a Python traceback, a Go panic):
        # its text may quote what the chart rendered, so it goes to the log, not the report.
        log.error("the render process exited with code %d:\n%s", returncode, _tail(stderr))
        return RenderError(
            f"the render process failed unexpectedly (exit code {returncode}); the operator's logs have the details"
        )


# The address-space backstop of a watched render, in MB: 2 × RENDER_MEMORY_MB + 2048. What the
# Go runtime maps is about 1.4 GB plus 1.4 × what it uses (a render at 1 GB resident has 2.8 GB
# mapped), so this never fails a render the watcher would let finish, and it still refuses a
# single allocation far beyond the limit before its pages are touched.
BACKSTOP_FACTOR = 2
BACKSTOP_EXTRA_MB = 2048


def address_space_mb(memory_mb: int, *, watched: bool) -> tuple[int, int]:
    """RLIMIT_AS of a render process while it renders and while it parses the output, in MB.

    Watched, both are the backstop; otherwise RENDER_MEMORY_MB is the address-space limit itself.
    Neither may exceed what this process may have (an analysis worker runs under
    WORKER_MEMORY_MB): a child cannot raise its own hard limit."""
    if watched:
        render = output = BACKSTOP_FACTOR * memory_mb + BACKSTOP_EXTRA_MB
    else:
        render, output = memory_mb, memory_mb + OUTPUT_HEADROOM_MB
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY and hard >> 20 < output:
        ceiling = hard >> 20
        if watched:
            _warn_once(
                f"render processes get {ceiling} MB of address space (this process's limit, WORKER_MEMORY_MB), "
                f"not {output} MB: the Go runtime in a render may fail to start or to grow"
            )
        render, output = min(render, ceiling), ceiling
    return render, output


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def _tail(stderr: bytes, limit: int = 8_000) -> str:
    """The end of a render process's stderr, where a traceback or a panic ends."""
    return stderr[-limit:].decode(errors="replace").strip() or "(nothing on stderr)"


# What a render process may see of its parent's environment. Templates cannot read it (`env`
# and `expandenv` are not available to charts), but a render process runs code and parsers fed
# by a pull request, so nothing in it should be worth stealing: no App key, no webhook secret,
# no token. Everything not listed here is dropped.
_PASSED_VARIABLES = frozenset(
    {"PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONHOME", "SYSTEMROOT"}
    | {"GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG", "MALLOC_ARENA_MAX"}
)
_PASSED_PREFIXES = ("LC_",)
# HELM_* configures the helm CLI backend (cache and data directories); these name credentials.
_HELM_CREDENTIALS = frozenset({"HELM_REGISTRY_CONFIG", "HELM_REPOSITORY_CONFIG", "HELM_KUBETOKEN", "HELM_KUBECONFIG"})


def render_environment(parent: Mapping[str, str]) -> dict[str, str]:
    """The scrubbed environment of a render process."""
    env = {
        name: value
        for name, value in parent.items()
        if name in _PASSED_VARIABLES
        or name.startswith(_PASSED_PREFIXES)
        or (name.startswith("HELM_") and name not in _HELM_CREDENTIALS)
    }
    env["HOME"] = tempfile.gettempdir()  # nothing of the user's configuration or keys
    return env


def _documents(raw: dict[str, Any] | None, first: dict[str, list[ParsedDocument]]) -> dict[str, list[ParsedDocument]]:
    """Documents by template; `null` means unchanged since the first render, whose objects are
    shared (nothing mutates them before the two renders are compared)."""
    return {
        source: first[source] if docs is None else [(int(i), int(line), obj) for i, line, obj in docs]
        for source, docs in (raw or {}).items()
    }


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)

"""Rendering charts with the real Helm engine, each render in its own child process.

A hostile chart can loop forever or allocate gigabytes, and the Go runtime inside the Helm
engine is not fork-safe, so this process never loads it: every render is a fresh interpreter
running `render_worker.py` under an address-space limit, killed (with its process group) when
the timeout passes, and it dies with the worker that started it (parent_death.py): each child
sets that up itself, before the Go runtime starts, from the pid in CHARTIMPACT_PARENT_PID.
Failures come back as RenderError with one sentence.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
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
from ..core.errors import BudgetExhausted, RenderError
from .parent_death import PARENT_VARIABLE

log = logging.getLogger(__name__)

WORKER_MODULE = "chartimpact_bot.engine.render_worker"
# The directory holding the `chartimpact_bot` package, so the child can import it wherever the
# package is installed (a checkout, site-packages).
PACKAGE_PARENT = Path(__file__).resolve().parents[2]
MIN_MEMORY_MB = 1024  # below this the Go runtime cannot reserve its heap and aborts at start-up


@dataclass(frozen=True, slots=True)
class RenderLimits:
    timeout_seconds: float = 60.0
    memory_mb: int = 1024


@dataclass(frozen=True, slots=True)
class ValuesFile:
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class RenderRequest:
    chart_dir: Path
    release_name: str = "release"
    namespace: str = "default"
    values_files: tuple[ValuesFile, ...] = ()
    set_values: tuple[str, ...] = ()
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()
    # time.monotonic() by which the whole analysis must end; the render is cut short at it.
    deadline: float | None = None


class Renderer(Protocol):
    def render(self, request: RenderRequest, *, repeat: int = 1) -> list[RenderedChart]:
        """Render `repeat` times from the same input; raises RenderError."""
        ...


class IsolatedHelmRenderer:
    """The Helm SDK (default) or a `helm` binary, in a child process with limits."""

    def __init__(self, limits: RenderLimits | None = None, helm_binary: str | None = None) -> None:
        self.limits = limits or RenderLimits()
        self.helm_binary = helm_binary

    @property
    def backend(self) -> str:
        return f"helm-cli:{self.helm_binary}" if self.helm_binary else "helm-python-sdk"

    def render(self, request: RenderRequest, *, repeat: int = 1) -> list[RenderedChart]:
        payload = json.dumps(
            {
                "chart_dir": str(request.chart_dir),
                "release_name": request.release_name,
                "namespace": request.namespace,
                "values_files": [{"name": v.name, "text": v.text} for v in request.values_files],
                "set_values": list(request.set_values),
                "kube_version": request.kube_version,
                "api_versions": list(request.api_versions),
                "repeat": repeat,
                "memory_mb": self.limits.memory_mb,
                "helm_binary": self.helm_binary,
            }
        ).encode()
        stdout, stderr, returncode = self._run_worker(payload, request.deadline)
        return self._read_result(stdout, stderr, returncode)

    def _run_worker(self, payload: bytes, deadline: float | None) -> tuple[bytes, bytes, int]:
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
        # glibc reserves 64 MB of address space per malloc arena, one per busy thread: under
        # RLIMIT_AS that randomly starves the Go heap (measured: 2 failures in 60 renders at
        # 1024 MB by default, none in 400 with two arenas).
        env.setdefault("MALLOC_ARENA_MAX", "2")
        env[PARENT_VARIABLE] = str(os.getpid())
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p)
        with subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
        ) as child:
            try:
                stdout, stderr = child.communicate(payload, timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(child)
                child.communicate()
                if cut_by_budget:
                    raise BudgetExhausted("the analysis ran out of time while this chart was rendering") from None
                raise RenderError(
                    f"rendering timed out after {self.limits.timeout_seconds:g} s "
                    "(RENDER_TIMEOUT_SECONDS); the chart may loop forever"
                ) from None
            return stdout, stderr, child.returncode

    def _read_result(self, stdout: bytes, stderr: bytes, returncode: int) -> list[RenderedChart]:
        if returncode != 0 or not stdout:
            raise RenderError(self._crash_message(stderr, returncode))
        try:
            result = json.loads(stdout)
        except ValueError as exc:
            raise RenderError("the render process returned unreadable output") from exc
        if not result.get("ok"):
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

    def _crash_message(self, stderr: bytes, returncode: int) -> str:
        text = stderr.decode(errors="replace")
        if returncode == -signal.SIGABRT or "out of memory" in text:
            return f"rendering ran out of memory (limit {self.limits.memory_mb} MB, RENDER_MEMORY_MB)"
        if returncode == -signal.SIGKILL:
            return "the render process was killed, most likely for using too much memory"
        if returncode < 0:
            return f"the render process died with signal {signal.Signals(-returncode).name}"
        # Anything else is a crash nobody reported on purpose (a Python traceback, a Go panic):
        # its text may quote what the chart rendered, so it goes to the log, not the report.
        log.error("the render process exited with code %d:\n%s", returncode, _tail(stderr))
        return f"the render process failed unexpectedly (exit code {returncode}); the operator's logs have the details"


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

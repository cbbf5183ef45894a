"""How an analysis renders: the renderer, extra values, overrides, limits and the fingerprint key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .remote import DependencyFetcher
from .render import IsolatedHelmRenderer, Renderer, ValuesFile

# (n, of, chart path, environment name)
Progress = Callable[[int, int, str, str], None]


@dataclass(frozen=True, slots=True)
class RenderOverrides:
    """Command-line render options; None keeps what the environment says."""

    release_name: str | None = None
    namespace: str | None = None
    # `--kube-version`s: the target releases (validation/targets.py), instead of the configured ones.
    kube_versions: tuple[str, ...] = ()
    api_versions: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    renderer: Renderer = field(default_factory=IsolatedHelmRenderer)
    extra_values: tuple[ValuesFile, ...] = ()
    extra_set: tuple[str, ...] = ()
    overrides: RenderOverrides = field(default_factory=RenderOverrides)
    include_tests: bool = False
    max_workers: int = 2
    fetcher: DependencyFetcher | None = None
    signals_enabled: bool = True
    # Seconds the whole analysis may take (the App's JOB_TIME_BUDGET_SECONDS): many slow charts
    # in one pull request must not hold a worker for hours. Charts not rendered by then are
    # reported `skipped`, saying so. None: no limit.
    time_budget_seconds: float | None = None
    # The key of secret fingerprints (CONTRACT §2). The command line and the App always set one
    # (see fingerprint_key.py); the empty default keeps library use deterministic but makes
    # fingerprints confirmable by anyone, so callers that publish reports must pass a key.
    fingerprint_key: bytes = field(default=b"", repr=False)
    # Told (n, of, chart path, environment) as the analysis waits for the n-th chart's renders:
    # the command line's progress on a terminal. Not part of what is compared or cached.
    progress: Progress | None = field(default=None, compare=False, repr=False)

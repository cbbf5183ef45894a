"""One side of a comparison (the base or the head of a change) as the core sees it: the
resources its chart rendered, the chart's files and the values files it was rendered with, or
the sentence saying why it did not render. The engine builds it (`engine/sides.py`); the core's
stages (diff, signals, the chart report) read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .chart import ChartInfo, MaterializedChart
from .model import NormalizationRule, Resource, ResourceId

Side = Literal["base", "head"]


@dataclass(frozen=True, slots=True)
class ValuesSource:
    """A values file a side was rendered with: `key` is the same on both sides (the chart's own
    values.yaml by its Helm path, others by name), `path` is where it is in the repository."""

    key: str
    path: str
    text: str
    line_offset: int = 0  # values written inside another file: where its first line is there
    pinned_line: int | None = None  # …or, when not line for line, the one line all its values are at


@dataclass(slots=True)
class ChartSide:
    """One side of a chart: its resources, its files, and the values it was rendered with; or
    the error that kept it from rendering."""

    resources: dict[ResourceId, Resource] = field(default_factory=dict)
    chart: MaterializedChart | None = None
    # The chart's own values.yaml (by its Helm path), then the values files passed to Helm.
    values: tuple[ValuesSource, ...] = ()
    error: str | None = None
    # Where the deployment manifest names this chart's version (repository file, line), for a
    # chart taken from a chart repository: a version bump is pointed at there.
    chart_ref: tuple[str, int] | None = None
    # `helm lint` errors; while lint still runs beside the rest of the analysis (the engine runs
    # it in a process of its own), `pending_lint` waits for them: read them with `linted()`.
    lint_errors: tuple[str, ...] = ()
    pending_lint: Callable[[], tuple[str, ...]] | None = None
    # The normalizations applied to this side's resources, and what rendering warned about.
    rules: list[NormalizationRule] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # A keyed digest of every render input (the report's compareId derives from both sides').
    fingerprint: str = ""
    # The analysis' time budget ran out before this side was rendered.
    out_of_time: bool = False
    # The side rendered for target releases other than the diff's, where templates read
    # `.Capabilities` (engine/sides.py); every other target validates `resources`.
    by_target: dict[tuple[int, int], dict[ResourceId, Resource]] = field(default_factory=dict)
    # Seconds per stage of this side (materialize, render, parse, identities, normalize), for
    # benchmarks; never in a report.
    timings: dict[str, float] = field(default_factory=dict)

    def resources_for(self, release: tuple[int, int]) -> dict[ResourceId, Resource]:
        """The side's resources as rendered for target `release`."""
        return self.by_target.get(release, self.resources)

    def linted(self) -> tuple[str, ...]:
        """The side's lint errors, once lint has finished."""
        if self.pending_lint is not None:
            pending, self.pending_lint = self.pending_lint, None
            self.lint_errors = pending()
        return self.lint_errors

    @property
    def info(self) -> ChartInfo | None:
        return self.chart.info if self.chart is not None else None

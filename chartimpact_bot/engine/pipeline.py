"""compare(base, head) → Report: the one analysis the command line, the App and the API share.

plan (engine/plan.py: which charts changed) → each side of each chart rendered and normalized
(engine/sides.py, sides in parallel) → each chart's report (core/chart_report.py: diff, classify,
signals, policy) → the run's report. A chart that fails anywhere becomes a `render_error` chart
report; it never stops the other charts.

Each stage is a public function, so benchmarks time the very code that runs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..core.chart_report import build_report, chart_report
from ..core.config import AnalysisConfig, Environment
from ..core.model import ChartReport, Report
from ..core.side import ChartSide
from ..core.validation.targets import targets as target_releases
from .options import PipelineOptions, RenderOverrides
from .plan import AnalysisPlan, ChartAt, ChartTarget, chart_at, plan_repository
from .sides import lint_side, render_side
from .sources import ChartSource

__all__ = [
    "AnalysisPlan",
    "ChartAt",
    "ChartTarget",
    "PipelineOptions",
    "RenderOverrides",
    "Sides",
    "analyze_targets",
    "build_report",
    "chart_at",
    "compare",
    "compare_charts",
    "plan_repository",
    "render_targets",
    "report_sides",
    "run_plan",
]


def compare(
    base: ChartSource,
    head: ChartSource,
    options: PipelineOptions | None = None,
    *,
    config: AnalysisConfig | None = None,
    only: Iterable[str] | None = None,
) -> Report:
    """Every chart of either source (or only the chart directories in `only`); charts whose
    inputs did not change are reported unchanged, without rendering."""
    config = config or AnalysisConfig()
    return run_plan(plan_repository(base, head, config, only=only), config, options or PipelineOptions())


def compare_charts(
    base: ChartAt | None,
    head: ChartAt | None,
    options: PipelineOptions | None = None,
    *,
    config: AnalysisConfig | None = None,
    environment: Environment | None = None,
    display_path: str | None = None,
) -> Report:
    """One chart at two places (`chartimpact diff`), rendered whether or not it changed."""
    present = head or base
    assert present is not None, "a comparison needs a chart on at least one side"
    target = ChartTarget(
        display_path=display_path or present.path or ".",
        base=base,
        head=head,
        environment=environment or Environment(),
    )
    charts = analyze_targets([target], options or PipelineOptions(), config or AnalysisConfig())
    return build_report(charts, (base or present).source.revision, (head or present).source.revision)


def run_plan(plan: AnalysisPlan, config: AnalysisConfig, options: PipelineOptions) -> Report:
    charts = analyze_targets(plan.targets, options, config)
    return build_report([*charts, *plan.skipped], plan.base, plan.head)


@dataclass(frozen=True, slots=True)
class Sides:
    """Both rendered sides of one target."""

    target: ChartTarget
    base: ChartSide | None
    head: ChartSide | None


def render_targets(targets: Iterable[ChartTarget], options: PipelineOptions, config: AnalysisConfig) -> Iterator[Sides]:
    """Every target's two sides, rendered in parallel (`max_workers` renders at once) within the
    time budget; in (path, environment) order, each as soon as it is ready, so that reporting one
    chart overlaps rendering the next.

    `helm lint` runs with the head's renders only: what is reported is the head's lint errors
    that the base lacks, so the base is linted (without rendering again) only when the head has
    some. That takes lint, as costly as both renders, off one side of every chart."""
    ordered = sorted(targets, key=lambda t: (t.display_path, t.environment.name))
    budget = options.time_budget_seconds
    deadline = None if budget is None else time.monotonic() + budget
    with ThreadPoolExecutor(max_workers=max(1, options.max_workers)) as pool:
        futures = [
            (
                target,
                pool.submit(render_side, target.base, target.base_env, options, config, deadline, lint=False),
                pool.submit(render_side, target.head, target.environment, options, config, deadline),
            )
            for target in ordered
        ]
        for index, (target, base_future, head_future) in enumerate(futures, start=1):
            if options.progress is not None:
                options.progress(index, len(futures), target.display_path, target.environment.name)
            base, head = base_future.result(), head_future.result()
            if target.base is not None and base is not None and base.error is None and head is not None:
                base.pending_lint = functools.partial(
                    _base_lint, target.base, head, target.base_env, options, config=config, deadline=deadline
                )
            yield Sides(target, base, head)


def _base_lint(
    base: ChartAt,
    head: ChartSide,
    environment: Environment,
    options: PipelineOptions,
    *,
    config: AnalysisConfig,
    deadline: float | None,
) -> tuple[str, ...]:
    """The base's lint errors, needed only when the head has some."""
    return lint_side(base, environment, options, config, deadline) if head.linted() else ()


def report_sides(sides: Sides, options: PipelineOptions, config: AnalysisConfig) -> ChartReport:
    """The report of one target from its rendered sides."""
    target = sides.target
    return chart_report(
        target.display_path,
        target.environment,
        sides.base,
        sides.head,
        config,
        targets=target_releases(target.environment, config, options.overrides.kube_versions),
        fingerprint_key=options.fingerprint_key,
        signals_enabled=options.signals_enabled,
        time_budget_seconds=options.time_budget_seconds,
    )


def analyze_targets(
    targets: Iterable[ChartTarget], options: PipelineOptions, config: AnalysisConfig
) -> list[ChartReport]:
    """Every target's report, in (path, environment) order."""
    return [report_sides(sides, options, config) for sides in render_targets(targets, options, config)]

"""Both sides of one chart → its report: diff, classification, signals, policy. And the reports
of every chart → the run's report.

Pure: the sides come rendered and normalized from the engine (`engine/sides.py`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable

from .. import __version__
from ..timestamps import now
from .classify import classify
from .config import AnalysisConfig, Environment
from .diff import diff_resources
from .impact_graph import relations
from .manifests import share_scopes
from .model import ChartReport, ChartStatus, Relation, Report, ResourceDiff, Revision, Signal, StructuredDiff, Verdict
from .normalize import standing_rules
from .policy import apply_policy
from .side import ChartSide
from .signals.context import SignalContext
from .signals.engine import detect_signals
from .signals.engine import sort_key as signal_sort_key
from .signals.upgrade.schema import schema_check
from .sourcemap import SourceLocator
from .validation.targets import Target, default_targets


def chart_report(
    display_path: str,
    environment: Environment,
    base: ChartSide | None,
    head: ChartSide | None,
    config: AnalysisConfig,
    *,
    targets: tuple[Target, ...] = (),
    fingerprint_key: bytes = b"",
    signals_enabled: bool = True,
    time_budget_seconds: float | None = None,
) -> ChartReport:
    """The report of one chart from its two sides (None where the chart does not exist).

    `targets`: the Kubernetes releases the chart must work on (validation/targets.py; the newest
    the data knows when empty); `time_budget_seconds` only words the warning of a side that ran
    out of time."""
    name = chart_name(base, head, display_path)
    path = display_path
    if any(side is not None and side.out_of_time for side in (base, head)):
        budget = f"{time_budget_seconds:g} s" if time_budget_seconds else "its time"
        return ChartReport(
            path=path,
            name=name,
            environment=environment.name,
            status="skipped",
            warnings=(f"not analyzed: the analysis used up its time budget ({budget}) before this chart",),
        )
    errors = [
        f"{label}: {side.error}"
        for label, side in (("base", base), ("head", head))
        if side is not None and side.error is not None
    ]
    warnings = {w for side in (base, head) if side is not None for w in side.warnings}

    def signals(diffs: tuple[ResourceDiff, ...], only: set[str] | None = None) -> tuple[list[Signal], list[str]]:
        if not signals_enabled:
            return [], []
        return chart_signals(
            base,
            head,
            diffs,
            config,
            name=name,
            display_path=display_path,
            targets=targets,
            fingerprint_key=fingerprint_key,
            only=only,
        )

    if errors:
        # Nothing to compare: the signals are the render failure itself, and the values a new
        # chart version requires (often why it failed).
        status: ChartStatus = "render_error"
        structured = None
        found, failures = signals((), only={"chart.render", "chart.values.required"})
        graph: tuple[Relation, ...] = ()
    else:
        status = "added" if base is None else "removed" if head is None else "analyzed"
        if base is not None and head is not None:
            base, head = _shared_scopes(base, head)
        resource_diffs = diff_resources(
            base.resources.values() if base else (), head.resources.values() if head else (), classify
        )
        rules = standing_rules(config.normalize)
        for side in (base, head):
            if side is not None:
                rules.extend(side.rules)
        structured = StructuredDiff(
            compare_id=compare_id(base, head),
            normalization_rules=tuple(sorted(set(rules), key=lambda r: (r.rule, r.scope, r.detail))),
            resources=resource_diffs,
        )
        found, failures = signals(resource_diffs)
        graph = relations(base.resources if base else {}, head.resources if head else {}, resource_diffs)
    warnings.update(failures)
    policy = apply_policy(found, config)
    verdict = policy.verdict
    if status == "render_error" and verdict == "pass":
        # A chart that cannot be analyzed is never a pass: nothing says the change is safe.
        # Where the change broke the render, `chart.render`'s threshold decides (high `other`:
        # warn by default); a chart broken on both sides has no signal, and is a warning too.
        verdict = "warn"
    return ChartReport(
        path=path,
        name=name,
        environment=environment.name,
        status=status,
        error="; ".join(errors) if errors else None,
        warnings=tuple(sorted(warnings)),
        diff=structured,
        signals=tuple(sorted(policy.signals, key=signal_sort_key)),
        ignored_signals=policy.ignored,
        verdict=verdict,
        relations=graph,
        release=environment.release_name,
    )


def _shared_scopes(base: ChartSide, head: ChartSide) -> tuple[ChartSide, ChartSide]:
    """Both sides with the cluster scopes each side's CRDs declare applied to the other."""
    resources = share_scopes(base.resources, head.resources)
    return (
        base if resources[0] is base.resources else dataclasses.replace(base, resources=resources[0]),
        head if resources[1] is head.resources else dataclasses.replace(head, resources=resources[1]),
    )


def chart_signals(
    base: ChartSide | None,
    head: ChartSide | None,
    diffs: tuple[ResourceDiff, ...],
    config: AnalysisConfig,
    *,
    name: str,
    display_path: str,
    targets: tuple[Target, ...] = (),
    fingerprint_key: bytes = b"",
    only: set[str] | None = None,
) -> tuple[list[Signal], list[str]]:
    """The signals of one chart's diff, located in the repository's files, and the chart's
    warnings: one sentence per detector that failed, and what schema validation could not say
    as signals. `only`: just these detector types."""
    sides = (base or ChartSide(), head or ChartSide())
    ctx = SignalContext(
        chart_name=name,
        chart_path=display_path,
        base=sides[0],
        head=sides[1],
        diffs=diffs,
        targets=targets or default_targets(),
        fingerprint_key=fingerprint_key,
    )
    found, failures = detect_signals(ctx, SourceLocator(*sides), only=only, rules=config.rules)
    validated = ctx.computed(schema_check)
    return found, failures + (validated.notes if validated is not None else [])


def build_report(charts: Iterable[ChartReport], base: Revision, head: Revision) -> Report:
    """The run's report: charts in (path, environment) order, the worst verdict."""
    ordered = sorted(charts, key=lambda c: (c.path, c.environment))
    return Report(
        base=base,
        head=head,
        charts=tuple(ordered),
        generated_at=now(),
        verdict=overall_verdict(ordered),
        engine_version=__version__,
    )


def chart_name(base: ChartSide | None, head: ChartSide | None, display_path: str) -> str:
    for side in (head, base):
        if side is not None and side.chart is not None:
            return side.chart.info.name
    return display_path.rsplit("/", 1)[-1]


def compare_id(base: ChartSide | None, head: ChartSide | None) -> str:
    digest = hashlib.sha256(__version__.encode())
    for side in (base, head):
        digest.update(b"|" + (side.fingerprint.encode() if side else b"-"))
    return digest.hexdigest()[:16]


def overall_verdict(charts: Iterable[ChartReport]) -> Verdict:
    verdicts = {c.verdict for c in charts}
    if "fail" in verdicts:
        return "fail"
    if "warn" in verdicts:
        return "warn"
    return "pass"

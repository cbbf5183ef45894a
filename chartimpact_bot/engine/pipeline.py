"""analyze(base, head) → Report: the one pipeline the command line, the App and the API share.

sources → charts → materialize → render twice per side (child processes) → parse → normalize
→ diff → classify → report. A chart that fails anywhere becomes a `render_error` chart report;
it never stops the other charts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import posixpath
import tempfile
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..core.chart import ChartInfo, MaterializedChart
from ..core.classify import classify
from ..core.config import AnalysisConfig, Environment
from ..core.diff import diff_resources
from ..core.errors import AnalysisError, BudgetExhausted, ChartError
from ..core.manifests import parse_rendered
from ..core.model import (
    ChartReport,
    ChartStatus,
    NormalizationRule,
    Report,
    Resource,
    ResourceDiff,
    Revision,
    Signal,
    StructuredDiff,
    Verdict,
)
from ..core.normalize import normalize_side, standing_rules
from ..core.policy import apply_policy
from ..core.secret_values import given_secrets, literal_pattern
from ..core.semver import Version
from ..core.sensitive import REDACTED, mask_text
from ..core.side import ChartSide, ValuesSource
from ..core.signals.context import SignalContext
from ..core.signals.engine import detect_signals
from ..core.signals.engine import sort_key as signal_sort_key
from ..core.sourcemap import SourceLocator
from ..timestamps import now
from .charts import (
    dependency_dirs,
    load_chart_info,
    materialize,
    survey_charts,
)
from .remote import DependencyFetcher
from .render import IsolatedHelmRenderer, Renderer, RenderRequest, ValuesFile
from .sources import ChartSource, FileEntry


@dataclass(frozen=True, slots=True)
class RenderOverrides:
    """Command-line render options; None keeps what the environment says."""

    release_name: str | None = None
    namespace: str | None = None
    kube_version: str | None = None
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


@dataclass(slots=True)
class SideResult:
    """One side of one chart: what it rendered, or the sentence saying why it did not."""

    resources: list[Resource] = field(default_factory=list)
    rules: list[NormalizationRule] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fingerprint: str = ""
    chart: MaterializedChart | None = None
    values: tuple[ValuesFile, ...] = ()
    error: str | None = None
    lint_errors: tuple[str, ...] = ()
    out_of_time: bool = False


@dataclass(frozen=True, slots=True)
class ChartTarget:
    """One chart to analyze: where it is on each side (None where it does not exist)."""

    display_path: str
    base: tuple[ChartSource, str] | None
    head: tuple[ChartSource, str] | None
    environment: Environment


@dataclass(slots=True)
class ChartOutcome:
    report: ChartReport
    base: SideResult | None = None
    head: SideResult | None = None


def analyze_targets(
    targets: Iterable[ChartTarget],
    options: PipelineOptions,
    config: AnalysisConfig,
) -> list[ChartOutcome]:
    """Analyze every target, sides in parallel; outcomes in (path, environment) order."""
    ordered = sorted(targets, key=lambda t: (t.display_path, t.environment.name))
    budget = options.time_budget_seconds
    deadline = None if budget is None else time.monotonic() + budget
    with ThreadPoolExecutor(max_workers=max(1, options.max_workers)) as pool:
        futures = [
            (
                target,
                pool.submit(_side, target.base, target.environment, options, config, deadline),
                pool.submit(_side, target.head, target.environment, options, config, deadline),
            )
            for target in ordered
        ]
        return [_outcome(target, base.result(), head.result(), config, options) for target, base, head in futures]


def build_report(
    outcomes: Iterable[ChartOutcome],
    base: Revision,
    head: Revision,
    extra_reports: Iterable[ChartReport] = (),
) -> Report:
    charts = sorted([*(o.report for o in outcomes), *extra_reports], key=lambda c: (c.path, c.environment))
    return Report(
        base=base,
        head=head,
        charts=tuple(charts),
        generated_at=now(),
        verdict=_overall_verdict(charts),
        engine_version=__version__,
    )


@dataclass(frozen=True, slots=True)
class AnalysisPlan:
    """What `analyze_repository` will do: the targets to render, and the charts it reports
    without rendering (skipped by configuration, or unchanged)."""

    targets: tuple[ChartTarget, ...]
    skipped: tuple[ChartReport, ...]
    base: Revision
    head: Revision


def plan_repository(
    base_source: ChartSource,
    head_source: ChartSource,
    config: AnalysisConfig,
    *,
    only: Iterable[str] | None = None,
) -> AnalysisPlan:
    """Every chart of either side: a target when its inputs changed, else an unchanged report."""
    base_charts = survey_charts(base_source)
    head_charts = survey_charts(head_source)
    wanted = set(only) if only is not None else None
    targets: list[ChartTarget] = []
    skipped: list[ChartReport] = []
    for path in sorted(base_charts.keys() | head_charts.keys()):
        if wanted is not None and path not in wanted:
            continue
        known = [c for c in (head_charts.get(path), base_charts.get(path)) if isinstance(c, ChartInfo)]
        display = path or "."
        name = known[0].name if known else posixpath.basename(display)
        if not config.selects(display):
            skipped.append(ChartReport(path=display, name=name, status="skipped"))
            continue
        for environment in config.environments_for(display):
            base_info, head_info = _readable(base_charts.get(path)), _readable(head_charts.get(path))
            broken_both = base_info is None and head_info is None and path in base_charts and path in head_charts
            if (
                _same_files(base_source.list_files(path), head_source.list_files(path))
                if broken_both
                else not is_affected(base_source, head_source, base_info, head_info, environment)
            ):
                skipped.append(ChartReport(path=display, name=name, status="unchanged", environment=environment.name))
                continue
            targets.append(
                ChartTarget(
                    display_path=display,
                    base=(base_source, path) if path in base_charts else None,
                    head=(head_source, path) if path in head_charts else None,
                    environment=environment,
                )
            )
    return AnalysisPlan(tuple(targets), tuple(skipped), base_source.revision, head_source.revision)


def _readable(chart: ChartInfo | ChartError | None) -> ChartInfo | None:
    """A chart whose Chart.yaml cannot be read counts as changed: rendering it reports why."""
    return chart if isinstance(chart, ChartInfo) else None


def run_plan(plan: AnalysisPlan, config: AnalysisConfig, options: PipelineOptions) -> Report:
    outcomes = analyze_targets(plan.targets, options, config)
    return build_report(outcomes, plan.base, plan.head, plan.skipped)


def analyze_repository(
    base_source: ChartSource,
    head_source: ChartSource,
    config: AnalysisConfig,
    options: PipelineOptions,
    *,
    only: Iterable[str] | None = None,
) -> Report:
    """Every chart of either side; charts whose inputs did not change are reported unchanged."""
    return run_plan(plan_repository(base_source, head_source, config, only=only), config, options)


def is_affected(
    base_source: ChartSource,
    head_source: ChartSource,
    base_chart: ChartInfo | None,
    head_chart: ChartInfo | None,
    environment: Environment,
) -> bool:
    """Whether anything that feeds the chart's render differs between the two sources."""
    if base_chart is None or head_chart is None:
        return True
    prefixes = {base_chart.path, head_chart.path}
    for source, chart in ((base_source, base_chart), (head_source, head_chart)):
        prefixes.update(dependency_dirs(source, chart))
    for prefix in sorted(prefixes):
        if not _same_files(base_source.list_files(prefix), head_source.list_files(prefix)):
            return True
    for values_path in environment.values:
        if not _same_files(base_source.list_files(values_path), head_source.list_files(values_path)):
            return True
    return False


def _same_files(base: Mapping[str, FileEntry], head: Mapping[str, FileEntry]) -> bool:
    """Whether both listings hold the same paths with the same digests. A source that does not
    know its digests (a plain directory) never proves sameness: its charts count as changed."""
    if base.keys() != head.keys():
        return False
    return all(entry.digest is not None and entry.digest == head[path].digest for path, entry in base.items())


def _side(
    where: tuple[ChartSource, str] | None,
    environment: Environment,
    options: PipelineOptions,
    config: AnalysisConfig,
    deadline: float | None = None,
) -> SideResult | None:
    """One side, its error and warnings scrubbed of any secret they carry (a repository URL
    with a password, a private key quoted in a message): the render process redacts values
    already, this covers every other message."""
    result = _render_side(where, environment, options, config, deadline)
    if result is not None:
        if result.error is not None:
            result.error = _scrubbed(result.error)
        result.warnings = [_scrubbed(w) for w in result.warnings]
    return result


def _scrubbed(text: str) -> str:
    return mask_text(text, lambda _secret: REDACTED)


def _render_side(
    where: tuple[ChartSource, str] | None,
    environment: Environment,
    options: PipelineOptions,
    config: AnalysisConfig,
    deadline: float | None,
) -> SideResult | None:
    if where is None:
        return None
    if deadline is not None and time.monotonic() >= deadline:
        return SideResult(out_of_time=True)
    source, chart_path = where
    try:
        chart = load_chart_info(source, chart_path)
    except AnalysisError as exc:
        return SideResult(error=str(exc))
    values, warnings = _environment_values(source, chart, environment)
    values += options.extra_values
    overrides = options.overrides
    with tempfile.TemporaryDirectory(prefix="chartimpact-") as workdir:
        try:
            materialized = materialize(source, chart, Path(workdir), fetcher=options.fetcher)
        except AnalysisError as exc:
            return SideResult(error=str(exc), values=values)
        result = SideResult(chart=materialized, values=values, warnings=[*materialized.warnings, *warnings])
        request = RenderRequest(
            chart_dir=materialized.directory,
            release_name=overrides.release_name or environment.release_name,
            namespace=overrides.namespace or environment.namespace,
            values_files=values,
            set_values=(*environment.set_values, *options.extra_set),
            kube_version=overrides.kube_version or environment.kube_version,
            api_versions=overrides.api_versions if overrides.api_versions is not None else environment.api_versions,
            deadline=deadline,
        )
        try:
            first, second = options.renderer.render(request, repeat=2)
        except BudgetExhausted:
            return SideResult(out_of_time=True)
        except AnalysisError as exc:
            result.error = str(exc)
            return result
    sets = [
        parse_rendered(r, namespace=request.namespace, include_tests=options.include_tests) for r in (first, second)
    ]
    result.resources, result.rules = normalize_side(
        sets[0],
        sets[1],
        config.normalize,
        fingerprint_key=options.fingerprint_key,
        given_secrets=literal_pattern(_given_secrets(materialized, request)),
    )
    result.lint_errors = first.lint_errors
    result.warnings.extend(sets[0].warnings)
    result.fingerprint = _fingerprint(materialized, request, options.fingerprint_key)
    return result


def _given_secrets(chart: MaterializedChart, request: RenderRequest) -> set[str]:
    """What the render was given under sensitive keys: the chart's and its subcharts' values.yaml,
    the values files and `--set` (see secret_values.py)."""
    texts = [
        content.decode("utf-8", "replace") for path, content in chart.files.items() if path.endswith("/values.yaml")
    ]
    texts += [v.text for v in request.values_files]
    return given_secrets(texts, request.set_values)


def _environment_values(
    source: ChartSource, chart: ChartInfo, environment: Environment
) -> tuple[tuple[ValuesFile, ...], list[str]]:
    """The environment's values files, read from the source, by repository path.

    The chart's own values.yaml is not passed to Helm (Helm reads it from the chart) but is
    carried along so that signals can point at the values line a change touched.
    """
    files: list[ValuesFile] = []
    warnings: list[str] = []
    for path in environment.values:
        if path not in source.list_files(path):
            warnings.append(f"values file '{path}' of environment '{environment.name}' does not exist")
            continue
        content = source.read_many([path])[path]
        files.append(ValuesFile(name=path, text=content.decode("utf-8", "replace")))
    return tuple(files), warnings


def _values_sources(side: SideResult) -> tuple[ValuesSource, ...]:
    """What the side was rendered with, for signals: the chart's own values.yaml (Helm reads it
    from the chart) keyed by its Helm path, then the values files passed to Helm."""
    out = [ValuesSource(key=v.name, path=v.name, text=v.text) for v in side.values]
    chart = side.chart
    if chart is not None:
        helm_path = f"{chart.info.name}/values.yaml"
        content = chart.files.get(helm_path)
        if content is not None:
            text = content.decode("utf-8", "replace")
            out.insert(0, ValuesSource(key=helm_path, path=chart.source_file(helm_path), text=text))
    return tuple(out)


def _fingerprint(chart: MaterializedChart, request: RenderRequest, key: bytes) -> str:
    """A digest of every render input. Values files and `--set` may hold secrets and the
    compareId derived from this is public, so they enter it keyed."""
    digest = hashlib.sha256()
    for path in sorted(chart.files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(chart.files[path]).digest())
    inputs = {
        "release": request.release_name,
        "namespace": request.namespace,
        "values": [[v.name, hmac.new(key, v.text.encode(), hashlib.sha256).hexdigest()] for v in request.values_files],
        "set": [hmac.new(key, s.encode(), hashlib.sha256).hexdigest() for s in request.set_values],
        "kube": request.kube_version,
        "apis": list(request.api_versions),
    }
    digest.update(json.dumps(inputs, sort_keys=True).encode())
    return digest.hexdigest()


def _outcome(
    target: ChartTarget,
    base: SideResult | None,
    head: SideResult | None,
    config: AnalysisConfig,
    options: PipelineOptions,
) -> ChartOutcome:
    name = _chart_name(base, head, target)
    path, environment = target.display_path, target.environment.name
    if any(side is not None and side.out_of_time for side in (base, head)):
        budget = f"{options.time_budget_seconds:g} s" if options.time_budget_seconds else "its time"
        return ChartOutcome(
            ChartReport(
                path=path,
                name=name,
                environment=environment,
                status="skipped",
                warnings=(f"not analyzed: the analysis used up its time budget ({budget}) before this chart",),
            )
        )
    errors = [
        f"{label}: {side.error}"
        for label, side in (("base", base), ("head", head))
        if side is not None and side.error is not None
    ]
    warnings = {w for side in (base, head) if side is not None for w in side.warnings}
    if errors:
        signals, failures = _signals(
            target, name, base, head, diffs=(), config=config, options=options, only={"chart.render"}
        )
        warnings.update(failures)
        policy = apply_policy(signals, config)
        report = ChartReport(
            path=path,
            name=name,
            environment=environment,
            status="render_error",
            error="; ".join(errors),
            warnings=tuple(sorted(warnings)),
            signals=tuple(sorted(policy.signals, key=signal_sort_key)),
            ignored_signals=policy.ignored,
            verdict=policy.verdict,
        )
        return ChartOutcome(report)
    status: ChartStatus = "analyzed"
    if base is None:
        status = "added"
    elif head is None:
        status = "removed"
    resource_diffs = diff_resources(base.resources if base else (), head.resources if head else (), classify)
    rules = standing_rules(config.normalize)
    for side in (base, head):
        if side is not None:
            rules.extend(side.rules)
    structured = StructuredDiff(
        compare_id=_compare_id(base, head),
        normalization_rules=tuple(sorted(set(rules), key=lambda r: (r.rule, r.scope, r.detail))),
        resources=resource_diffs,
    )
    signals, failures = _signals(target, name, base, head, diffs=resource_diffs, config=config, options=options)
    warnings.update(failures)
    policy = apply_policy(signals, config)
    report = ChartReport(
        path=path,
        name=name,
        environment=environment,
        status=status,
        warnings=tuple(sorted(warnings)),
        diff=structured,
        signals=tuple(sorted(policy.signals, key=signal_sort_key)),
        ignored_signals=policy.ignored,
        verdict=policy.verdict,
    )
    return ChartOutcome(report, base, head)


def _signals(
    target: ChartTarget,
    name: str,
    base: SideResult | None,
    head: SideResult | None,
    *,
    diffs: tuple[ResourceDiff, ...],
    config: AnalysisConfig,
    options: PipelineOptions,
    only: set[str] | None = None,
) -> tuple[list[Signal], list[str]]:
    if not options.signals_enabled:
        return [], []
    sides = []
    for side in (base, head):
        if side is None:
            sides.append(ChartSide())
            continue
        sides.append(
            ChartSide(
                {r.id: r for r in side.resources}, side.chart, _values_sources(side), side.error, side.lint_errors
            )
        )
    kube = options.overrides.kube_version or target.environment.kube_version
    ctx = SignalContext(
        chart_name=name,
        chart_path=target.display_path,
        base=sides[0],
        head=sides[1],
        diffs=diffs,
        kube_version=Version.parse(kube) if kube else None,
        fingerprint_key=options.fingerprint_key,
    )
    locator = SourceLocator(sides[0], sides[1])
    return detect_signals(ctx, locator, only=only, rules=config.rules)


def _chart_name(base: SideResult | None, head: SideResult | None, target: ChartTarget) -> str:
    for side in (head, base):
        if side is not None and side.chart is not None:
            return side.chart.info.name
    return target.display_path.rsplit("/", 1)[-1]


def _compare_id(base: SideResult | None, head: SideResult | None) -> str:
    digest = hashlib.sha256(__version__.encode())
    for side in (base, head):
        digest.update(b"|" + (side.fingerprint.encode() if side else b"-"))
    return digest.hexdigest()[:16]


def _overall_verdict(charts: Iterable[ChartReport]) -> Verdict:
    verdicts = {c.verdict for c in charts}
    if "fail" in verdicts:
        return "fail"
    if "warn" in verdicts:
        return "warn"
    return "pass"

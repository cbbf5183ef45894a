"""analyze(base, head) → Report: the one pipeline the command line, the App and the API share.

sources → charts → materialize → render twice per side (child processes) → parse → normalize
→ diff → classify → report. A chart that fails anywhere becomes a `render_error` chart report;
it never stops the other charts.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .. import __version__
from .charts import (
    ChartInfo,
    MaterializedChart,
    dependency_dirs,
    discover_charts,
    load_chart_info,
    materialize,
)
from .classify import classify
from .config import AnalysisConfig, Environment
from .diff import diff_resources
from .errors import AnalysisError
from .manifests import parse_rendered
from .model import (
    ChartReport,
    ChartStatus,
    NormalizationRule,
    Report,
    Resource,
    Revision,
    StructuredDiff,
    Verdict,
)
from .normalize import normalize_side, standing_rules
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


@dataclass(slots=True)
class SideResult:
    resources: list[Resource]
    rules: list[NormalizationRule]
    warnings: list[str]
    fingerprint: str
    chart: MaterializedChart


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


def now_rfc3339() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def analyze_targets(
    targets: Iterable[ChartTarget],
    options: PipelineOptions,
    config: AnalysisConfig,
) -> list[ChartOutcome]:
    """Analyze every target, sides in parallel; outcomes in (path, environment) order."""
    ordered = sorted(targets, key=lambda t: (t.display_path, t.environment.name))
    with ThreadPoolExecutor(max_workers=max(1, options.max_workers)) as pool:
        futures = [
            (
                target,
                pool.submit(_side, target.base, target.environment, options, config),
                pool.submit(_side, target.head, target.environment, options, config),
            )
            for target in ordered
        ]
        return [
            _outcome(target, base.result(), head.result(), config) for target, base, head in futures
        ]


def build_report(
    outcomes: Iterable[ChartOutcome],
    base: Revision,
    head: Revision,
    extra_reports: Iterable[ChartReport] = (),
) -> Report:
    charts = sorted(
        [*(o.report for o in outcomes), *extra_reports], key=lambda c: (c.path, c.environment)
    )
    return Report(
        base=base,
        head=head,
        charts=tuple(charts),
        generated_at=now_rfc3339(),
        verdict=_overall_verdict(charts),
        engine_version=__version__,
    )


def analyze_repository(
    base_source: ChartSource,
    head_source: ChartSource,
    config: AnalysisConfig,
    options: PipelineOptions,
    *,
    only: Iterable[str] | None = None,
) -> Report:
    """Every chart of either side; charts whose inputs did not change are reported unchanged."""
    base_charts = discover_charts(base_source)
    head_charts = discover_charts(head_source)
    wanted = set(only) if only is not None else None
    targets: list[ChartTarget] = []
    skipped: list[ChartReport] = []
    for path in sorted(base_charts.keys() | head_charts.keys()):
        if wanted is not None and path not in wanted:
            continue
        name = (head_charts.get(path) or base_charts[path]).name
        display = path or "."
        if not config.selects(display):
            skipped.append(ChartReport(path=display, name=name, status="skipped"))
            continue
        for environment in config.environments_for(display):
            if not is_affected(
                base_source, head_source, base_charts.get(path), head_charts.get(path), environment
            ):
                skipped.append(
                    ChartReport(
                        path=display, name=name, status="unchanged", environment=environment.name
                    )
                )
                continue
            targets.append(
                ChartTarget(
                    display_path=display,
                    base=(base_source, path) if path in base_charts else None,
                    head=(head_source, path) if path in head_charts else None,
                    environment=environment,
                )
            )
    outcomes = analyze_targets(targets, options, config)
    return build_report(outcomes, base_source.revision, head_source.revision, skipped)


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
        if _digests(base_source.list_files(prefix)) != _digests(head_source.list_files(prefix)):
            return True
    for values_path in environment.values:
        if _digests(base_source.list_files(values_path)) != _digests(
            head_source.list_files(values_path)
        ):
            return True
    return False


def _digests(listing: Mapping[str, FileEntry]) -> dict[str, str | None] | None:
    """Path → digest, or None when some digest is unknown (so the chart counts as changed)."""
    digests = {path: entry.digest for path, entry in listing.items()}
    return None if any(d is None for d in digests.values()) else digests


def _side(
    where: tuple[ChartSource, str] | None,
    environment: Environment,
    options: PipelineOptions,
    config: AnalysisConfig,
) -> SideResult | AnalysisError | None:
    if where is None:
        return None
    source, chart_path = where
    try:
        return _render_side(source, chart_path, environment, options, config)
    except AnalysisError as exc:
        return exc


def _render_side(
    source: ChartSource,
    chart_path: str,
    environment: Environment,
    options: PipelineOptions,
    config: AnalysisConfig,
) -> SideResult:
    chart = load_chart_info(source, chart_path)
    overrides = options.overrides
    values, warnings = _environment_values(source, environment)
    values += options.extra_values
    with tempfile.TemporaryDirectory(prefix="chartimpact-") as workdir:
        materialized = materialize(source, chart, Path(workdir), fetcher=options.fetcher)
        request = RenderRequest(
            chart_dir=materialized.directory,
            release_name=overrides.release_name or environment.release_name,
            namespace=overrides.namespace or environment.namespace,
            values_files=values,
            set_values=(*environment.set_values, *options.extra_set),
            kube_version=overrides.kube_version or environment.kube_version,
            api_versions=overrides.api_versions
            if overrides.api_versions is not None
            else environment.api_versions,
        )
        first, second = options.renderer.render(request, repeat=2)
    first_set = parse_rendered(
        first, namespace=request.namespace, include_tests=options.include_tests
    )
    second_set = parse_rendered(
        second, namespace=request.namespace, include_tests=options.include_tests
    )
    resources, rules = normalize_side(first_set, second_set, config.normalize)
    return SideResult(
        resources=resources,
        rules=rules,
        warnings=[*materialized.warnings, *warnings, *first_set.warnings],
        fingerprint=_fingerprint(materialized, request),
        chart=materialized,
    )


def _environment_values(
    source: ChartSource, environment: Environment
) -> tuple[tuple[ValuesFile, ...], list[str]]:
    files: list[ValuesFile] = []
    warnings: list[str] = []
    for path in environment.values:
        if path not in source.list_files(path):
            warnings.append(
                f"values file '{path}' of environment '{environment.name}' does not exist"
            )
            continue
        content = source.read_many([path])[path]
        files.append(ValuesFile(name=path, text=content.decode("utf-8", "replace")))
    return tuple(files), warnings


def _fingerprint(chart: MaterializedChart, request: RenderRequest) -> str:
    digest = hashlib.sha256()
    for path in sorted(chart.files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(chart.files[path]).digest())
    inputs = {
        "release": request.release_name,
        "namespace": request.namespace,
        "values": [
            [v.name, hashlib.sha256(v.text.encode()).hexdigest()] for v in request.values_files
        ],
        "set": list(request.set_values),
        "kube": request.kube_version,
        "apis": list(request.api_versions),
    }
    digest.update(json.dumps(inputs, sort_keys=True).encode())
    return digest.hexdigest()


def _outcome(
    target: ChartTarget,
    base: SideResult | AnalysisError | None,
    head: SideResult | AnalysisError | None,
    config: AnalysisConfig,
) -> ChartOutcome:
    name = _chart_name(base, head, target)
    path, environment = target.display_path, target.environment.name
    errors = [
        f"{label}: {result}"
        for label, result in (("base", base), ("head", head))
        if isinstance(result, AnalysisError)
    ]
    warnings = sorted(
        {w for side in (base, head) if isinstance(side, SideResult) for w in side.warnings}
    )
    if errors:
        report = ChartReport(
            path=path,
            name=name,
            environment=environment,
            status="render_error",
            error="; ".join(errors),
            warnings=tuple(warnings),
        )
        return ChartOutcome(report)
    base_side = base if isinstance(base, SideResult) else None
    head_side = head if isinstance(head, SideResult) else None
    status: ChartStatus = "analyzed"
    if base_side is None:
        status = "added"
    elif head_side is None:
        status = "removed"
    resource_diffs = diff_resources(
        base_side.resources if base_side else (),
        head_side.resources if head_side else (),
        classify,
    )
    rules = standing_rules(config.normalize)
    for side in (base_side, head_side):
        if side is not None:
            rules.extend(side.rules)
    structured = StructuredDiff(
        compare_id=_compare_id(base_side, head_side),
        normalization_rules=tuple(sorted(set(rules), key=lambda r: (r.rule, r.scope, r.detail))),
        resources=resource_diffs,
    )
    report = ChartReport(
        path=path,
        name=name,
        environment=environment,
        status=status,
        warnings=tuple(warnings),
        diff=structured,
    )
    return ChartOutcome(report, base_side, head_side)


def _chart_name(
    base: SideResult | AnalysisError | None,
    head: SideResult | AnalysisError | None,
    target: ChartTarget,
) -> str:
    for side in (head, base):
        if isinstance(side, SideResult):
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

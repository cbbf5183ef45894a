"""Which charts an analysis renders: every chart of either side whose inputs changed.

Each chart's metadata (`Chart.yaml`, dependencies, lock file) is parsed once, here, and carried
by the plan to the render (a plan may travel to a worker process: it holds plain values).
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..core.chart import ChartInfo
from ..core.config import AnalysisConfig, Environment, InlineValues
from ..core.errors import AnalysisError, ChartError
from ..core.gitops.remote_chart import RemoteChart
from ..core.model import ChartReport, Revision
from .charts import dependency_dirs, load_chart_info, survey_charts
from .gitops import MAX_MANIFESTS, Deployed, Deployment, Unresolved, survey_deployments
from .sources import ChartSource, FileEntry


@dataclass(frozen=True, slots=True)
class ChartAt:
    """A chart directory in a source, with its metadata as read (or why it could not be); or a
    chart of a chart repository (`remote`), fetched when the side is rendered, whose values
    files are read from `source`."""

    source: ChartSource
    path: str
    info: ChartInfo | None = None
    error: str | None = None
    remote: RemoteChart | None = None


def chart_at(source: ChartSource, path: str) -> ChartAt:
    """The chart at `path`, its Chart.yaml read; a broken one carries the sentence saying why."""
    try:
        return ChartAt(source, path, info=load_chart_info(source, path))
    except AnalysisError as exc:
        return ChartAt(source, path, error=str(exc))


class NoSuchChart(AnalysisError):
    """Directories an analysis was asked to restrict itself to that hold no chart on either side."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        shown = ", ".join(f"'{p or '.'}'" for p in paths)
        super().__init__(f"no chart (a directory with a Chart.yaml) at {shown} on either side")

    def __reduce__(self) -> tuple[type[NoSuchChart], tuple[list[str]]]:
        # It crosses from the App's worker processes: rebuilt from its paths, not its sentence.
        return (NoSuchChart, (self.paths,))


@dataclass(frozen=True, slots=True)
class ChartTarget:
    """One chart to analyze: where it is on each side (None where it does not exist), and how
    it is rendered: `environment`, or on the base `base_environment` when that side was deployed
    differently (an Argo CD Application whose values the change edits)."""

    display_path: str
    base: ChartAt | None
    head: ChartAt | None
    environment: Environment
    base_environment: Environment | None = None

    @property
    def base_env(self) -> Environment:
        return self.base_environment or self.environment


@dataclass(frozen=True, slots=True)
class AnalysisPlan:
    """What an analysis will do: the targets to render, and the charts it reports without
    rendering (skipped by configuration, or unchanged)."""

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
    """Every chart of either side: a target when its inputs changed, else an unchanged report.
    `only`: just these chart directories; NoSuchChart when one of them is a chart on neither side
    (an analysis of nothing would pass, and say nothing of the chart that was meant)."""
    base_charts = survey_charts(base_source)
    head_charts = survey_charts(head_source)
    wanted = set(only) if only is not None else None
    missing = sorted(wanted - base_charts.keys() - head_charts.keys()) if wanted is not None else []
    if missing:
        raise NoSuchChart(missing)
    targets: list[ChartTarget] = []
    skipped: list[ChartReport] = []
    deployed, unresolved = survey_deployments(base_source, head_source, config.manifests)
    deployed_paths = {side.chart_path for d in deployed for side in (d.base, d.head) if side is not None}
    for path in sorted(base_charts.keys() | head_charts.keys()):
        if wanted is not None and path not in wanted:
            continue
        if path in deployed_paths:
            continue  # analyzed as each Application deploys it, below
        known = [c for c in (head_charts.get(path), base_charts.get(path)) if isinstance(c, ChartInfo)]
        display = path or "."
        name = known[0].name if known else posixpath.basename(display)
        if not config.selects(display):
            skipped.append(ChartReport(path=display, name=name, status="skipped"))
            continue
        base_at = _located(base_source, path, base_charts.get(path))
        head_at = _located(head_source, path, head_charts.get(path))
        for environment in config.environments_for(display):
            base_info = base_at.info if base_at is not None else None
            head_info = head_at.info if head_at is not None else None
            broken_both = base_info is None and head_info is None and base_at is not None and head_at is not None
            # A target release the change adds to the configuration concerns every chart.
            if not config.added_kube_versions and (
                _same_files(base_source.list_files(path), head_source.list_files(path))
                if broken_both
                else not is_affected(base_source, head_source, base_info, head_info, environment)
            ):
                skipped.append(ChartReport(path=display, name=name, status="unchanged", environment=environment.name))
                continue
            targets.append(ChartTarget(display_path=display, base=base_at, head=head_at, environment=environment))
    for deployment in deployed:
        if wanted is not None and deployment.chart_path not in wanted:
            continue
        planned = _deployment_target(
            base_source, head_source, deployment, charts=(base_charts, head_charts), config=config
        )
        if isinstance(planned, ChartTarget):
            targets.append(planned)
        else:
            skipped.append(planned)
    if wanted is None:
        skipped += [_unresolved_report(u) for u in unresolved[:MAX_UNRESOLVED]]
        if len(unresolved) > MAX_UNRESOLVED:
            left = len(unresolved) - MAX_UNRESOLVED
            skipped.append(
                ChartReport(
                    path=unresolved[MAX_UNRESOLVED].file,
                    name="…",
                    status="skipped",
                    environment=f"{left} more",
                    warnings=(f"{left} more deployments whose chart cannot be found are not listed one by one",),
                )
            )
    return AnalysisPlan(tuple(targets), tuple(skipped), base_source.revision, head_source.revision)


# Deployments whose chart cannot be found, reported one by one (a pull request of thousands of
# such manifests gets one line for the rest).
MAX_UNRESOLVED = 100


def _unresolved_report(unresolved: Unresolved) -> ChartReport:
    """A new or changed deployment whose chart cannot be found: skipped, saying why, under its
    manifest (a PR that breaks an Application's chart reference is told so)."""
    reason = unresolved.reason.removesuffix(": not analyzed")  # some manifests' notes end so already
    return ChartReport(
        path=unresolved.file,
        name=unresolved.name,
        status="skipped",
        environment=unresolved.name,
        warnings=(f"{unresolved.kind} '{unresolved.name}' is not analyzed: {reason}",),
    )


def _deployment_target(
    base_source: ChartSource,
    head_source: ChartSource,
    deployment: Deployment,
    *,
    charts: tuple[Mapping[str, ChartInfo | ChartError], Mapping[str, ChartInfo | ChartError]],
    config: AnalysisConfig,
) -> ChartTarget | ChartReport:
    """The target of one Application's chart: rendered with the base Application's values on
    the base and the head's on the head; unchanged when neither the Application, nor its chart
    (its directory, or the version it takes from a chart repository), nor a values file it
    reads changed."""
    present = deployment.head or deployment.base
    assert present is not None
    environment = present.environment
    base_at = _deployed_at(base_source, deployment.base, charts[0])
    head_at = _deployed_at(head_source, deployment.head, charts[1])
    display = present.remote.display if present.remote is not None else deployment.chart_path or "."
    known = [c.info for c in (head_at, base_at) if c is not None and c.info is not None]
    name = known[0].name if known else posixpath.basename(display)
    if present.remote is not None:
        name = present.remote.name
    if not config.selects(display):
        return ChartReport(path=display, name=name, status="skipped", environment=environment.name)
    if deployment.uncertain:
        return ChartReport(
            path=display,
            name=name,
            status="skipped",
            environment=environment.name,
            warnings=(
                f"not analyzed: one commit has more than {MAX_MANIFESTS} YAML files outside charts, and this"
                " Application was not among those read there",
            ),
        )
    base_env = deployment.base.environment if deployment.base is not None else None
    same_deployment = _rendered_alike(base_env, deployment.head.environment if deployment.head else None)
    if (
        same_deployment
        and not config.added_kube_versions  # a target release the change adds concerns every chart
        and _same_chart(base_source, head_source, deployment, (base_at, head_at), environment)
    ):
        return ChartReport(path=display, name=name, status="unchanged", environment=environment.name)
    return ChartTarget(
        display_path=display,
        base=base_at,
        head=head_at,
        environment=environment,
        base_environment=None if same_deployment else base_env,
    )


def _deployed_at(
    source: ChartSource, deployed: Deployed | None, charts: Mapping[str, ChartInfo | ChartError]
) -> ChartAt | None:
    if deployed is None:
        return None
    if deployed.remote is not None:
        return ChartAt(source, deployed.chart_path, remote=deployed.remote)
    return _located(source, deployed.chart_path, charts.get(deployed.chart_path))


def _same_chart(
    base_source: ChartSource,
    head_source: ChartSource,
    deployment: Deployment,
    sides: tuple[ChartAt | None, ChartAt | None],
    environment: Environment,
) -> bool:
    """Whether both sides render the same chart with the same files: a remote chart at the same
    repository, name and version, with the same values files of the repository."""
    base_at, head_at = sides
    if base_at is None or head_at is None:
        return False
    if base_at.remote is not None or head_at.remote is not None:
        return base_at.remote == head_at.remote and not _values_changed(base_source, head_source, environment)
    return not is_affected(base_source, head_source, base_at.info, head_at.info, environment)


def _rendered_alike(base: Environment | None, head: Environment | None) -> bool:
    """Whether two environments give Helm the same input: where inline values are written (a
    manifest moved to another file, lines added above them) does not matter, their text does."""
    if base is None or head is None:
        return base is head
    return _unplaced(base) == _unplaced(head)


def _unplaced(environment: Environment) -> Environment:
    return dataclasses.replace(
        environment, inline_values=tuple(InlineValues("", i.text, "", 0) for i in environment.inline_values)
    )


def _located(source: ChartSource, path: str, surveyed: ChartInfo | ChartError | None) -> ChartAt | None:
    """A chart whose Chart.yaml cannot be read counts as changed: rendering it reports why."""
    if surveyed is None:
        return None
    if isinstance(surveyed, ChartError):
        return ChartAt(source, path, error=str(surveyed))
    return ChartAt(source, path, info=surveyed)


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
    return _values_changed(base_source, head_source, environment)


def _values_changed(base_source: ChartSource, head_source: ChartSource, environment: Environment) -> bool:
    for values_path in (*environment.values, *(path for _, path in environment.set_file_values)):
        if not _same_files(base_source.list_files(values_path), head_source.list_files(values_path)):
            return True
    return False


def _same_files(base: Mapping[str, FileEntry], head: Mapping[str, FileEntry]) -> bool:
    """Whether both listings hold the same paths with the same digests. A source that does not
    know its digests (a plain directory) never proves sameness: its charts count as changed."""
    if base.keys() != head.keys():
        return False
    return all(entry.digest is not None and entry.digest == head[path].digest for path, entry in base.items())

"""What the report page shows (issue 12 point 2), as plain values for its template.

Pure: a Report (acknowledgements already applied) in, rows out. Every string here is chart
content or ours in plain text; the template escapes it (Jinja2's autoescape), so nothing here
is markup, and control, bidi and line-separator characters are escaped visibly here (`one_line`,
`visible`), as in every other output, so a name cannot read backwards or hide a part of itself.
Values are shown through `compact` (JSON on one line, those characters escaped, bounded), and
Secrets are already masked in the model, as in every other output.

At the top, the blast radius: the workloads whose pods will be replaced (and which changes of
their pod template cause it), what becomes reachable, what blocks the upgrade and what loses
data, each linking to its signal. Then every signal with the attributes its filters read, then
every resource's diff, and the graph of which changed ConfigMaps and Secrets are read by which
workloads and which Services select them (impact_graph.py), laid out in three columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..acknowledgements import counts
from ..kubernetes.workloads import ROLLING_KINDS, pod_template
from ..model import CATEGORIES, IMPORTANCES, ChartReport, Relation, Report, ResourceDiff, ResourceId
from .environments import ChartGroup, SharedSignal, chart_groups, environments_phrase
from .safe_text import one_line, visible
from .values import compact, compact_pair

MAX_VALUE_CHARS = 2000  # one before or after shown on the page (the JSON report has it whole)
MAX_CAUSES = 3  # changed fields named per restarting workload
MAX_GRAPH_NODES = 60  # per column; the rest are counted
# Signal types (and their finer ids) behind each line of the blast radius.
EXPOSURE = ("security.exposure", "security.hostAccess.network", "security.hostAccess.port", "security.networkPolicy")
BLOCKERS = ("upgrade.immutable", "upgrade.api.removed", "upgrade.crd", "upgrade.strategy.conflict", "upgrade.resource")
DATA_LOSS = ("upgrade.dataLoss", "upgrade.immutable.storage")
BLOCKERS_NOT_DATA = tuple(t for t in BLOCKERS if t not in DATA_LOSS)


@dataclass(frozen=True, slots=True)
class SignalRow:
    """A signal as one chart's environments have it (core/report/environments.py): shown once,
    with every environment it affects; `member_ids` are each environment's own signal (what an
    acknowledgement from the page accepts) and `other_anchors` keep their links working."""

    anchor: str
    id: str
    chart: str
    environment: str  # "prod, staging" (the environments, as one phrase)
    environments: tuple[str, ...]
    member_ids: tuple[str, ...]
    other_anchors: tuple[str, ...]
    category: str
    importance: str
    action: str
    counts: bool
    type: str
    kind: str
    namespace: str
    name: str
    description: str
    explanation: str
    path: str
    before: str
    after: str
    source: str
    source_url: str | None
    acknowledged_by: str | None
    acknowledged_reason: str
    acknowledged_at: str


@dataclass(frozen=True, slots=True)
class ChangeRow:
    op: str
    path: str
    before: str
    after: str
    importance: str


@dataclass(frozen=True, slots=True)
class ResourceRow:
    anchor: str
    chart: str
    environment: str
    title: str
    change_type: str
    source: str
    changes: list[ChangeRow]


@dataclass(frozen=True, slots=True)
class Impact:
    """One line of the blast radius: what happens to whom, and the signals saying so."""

    subject: str
    detail: str
    anchors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class GraphNode:
    key: str
    label: str
    kind: str
    x: int
    y: int
    changed: bool


@dataclass(frozen=True, slots=True)
class GraphEdge:
    x1: int
    y1: int
    x2: int
    y2: int
    verb: str


@dataclass(frozen=True, slots=True)
class Graph:
    width: int
    height: int
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    left_out: int


@dataclass(frozen=True, slots=True)
class ChartHeading:
    path: str
    environment: str
    status: str
    verdict: str
    error: str | None
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class ChartGroupHeading:
    """A chart path and its environments' headings (one, or several shown together)."""

    path: str
    verdict: str
    environments: list[ChartHeading]


@dataclass(frozen=True, slots=True)
class PageModel:
    verdict: str
    counting: int
    acknowledged: int
    charts: list[ChartHeading]
    groups: list[ChartGroupHeading]  # the changed charts, each with its environments
    restarts: list[Impact]
    exposure: list[Impact]
    blockers: list[Impact]
    data_loss: list[Impact]
    signals: list[SignalRow]
    resources: list[ResourceRow]
    graph: Graph | None
    filters: dict[str, list[str]]


def page_model(report: Report, *, repository_url: str | None = None) -> PageModel:
    """The page of a report. `repository_url` (`https://github.com/owner/repo`) makes each
    signal's source a link to its file at the head commit."""
    head_sha = report.head.sha
    file_url = f"{repository_url}/blob/{head_sha}/" if repository_url and head_sha else None
    anchors = _Anchors()
    groups = chart_groups(report.charts)
    signals = [_signal_row(group, shared, anchors, file_url) for group in groups for shared in group.signals]
    by_id: dict[str, list[str]] = {}
    for row in signals:
        for member in row.member_ids:
            by_id.setdefault(member, []).append(row.anchor)
    resources = [
        _resource_row(chart, n, diff)
        for chart in report.charts
        if chart.diff is not None
        for n, diff in enumerate(chart.diff.resources)
    ]
    all_signals = [(chart, s) for chart in report.charts for s in chart.signals]
    return PageModel(
        verdict=report.verdict,
        counting=sum(1 for _, s in all_signals if counts(s)),
        acknowledged=sum(1 for _, s in all_signals if s.acknowledged is not None),
        charts=[_heading(chart) for chart in report.charts],
        groups=[
            ChartGroupHeading(one_line(g.path), g.verdict, [_heading(c) for c in g.charts])
            for g in groups
            if any(c.status != "unchanged" for c in g.charts)
        ],
        restarts=_restarts(groups, by_id),
        exposure=_impacts(groups, EXPOSURE, by_id),
        blockers=_impacts(groups, BLOCKERS_NOT_DATA, by_id),
        data_loss=_impacts(groups, DATA_LOSS, by_id),
        signals=signals,
        resources=resources,
        graph=_graph(report.charts),
        filters={
            "chart": sorted({row.chart for row in signals}),
            "environment": sorted({e for row in signals for e in row.environments}),
            "category": [c for c in CATEGORIES if any(row.category == c for row in signals)],
            "importance": [i for i in IMPORTANCES if any(row.importance == i for row in signals)],
            "kind": sorted({row.kind for row in signals}),
        },
    )


def signal_anchor(signal_id: str) -> str:
    """The page's anchor of a signal (its first occurrence when several charts have it)."""
    return f"signal-{signal_id}"


class _Anchors:
    """Unique element ids: the first occurrence of a signal id gets `signal-<id>` (what the
    check run's annotations and the comment link to), later ones a numbered suffix."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def signal(self, signal_id: str) -> str:
        n = self._seen.get(signal_id, 0)
        self._seen[signal_id] = n + 1
        return signal_anchor(signal_id) if n == 0 else f"{signal_anchor(signal_id)}-{n + 1}"


def _heading(chart: ChartReport) -> ChartHeading:
    return ChartHeading(
        one_line(chart.path),
        one_line(chart.environment),
        chart.status,
        chart.verdict,
        visible(chart.error) if chart.error else None,
        [visible(w) for w in chart.warnings],
    )


def _signal_row(group: ChartGroup, shared: SharedSignal, anchors: _Anchors, file_url: str | None) -> SignalRow:
    signal = shared.signal
    member_ids = tuple(dict.fromkeys(member.id for _, member in shared.members))
    anchor = anchors.signal(signal.id)
    others = tuple(anchors.signal(member) for member in member_ids if member != signal.id)
    if len(member_ids) < len(shared.members):
        # The same id in several environments (same release and namespace): each keeps an anchor.
        others += tuple(anchors.signal(signal.id) for _ in range(len(shared.members) - len(member_ids)))
    before, after = compact_pair(signal.before, signal.after, MAX_VALUE_CHARS)
    source = url = ""
    if signal.source is not None:
        source = one_line(signal.source.file) + (f":{signal.source.line}" if signal.source.line else "")
        if file_url:
            line = f"#L{signal.source.line}" if signal.source.line else ""
            url = file_url + _quoted_path(signal.source.file) + line
    rid = signal.resource
    ack = signal.acknowledged if shared.acknowledged else None
    return SignalRow(
        anchor=anchor,
        id=signal.id,
        chart=one_line(group.path),
        environment=one_line(environments_phrase(shared.environments, of=len(group.charts))),
        environments=tuple(one_line(e) for e in shared.environments),
        member_ids=member_ids,
        other_anchors=others,
        category=signal.category,
        importance=signal.importance,
        action=signal.action,
        counts=counts(signal),
        type=one_line(signal.type),
        kind=one_line(rid.kind),
        namespace=one_line(rid.namespace),
        name=one_line(rid.name),
        description=one_line(signal.description),
        explanation=visible(signal.explanation),
        path=one_line(signal.affected_path),
        before=before,
        after=after,
        source=source,
        source_url=url or None,
        acknowledged_by=one_line(ack.by) if ack else None,
        acknowledged_reason=one_line(ack.reason) if ack else "",
        acknowledged_at=ack.at if ack else "",
    )


def _resource_row(chart: ChartReport, n: int, diff: ResourceDiff) -> ResourceRow:
    rid = diff.id
    changes = []
    for change in diff.changes:
        before, after = compact_pair(change.before, change.after, MAX_VALUE_CHARS)
        changes.append(
            ChangeRow(
                op=change.op,
                path=one_line(change.display_path) or "(whole resource)",
                before="" if change.op == "add" else before,
                after="" if change.op == "remove" else after,
                importance=change.importance,
            )
        )
    if diff.change_type != "modified" and not changes:
        side = compact(diff.resource.body, MAX_VALUE_CHARS)
        added = diff.change_type == "added"
        changes.append(
            ChangeRow(
                "add" if added else "remove", "(whole resource)", "" if added else side, side if added else "", "low"
            )
        )
    return ResourceRow(
        anchor=f"resource-{_slug(chart.path)}-{_slug(chart.environment)}-{n}",
        chart=one_line(chart.path),
        environment=one_line(chart.environment),
        title=_title(rid),
        change_type=diff.change_type,
        source=one_line(diff.resource.source),
        changes=changes,
    )


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")


def _quoted_path(path: str) -> str:
    """A repository path as a URL path: RFC 3986's unreserved characters and `/` kept, every
    other byte of its UTF-8 percent-encoded (the core does no I/O, urllib included)."""
    return "".join(c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in path)


def _title(rid: ResourceId) -> str:
    return one_line(f"{rid.kind} {rid.namespace}/{rid.name}" if rid.namespace else f"{rid.kind} {rid.name}")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text)[:80]


def _restarts(groups: Iterable[ChartGroup], by_id: dict[str, list[str]]) -> list[Impact]:
    """Modified rolling workloads whose pod template changed: their pods will be replaced (one
    line for the environments of a chart where the same fields change)."""
    found: dict[tuple[str, ...], tuple[Impact, list[str]]] = {}
    for group in groups:
        for chart in group.charts:
            for diff in chart.diff.resources if chart.diff else ():
                shown = _restart_causes(diff)
                if shown is None:
                    continue
                anchors = [a for s in chart.signals if s.resource == diff.id for a in by_id.get(s.id, [])[:1]]
                name = diff.id.name.replace(chart.release, "\0") if len(chart.release) >= 3 else diff.id.name
                key = (group.path, diff.id.kind, name, shown)
                if key in found:
                    found[key][1].append(chart.environment)
                    continue
                impact = Impact(_title(diff.id), f"pods replaced: {one_line(shown)}", list(dict.fromkeys(anchors))[:5])
                found[key] = (impact, [chart.environment])
    return [
        dataclasses.replace(
            impact, subject=f"{impact.subject} ({_where(path, environments, several=len(environments) > 1)})"
        )
        for (path, *_), (impact, environments) in found.items()
    ]


def _restart_causes(diff: ResourceDiff) -> str | None:
    """The pod template fields whose change replaces a rolling workload's pods, or None."""
    if diff.change_type != "modified" or diff.id.kind not in ROLLING_KINDS:
        return None
    pod = pod_template(diff.head)
    if pod is None:
        return None
    prefix = ".".join(pod.template_path)
    # Named within the pod template: `spec.containers[name=web].image`.
    causes = [c.display_path.removeprefix(prefix + ".") for c in diff.changes if c.display_path.startswith(prefix)]
    if not causes:
        return None
    return ", ".join(causes[:MAX_CAUSES]) + (
        f" and {len(causes) - MAX_CAUSES} more" if len(causes) > MAX_CAUSES else ""
    )


def _where(path: str, environments: Iterable[str], *, several: bool) -> str:
    """ "charts/web", or "charts/web: prod, staging" for several environments."""
    return one_line(f"{path}: {', '.join(environments)}" if several else path)


def _impacts(groups: Iterable[ChartGroup], types: tuple[str, ...], by_id: dict[str, list[str]]) -> list[Impact]:
    found = []
    for group in groups:
        for shared in group.signals:
            signal = shared.signal
            if any(signal.type == t or signal.type.startswith(t + ".") for t in types):
                found.append(
                    Impact(
                        f"{_title(signal.resource)} ({_where(group.path, shared.environments, several=group.several)})",
                        one_line(signal.description),
                        by_id.get(signal.id, [])[:1],
                    )
                )
    return found


_COLUMNS = {"Service": 0, "ConfigMap": 2, "Secret": 2}
_COLUMN_X = (20, 300, 580)
_NODE_STEP = 34
_WIDTH = 860


def _graph(charts: Iterable[ChartReport]) -> Graph | None:
    """Services (left), workloads (middle), ConfigMaps and Secrets (right), joined by their relations."""
    relations: list[tuple[ChartReport, Relation]] = [(c, r) for c in charts for r in c.relations]
    if not relations:
        return None
    changed = {(c.path, c.environment, d.id) for c in charts for d in (c.diff.resources if c.diff else ())}
    columns: list[list[tuple[str, ResourceId, bool]]] = [[], [], []]
    placed: dict[str, tuple[int, int]] = {}
    left_out = 0

    def place(chart: ChartReport, rid: ResourceId) -> tuple[int, int] | None:
        nonlocal left_out
        key = f"{chart.path}|{chart.environment}|{rid.kind}|{rid.namespace}|{rid.name}"
        if key in placed:
            return placed[key]
        column = _COLUMNS.get(rid.kind, 1)
        if len(columns[column]) >= MAX_GRAPH_NODES:
            left_out += 1
            return None
        columns[column].append((key, rid, (chart.path, chart.environment, rid) in changed))
        placed[key] = (_COLUMN_X[column], 30 + _NODE_STEP * (len(columns[column]) - 1))
        return placed[key]

    edges = []
    for chart, relation in relations:
        a, b = place(chart, relation.source), place(chart, relation.target)
        if a is None or b is None:
            continue
        # A Service (left) selects a workload (middle); a workload (middle) reads configuration (right).
        edges.append(GraphEdge(a[0] + 240, a[1] + 12, b[0], b[1] + 12, relation.verb))
    nodes = [
        GraphNode(key, _title(rid), rid.kind, *placed[key], changed)
        for column in columns
        for key, rid, changed in column
    ]
    height = 40 + _NODE_STEP * max(len(c) for c in columns)
    return Graph(_WIDTH, height, nodes, edges, left_out)

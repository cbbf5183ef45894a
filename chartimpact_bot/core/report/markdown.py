"""The Markdown report (the PR comment reuses it): signals first, details folded away.

Readable at 1 and at 200 signals: high and medium signals in a table per chart, low ones and the
diff inside `<details>`. With a size budget, content is dropped least important first (the
diff, then long errors, warnings and names are clipped; then the signals are named one resource
each under their type instead of a row each, low ones while they fit; only then rows beyond a
shrinking limit), and what was left out is counted. So a comment of thousands of signals still
names every high- and medium-importance one (issue 12). Whatever is left over the size is cut by
`cut_markdown`, which closes what it cuts open and says so: the size always holds.

Every name and value comes from chart content a PR author controls, so all of it goes through
`safe_text.md_text` / `md_code`: nothing can break a table, close a `<details>`, inject HTML,
mention someone, reference an issue or carry a control character.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..model import Change, ChartReport, Report, ResourceDiff
from .counts import importance_phrase
from .environments import ChartGroup, SharedSignal, chart_groups, environments_phrase
from .safe_text import cut_markdown, md_code, md_text, visible
from .values import chart_counts, compact, compact_pair, source_text, split_unchanged, unchanged_names, unchanged_phrase

_VERDICT_ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌"}
_ACTION_ICON = {"fail": "❌", "warn": "⚠️", "ignore": "ℹ️", "acknowledged": "☑️"}
_OP_WORD = {"add": "added", "remove": "removed", "replace": "changed"}
MAX_CHANGES_PER_RESOURCE = 50
# With a size to keep to, at most this many characters of one error, warning or description
# (then fewer), and of one name or path.
TEXT_LIMITS = (4_000, 1_000, 300)
NAME_LIMIT = 300
# When not even one table row per signal fits, signals are listed by type, one resource name each
# (at most this long, then shorter): the low ones too while they fit, the high and medium ones
# always before any of them is left out.
COMPACT_NAME_LIMITS = (120, 40)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where the Markdown is published, in the words its notes use when it must be cut: who sets
    the size limit, and where the whole report is (a link when there is one). The renderer knows
    no publisher; the GitHub adapter says "GitHub" and "the Check Run"."""

    limit_owner: str = "the destination"
    full_report: str = "the full report"
    full_report_url: str | None = None
    # The report page (issue 12): every signal and diff, each signal at `#signal-<id>`.
    page_url: str | None = None

    def where(self) -> str:
        if self.page_url:
            return f"[the full report]({self.page_url})"
        return f"[{self.full_report}]({self.full_report_url})" if self.full_report_url else "the full report"

    def signal_url(self, signal_id: str) -> str | None:
        return f"{self.page_url}#signal-{signal_id}" if self.page_url else None


@dataclass(frozen=True, slots=True)
class _Budget:
    """How much to show: `None` means everything."""

    max_signals: int | None = None
    low_signals: bool = True
    diff: bool = True
    text_limit: int | None = None
    name_limit: int | None = None
    # Signals as one resource name each under their type, not as table rows.
    compact: bool = False

    def text(self, value: str) -> str:
        return md_text(value, limit=self.text_limit)

    def name(self, value: str) -> str:
        return md_code(value, limit=self.name_limit)


def render_markdown(
    report: Report,
    *,
    max_signals: int | None = None,
    max_chars: int | None = None,
    destination: Destination = Destination(),
    include_diff: bool = True,
) -> str:
    """The report as Markdown, within `max_chars` when given; `destination` names where it goes."""
    if max_chars is None:
        budgets = [_Budget(max_signals, True, include_diff)]
    else:
        first, *smaller = TEXT_LIMITS
        budgets = [
            _Budget(max_signals, True, True, first, NAME_LIMIT),
            _Budget(max_signals, True, False, first, NAME_LIMIT),
            _Budget(max_signals, False, False, first, NAME_LIMIT),
        ][0 if include_diff else 1 :]
        budgets += [_Budget(max_signals, False, False, limit, NAME_LIMIT) for limit in smaller]
        # Then the signals as lines of names per type (low ones too while they fit), before any
        # high or medium one is left out.
        budgets += [
            _Budget(max_signals, low, False, TEXT_LIMITS[-1], name, compact=True)
            for name in COMPACT_NAME_LIMITS
            for low in (True, False)
        ]
        limit = max_signals if max_signals is not None else sum(len(c.signals) for c in report.charts)
        while limit > 0:
            limit //= 2
            budgets.append(_Budget(limit, False, False, TEXT_LIMITS[-1], COMPACT_NAME_LIMITS[-1], compact=True))
    *smaller_budgets, last = budgets
    counts = _Counts.of(report)
    for budget in smaller_budgets:
        # A budget whose text is already too long is left as soon as that shows: the whole
        # diff of a large chart is rendered at most once, not once per budget tried.
        text = _text_within(_lines(report, budget, destination, counts), max_chars)
        if text is not None:
            return text
    text = _text(_lines(report, last, destination, counts))
    if max_chars is None or len(text) <= max_chars:
        return text
    return cut_markdown(
        text,
        max_chars,
        note=f"_The report is cut here ({destination.limit_owner} allows {max_chars:,} characters): "
        f"see {destination.where()}._",
    )


def _text(lines: Iterator[str]) -> str:
    return visible("\n".join(lines).rstrip() + "\n")


def _text_within(lines: Iterator[str], max_chars: int | None) -> str | None:
    """`_text(lines)` when it is at most `max_chars` long; None, without reading the rest of
    `lines`, as soon as the lines read so far make it longer. (Escaping only lengthens text,
    and only trailing whitespace is stripped, so the text up to its last visible character
    bounds it from below.)"""
    kept: list[str] = []
    length = 0  # of "\n".join(kept)
    for line in lines:
        start = length + 1 if kept else 0
        kept.append(line)
        length = start + len(line)
        visible_end = start + len(line.rstrip())
        if max_chars is not None and visible_end > start and visible_end >= max_chars:
            return None
    text = _text(iter(kept))
    return text if max_chars is None or len(text) <= max_chars else None


def render_diff_markdown(
    report: Report, *, max_chars: int | None = None, destination: Destination = Destination()
) -> str:
    """Only the diff of every chart (a Check Run's `text`), cut to `max_chars` at a resource."""
    budget = _Budget() if max_chars is None else _Budget(text_limit=TEXT_LIMITS[0], name_limit=NAME_LIMIT)
    out: list[str] = []
    for chart in report.charts:
        if chart.diff is None or not chart.diff.resources:
            continue
        out += ["", f"#### {budget.name(chart.path)}", ""]
        for resource_diff in chart.diff.resources:
            out += list(_resource(resource_diff, budget))
    text = visible("\n".join(out).strip() + "\n")
    if max_chars is None or len(text) <= max_chars:
        return text
    note = f"_The diff is longer than {destination.limit_owner} allows here; run `chartimpact analyze` for all of it._"
    kept = text[: max_chars - len(note) - 4]
    cut = kept.rfind("\n**")  # the start of the last whole resource that fits
    if cut > 0:
        return kept[:cut].rstrip() + "\n\n" + note + "\n"
    return cut_markdown(text, max_chars, note=note)


def _revision(ref: str | None, sha: str | None) -> str:
    text = ref or "?"
    if sha and sha != ref:
        text += f" ({sha[:7]})"
    return md_code(text, limit=NAME_LIMIT)


@dataclass(frozen=True, slots=True)
class _Counts:
    """The numbers every budget's text states alike, counted once however many budgets are
    tried: the report's signals and their importances, and each chart's (by its `id()`, for the
    one rendering) with the resources it changed."""

    signals: int
    phrase: str
    charts: dict[int, tuple[str, int]]
    acknowledged: int = 0

    @staticmethod
    def of(report: Report) -> _Counts:
        signals = [s for c in report.charts for s in c.signals]
        charts = {}
        for chart in report.charts:
            added, removed, modified, _ = chart_counts(chart)
            charts[id(chart)] = (importance_phrase(chart.signals, separator=" · "), added + removed + modified)
        acknowledged = sum(1 for s in signals if s.acknowledged is not None)
        return _Counts(len(signals), importance_phrase(signals, separator=" · "), charts, acknowledged)


def _lines(report: Report, budget: _Budget, destination: Destination, counts: _Counts) -> Iterator[str]:
    yield f"### ChartImpact {_VERDICT_ICON[report.verdict]} {report.verdict}"
    yield ""
    yield (
        f"{_revision(report.base.ref, report.base.sha)} → {_revision(report.head.ref, report.head.sha)} · "
        f"{len(report.charts)} chart{'s' if len(report.charts) != 1 else ''} · "
        f"{counts.signals} signal{'s' if counts.signals != 1 else ''}"
        + (f": {counts.phrase}" if counts.signals else "")
        + (f" · {counts.acknowledged} acknowledged" if counts.acknowledged else "")
        + (f" · [full report]({destination.page_url})" if destination.page_url else "")
    )
    yield ""
    shown_charts, unchanged = split_unchanged(report.charts)
    groups = chart_groups(shown_charts)
    yield "| Chart | Environment | Status | Verdict | Signals | Resources changed |"
    yield "|---|---|---|---|---|---|"
    for group in groups:
        for chart in group.charts:
            phrase, changed = counts.charts[id(chart)]
            yield (
                f"| {budget.name(chart.path)} | {md_text(chart.environment, limit=budget.name_limit)} "
                f"| {chart.status.replace('_', ' ')} "
                f"| {_VERDICT_ICON[chart.verdict]} {chart.verdict} | {phrase} "
                f"| {changed} |"
            )
    if unchanged:
        names, more = unchanged_names(unchanged)
        listed = ", ".join(budget.name(name) for name in names) + (f", and {more} more" if more else "")
        yield ""
        yield f"{unchanged_phrase(len(unchanged))}: {listed}"
    shown = 0
    for group in groups:
        yield from _group(group, budget, shown, destination)
        shown += sum(len(s.members) for part in _selection(group, budget, shown) for s in part)
    hidden = counts.signals - shown
    if hidden > 0:
        yield ""
        yield f"_{hidden} more signal{'s' if hidden != 1 else ''} not shown here: see {destination.where()}._"


def _interesting(chart: ChartReport) -> bool:
    return bool(chart.signals or chart.error or chart.warnings or (chart.diff and chart.diff.resources))


def _selection(group: ChartGroup, budget: _Budget, already: int) -> tuple[list[SharedSignal], list[SharedSignal]]:
    """The group's signals the budget shows (high and medium, then low) after `already` shown."""
    if not any(_interesting(chart) for chart in group.charts):
        return [], []
    room = None if budget.max_signals is None else max(budget.max_signals - already, 0)
    main = [s for s in group.signals if s.signal.importance != "low"]
    low = [s for s in group.signals if s.signal.importance == "low"] if budget.low_signals else []
    main_shown = main if room is None else main[:room]
    room = None if room is None else room - len(main_shown)
    low_shown = low if room is None else low[:room]
    return main_shown, low_shown


def _group(group: ChartGroup, budget: _Budget, already: int, destination: Destination) -> Iterator[str]:
    """One chart's section: its environments together, each signal once with the environments
    it affects and the verdict of each (a chart of one environment reads as before)."""
    if not any(_interesting(chart) for chart in group.charts):
        return
    heading = f"#### {budget.name(group.path)} · {_VERDICT_ICON[group.verdict]} {group.verdict}"
    if group.several:
        heading += f" · {len(group.charts)} environments"
    yield from ("", heading)
    if group.several:
        yield ""
        yield " · ".join(
            f"{_VERDICT_ICON[c.verdict]} {md_text(c.environment, limit=budget.name_limit)}: {c.verdict}"
            for c in group.charts
        )
    for chart in group.charts:
        if chart.error:
            yield from ("", f"**Failed{_in(chart, group, budget)}:** {budget.text(chart.error)}")
    warnings: dict[str, list[str]] = {}
    for chart in group.charts:
        for warning in chart.warnings:
            warnings.setdefault(warning, []).append(chart.environment)
    if warnings:
        yield ""
        for warning, environments in warnings.items():
            where = f" ({_environments(environments, group, budget)})" if group.several else ""
            yield f"- ⚠️ {budget.text(warning)}{where}"
    main_shown, low_shown = _selection(group, budget, already)
    if main_shown:
        yield ""
        yield from _signals(main_shown, group, budget, destination)
    if low_shown:
        yield from (
            "",
            "<details>",
            f"<summary>{len(low_shown)} low-importance signal{'s' if len(low_shown) != 1 else ''}</summary>",
            "",
        )
        yield from _signals(low_shown, group, budget, destination)
        yield from ("", "</details>")
    ignored = sum(chart.ignored_signals for chart in group.charts)
    if ignored:
        yield from ("", f"_{ignored} signal{'s' if ignored != 1 else ''} ignored by `.chartimpact.yml`._")
    if budget.diff:
        for chart in group.charts:
            if chart.diff is not None and chart.diff.resources:
                yield from _diff_details(chart, budget, _in(chart, group, budget))


def _in(chart: ChartReport, group: ChartGroup, budget: _Budget) -> str:
    """ " in prod" when the group has several environments."""
    return f" in {md_text(chart.environment, limit=budget.name_limit)}" if group.several else ""


def _environments(names: Iterable[str], group: ChartGroup, budget: _Budget) -> str:
    return md_text(environments_phrase(names, of=len(group.charts)), limit=budget.name_limit)


def _signals(
    signals: list[SharedSignal], group: ChartGroup, budget: _Budget, destination: Destination
) -> Iterator[str]:
    if budget.compact:
        return _signals_by_type(signals, group, budget)
    return _signal_table(signals, group, budget, destination)


# Source lines named in one table cell: the rest of a signal's environments' lines are counted.
MAX_SOURCES_SHOWN = 3


def _signal_table(
    signals: list[SharedSignal], group: ChartGroup, budget: _Budget, destination: Destination
) -> Iterator[str]:
    if group.several:
        yield from ("| | Importance | Category | Signal | Environments | Where |", "|---|---|---|---|---|---|")
    else:
        yield from ("| | Importance | Category | Signal | Where |", "|---|---|---|---|---|")
    for shared in signals:
        signal = shared.signal
        icon = _ACTION_ICON.get(_action(shared), "")
        url = destination.signal_url(signal.id)
        environments = f" | {_environments(shared.environments, group, budget)}" if group.several else ""
        yield (
            f"| {f'[{icon}]({url})' if url else icon} | {signal.importance} | {signal.category} "
            f"| {budget.text(signal.description)} {md_code(signal.type)}{_acknowledgement(shared, budget)}"
            f"{environments} | {_where(shared, group, budget)} |"
        )


def _where(shared: SharedSignal, group: ChartGroup, budget: _Budget) -> str:
    """The source line, or each environment's when they differ (an Application's own line)."""
    sources = shared.sources()
    if len(sources) <= 1 or not group.several:
        source = shared.signal.source
        return budget.name(source_text(source)) if source else ""
    cells = [
        f"{budget.name(source_text(source))} ({_environments(environments, group, budget)})"
        for source, environments in sources[:MAX_SOURCES_SHOWN]
    ]
    if len(sources) > MAX_SOURCES_SHOWN:
        cells.append(f"and {len(sources) - MAX_SOURCES_SHOWN} more")
    return "<br>".join(cells)


def _action(shared: SharedSignal) -> str:
    return "acknowledged" if shared.acknowledged else shared.signal.action


def _acknowledgement(shared: SharedSignal, budget: _Budget) -> str:
    """ "acknowledged by @alice: reason", the login in code so GitHub sends nobody a mention."""
    ack = shared.signal.acknowledged
    if ack is None:
        return ""
    reason = f": {budget.text(ack.reason)}" if ack.reason else ""
    return f"<br>acknowledged by {md_code('@' + ack.by, limit=64)}{reason}"


def _signals_by_type(signals: list[SharedSignal], group: ChartGroup, budget: _Budget) -> Iterator[str]:
    """One line per importance and type naming the resource of each signal, grouped by kind and
    namespace (`Deployment team-a: web, api`), and the environments of each when the chart has
    several: a report of thousands of signals still names every high- and medium-importance one."""
    groups: dict[tuple[str, str, str], list[SharedSignal]] = {}
    for shared in signals:
        groups.setdefault((shared.signal.importance, shared.signal.type, _action(shared)), []).append(shared)
    order = {"high": 0, "medium": 1, "low": 2}
    for (importance, kind, action), members in sorted(
        groups.items(), key=lambda item: (order.get(item[0][0], 2), item[0])
    ):
        places: dict[tuple[str, str], list[str]] = {}
        for shared in members:
            resource = shared.signal.resource
            name = md_text(resource.name, limit=budget.name_limit)
            if group.several:
                name += f" ({_environments(shared.environments, group, budget)})"
            places.setdefault((resource.kind, resource.namespace), []).append(name)
        listed = "; ".join(
            md_text(f"{where[0]} {where[1]}".rstrip(), limit=budget.name_limit) + ": " + ", ".join(names)
            for where, names in sorted(places.items())
        )
        yield f"- {_ACTION_ICON.get(action, '')} {importance} {md_code(kind)} ×{len(members)}: {listed}"


def _diff_details(chart: ChartReport, budget: _Budget, where: str = "") -> Iterator[str]:
    assert chart.diff is not None
    _, _, _, changes = chart_counts(chart)
    yield from (
        "",
        "<details>",
        f"<summary>Diff{where}: {len(chart.diff.resources)} resources, {changes} field changes</summary>",
        "",
    )
    for resource_diff in chart.diff.resources:
        yield from _resource(resource_diff, budget)
    yield "</details>"


def _resource(diff: ResourceDiff, budget: _Budget) -> Iterator[str]:
    resource = diff.resource
    yield (
        f"**{md_text(str(resource.id), limit=budget.name_limit)}** {diff.change_type} · {budget.name(resource.source)}"
    )
    yield ""
    if diff.change_type != "modified":
        return
    yield "| | Path | Before | After |"
    yield "|---|---|---|---|"
    for change in diff.changes[:MAX_CHANGES_PER_RESOURCE]:
        yield _change_row(change, budget)
    hidden = len(diff.changes) - MAX_CHANGES_PER_RESOURCE
    if hidden > 0:
        yield f"| | … {hidden} more changes | | |"
    yield ""


def _change_row(change: Change, budget: _Budget) -> str:
    if change.op == "replace":
        shown = compact_pair(change.before, change.after, 80)
        before, after = md_code(shown[0]), md_code(shown[1])
    else:
        before = md_code(compact(change.before, 80)) if change.op != "add" else ""
        after = md_code(compact(change.after, 80)) if change.op != "remove" else ""
    return f"| {_OP_WORD[change.op]} | {budget.name(change.display_path)} | {before} | {after} |"

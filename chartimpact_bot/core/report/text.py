"""The terminal report: signals first (by importance, then category), then the diff; coloured
when the output is a terminal.

Chart content goes through `safe_text` (names with `one_line`, errors with `visible`), and the
whole report once more, so no escape sequence but our own colours reaches the terminal."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import CATEGORIES, IMPORTANCES, Change, ChartReport, Report, ResourceDiff
from .counts import importance_phrase
from .environments import ChartGroup, SharedSignal, chart_groups, environments_phrase
from .safe_text import one_line, terminal, visible
from .values import chart_counts, compact, compact_pair, source_text, split_unchanged, unchanged_names, unchanged_phrase

_COLOURS = {
    "bold": "\033[1m",
    "dim": "\033[2m",
    "red": "\033[31m",
    "green": "\033[32m",
    "yellow": "\033[33m",
    "cyan": "\033[36m",
    "reset": "\033[0m",
}
_OP_MARK = {"add": ("+", "green"), "remove": ("-", "red"), "replace": ("~", "yellow")}
_RESOURCE_MARK = {"added": ("+", "green"), "removed": ("-", "red"), "modified": ("~", "yellow")}
_VERDICT_COLOUR = {"pass": "green", "warn": "yellow", "fail": "red"}
_ACTION_MARK = {"fail": ("✗", "red"), "warn": ("!", "yellow"), "ignore": ("·", "dim")}


class _Style:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        return "".join(_COLOURS[s] for s in styles) + text + _COLOURS["reset"]


def render_text(report: Report, *, colour: bool = False) -> str:
    style = _Style(colour)
    text = "\n".join(_lines(report, style)) + "\n"
    return terminal(text, keep=tuple(_COLOURS.values()) if colour else ())


def _revision(ref: str | None, sha: str | None) -> str:
    if ref and sha:
        return f"{one_line(ref)} ({one_line(sha[:7])})"
    return one_line(ref or (sha[:7] if sha else "?"))


def _lines(report: Report, style: _Style) -> Iterator[str]:
    yield style("ChartImpact", "bold") + (
        f"  {_revision(report.base.ref, report.base.sha)} → {_revision(report.head.ref, report.head.sha)}"
    )
    signals = [s for c in report.charts for s in c.signals]
    verdict = style(report.verdict.upper(), "bold", _VERDICT_COLOUR[report.verdict])
    yield f"Verdict: {verdict}   charts: {len(report.charts)}   signals: {len(signals)} ({importance_phrase(signals)})"
    shown, unchanged = split_unchanged(report.charts)
    for group in chart_groups(shown):
        yield ""
        yield from _group_lines(group, style) if group.several else _chart_lines(group.charts[0], style)
    if unchanged:
        names, more = unchanged_names(unchanged)
        listed = ", ".join(one_line(name) for name in names) + (f", and {more} more" if more else "")
        yield ""
        yield style(f"{unchanged_phrase(len(unchanged))}: {listed}", "dim")


def _group_lines(group: ChartGroup, style: _Style) -> Iterator[str]:
    """A chart of several environments: the verdict of each, each signal once with the
    environments it affects, then each environment's diff."""
    verdicts = ", ".join(
        f"{one_line(c.environment)} {style(c.verdict, _VERDICT_COLOUR[c.verdict])}" for c in group.charts
    )
    yield (
        style(f"■ {one_line(group.path)}", "bold")
        + f"  chart {one_line(group.charts[0].name)}, {len(group.charts)} environments: {verdicts}"
    )
    for chart in group.charts:
        where = f" [{one_line(chart.environment)}]"
        if chart.error:
            yield "  " + style(f"error{where}: {visible(chart.error)}", "red")
        for warning in chart.warnings:
            yield "  " + style(f"warning{where}: {visible(warning)}", "yellow")
    members = [s.signal for s in group.signals]
    ignored = sum(c.ignored_signals for c in group.charts)
    if members:
        phrase = importance_phrase(members) + (f"; {ignored} ignored by configuration" if ignored else "")
        yield f"  Signals: {len(members)} ({phrase})"
        yield from _signal_lines(group.signals, style, of=len(group.charts))
    elif ignored:
        yield f"  Signals: none ({ignored} ignored by configuration)"
    for chart in group.charts:
        if chart.diff is not None:
            yield f"  [{one_line(chart.environment)}]"
            yield from _diff_lines(chart, style)


def _chart_lines(chart: ChartReport, style: _Style) -> Iterator[str]:
    env = "" if chart.environment == "default" else f" [{one_line(chart.environment)}]"
    verdict = style(chart.verdict, _VERDICT_COLOUR[chart.verdict])
    yield (
        style(f"■ {one_line(chart.path)}{env}", "bold")
        + f"  chart {one_line(chart.name)}, {chart.status.replace('_', ' ')}, {verdict}"
    )
    if chart.error:
        yield "  " + style(f"error: {visible(chart.error)}", "red")
    for warning in chart.warnings:
        yield "  " + style(f"warning: {visible(warning)}", "yellow")
    if chart.signals:
        ignored = f"; {chart.ignored_signals} ignored by configuration" if chart.ignored_signals else ""
        yield f"  Signals: {len(chart.signals)} ({importance_phrase(chart.signals)}{ignored})"
        yield from _signal_lines(tuple(SharedSignal(s, ((chart.environment, s),)) for s in chart.signals), style)
    elif chart.ignored_signals:
        yield f"  Signals: none ({chart.ignored_signals} ignored by configuration)"
    yield from _diff_lines(chart, style)


def _diff_lines(chart: ChartReport, style: _Style) -> Iterator[str]:
    if chart.diff is None:
        return
    added, removed, modified, changes = chart_counts(chart)
    if not chart.diff.resources:
        yield "  No changes to rendered resources."
        return
    yield f"  Diff: {added} added, {removed} removed, {modified} modified resources; {changes} field changes"
    for resource_diff in chart.diff.resources:
        yield from _resource_lines(resource_diff, style)


def _signal_lines(signals: tuple[SharedSignal, ...], style: _Style, *, of: int = 1) -> Iterator[str]:
    """`of`: how many environments the chart has (each signal names its own when several)."""
    for importance in IMPORTANCES:
        group = [s for s in signals if s.signal.importance == importance]
        if not group:
            continue
        yield "    " + style(importance.upper(), "bold")
        for category in CATEGORIES:
            for shared in (s for s in group if s.signal.category == category):
                signal = shared.signal
                mark, colour = _ACTION_MARK.get(signal.action, ("·", "dim"))
                where = f"  {one_line(source_text(signal.source))}" if signal.source else ""
                environments = f"  ({one_line(environments_phrase(shared.environments, of=of))})" if of > 1 else ""
                yield (
                    f"      {style(mark, colour)} {category:<12} {one_line(signal.description)}"
                    + style(f"  [{signal.type}]{where}{environments}", "dim")
                )


def _resource_lines(diff: ResourceDiff, style: _Style) -> Iterator[str]:
    mark, colour = _RESOURCE_MARK[diff.change_type]
    resource = diff.resource
    extra = []
    if resource.hook:
        extra.append(f"hook: {one_line(resource.hook)}")
    if resource.install_only:
        extra.append("crds/: never upgraded by Helm")
    tail = style(f"  ({one_line(resource.source)}{'; ' + '; '.join(extra) if extra else ''})", "dim")
    yield f"  {style(mark, colour)} {style(one_line(str(resource.id)), 'bold')} {diff.change_type}{tail}"
    if diff.change_type != "modified":
        return
    for change in diff.changes:
        yield "      " + _change_line(change, style)


def _change_line(change: Change, style: _Style) -> str:
    mark, colour = _OP_MARK[change.op]
    if change.op == "add":
        value = compact(change.after)
    elif change.op == "remove":
        value = compact(change.before)
    else:
        before, after = compact_pair(change.before, change.after, 60)
        value = f"{before} → {after}"
    tag = style(f"[{change.importance}, {change.semantic_type}]", "dim")
    return f"{style(mark, colour)} {style(one_line(change.display_path), 'cyan')}: {value}  {tag}"

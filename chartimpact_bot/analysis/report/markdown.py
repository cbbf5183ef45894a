"""The Markdown report (the PR comment reuses it): a table per run, details folded away.

Every name and value comes from chart content a PR author controls, so all of it goes through
`md_text` / `md_code`: nothing can break a table, close a `<details>` or inject HTML.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Change, ChartReport, Report, ResourceDiff
from .values import chart_counts, compact, md_code, md_text

_VERDICT_ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌"}
_OP_WORD = {"add": "added", "remove": "removed", "replace": "changed"}
MAX_CHANGES_PER_RESOURCE = 50


def render_markdown(report: Report) -> str:
    return "\n".join(_lines(report)).rstrip() + "\n"


def _revision(ref: str | None, sha: str | None) -> str:
    text = ref or "?"
    if sha:
        text += f" ({sha[:7]})"
    return md_code(text)


def _lines(report: Report) -> Iterator[str]:
    signals = sum(len(c.signals) for c in report.charts)
    yield f"### ChartImpact {_VERDICT_ICON[report.verdict]} {report.verdict}"
    yield ""
    yield (
        f"{_revision(report.base.ref, report.base.sha)} → "
        f"{_revision(report.head.ref, report.head.sha)}"
        f" · {len(report.charts)} chart{'s' if len(report.charts) != 1 else ''} · {signals} signals"
    )
    yield ""
    yield "| Chart | Environment | Status | Added | Removed | Modified | Field changes |"
    yield "|---|---|---|---:|---:|---:|---:|"
    for chart in report.charts:
        added, removed, modified, changes = chart_counts(chart)
        yield (
            f"| {md_code(chart.path)} | {md_text(chart.environment)} "
            f"| {chart.status.replace('_', ' ')} "
            f"| {added} | {removed} | {modified} | {changes} |"
        )
    for chart in report.charts:
        yield from _chart_details(chart)


def _chart_details(chart: ChartReport) -> Iterator[str]:
    if chart.error:
        yield ""
        yield f"**{md_text(chart.path)}** failed: {md_text(chart.error)}"
    if chart.warnings:
        yield ""
        for warning in chart.warnings:
            yield f"- ⚠️ {md_text(warning)}"
    if chart.diff is None or not chart.diff.resources:
        return
    _, _, _, changes = chart_counts(chart)
    yield ""
    yield "<details>"
    yield (
        f"<summary>Diff of {md_code(chart.path)}: {len(chart.diff.resources)} resources, "
        f"{changes} field changes</summary>"
    )
    yield ""
    for resource_diff in chart.diff.resources:
        yield from _resource(resource_diff)
    yield "</details>"


def _resource(diff: ResourceDiff) -> Iterator[str]:
    resource = diff.resource
    yield f"**{md_text(str(resource.id))}** {diff.change_type} · {md_code(resource.source)}"
    yield ""
    if diff.change_type != "modified":
        return
    yield "| | Path | Before | After |"
    yield "|---|---|---|---|"
    for change in diff.changes[:MAX_CHANGES_PER_RESOURCE]:
        yield _change_row(change)
    hidden = len(diff.changes) - MAX_CHANGES_PER_RESOURCE
    if hidden > 0:
        yield f"| | … {hidden} more changes | | |"
    yield ""


def _change_row(change: Change) -> str:
    before = md_code(compact(change.before, 80)) if change.op != "add" else ""
    after = md_code(compact(change.after, 80)) if change.op != "remove" else ""
    return f"| {_OP_WORD[change.op]} | {md_code(change.display_path)} | {before} | {after} |"

"""`chart.render`: a chart that stops rendering, or that helm lint newly objects to."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..context import SignalContext
from ..registry import Finding, chart_detector
from .files import chart_file

# `(web/templates/x.yaml:12:3)` and `web/templates/x.yaml:12:3` in Helm's errors.
_HELM_LOCATION = re.compile(r"([\w./@-]+\.(?:yaml|yml|tpl|txt|json)):(\d+)(?::\d+)?")

_LOCATION_SCAN = 2_000

_OWN_LOCATION = re.compile(r"([\w./@-]+\.(?:yaml|yml|tpl|txt|json)) renders")


def error_location(ctx: SignalContext, error: str) -> tuple[str, int | None]:
    """The repository file and line a Helm render error names (`template: web/templates/x.yaml:12:3:
    executing …`); the file without a line when it names no line (a template that renders
    invalid YAML: the line Helm's output has is not the template's), else the chart's Chart.yaml
    without a line."""
    chart_yaml, _ = chart_file(ctx.head.chart, "Chart.yaml")
    chart = ctx.head.chart
    # Helm names the location first; a render error can be megabytes of a template's own text,
    # which these patterns would scan in quadratic time.
    head = error[:_LOCATION_SCAN]
    match = _HELM_LOCATION.search(head)
    own = _OWN_LOCATION.search(head)
    helm_path: str | None = None
    line: int | None = None
    if match:
        helm_path, line = match.group(1), int(match.group(2))
    elif own:
        helm_path = own.group(1)
    if helm_path is None or chart is None or helm_path not in chart.files:
        return (chart_yaml if chart is not None else f"{ctx.chart_path}/Chart.yaml"), None
    return chart.source_file(helm_path), line


def in_repository(ctx: SignalContext, location: tuple[str, int | None]) -> tuple[str, int | None]:
    """A location in a chart taken from a chart repository is no file of the repository: the
    line of the deployment manifest that names the chart's version stands for it."""
    return ctx.head.chart_ref or location


def _lint_location(ctx: SignalContext, error: str) -> tuple[str, int | None]:
    """Lint names files relative to the chart (`templates/x.yaml: …`), and no line."""
    chart = ctx.head.chart
    relative = error.split(":", 1)[0]
    if chart is not None and f"{chart.info.name}/{relative}" in chart.files:
        return chart.source_file(f"{chart.info.name}/{relative}"), None
    return chart_file(chart, "Chart.yaml")[0], None


@chart_detector("chart.render", "high")
def render(ctx: SignalContext) -> Iterator[Finding]:
    """The head no longer renders (the error is the description), or `helm lint` reports errors
    the base did not have.

    If the chart does not render, `helm upgrade` fails before touching the cluster and nothing else
    in this report can be checked.
    """
    if ctx.head.error is None:
        if ctx.base.error is None and ctx.head.chart is not None:
            for error in sorted(set(ctx.head.linted()) - set(ctx.base.linted())):
                yield Finding(
                    description=f"helm lint reports a new error in chart '{ctx.chart_name}': {error}",
                    path=("lint",),
                    after=error,
                    subject=(None, error),
                    about=ctx.chart_resource(),
                    source=in_repository(ctx, _lint_location(ctx, error)),
                )
        return
    if ctx.base.error is not None:
        return
    # A chart the base did not have (an added deployment) never rendered: it does not render.
    verb = "no longer renders" if ctx.base.chart is not None else "does not render"
    yield Finding(
        description=f"Chart '{ctx.chart_name}' {verb}: {ctx.head.error}",
        after=ctx.head.error,
        subject=(ctx.base, ctx.head),
        about=ctx.chart_resource(),
        source=in_repository(ctx, error_location(ctx, ctx.head.error)),
    )

"""Chart-level signals: dependencies, charts that stop rendering, values that do nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..chart import MaterializedChart
from ..sourcemap import changed_values, values_leaves
from .context import SignalContext
from .registry import Finding, chart_detector

# `(web/templates/x.yaml:12:3)` and `web/templates/x.yaml:12:3` in Helm's errors.
_HELM_LOCATION = re.compile(r"([\w./@-]+\.(?:yaml|yml|tpl|txt|json)):(\d+)(?::\d+)?")
_LOCATION_SCAN = 2_000
_OWN_LOCATION = re.compile(r"([\w./@-]+\.(?:yaml|yml|tpl|txt|json)) renders")
_VALUES_REFERENCE = re.compile(r"\.Values((?:\.[A-Za-z0-9_-]+)+)")
_INDEX_REFERENCE = re.compile(r"index\s+\$?\.Values((?:\s+\"[^\"]+\")+)")
# A use of .Values as a whole (toYaml .Values, passing it to a helper): every key may matter.
_WHOLE_VALUES = re.compile(r"\.Values(?![.\w])(?!\s+\")")


def _line_of(text: str, pattern: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.search(pattern, line):
            return number
    return 1


def _chart_file(chart: MaterializedChart | None, name: str) -> tuple[str, str]:
    """Repository path and text of a file of the top chart (Chart.yaml, values.yaml)."""
    if chart is None:
        return name, ""
    helm_path = f"{chart.info.name}/{name}"
    content = chart.files.get(helm_path, b"").decode("utf-8", "replace")
    return chart.source_file(helm_path), content


@chart_detector("chart.dependency", "medium")
def dependency(ctx: SignalContext) -> Iterator[Finding]:
    """A dependency is added, removed, or its version changes (Chart.yaml, or Chart.lock).

    A dependency brings its own templates and defaults: adding, removing or upgrading one changes
    everything it renders.
    """
    if ctx.base.info is None or ctx.head.info is None:
        return
    old = {d.name: (ctx.base.info.locked.get(d.name) or d.version, d.repository) for d in ctx.base.info.dependencies}
    new = {d.name: (ctx.head.info.locked.get(d.name) or d.version, d.repository) for d in ctx.head.info.dependencies}
    path, text = _chart_file(ctx.head.chart, "Chart.yaml")
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        line = _line_of(text, rf"name:\s*['\"]?{re.escape(name)}['\"]?\s*$")
        if before is None:
            message, change = f"Dependency '{name}' {after[0] or ''} added", "added"  # type: ignore[index]
        elif after is None:
            message, change = f"Dependency '{name}' removed", "removed"
        else:
            message, change = (
                f"Dependency '{name}' changed from {before[0]} to {after[0]}",
                "modified",
            )
        yield Finding(
            message.replace("  ", " "),
            f"dependencies[name={name}]",
            before[0] if before else None,
            after[0] if after else None,
            change,  # type: ignore[arg-type]
            source=(path, line if before is None or after is not None else 1),
            resource=ctx.chart_id(),
            api_version="v2",
        )


def error_location(ctx: SignalContext, error: str) -> tuple[str, int]:
    """The repository file (and line) a Helm render error names, else the chart's Chart.yaml."""
    chart_file, _ = _chart_file(ctx.head.chart, "Chart.yaml")
    chart = ctx.head.chart
    # Helm names the location first; a render error can be megabytes of a template's own text,
    # which these patterns would scan in quadratic time.
    head = error[:_LOCATION_SCAN]
    match = _HELM_LOCATION.search(head)
    own = _OWN_LOCATION.search(head)
    helm_path, line = (match.group(1), int(match.group(2))) if match else ((own.group(1), 1) if own else (None, 1))
    if helm_path is None or chart is None or helm_path not in chart.files:
        return (chart_file if chart is not None else f"{ctx.chart_path}/Chart.yaml"), 1
    return chart.source_file(helm_path), line


def _lint_location(ctx: SignalContext, error: str) -> tuple[str, int]:
    """Lint names files relative to the chart: `templates/x.yaml: …`."""
    chart = ctx.head.chart
    relative = error.split(":", 1)[0]
    if chart is not None and f"{chart.info.name}/{relative}" in chart.files:
        return chart.source_file(f"{chart.info.name}/{relative}"), 1
    return _chart_file(chart, "Chart.yaml")[0], 1


@chart_detector("chart.render", "high")
def render(ctx: SignalContext) -> Iterator[Finding]:
    """The head no longer renders (the error is the description), or `helm lint` reports errors
    the base did not have.

    If the chart does not render, `helm upgrade` fails before touching the cluster and nothing else
    in this report can be checked.
    """
    if ctx.head.error is None:
        if ctx.base.error is None and ctx.head.chart is not None:
            for error in sorted(set(ctx.head.lint_errors) - set(ctx.base.lint_errors)):
                yield Finding(
                    f"helm lint reports a new error in chart '{ctx.chart_name}': {error}",
                    "lint",
                    None,
                    error,
                    "added",
                    resource=ctx.chart_id(),
                    api_version="v2",
                    source=_lint_location(ctx, error),
                )
        return
    if ctx.base.error is not None:
        return
    yield Finding(
        f"Chart '{ctx.chart_name}' no longer renders: {ctx.head.error}",
        "",
        None,
        ctx.head.error,
        "modified",
        resource=ctx.chart_id(),
        api_version="v2",
        source=error_location(ctx, ctx.head.error),
    )


def _read_paths(chart: MaterializedChart) -> tuple[set[tuple[str, ...]], bool]:
    """Values paths the chart's own templates read, and whether one reads .Values whole."""
    paths: set[tuple[str, ...]] = set()
    whole = False
    prefix = f"{chart.info.name}/templates/"
    for helm_path, content in chart.files.items():
        if not helm_path.startswith(prefix):
            continue
        text = content.decode("utf-8", "replace")
        for match in _VALUES_REFERENCE.finditer(text):
            paths.add(tuple(match.group(1).strip(".").split(".")))
        for match in _INDEX_REFERENCE.finditer(text):
            paths.add(tuple(re.findall(r'"([^"]+)"', match.group(1))))
        if _WHOLE_VALUES.search(text.replace("index .Values", "").replace("index $.Values", "")):
            whole = True
    return paths, whole


@chart_detector("chart.values.unused", "low")
def values_unused(ctx: SignalContext) -> Iterator[Finding]:
    """A values key the change modified is read by no template of the chart (keys for
    subcharts, `global`, and charts that read `.Values` whole are left alone).

    A changed value that no template reads has no effect: usually a typo in the key or a setting
    that moved.
    """
    chart = ctx.head.chart
    if chart is None:
        return
    reads, whole = _read_paths(chart)
    if whole:
        return
    subcharts = {d.alias or d.name for d in chart.info.dependencies} | {"global"}
    old = {(v.key, leaf.path): leaf.value for v in ctx.base.values for leaf in values_leaves(v.text)}
    keys_of = {v.path: v.key for v in ctx.head.values}
    for path, leaf in changed_values(ctx.base.values, ctx.head.values):
        if not leaf.path or leaf.path[0] in subcharts:
            continue
        keys = tuple(k for k in leaf.path if not k.isdigit())
        if any(keys[: len(r)] == r or r[: len(keys)] == keys for r in reads):
            continue
        dotted = ".".join(leaf.path)
        before = old.get((keys_of[path], leaf.path))
        verb = "added to" if before is None else "changed in"
        yield Finding(
            f"Value '{dotted}' {verb} {path} but no template of the chart reads it",
            f"values.{dotted}",
            ctx.shown_value(leaf.path, before),
            ctx.shown_value(leaf.path, leaf.value),
            "modified",
            resource=ctx.chart_id(),
            api_version="v2",
            source=(path, leaf.line),
        )

"""`chart.values.*`: values the change sets that no template reads."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...chart import MaterializedChart
from ...sourcemap import changed_values, values_leaves
from ..context import SignalContext
from ..registry import Finding, chart_detector

_VALUES_REFERENCE = re.compile(r"\.Values((?:\.[A-Za-z0-9_-]+)+)")
_INDEX_REFERENCE = re.compile(r"index\s+\$?\.Values((?:\s+\"[^\"]+\")+)")
_GET_REFERENCE = re.compile(r"get\s+\$?\.Values\s+\"([^\"]+)\"")
# A use of .Values as a whole (toYaml .Values, passing it to a helper): every key may matter.
_WHOLE_VALUES = re.compile(r"\.Values(?![.\w])(?!\s+\")")


def read_paths(chart: MaterializedChart, *, every_file: bool = False) -> tuple[set[tuple[str, ...]], bool]:
    """Values paths the chart's own templates read, and whether one reads .Values whole.
    `every_file`: in any file of the chart, not only its templates (a file rendered with
    `tpl (.Files.Get …)` reads values too)."""
    paths: set[tuple[str, ...]] = set()
    whole = False
    prefix = f"{chart.info.name}/" if every_file else f"{chart.info.name}/templates/"
    for helm_path, content in chart.files.items():
        if not helm_path.startswith(prefix) or helm_path.endswith((".tgz", ".tar.gz")):
            continue
        text = content.decode("utf-8", "replace")
        for match in _VALUES_REFERENCE.finditer(text):
            paths.add(tuple(match.group(1).strip(".").split(".")))
        for match in _INDEX_REFERENCE.finditer(text):
            paths.add(tuple(re.findall(r'"([^"]+)"', match.group(1))))
        for match in _GET_REFERENCE.finditer(text):
            paths.add((match.group(1),))
        if _WHOLE_VALUES.search(
            _GET_REFERENCE.sub("", text).replace("index .Values", "").replace("index $.Values", "")
        ):
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
    reads, whole = read_paths(chart)
    if whole:
        return
    subcharts = {d.alias or d.name for d in chart.info.dependencies} | {"global"}
    old = {(v.key, leaf.path): leaf.value for v in ctx.base.values for leaf in values_leaves(v.text)}
    keys_of = {v.path: v.key for v in ctx.head.values}
    # A key is read when a read path starts with it or it starts with a read path: looked up
    # among the read paths' prefixes, and its own prefixes among the read paths.
    read_prefixes = {r[:length] for r in reads for length in range(len(r) + 1)}
    for path, leaf in changed_values(ctx.base.values, ctx.head.values):
        if not leaf.path or leaf.path[0] in subcharts:
            continue
        keys = tuple(k for k in leaf.path if not k.isdigit())
        if keys in read_prefixes or any(keys[:length] in reads for length in range(len(keys) + 1)):
            continue
        dotted = ".".join(leaf.path)
        before = old.get((keys_of[path], leaf.path))
        verb = "added to" if before is None else "changed in"
        yield Finding(
            description=f"Value '{dotted}' {verb} {path} but no template of the chart reads it",
            path=("values", *leaf.path),
            before=ctx.shown_value(leaf.path, before),
            after=ctx.shown_value(leaf.path, leaf.value),
            subject=(before, leaf.value),
            about=ctx.chart_resource(),
            source=(path, leaf.line),
        )

"""`chart.dependency`: subcharts added, removed or upgraded."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...kubernetes.paths import item
from ..context import SignalContext
from ..registry import Finding, chart_detector
from .files import chart_file, line_of
from .upgrade import distance_phrase


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
    path, text = chart_file(ctx.head.chart, "Chart.yaml")
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        line = line_of(text, rf"name:\s*['\"]?{re.escape(name)}['\"]?\s*$")
        if after is None:
            message = f"Dependency '{name}' removed"
        elif before is None:
            message = f"Dependency '{name}' {after[0] or ''} added"
        else:
            message = f"Dependency '{name}' changed from {before[0]} to {after[0]}"
            if before[0] and after[0]:
                message += distance_phrase(str(before[0]), str(after[0]))
        yield Finding(
            description=message.replace("  ", " "),
            path=("dependencies", item(name=name)),
            before=before[0] if before else None,
            after=after[0] if after else None,
            subject=(before, after),
            source=(path, line if before is None or after is not None else 1),
            about=ctx.chart_resource(),
        )

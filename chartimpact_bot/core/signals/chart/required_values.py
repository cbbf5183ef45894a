"""`chart.values.required`: values the head chart's values.schema.json requires that the base
chart's did not (issue 13 point 4). A new chart version that starts requiring a value makes
Helm refuse every install and upgrade that does not set it; this names each such value and
whether the repository (or the chart's own defaults) sets it, also when the head failed to
render because of it (the render error says the schema failed; this says which values)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ...side import ChartSide
from ...sourcemap import placed_leaves
from ..context import SignalContext
from ..registry import Finding, chart_detector
from .files import chart_file

MAX_DEPTH = 32
MAX_REQUIRED = 500  # required paths read from one schema
SCHEMA_FILE = "values.schema.json"


@chart_detector("chart.values.required", "medium")
def values_required(ctx: SignalContext) -> Iterator[Finding]:
    """A value the head chart's `values.schema.json` requires (`required`, followed through
    `properties`) that the base chart's schema did not. Medium when nothing sets it (the chart's
    values.yaml, the repository's values files or an Application's values): Helm then refuses
    the release; low when it is set. Pointed at the manifest line naming the chart's version for
    a chart of a chart repository, else at the chart's schema.

    A chart that starts requiring a value refuses every upgrade that does not set it: the value
    usually replaces a default the old version chose by itself.
    """
    base_chart, head_chart = ctx.base.chart, ctx.head.chart
    if base_chart is None or head_chart is None:
        return
    head_schema = chart_file(head_chart, SCHEMA_FILE)
    new = required_paths(head_schema[1]) - required_paths(chart_file(base_chart, SCHEMA_FILE)[1])
    if not new:
        return
    set_paths = _set_paths(ctx.head)
    # A head that rendered passed Helm's schema check: whatever it requires is set, by a values
    # source or by a `--set` parameter this does not read as a file.
    rendered = ctx.head.error is None
    base, head = base_chart.info, head_chart.info
    versions = f" {base.version} → {head.version}" if base.version != head.version else ""
    unset: list[tuple[str, ...]] = []
    for keys in sorted(new):
        dotted = ".".join(keys)
        is_set = rendered or any(keys == path[: len(keys)] for path in set_paths)
        if not is_set:
            if any(keys[: len(parent)] == parent for parent in unset):
                continue  # within a required value nothing sets: that one is named
            unset.append(keys)
        where = "set here" if is_set else "which nothing sets: Helm refuses the release without it"
        yield Finding(
            description=f"Chart '{head.name}'{versions} now requires value '{dotted}', {where}",
            path=("values", *keys),
            subject=(None, "required"),
            importance="low" if is_set else None,
            source=ctx.head.chart_ref or (head_schema[0], None),
            about=ctx.chart_resource(),
        )


def required_paths(text: str) -> set[tuple[str, ...]]:
    """Every values path a JSON schema requires: a `required` name of an object whose own path
    is required too (or the root), through `properties`. Invalid JSON requires nothing."""
    try:
        schema = json.loads(text) if text else None
    except (ValueError, RecursionError):
        return set()
    found: set[tuple[str, ...]] = set()
    pending: list[tuple[tuple[str, ...], Any]] = [((), schema)]
    while pending and len(found) < MAX_REQUIRED:
        path, node = pending.pop()
        if not isinstance(node, dict) or len(path) >= MAX_DEPTH:
            continue
        required = node.get("required")
        properties = node.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        for name in required if isinstance(required, list) else ():
            if isinstance(name, str):
                found.add((*path, name))
                # Below a required object, its own required names are required too; below an
                # optional one, only when it is given, which a schema alone cannot say.
                pending.append(((*path, name), properties.get(name)))
    return found


def _set_paths(side: ChartSide) -> set[tuple[str, ...]]:
    """Every path a values source of the side sets to something (a null unsets it)."""
    found: set[tuple[str, ...]] = set()
    for values in side.values:
        for leaf in placed_leaves(values):
            if leaf.value not in ("", "~", "null", "Null", "NULL"):
                found.add(tuple(leaf.path))
    return found

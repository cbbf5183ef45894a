"""The chart's own files (Chart.yaml, values.yaml) as the chart-level detectors point at them."""

from __future__ import annotations

import re

from ...chart import MaterializedChart


def line_of(text: str, pattern: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.search(pattern, line):
            return number
    return 1


def chart_file(chart: MaterializedChart | None, name: str) -> tuple[str, str]:
    """Repository path and text of a file of the top chart (Chart.yaml, values.yaml)."""
    if chart is None:
        return name, ""
    helm_path = f"{chart.info.name}/{name}"
    content = chart.files.get(helm_path, b"").decode("utf-8", "replace")
    return chart.source_file(helm_path), content

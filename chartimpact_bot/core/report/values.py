"""Compact, safe renderings of values for human-facing reports."""

from __future__ import annotations

import json
from typing import Any

from ..model import ChartReport, SignalSource
from .safe_text import json_safe, md_code, md_text

__all__ = ["chart_counts", "compact", "md_code", "md_text", "source_text"]


def compact(value: Any, limit: int = 120) -> str:
    """A value on one line: JSON (control and bidi characters escaped), cut at `limit` characters."""
    if value is None:
        return "null"
    text = json_safe(json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chart_counts(chart: ChartReport) -> tuple[int, int, int, int]:
    """(added, removed, modified, changes) of a chart's diff."""
    if chart.diff is None:
        return (0, 0, 0, 0)
    added = sum(1 for r in chart.diff.resources if r.change_type == "added")
    removed = sum(1 for r in chart.diff.resources if r.change_type == "removed")
    modified = sum(1 for r in chart.diff.resources if r.change_type == "modified")
    changes = sum(len(r.changes) for r in chart.diff.resources)
    return (added, removed, modified, changes)


def source_text(source: SignalSource) -> str:
    """`file:line`, or the file alone when no line is known."""
    return f"{source.file}:{source.line}" if source.line is not None else source.file

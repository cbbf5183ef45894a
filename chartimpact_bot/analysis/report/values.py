"""Compact, safe renderings of values for human-facing reports."""

from __future__ import annotations

import html
import json
from typing import Any

from ..model import ChartReport


def compact(value: Any, limit: int = 120) -> str:
    """A value on one line: JSON, cut at `limit` characters."""
    if value is None:
        return "null"
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def md_text(text: str) -> str:
    """Plain text from chart content inside Markdown: no markup, no HTML, no table breaks."""
    escaped = html.escape(text, quote=False)
    for char in "\\`*_{}[]()#+!|~>":
        escaped = escaped.replace(char, "\\" + char)
    return escaped.replace("\n", " ").replace("\r", " ")


def md_code(value: str) -> str:
    """Inline code from chart content: an HTML <code> element that nothing can close early."""
    escaped = html.escape(value, quote=True).replace("|", "&#124;").replace("`", "&#96;")
    return "<code>" + escaped.replace("\n", " ").replace("\r", " ") + "</code>"


def chart_counts(chart: ChartReport) -> tuple[int, int, int, int]:
    """(added, removed, modified, changes) of a chart's diff."""
    if chart.diff is None:
        return (0, 0, 0, 0)
    added = sum(1 for r in chart.diff.resources if r.change_type == "added")
    removed = sum(1 for r in chart.diff.resources if r.change_type == "removed")
    modified = sum(1 for r in chart.diff.resources if r.change_type == "modified")
    changes = sum(len(r.changes) for r in chart.diff.resources)
    return (added, removed, modified, changes)

"""Compact, safe renderings of values for human-facing reports."""

from __future__ import annotations

import json
from typing import Any

from ..model import ChartReport, SignalSource
from .safe_text import json_safe, md_code, md_text

__all__ = [
    "chart_counts",
    "compact",
    "compact_pair",
    "md_code",
    "md_text",
    "source_text",
    "split_unchanged",
    "unchanged_names",
    "unchanged_phrase",
]


def compact(value: Any, limit: int = 120) -> str:
    """A value on one line: JSON (control and bidi characters escaped), cut at `limit` characters."""
    return _cut_end(_one_line(value), limit)


def compact_pair(before: Any, after: Any, limit: int = 60) -> tuple[str, str]:
    """Both sides of a change on one line each, at most `limit` characters, so that what differs
    shows: when cutting both at the end would leave them looking the same (a long string, a
    structure that differs late), both show the same window around their first difference,
    with an ellipsis on each side that is cut."""
    old, new = _one_line(before), _one_line(after)
    if len(old) <= limit and len(new) <= limit:
        return old, new
    first = _first_difference(old, new)
    if first < limit - 1:  # the difference is within what a cut at the end keeps
        return _cut_end(old, limit), _cut_end(new, limit)
    start = first - limit // 3  # some context before the difference, more room after it
    return _window(old, start, limit), _window(new, start, limit)


def _one_line(value: Any) -> str:
    if value is None:
        return "null"
    return json_safe(json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str))


def _cut_end(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _window(text: str, start: int, limit: int) -> str:
    """`limit` characters of `text` from `start`, with `…` where it is cut."""
    rest = text[start:]
    return "…" + rest if len(rest) < limit else "…" + rest[: limit - 2] + "…"


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


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


# How many unchanged charts the one line about them names (the rest are counted).
MAX_UNCHANGED_NAMED = 50


def split_unchanged(charts: tuple[ChartReport, ...]) -> tuple[list[ChartReport], list[ChartReport]]:
    """The charts a report shows one by one (in the report's order), and the unchanged ones it
    sums up in a line: a repository of many charts has most of them unchanged."""
    shown = [c for c in charts if c.status != "unchanged"]
    unchanged = [c for c in charts if c.status == "unchanged"]
    return shown, unchanged


def unchanged_names(charts: list[ChartReport]) -> tuple[list[str], int]:
    """The names of unchanged charts to list (path, and environment when not the default), and
    how many more there are."""
    names = [c.path if c.environment == "default" else f"{c.path} [{c.environment}]" for c in charts]
    return names[:MAX_UNCHANGED_NAMED], max(0, len(names) - MAX_UNCHANGED_NAMED)


def unchanged_phrase(count: int) -> str:
    return f"{count} chart{'s' if count != 1 else ''} unchanged"

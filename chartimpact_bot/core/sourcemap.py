"""Where a signal comes from: the file and line a reviewer should look at.

1. The template that produced the resource (Helm's `# Source:`), mapped back to its file in the
   repository, and the line in it where the affected field is written: a search along the
   affected path inside the right document of the template.
2. When the template did not change around that line but a values file the change touched did,
   and a changed value clearly feeds the field (same key, the new value appears in the signal,
   or the template reads that `.Values` path), the changed line of that values file.
3. Otherwise the template line; line 1 of the right file when nothing better is known. Never a
   file that did not produce the resource.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import yaml

from .chart import MaterializedChart
from .model import Resource, ResourceId, SignalSource
from .side import ChartSide, Side, ValuesSource
from .yamlio import VALUES_LIMITS, compose_untrusted

_SEGMENT = re.compile(r'\.([^.\[\]]+)|\["((?:[^"\\]|\\.)*)"\]|\[([^\]]*)\]')
_DOCUMENT_START = re.compile(r"^---", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ValuesLeaf:
    path: tuple[str, ...]
    line: int
    value: str


class Locatable(Protocol):
    """What the locator needs of a detector's finding (signals' `Finding` has it)."""

    @property
    def source(self) -> tuple[str, int] | None: ...
    @property
    def side(self) -> Side: ...
    @property
    def affected_path(self) -> str: ...
    @property
    def after(self) -> Any: ...


class SourceLocator:
    def __init__(self, base: ChartSide, head: ChartSide) -> None:
        self.base = base
        self.head = head
        self._changed: dict[str, set[int]] = {}

    def locate(self, resource_id: ResourceId, finding: Locatable) -> SignalSource | None:
        if finding.source is not None:
            return SignalSource(*finding.source)
        side = self.base if finding.side == "base" else self.head
        resource = (
            side.resources.get(resource_id)
            or self.head.resources.get(resource_id)
            or self.base.resources.get(resource_id)
        )
        if resource is None:
            return None
        chart = self._chart_of(resource)
        if chart is None:
            return None
        template_file = chart.source_file(resource.source)
        if template_file.endswith((".tgz", ".tar.gz", "Chart.yaml")):
            return SignalSource(template_file, 1)
        head_text = self._text(self.head.chart, resource.source)
        base_text = self._text(self.base.chart, resource.source)
        text = head_text if head_text is not None else base_text
        if text is None:
            return SignalSource(template_file, 1)
        line = field_line(text, resource.document, finding.affected_path)
        template_changed_here = (
            head_text is not None
            and base_text is not None
            and line in self._changed_lines_of(resource.source, base_text, head_text)
        )
        if not template_changed_here:
            cause = self._values_cause(finding, text)
            if cause is not None:
                return cause
        return SignalSource(template_file, line)

    def _changed_lines_of(self, helm_path: str, base_text: str, head_text: str) -> set[int]:
        """Changed lines of a template, computed once per template (signals share templates)."""
        if helm_path not in self._changed:
            self._changed[helm_path] = _changed_lines(base_text, head_text)
        return self._changed[helm_path]

    def _chart_of(self, resource: Resource) -> MaterializedChart | None:
        if self.head.chart is not None and resource.id in self.head.resources:
            return self.head.chart
        return self.base.chart or self.head.chart

    @staticmethod
    def _text(chart: MaterializedChart | None, helm_path: str) -> str | None:
        if chart is None or helm_path not in chart.files:
            return None
        return chart.files[helm_path].decode("utf-8", "replace")

    @cached_property
    def _changed_values(self) -> list[tuple[str, ValuesLeaf]]:
        """(repository path, leaf) of every values leaf the change added or modified."""
        return changed_values(self.base.values, self.head.values)

    def _values_cause(self, finding: Locatable, template_text: str) -> SignalSource | None:
        """The changed values line that clearly feeds the finding's field, if exactly one does.

        Clear means: the same key name; or a similar key name, or the new value appearing in the
        field's (scalar) new value, together with the template reading that `.Values` path.
        """
        key = _last_key(finding.affected_path).lower()
        after = (
            finding.after
            if isinstance(finding.after, str | int | float) and not isinstance(finding.after, bool)
            else None
        )
        scored: list[tuple[int, str, int]] = []
        for path, leaf in self._changed_values:
            leaf_key = leaf.path[-1].lower() if leaf.path else ""
            reads = _reads_values(template_text, leaf.path)
            similar = len(leaf_key) >= 4 and len(key) >= 4 and (leaf_key in key or key in leaf_key)
            value = after is not None and len(leaf.value) >= 2 and leaf.value in str(after)
            if leaf_key and leaf_key == key:
                score = 3 + reads
            elif reads and (similar or value):
                score = 2
            else:
                continue
            scored.append((score, path, leaf.line))
        if not scored:
            return None
        best = max(scored)
        if sum(1 for s in scored if s[0] == best[0]) > 1:
            return None  # two equally good candidates: the template is the safer answer
        return SignalSource(best[1], best[2])


def field_line(text: str, document: int, affected_path: str) -> int:
    """The 1-based line of `affected_path` in the template text, searched inside the template
    document that produced the resource; the deepest ancestor found when the field itself is
    generated (`toYaml`), the document's first line when nothing is found."""
    lines = text.splitlines()
    starts = [0] + [text.count("\n", 0, m.start()) for m in _DOCUMENT_START.finditer(text) if m.start() > 0]
    index = min(document, len(starts) - 1)
    start, end = starts[index], (starts[index + 1] if index + 1 < len(starts) else len(lines))
    found = start
    position = start
    for kind, value in _segments(affected_path):
        if kind == "key":
            pattern = re.compile(rf"^\s*(?:-\s+)?[\"']?{re.escape(value)}[\"']?\s*:")
        elif kind == "item":
            pattern = re.compile(rf"^\s*(?:-\s+)?{re.escape(value[0])}\s*:\s*[\"']?{re.escape(value[1])}[\"']?\s*$")
        else:
            continue
        hit = next((i for i in range(position, end) if pattern.match(lines[i])), None)
        if hit is None:
            if kind == "key":
                break
            continue
        found = position = hit
    return found + 1


def _segments(display_path: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    text = "." + display_path if display_path and not display_path.startswith("[") else display_path
    for match in _SEGMENT.finditer(text):
        plain, quoted, bracket = match.groups()
        if plain is not None:
            out.append(("key", plain))
        elif quoted is not None:
            out.append(("key", json.loads(f'"{quoted}"')))
        elif bracket is not None and "=" in bracket:
            first = bracket.split(",", 1)[0]
            name, _, value = first.partition("=")
            out.append(("item", (name, value.strip('"'))))
        else:
            out.append(("index", bracket))
    return out


def _last_key(display_path: str) -> str:
    keys = [value for kind, value in _segments(display_path) if kind == "key"]
    return str(keys[-1]) if keys else ""


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str) if value is not None else ""


def _reads_values(template_text: str, path: tuple[str, ...]) -> bool:
    """Whether the template reads `.Values.<path>` or one of its parents."""
    return any(f".Values.{'.'.join(path[:length])}" in template_text for length in range(len(path), 0, -1))


def _changed_lines(old: str, new: str) -> set[int]:
    """1-based lines of `new` that differ from `old`."""
    changed: set[int] = set()
    # autojunk keeps templates of many near-identical documents from going quadratic.
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines())
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            changed.update(range(j1 + 1, j2 + 1))
    return changed


def changed_values(base: tuple[ValuesSource, ...], head: tuple[ValuesSource, ...]) -> list[tuple[str, ValuesLeaf]]:
    """(repository path, leaf) of every head values leaf that is new or different."""
    base_text = {v.key: v.text for v in base}
    out: list[tuple[str, ValuesLeaf]] = []
    for values in head:
        old_text = base_text.get(values.key)
        if old_text == values.text:
            continue
        old = {leaf.path: leaf.value for leaf in values_leaves(old_text or "")}
        out.extend((values.path, leaf) for leaf in values_leaves(values.text) if old.get(leaf.path) != leaf.value)
    return out


def values_leaves(text: str) -> list[ValuesLeaf]:
    """Every scalar of a values file with its dotted path and line; [] for invalid YAML."""
    try:
        root = compose_untrusted(text, VALUES_LIMITS)
    except yaml.YAMLError:
        return []
    out: list[ValuesLeaf] = []

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*path, str(key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, str(index)))
        elif isinstance(node, yaml.ScalarNode):
            out.append(ValuesLeaf(path, node.start_mark.line + 1, str(node.value)))

    if root is not None:
        walk(root, ())
    return out

"""Where a signal comes from: the file and line a reviewer should look at.

1. The template that produced the resource (Helm's `# Source:`), mapped back to its file in the
   repository, and the line where the affected field is written (`template_lines`): in the part
   of the template that produced the document, or in the named template it includes there; for
   an RBAC grant, the rule that grants it. The head's text while the head has the template.
2. When the template did not change around that line but a values file the change touched did,
   and a changed value clearly feeds the field (same key; or a similar key or the new value
   appearing in the signal, read where the field is written: its block, the conditions around
   it, the named templates it includes), the changed line of that values file.
3. Otherwise the template line; the file without a line when no line is known (a subchart from
   an archive). Never a file that did not produce the resource or that its template does not
   include.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import yaml

from .chart import MaterializedChart
from .kubernetes.rbac import ROLE_KINDS
from .model import Resource, ResourceId, SignalSource
from .side import ChartSide, Side, ValuesSource
from .template_lines import (
    ChartTemplates,
    Place,
    Rendered,
    Siblings,
    locate_in_template,
    rule_item_line,
    segments,
    text_at,
)
from .yamlio import VALUES_LIMITS, compose_untrusted


@dataclass(frozen=True, slots=True)
class ValuesLeaf:
    path: tuple[str, ...]
    line: int
    value: str


class Locatable(Protocol):
    """What the locator needs of a detector's finding (signals' `Finding` has it)."""

    @property
    def source(self) -> tuple[str, int | None] | None: ...
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
        self._templates: dict[int, ChartTemplates] = {}
        self._rendered: dict[tuple[int, str], Siblings] = {}
        self._read: dict[tuple[int, str, str], frozenset[str]] = {}
        self._read_at: dict[tuple[int, str, int, bool], frozenset[str]] = {}

    def locate(self, resource_id: ResourceId, finding: Locatable) -> SignalSource | None:
        if finding.source is not None:
            return SignalSource(*finding.source)
        found = self._resource(resource_id, finding.side)
        if found is None:
            return None
        resource, side = found
        # The head's text wherever the head still has the template: annotations go on the head.
        charts = (self.head.chart, self.base.chart)
        chart = next((c for c in charts if c is not None and resource.source in c.files), None)
        if chart is None:
            # A subchart from an archive (its files are not the repository's), or no chart at all.
            owner = side.chart or self.head.chart or self.base.chart
            return SignalSource(owner.source_file(resource.source), None) if owner is not None else None
        template_file = chart.source_file(resource.source)
        if template_file.endswith((".tgz", ".tar.gz", "Chart.yaml")):
            return SignalSource(template_file, None)
        templates = self._templates_of(chart)
        place = locate_in_template(
            templates,
            resource.source,
            Rendered(resource.document, resource.id.kind, resource.id.name),
            self._documents(side, resource.source),
            finding.affected_path,
        )
        rules = _granted(finding.after) if resource.id.kind in ROLE_KINDS and finding.affected_path == "rules" else []
        if rules:
            place = rule_item_line(templates, place, rules)
        template_changed_here = chart is self.head.chart and place.line in self._changed_lines_of(place.path)
        if not template_changed_here and self._changed_values:
            cause = self._values_cause(
                finding,
                self._values_read(templates, resource.source, place.path),
                self._values_read_at(templates, place, finding.affected_path),
            )
            if cause is not None:
                return cause
        return SignalSource(chart.source_file(place.path), place.line)

    def _resource(self, resource_id: ResourceId, side_name: Side) -> tuple[Resource, ChartSide] | None:
        """The resource on the finding's side, else on whichever side has it."""
        first = self.base if side_name == "base" else self.head
        for side in (first, self.head, self.base):
            resource = side.resources.get(resource_id)
            if resource is not None:
                return resource, side
        return None

    def _templates_of(self, chart: MaterializedChart) -> ChartTemplates:
        key = id(chart)
        if key not in self._templates:
            self._templates[key] = ChartTemplates(chart.files)
        return self._templates[key]

    def _documents(self, side: ChartSide, helm_path: str) -> Siblings:
        """The documents one template rendered on one side (computed once per side)."""
        key = (id(side), helm_path)
        if key not in self._rendered:
            by_source: dict[str, list[Rendered]] = {helm_path: []}
            for r in side.resources.values():
                by_source.setdefault(r.source, []).append(Rendered(r.document, r.id.kind, r.id.name))
            for source, documents in by_source.items():
                self._rendered[(id(side), source)] = Siblings(documents)
        return self._rendered[key]

    def _changed_lines_of(self, helm_path: str) -> set[int]:
        """Changed lines of a head file, computed once per file (signals share templates)."""
        if helm_path not in self._changed:
            base_text = self._text(self.base.chart, helm_path)
            head_text = self._text(self.head.chart, helm_path)
            self._changed[helm_path] = (
                _changed_lines(base_text, head_text) if base_text is not None and head_text is not None else set()
            )
        return self._changed[helm_path]

    @staticmethod
    def _text(chart: MaterializedChart | None, helm_path: str) -> str | None:
        if chart is None or helm_path not in chart.files:
            return None
        return chart.files[helm_path].decode("utf-8", "replace")

    @cached_property
    def _changed_values(self) -> list[tuple[str, ValuesLeaf]]:
        """(repository path, leaf) of every values leaf the change added or modified."""
        return changed_values(self.base.values, self.head.values)

    @cached_property
    def _changed_by_key(self) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """Positions in `_changed_values` of the leaves by their last key (lowercase), and by
        their first key: the leaves a finding's key names, and those a template reads."""
        by_key: dict[str, list[int]] = {}
        by_first: dict[str, list[int]] = {}
        for position, (_, leaf) in enumerate(self._changed_values):
            if leaf.path:
                by_key.setdefault(leaf.path[-1].lower(), []).append(position)
                by_first.setdefault(leaf.path[0], []).append(position)
        return by_key, by_first

    def _values_read(self, templates: ChartTemplates, helm_path: str, place_path: str) -> frozenset[str]:
        """The first keys of changed values leaves that the template (with the one it includes
        where the field is written) reads as `.Values.<key>`, once per pair of files. A template
        reads `.Values.a.b` or one of its parents exactly when it reads `.Values.a`: the text of
        the parent is the start of the text of the child."""
        cached = (id(templates), helm_path, place_path)
        if cached not in self._read:
            read = [templates.text(helm_path)]
            if place_path != helm_path:
                read.append(templates.text(place_path))
            text = "\n".join(read)
            self._read[cached] = frozenset(k for k in self._changed_by_key[1] if f".Values.{k}" in text)
        return self._read[cached]

    def _values_read_at(self, templates: ChartTemplates, place: Place, affected_path: str) -> frozenset[str]:
        """The first keys of changed values leaves read where the field is written: in its block
        of the template, the conditions around it and the named templates it includes
        (`text_at`); what the whole template reads when the finding is about the whole resource."""
        steps = segments(affected_path)
        if not steps:
            return self._values_read(templates, place.path, place.path)
        cached = (id(templates), place.path, place.line, steps[-1][0] == "item")
        if cached not in self._read_at:
            text = text_at(templates, place, item=steps[-1][0] == "item")
            self._read_at[cached] = frozenset(k for k in self._changed_by_key[1] if f".Values.{k}" in text)
        return self._read_at[cached]

    def _values_cause(self, finding: Locatable, read: frozenset[str], read_here: frozenset[str]) -> SignalSource | None:
        """The changed values line that clearly feeds the finding's field, if exactly one does.

        Clear means: the same key name; or a similar key name, or the new value appearing in the
        field's (scalar) new value, together with the template reading that `.Values` path where
        the field is written (`read_here`; `read`: anywhere in the template, which only ranks
        leaves of the same key). A value that merely appears in the field, read by the template
        for another field, is a coincidence: deploy/chart's `image.repository: chartimpact-bot`
        is part of every resource name, and pointed a Secret volume's signal at it.
        """
        key = _last_key(finding.affected_path).lower()
        after = (
            finding.after
            if isinstance(finding.after, str | int | float) and not isinstance(finding.after, bool)
            else None
        )
        # Only the leaves of the finding's key, and those the template reads, can score.
        by_key, by_first = self._changed_by_key
        candidates = {*by_key.get(key, ()), *(p for first in read_here for p in by_first[first])}
        scored: list[tuple[int, str, int]] = []
        for path, leaf in (self._changed_values[p] for p in candidates):
            leaf_key = leaf.path[-1].lower() if leaf.path else ""
            reads = bool(leaf.path) and leaf.path[0] in read
            reads_here = bool(leaf.path) and leaf.path[0] in read_here
            similar = len(leaf_key) >= 4 and len(key) >= 4 and (leaf_key in key or key in leaf_key)
            value = after is not None and len(leaf.value) >= 2 and leaf.value in str(after)
            if leaf_key and leaf_key == key:
                score = 3 + reads
            elif reads_here and (similar or value):
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


def _last_key(display_path: str) -> str:
    keys = [value for kind, value in segments(display_path) if kind == "key"]
    return str(keys[-1]) if keys else ""


def _granted(after: Any) -> list[list[str]]:
    """The grants an RBAC finding lists as its `after`: [[apiGroup, resource, verb], …]."""
    if not isinstance(after, list):
        return []
    return [g for g in after if isinstance(g, list) and len(g) == 3 and all(isinstance(p, str) for p in g)]


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
        out.extend(
            (values.path, _placed(leaf, values))
            for leaf in values_leaves(values.text)
            if old.get(leaf.path) != leaf.value
        )
    return out


def placed_leaves(values: ValuesSource) -> list[ValuesLeaf]:
    """Every leaf of a values source at its line of the repository file."""
    return [_placed(leaf, values) for leaf in values_leaves(values.text)]


def _placed(leaf: ValuesLeaf, values: ValuesSource) -> ValuesLeaf:
    """The leaf at its line of the repository file (values written inside another file)."""
    if values.pinned_line is not None:
        return dataclasses.replace(leaf, line=values.pinned_line)
    if values.line_offset:
        return dataclasses.replace(leaf, line=leaf.line + values.line_offset)
    return leaf


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

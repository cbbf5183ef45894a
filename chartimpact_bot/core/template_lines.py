"""Where a rendered field is written in a chart's templates.

Helm's output names the template that produced a document (`# Source:`), not the line. The line
is found in the template's text, read as the YAML-shaped lines it mostly is:

1. The template's parts (its `---` lines) are matched to the rendered document by the `kind:`
   and the `metadata.name:` each part writes (a `{{ range }}` repeats one part for many
   documents, and an `{{ if }}` can leave one out, so the document's index alone does not say
   which part produced it); the index decides only between parts that match alike.
2. The affected path is searched key by key, each key inside the block of the one above it (the
   lines indented under it): list items by their key (`containers[name=api]`), or by position
   when the list is written out literally.
3. A field the template does not write itself but takes from a named template it includes
   there (`{{ include "x.container" . | nindent 8 }}`) is searched in that template's `define`,
   in whichever file of the chart (or of a subchart) defines it. When the include is found but
   the field is not in its definition, the include line is the answer; when several includes
   could have written it, the deepest key found above it.

Everything here is a heuristic on text: it never names a file that did not produce the resource
(or that the resource's template does not include), and it stops at the deepest line it is sure of.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

_SEGMENT = re.compile(r'\.([^.\[\]]+)|\["((?:[^"\\]|\\.)*)"\]|\[([^\]]*)\]')
_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$")
_INCLUDE = re.compile(r"\{\{-?\s*(?:include|template)\s+(?:\"([^\"]+)\"|\S)")
_INDENT = re.compile(r"\bn?indent\s+(\d+)")
_DEFINE = re.compile(r"\{\{-?\s*define\s+\"([^\"]+)\"")
# Actions that open a block closed by `{{ end }}` (`else if` and `else with` do not).
_BLOCK_ACTION = re.compile(r"\{\{-?\s*(if|range|with|define|block|end)\b")
# Actions that write nothing: control, variables, comments.
_CONTROL = re.compile(r"\{\{-?\s*(?:(?:if|else|end|range|with|define|block|break|continue)\b|/\*|\$[\w.]*\s*:?=)")
_DASH = re.compile(r"^(\s*)-(?:\s+|$)")
_TOKEN = re.compile(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_.*/:-]+)")
MAX_INCLUDE_DEPTH = 8
MAX_LINE_CHARS = 2_000
_ARCHIVES = (".tgz", ".tar.gz")


@dataclass(frozen=True, slots=True)
class Place:
    """A line of a chart file, by its Helm path (`web/templates/deployment.yaml`), 1-based."""

    path: str
    line: int


@dataclass(frozen=True, slots=True)
class Rendered:
    """What the locator knows of one rendered document: its index in the template's output,
    its kind and name."""

    document: int
    kind: str
    name: str


Segment = tuple[str, Any]  # ("key", name) | ("item", (key, value)) | ("index", position)


class Siblings:
    """The documents one template rendered on one side, with their indexes sorted (all, and of
    each kind) once for every document of the template that is located: a `{{ range }}` can
    render thousands of documents from one part."""

    def __init__(self, documents: Sequence[Rendered]) -> None:
        self._all = sorted({d.document for d in documents})
        kinds: dict[str, set[int]] = {}
        for d in documents:
            kinds.setdefault(d.kind, set()).add(d.document)
        self._of_kind = {kind: sorted(indexes) for kind, indexes in kinds.items()}

    def rank(self, resource: Rendered, *, same_kind: bool) -> tuple[int, int]:
        """(how many, the resource's position) among the sorted indexes of the siblings and the
        resource (those of its kind only, with `same_kind`)."""
        indexes = self._of_kind.get(resource.kind, []) if same_kind else self._all
        position = bisect_left(indexes, resource.document)
        present = position < len(indexes) and indexes[position] == resource.document
        return len(indexes) + (0 if present else 1), position


def segments(display_path: str) -> list[Segment]:
    """`spec.containers[name=api].image` → key spec, key containers, item (name, api), key image."""
    out: list[Segment] = []
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
        elif bracket is not None and bracket.isdigit():
            out.append(("index", int(bracket)))
    return out


_SEPARATOR_LINE = -2
_NOT_CONTENT = -1


class _Lines(list[str]):
    """A file's lines, and what the block searches ask of each line (a separator, no content, or
    the indentation of content), worked out once per file: every located signal walks blocks of
    the same templates, and reading each line again per signal was a quarter of all signal time
    on a chart of 3,000 resources."""

    __slots__ = ("_marks",)

    def __init__(self, lines: Iterable[str] = ()) -> None:
        super().__init__(lines)
        self._marks: list[int] | None = None

    @property
    def marks(self) -> list[int]:
        """Per line: _SEPARATOR_LINE, _NOT_CONTENT, or the indentation of a content line."""
        if self._marks is None:
            self._marks = [_mark(line) for line in self]
        return self._marks


def _mark(line: str) -> int:
    if _SEPARATOR.match(line):
        return _SEPARATOR_LINE
    if not _is_content(line):
        return _NOT_CONTENT
    return len(line) - len(line.lstrip())


def _marks(lines: list[str]) -> list[int]:
    return lines.marks if isinstance(lines, _Lines) else [_mark(line) for line in lines]


class ChartTemplates:
    """The files of one chart (and its subcharts) by Helm path, read as text when first needed,
    and the named templates they define."""

    def __init__(self, files: Mapping[str, bytes | str]) -> None:
        self._files = files
        self._lines: dict[str, _Lines] = {}
        self._parts: dict[str, list[_Part]] = {}
        self._frames: dict[str, list[_Frame | None]] = {}

    def text(self, path: str) -> str:
        content = self._files[path]
        return content if isinstance(content, str) else content.decode("utf-8", "replace")

    def lines(self, path: str) -> _Lines:
        """The file's lines; one longer than MAX_LINE_CHARS is read as empty (it is data, not
        the structure searched here, and every search stays linear in what is left)."""
        if path not in self._lines:
            self._lines[path] = _Lines(
                line if len(line) <= MAX_LINE_CHARS else "" for line in self.text(path).splitlines()
            )
        return self._lines[path]

    def frames(self, path: str) -> list[_Frame | None]:
        if path not in self._frames:
            self._frames[path] = _frames(self.lines(path))
        return self._frames[path]

    def parts(self, path: str) -> list[_Part]:
        if path not in self._parts:
            self._parts[path] = _parts(self.lines(path))
        return self._parts[path]

    @cached_property
    def _defines(self) -> dict[str, list[tuple[str, int, int]]]:
        """Every `define` by name: (Helm path, first body line, end line), 0-based, end exclusive."""
        found: dict[str, list[tuple[str, int, int]]] = {}
        for path in sorted(self._files):
            if "/templates/" not in f"/{path}" or path.endswith(_ARCHIVES) or b"{{" not in _bytes(self._files[path]):
                continue
            lines = self.lines(path)
            for start, line in enumerate(lines):
                for match in _DEFINE.finditer(line):
                    found.setdefault(match.group(1), []).append((path, start + 1, _block_end(lines, start, match)))
        return found

    def define(self, name: str, near: str) -> tuple[str, int, int] | None:
        """The definition of `name`; of several, the one in the chart closest to `near`."""
        candidates = self._defines.get(name)
        if not candidates:
            return None
        ranked = max(enumerate(candidates), key=lambda item: (_common_prefix(item[1][0], near), -item[0]))
        return ranked[1]


def locate_in_template(
    templates: ChartTemplates,
    path: str,
    resource: Rendered,
    siblings: Siblings | Sequence[Rendered],
    affected_path: str,
) -> Place:
    """The line of `affected_path` of `resource` in the template at `path`; `siblings` are the
    documents the same template rendered on the same side (to tell repeated parts apart)."""
    lines = templates.lines(path)
    ranked = siblings if isinstance(siblings, Siblings) else Siblings(siblings)
    part = _part_of(templates.parts(path), resource, ranked)
    found = _Search(templates).find(_Block(path, lines, part.start, part.end, -1), segments(affected_path), depth=0)
    if found is not None:
        return found
    return Place(path, _first_content(lines, part.start, part.end) + 1)


def rule_item_line(templates: ChartTemplates, place: Place, grants: Sequence[Sequence[str]]) -> Place:
    """The list item under the `rules:` at `place` that writes the first of `grants` (apiGroup,
    resource, verb) it can find, by the words the item spells out; `place` when none does."""
    lines = templates.lines(place.path)
    index = place.line - 1
    if not 0 <= index < len(lines) or not _key_pattern("rules").match(lines[index]):
        return place
    end = _key_block_end(lines, index, _key_column(lines[index], "rules"))
    words = [(item, _words(lines[item:item_end])) for item, item_end in _items(lines, index + 1, end)]
    for grant in grants:
        group, resource, verb = (str(part) for part in grant)
        needed = {resource, verb} if group in ("", "url") else {group, resource, verb}
        for item, found in words:
            if needed <= found:
                return Place(place.path, item + 1)
    return place


_ELSE = re.compile(r"\{\{-?\s*else\b")


@dataclass(slots=True)
class _Frame:
    """An `if`/`with`/`range`/`define` open around some lines: its action lines (with its `else`
    lines), and the frame it is itself inside."""

    text: list[str]
    parent: _Frame | None


def _frames(lines: list[str]) -> list[_Frame | None]:
    """Per line, the innermost action block open around it (None: none), worked out once per file."""
    out: list[_Frame | None] = []
    current: _Frame | None = None
    for line in lines:
        out.append(current)
        if "{{" not in line:
            continue
        if current is not None and _ELSE.search(line):
            current.text.append(line)
        for match in _BLOCK_ACTION.finditer(line):
            if match.group(1) == "end":
                current = current.parent if current is not None else None
            else:
                current = _Frame([line], current)
    return out


def text_at(templates: ChartTemplates, place: Place, *, item: bool = False) -> str:
    """The text that writes the field at `place`: the block under its line (the list item that
    holds it, with `item`), the `if`/`with`/`range` actions around it, and the bodies of the
    named templates included in those (and in theirs, to MAX_INCLUDE_DEPTH). The `.Values` it
    reads are what can feed that field; the rest of the template feeds other fields."""
    lines = templates.lines(place.path)
    index = place.line - 1
    if not 0 <= index < len(lines):
        return ""
    start = _item_start(lines, index, 0) if item else index
    line = lines[start]
    if _DASH.match(line):
        end = _item_block_end(lines, start, _dash_column(line))
    else:
        end = _key_block_end(lines, start, len(line) - len(line.lstrip()))
    parts = list(lines[start:end])
    frame = templates.frames(place.path)[start]
    while frame is not None:
        parts.extend(frame.text)
        frame = frame.parent
    seen: set[tuple[str, int]] = set()
    pending = [(part, 0) for part in parts]
    while pending:
        text, depth = pending.pop()
        if depth >= MAX_INCLUDE_DEPTH or ("include" not in text and "template" not in text):
            continue
        for match in _INCLUDE.finditer(text):
            definition = templates.define(match.group(1), place.path) if match.group(1) else None
            if definition is None or definition[:2] in seen:
                continue
            seen.add(definition[:2])
            path, body_start, body_end = definition
            body = templates.lines(path)[body_start:body_end]
            parts.extend(body)
            pending.extend((b, depth + 1) for b in body)
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class _Block:
    """Lines [lo, hi) of one file: what is written under a node whose key (or list dash) is at
    `column`; -1 for a whole template part or a define body."""

    path: str
    lines: list[str]
    lo: int
    hi: int
    column: int


@dataclass(slots=True)
class _Search:
    templates: ChartTemplates
    # (define, segments left) already searched: each is searched once, however many includes
    # lead to it, so a chart of includes in includes cannot make the search explode.
    searched: set[tuple[str, int, int]] = field(default_factory=set)

    def find(self, block: _Block, rest: list[Segment], *, depth: int) -> Place | None:
        """The deepest line of the path `rest` inside `block`; None when not even its first
        segment is there."""
        found: Place | None = None
        for number, segment in enumerate(rest):
            hit = _step(block, segment)
            if hit is not None:
                line, block = hit
                found = Place(block.path, line + 1)
                continue
            included = self._in_includes(block, rest[number:], depth)
            if included is not None:
                return included
            if segment[0] != "key":
                continue  # an item the template names by an expression: search on in the list
            includes = _includes(block)
            # Inside a define, an include line counts only below a key the define writes: a
            # define that writes not even the first segment must stay None.
            if len(includes) == 1 and (number > 0 or depth == 0):
                return Place(block.path, includes[0][0] + 1)
            return found
        return found

    def _in_includes(self, block: _Block, rest: list[Segment], depth: int) -> Place | None:
        """The path in the definition of a named template included in the block."""
        if depth >= MAX_INCLUDE_DEPTH:
            return None
        for _line, name in _includes(block):
            definition = self.templates.define(name, block.path) if name is not None else None
            if definition is None:
                continue
            path, start, end = definition
            if (path, start, len(rest)) in self.searched:
                continue
            self.searched.add((path, start, len(rest)))
            found = self.find(_Block(path, self.templates.lines(path), start, end, -1), rest, depth=depth + 1)
            if found is not None:
                return found
        return None


def _step(block: _Block, segment: Segment) -> tuple[int, _Block] | None:
    """The line of one path segment inside the block, and the block under it."""
    kind, value = segment
    lines, lo, hi = block.lines, block.lo, block.hi
    if kind == "key":
        hit = _find_key(lines, lo, hi, str(value))
        if hit is None:
            return None
        column = _key_column(lines[hit], str(value))
        return hit, _Block(block.path, lines, hit + 1, _key_block_end(lines, hit, column), column)
    if kind == "item":
        hit = _find_item(lines, lo, hi, value[0], value[1])
    else:
        items = _items(lines, lo, hi)
        literal = not any(_is_action(lines[i]) for i in range(lo, hi))
        hit = items[value][0] if literal and value < len(items) else None
    if hit is None:
        return None
    start = _item_start(lines, hit, lo)
    dash = _dash_column(lines[start])
    return hit, _Block(block.path, lines, start, _item_block_end(lines, start, dash), dash)


def _includes(block: _Block) -> list[tuple[int, str | None]]:
    """(line, name; None when computed) of the includes in the block whose output lands in it
    (indented under its key, by `nindent`/`indent` or where the action is written)."""
    out: list[tuple[int, str | None]] = []
    for number in range(block.lo, block.hi):
        line = block.lines[number]
        match = _INCLUDE.search(line)
        if match is None:
            continue
        closes = line.find("}}", match.start())
        indent = _INDENT.search(line, match.start(), closes) if closes >= 0 else None
        lands = int(indent.group(1)) if indent else len(line) - len(line.lstrip())
        if lands > block.column or (lands == block.column and block.column >= 0):
            out.append((number, match.group(1)))
    return out


@dataclass(frozen=True, slots=True)
class _Part:
    """A part of a template (between `---` lines): its lines [start, end), whether it writes
    anything, and the pieces of its literal `kind:` and `metadata.name:` (None: not written)."""

    start: int
    end: int
    produces: bool
    kind: tuple[str, ...] | None
    name: tuple[str, ...] | None

    def fits(self, resource: Rendered) -> int:
        """0 the part cannot have written the resource, 1 it writes no kind of its own (it may
        write anything), 2 its kind and name fit."""
        if self.kind is not None and not _fits(self.kind, resource.kind):
            return 0
        if self.name is not None and not _fits(self.name, resource.name):
            return 0
        return 2 if self.kind is not None else 1


def _parts(lines: list[str]) -> list[_Part]:
    cuts = [i for i, line in enumerate(lines) if _SEPARATOR.match(line)]
    out = []
    for start, end in zip([0, *(i + 1 for i in cuts)], [*cuts, len(lines)], strict=True):
        produces = any(_is_content(lines[i]) or _outputs(lines[i]) for i in range(start, end))
        kind = next((i for i in range(start, end) if re.match(r"kind\s*:", lines[i])), None)
        metadata = next((i for i in range(start, end) if re.match(r"metadata\s*:\s*$", lines[i])), None)
        name = None
        if metadata is not None:
            name = _find_key(lines, metadata + 1, _key_block_end(lines, metadata, 0), "name")
        out.append(
            _Part(
                start,
                end,
                produces,
                _value_pieces(lines[kind]) if kind is not None else None,
                _value_pieces(lines[name]) if name is not None else None,
            )
        )
    return out


def _part_of(parts: list[_Part], resource: Rendered, siblings: Siblings) -> _Part:
    """The template part that produced the resource."""
    producing = [p for p in parts if p.produces]
    if not producing:
        return parts[min(resource.document, len(parts) - 1)]
    scores = [p.fits(resource) for p in producing]
    best = max(scores)
    matching = [p for p, score in zip(producing, scores, strict=True) if score == best] if best > 0 else producing
    if len(matching) == 1:
        return matching[0]
    documents, rank = siblings.rank(resource, same_kind=False)
    if documents == len(producing):
        # As many parts as documents: the template is not repeated, each part is one document.
        by_rank = producing[rank]
        if by_rank in matching:
            return by_rank
    _, same_rank = siblings.rank(resource, same_kind=True)
    return matching[min(same_rank, len(matching) - 1)]


def _outputs(line: str) -> bool:
    """Whether the line has an action that writes text (`toYaml`, `include`, `tpl`, a value),
    not only control (`if`, `range`, `end`, variables, comments)."""
    return any(not _CONTROL.match(line[start:end]) for start, end in _action_spans(line))


def _value_pieces(line: str) -> tuple[str, ...]:
    """The literal pieces of the value of a `key: value` line, between its actions."""
    value = line.split(":", 1)[1].split(" #", 1)[0].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    pieces, position = [], 0
    for start, end in _action_spans(value):
        pieces.append(value[position:start])
        position = end
    pieces.append(value[position:])
    return tuple(pieces)


def _fits(pieces: tuple[str, ...], text: str) -> bool:
    """Whether `text` is the pieces with anything between them (a glob, matched in linear time:
    template text is a pull request's, and a backtracking pattern of it could take forever)."""
    if len(pieces) == 1:
        return text == pieces[0]
    first, *middle, last = pieces
    if len(first) + len(last) > len(text) or not text.startswith(first) or not text.endswith(last):
        return False
    position, limit = len(first), len(text) - len(last)
    for piece in middle:
        found = text.find(piece, position, limit)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _action_spans(line: str) -> list[tuple[int, int]]:
    """[start, end) of each `{{ … }}` of a line, found in linear time (an unclosed one ends the scan)."""
    spans = []
    start = line.find("{{")
    while start >= 0:
        end = line.find("}}", start + 2)
        if end < 0:
            break
        spans.append((start, end + 2))
        start = line.find("{{", end + 2)
    return spans


def _without_actions(line: str, replacement: str = "") -> str:
    out, position = [], 0
    for start, end in _action_spans(line):
        out.append(line[position:start])
        position = end
    out.append(line[position:])
    return replacement.join(out)


def _first_content(lines: list[str], start: int, end: int) -> int:
    return next((i for i in range(start, end) if _is_content(lines[i])), start)


def _is_action(line: str) -> bool:
    """A line that is nothing but template actions (`{{- if … }}`, `{{ toYaml . | nindent 4 }}`)."""
    stripped = line.strip()
    return stripped.startswith("{{") and not _without_actions(stripped).strip()


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#") and not _is_action(line) and not _SEPARATOR.match(line)


def _key_pattern(key: str) -> re.Pattern[str]:
    return re.compile(rf"^(\s*(?:-\s+)*)[\"']?{re.escape(key)}[\"']?\s*:(?=\s|$)")


def _key_column(line: str, key: str) -> int:
    match = _key_pattern(key).match(line)
    return len(match.group(1)) if match else len(line) - len(line.lstrip())


def _find_key(lines: list[str], lo: int, hi: int, key: str) -> int | None:
    """The least indented line of [lo, hi) that writes `key:`, the first of those."""
    return _least_indented_match(lines, lo, hi, _key_pattern(key), key)


def _find_item(lines: list[str], lo: int, hi: int, key: str, value: str) -> int | None:
    """The least indented line of [lo, hi) that writes `key: value` (a list item's key)."""
    pattern = re.compile(rf"^(\s*(?:-\s+)?){re.escape(key)}\s*:\s*[\"']?{re.escape(value)}[\"']?\s*(?:#.*)?$")
    return _least_indented_match(lines, lo, hi, pattern, value)


def _least_indented_match(lines: list[str], lo: int, hi: int, pattern: re.Pattern[str], needle: str) -> int | None:
    """The first of the least indented lines of [lo, hi) `pattern` matches; its group 1 is the
    indentation. `needle` is text every line it matches holds: most lines are passed over by a
    search for it, not by the pattern."""
    best: tuple[int, int] | None = None
    for number in range(lo, hi):
        line = lines[number]
        if needle not in line:
            continue
        match = pattern.match(line)
        if match and (best is None or len(match.group(1)) < best[0]):
            best = (len(match.group(1)), number)
    return best[1] if best else None


def _dash_column(line: str) -> int:
    match = _DASH.match(line)
    return len(match.group(1)) if match else len(line) - len(line.lstrip())


def _item_start(lines: list[str], hit: int, lo: int) -> int:
    """The `- ` line of the list item that holds line `hit`."""
    if _DASH.match(lines[hit]):
        return hit
    column = len(lines[hit]) - len(lines[hit].lstrip())
    for number in range(hit - 1, lo - 1, -1):
        line = lines[number]
        if not _is_content(line):
            continue
        if _DASH.match(line) and _dash_column(line) < column:
            return number
        if len(line) - len(line.lstrip()) < column:
            break
    return hit


def _items(lines: list[str], lo: int, hi: int) -> list[tuple[int, int]]:
    """The list items [start, end) directly in [lo, hi): `- ` lines at the least indentation."""
    dashes = [i for i in range(lo, hi) if _DASH.match(lines[i]) and _is_content(lines[i])]
    if not dashes:
        return []
    column = min(_dash_column(lines[i]) for i in dashes)
    starts = [i for i in dashes if _dash_column(lines[i]) == column]
    return [(s, min(_item_block_end(lines, s, column), hi)) for s in starts]


def _key_block_end(lines: list[str], line: int, column: int) -> int:
    """The end of the block under a key at `column`: lines indented deeper, and list items at
    the key's own indentation (`containers:` then `- name: …` at the same column)."""
    marks = _marks(lines)
    for number in range(line + 1, len(lines)):
        indent = marks[number]
        if indent == _SEPARATOR_LINE:
            return number
        if indent == _NOT_CONTENT:
            continue
        if indent < column or (indent == column and not _DASH.match(lines[number])):
            return number
    return len(lines)


def _item_block_end(lines: list[str], start: int, dash: int) -> int:
    marks = _marks(lines)
    for number in range(start + 1, len(lines)):
        indent = marks[number]
        if indent == _SEPARATOR_LINE:
            return number
        if indent != _NOT_CONTENT and indent <= dash:
            return number
    return len(lines)


def _block_end(lines: list[str], start: int, define: re.Match[str]) -> int:
    """The line of the `{{ end }}` that closes the `define` at line `start`."""
    depth = 0
    for number in range(start, len(lines)):
        line = lines[number]
        offset = define.start() if number == start else 0
        for match in _BLOCK_ACTION.finditer(line, offset):
            depth += -1 if match.group(1) == "end" else 1
            if depth == 0:
                return number + 1 if _without_actions(line[: match.start()]).strip() else number
    return len(lines)


def _words(lines: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for line in lines:
        for match in _TOKEN.finditer(_without_actions(line.split(" #", 1)[0], " ")):
            out.add(next(group for group in match.groups() if group is not None))
    return out


def _common_prefix(a: str, b: str) -> int:
    length = 0
    for x, y in zip(a.split("/"), b.split("/"), strict=False):
        if x != y:
            break
        length += 1
    return length


def _bytes(content: bytes | str) -> bytes:
    return content if isinstance(content, bytes) else content.encode()

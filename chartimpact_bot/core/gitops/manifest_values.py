"""Values written inside a deployment manifest (an Argo CD Application's `valuesObject`, a Flux
HelmRelease's `values`, a ConfigMap's data), as YAML text whose lines are the manifest's own, so
that a values line the analysis finds is a line of the manifest; and the small readers of
untrusted manifest data both dialects share."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

import yaml

from ..config import InlineValues
from ..yamlio import load_untrusted

MAX_LIST = 200  # value files, parameters, sources or references of one manifest


@dataclass(frozen=True, slots=True)
class Placement:
    """A YAML document of a repository file: its text, its node tree, and its first line."""

    file: str
    first_line: int
    document: str
    node: yaml.Node | None


def object_values(name: str, at: Placement, where: tuple[str | int, ...], value: dict[str, Any]) -> InlineValues:
    """A mapping of values at `where`, as the manifest writes it."""
    value_node = node_at(at.node, where)
    if value_node is not None:
        text = source_text(at.document, value_node)
        # Only text that reads back as the very same values keeps the manifest's lines (an
        # alias to an anchor outside it, say, does not): else the values as loaded.
        if reads_as(text, value):
            return InlineValues(name, text, at.file, at.first_line + value_node.start_mark.line)
    text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True)
    return InlineValues(name, text, at.file, at.first_line + line_of(at.node, where))


def text_values(name: str, at: Placement, where: tuple[str | int, ...], text: str) -> InlineValues:
    """A string of values YAML at `where`: a block scalar is line for line from the line after
    its key; any other string is not, and every value it sets is located at its key's line."""
    value_node = node_at(at.node, where)
    if isinstance(value_node, yaml.ScalarNode) and value_node.style in ("|", ">"):
        return InlineValues(name, text, at.file, at.first_line + value_node.start_mark.line + 1)
    return InlineValues(name, text, at.file, at.first_line + line_of(at.node, where), pinned=True)


def reads_as(text: str, expected: Any) -> bool:
    try:
        return bool(load_untrusted(text) == expected)
    except (yaml.YAMLError, ValueError):
        return False


def node_at(node: yaml.Node | None, path: tuple[str | int, ...]) -> yaml.Node | None:
    for step in path:
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            return None
    return node


def source_text(document: str, node: yaml.Node) -> str:
    """The manifest's text of a node, one line per line, cut at the node's first column. A block
    mapping ends where the next key starts: that line is not the node's."""
    lines = document.splitlines()
    start, end = node.start_mark, node.end_mark
    if start.line == end.line:
        return lines[start.line][start.column : end.column] if start.line < len(lines) else ""
    last = (
        end.line
        if end.column > 0 and lines[end.line : end.line + 1] and lines[end.line][: end.column].strip()
        else end.line - 1
    )
    chosen = lines[start.line : last + 1]
    if not chosen:
        return ""
    first = chosen[0][start.column :]
    if isinstance(node, yaml.MappingNode) and node.flow_style:
        tail = [*chosen[1:-1], chosen[-1][: end.column]] if last == end.line and len(chosen) > 1 else chosen[1:]
        return "\n".join([first, *tail]) + "\n"
    column = start.column
    return "\n".join([first, *(line[column:] if not line[:column].strip() else line for line in chosen[1:])]) + "\n"


def line_of(node: yaml.Node | None, path: tuple[str | int, ...]) -> int:
    """The 0-based line, within its document, of the key at `path` (0 when not found)."""
    line = 0
    for step in path:
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == step), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line
        else:
            return line
    return line


def clean(path: str) -> str:
    cleaned = posixpath.normpath(path.strip().lstrip("/")) if path.strip().lstrip("/") else ""
    return "" if cleaned == "." else cleaned


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value[:MAX_LIST] if isinstance(v, dict)] if isinstance(value, list) else []


def strings(value: Any) -> list[str]:
    return [v for v in value[:MAX_LIST] if isinstance(v, str)] if isinstance(value, list) else []


def within(path: str, directory: str) -> bool:
    """Whether a clean repository path is `directory` or below it ("" is the root)."""
    return not directory or path == directory or path.startswith(directory + "/")

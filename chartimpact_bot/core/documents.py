"""Helm's rendered output → YAML documents, as `helm template` splits and emits them.

Run inside the render process (see `render_worker.py`), so that a hostile template's output
(an alias bomb, gigabytes of YAML) is parsed under that process's memory limit and timeout.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import RenderError
from .yamlio import load_yaml

# Helm's splitter for chart API v1/v2 (pkg/releaseutil) is `(?:^|\s*\n)---\s*`, Go's \s being
# [\t\n\f\r ]. As a Python regular expression it retries `\s*\n` at every blank of the text's
# indentation, a quarter of the time of parsing a render; `_separators` finds the same matches
# from each "\n---" (tests/test_manifests.py checks it against the expression).
_BLANKS = re.compile(r"[\t\n\f\r ]*")
_BLANK = frozenset("\t\n\f\r ")

# (index of the document in the template's output, its first line, the parsed object)
ParsedDocument = tuple[int, int, dict[str, Any]]


def split_documents(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each document, as Helm's splitter cuts them."""
    position = 0
    line = 1
    for start, end in _separators(text):
        yield line, text[position:start]
        line += text.count("\n", position, end)
        position = end
    yield line, text[position:]


def _separators(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each match of Helm's separator, leftmost first, as `re.finditer` gives
    them: a "---" that starts the text or a line, with the blanks before and after it."""
    position = 0
    if text.startswith("---"):
        position = _after_blanks(text, 3)
        yield 0, position
    while (newline := text.find("\n---", position)) >= 0:
        start = newline
        while start > position and text[start - 1] in _BLANK:
            start -= 1
        end = _after_blanks(text, newline + 4)
        yield start, end
        position = end


def _after_blanks(text: str, index: int) -> int:
    match = _BLANKS.match(text, index)  # it always matches, if only the empty string
    return match.end() if match else index


def is_emitted(template_path: str, text: str) -> bool:
    """Whether `helm template` emits this template's output."""
    name = posixpath.basename(template_path)
    return not (name.endswith("NOTES.txt") or name.startswith("_") or not text.strip())


def parse_template(source: str, text: str) -> list[ParsedDocument]:
    """The objects in one template's output; RenderError when it is not YAML objects."""
    documents: list[ParsedDocument] = []
    for index, (first_line, chunk) in enumerate(split_documents(text)):
        if not chunk.strip():
            continue
        try:
            obj = load_yaml(chunk)
        except yaml.YAMLError as exc:
            raise RenderError(_yaml_problem(source, index, first_line, exc)) from exc
        if obj is None:
            continue
        if not isinstance(obj, dict):
            raise RenderError(
                f"{source} renders a document that is not a Kubernetes object (document {index + 1}, line {first_line})"
            )
        documents.append((index, first_line, obj))
    return documents


def _yaml_problem(source: str, index: int, first_line: int, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    where = f"line {first_line + mark.line}" if mark is not None else f"line {first_line}"
    return f"{source} renders invalid YAML (document {index + 1}, {where}): {problem}"


@dataclass(frozen=True, slots=True)
class RenderedChart:
    """Helm's output, parsed: template path → its documents; and the chart's `crds/` files."""

    templates: dict[str, list[ParsedDocument]] = field(default_factory=dict)
    crds: dict[str, list[ParsedDocument]] = field(default_factory=dict)
    # Seconds the render process spent rendering and parsing all renders (for benchmarks).
    timings: dict[str, float] = field(default_factory=dict)
    # `helm lint` errors for the same input (the embedded engine only).
    lint_errors: tuple[str, ...] = ()

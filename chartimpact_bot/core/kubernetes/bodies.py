"""Reading resource bodies whose shape nobody checked: a missing step or a wrong type is None or
empty, never an exception."""

from __future__ import annotations

from typing import Any

from ..model import PathToken


def get(node: Any, *path: PathToken) -> Any:
    """The value at `path`, or None when any step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return None
        elif not isinstance(node, dict):
            return None
        node = node[step] if isinstance(step, int) else node.get(step)
    return node


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

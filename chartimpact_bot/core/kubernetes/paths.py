"""Paths into a resource body, written the way reports show them and the diff names its changes:
`spec.template.spec.containers[name=web].securityContext.privileged`.

A path is a tuple of steps: a mapping key (str), a list position (int), or a list item named by
its key fields (`item(name="web")`), the way the diff names the items of keyed lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..diff import ItemKey, display_item, display_key


@dataclass(frozen=True, slots=True)
class Item:
    """A list item named by its key fields: `[name=web]`, `[mountPath=/data]`."""

    key: ItemKey


def item(**fields: Any) -> Item:
    return Item(tuple(fields.items()))


Step = str | int | Item
FieldPath = tuple[Step, ...]


def display_path(path: Iterable[Step]) -> str:
    """`spec.containers[name=web].ports[0]`: keys dotted (quoted when they hold dots), items by key."""
    return "".join(map(_display_step, path)).lstrip(".")


def _display_step(step: Step) -> str:
    if isinstance(step, Item):
        return display_item(step.key)
    if isinstance(step, int):
        return f"[{step}]"
    return display_key(step)

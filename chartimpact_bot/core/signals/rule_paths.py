"""Field paths of custom rules: parse `spec.template.spec.containers[*].image` and find the
values it names in the base and head versions of a resource, paired the way the diff pairs them.

The language is the diff's display path plus wildcards, so a path copied from a report works:

- `a.b` or `a["app.kubernetes.io/name"]`: a mapping key (quoted when it has dots);
- `*` in place of a key: every key of the mapping;
- `[3]`: the list item at that position; `[*]`: every item;
- `[name=web]` (`[kind=User,name=ci]`): the items whose fields have those values.

Items of `[*]` are paired between base and head by the key the diff uses for that list
(containers by name, volumeMounts by mountPath, …), lists of scalars by value, other lists by
position; so a container added to a Deployment is "added", not "the second container changed".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from itertools import zip_longest
from typing import Any

from ..diff import list_item_keys
from ..kubernetes.paths import FieldPath, Item, Step, display_path
from .rule_patterns import scalar_text

MAX_PATH_CHARS = 256
MAX_SEGMENTS = 32
MAX_WILDCARDS = 4

_KEY = r'(?P<key>[^.\[\]\s"=,]+)'
_BRACKET = r"\[(?P<bracket>(?:[^\]\"]|\"(?:[^\"\\]|\\.)*\")*)\]"
_SEGMENT = re.compile(rf"\.{_KEY}|{_BRACKET}")
_FIRST_KEY = re.compile(_KEY)
_CONDITION = re.compile(r'\s*(?P<field>[^\s=,\]"]+)\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<plain>[^,\]"]*))\s*')


class PathError(ValueError):
    """The path is not in the rule path language; the message says where."""


@dataclass(frozen=True, slots=True)
class ItemWhere:
    """`[name=web]`: the list items whose fields have those values."""

    conditions: tuple[tuple[str, str], ...]


class Wildcard(Enum):
    """`*` in place of a key (every key of the mapping), `[*]` in place of a position (every item)."""

    ANY_KEY = "*"
    ANY_ITEM = "[*]"


ANY_KEY, ANY_ITEM = Wildcard.ANY_KEY, Wildcard.ANY_ITEM
# A mapping key (`a`, `["a.b"]`), a list position (`[3]`), the items of a list that match, or a
# wildcard: a field path (kubernetes/paths.py) that may select more than one place.
Segment = str | int | ItemWhere | Wildcard


@dataclass(frozen=True, slots=True)
class RulePath:
    text: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Located:
    """A value that is there on one side (None stands for a side that does not have it)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Pair:
    """One place the path names, and what is there on each side (None: absent)."""

    path: FieldPath
    base: Located | None
    head: Located | None

    @property
    def display(self) -> str:
        return display_path(self.path)


def parse_path(text: str) -> RulePath:
    """The parsed path; PathError for anything outside the language or its limits."""
    if not text or len(text) > MAX_PATH_CHARS:
        raise PathError(f"a path has 1 to {MAX_PATH_CHARS} characters (got {len(text)})")
    segments: list[Segment] = []
    position = 0
    first = _FIRST_KEY.match(text)
    if first is not None:
        segments.append(_key(first.group("key")))
        position = first.end()
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if match is None:
            raise PathError(
                f"cannot read the path from character {position + 1} on ({text[position : position + 20]!r})"
            )
        key, bracket = match.group("key"), match.group("bracket")
        segments.append(_key(key) if key is not None else _bracketed(bracket))
        position = match.end()
    if not segments:
        raise PathError("the path names no field")
    if len(segments) > MAX_SEGMENTS:
        raise PathError(f"a path has at most {MAX_SEGMENTS} segments (got {len(segments)})")
    wildcards = sum(isinstance(s, Wildcard) for s in segments)
    if wildcards > MAX_WILDCARDS:
        raise PathError(f"a path has at most {MAX_WILDCARDS} wildcards (got {wildcards})")
    return RulePath(text, tuple(segments))


def _key(name: str) -> Segment:
    return ANY_KEY if name == "*" else name


def _bracketed(inside: str) -> Segment:
    stripped = inside.strip()
    if stripped == "*":
        return ANY_ITEM
    if stripped.isdigit():
        return int(stripped)
    if stripped.startswith('"'):
        try:
            name = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise PathError(f"[{inside}] is not a quoted key") from exc
        if not isinstance(name, str):
            raise PathError(f"[{inside}] is not a quoted key")
        return name
    conditions = []
    for part in _split_conditions(inside):
        match = _CONDITION.fullmatch(part)
        if match is None:
            raise PathError(f'[{inside}] is neither [*], [N], ["key"] nor [field=value]')
        quoted = match.group("quoted")
        value = json.loads(f'"{quoted}"') if quoted is not None else match.group("plain").strip()
        conditions.append((match.group("field"), value))
    return ItemWhere(tuple(conditions))


def _split_conditions(inside: str) -> list[str]:
    """`kind=User,name="a,b"` → the two conditions (commas inside quotes do not split)."""
    parts, current, quoted, escaped = [], "", False, False
    for char in inside:
        if char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    parts.append(current)
    return parts


Spend = Callable[[int], None]


def pairs(path: RulePath, base: Any, head: Any, spend: Spend) -> Iterator[Pair]:
    """Every place `path` names in either body (None for a side without the resource), with
    the value on each side. `spend(n)` is charged for every node visited, so the caller can
    bound the work of a hostile path over a huge resource."""
    start_base = Located(base) if base is not None else None
    start_head = Located(head) if head is not None else None
    yield from _Walker(spend).walk(path.segments, start_base, start_head, (), None)


@dataclass(frozen=True, slots=True)
class _Walker:
    spend: Spend

    def walk(
        self,
        segments: tuple[Segment, ...],
        base: Located | None,
        head: Located | None,
        at: FieldPath,
        field: str | None,
    ) -> Iterator[Pair]:
        """The pairs below (base, head) for the remaining segments; `field` is the key that led
        here, which decides how a list's items are paired."""
        self.spend(1)
        if base is None and head is None:
            return
        if not segments:
            yield Pair(at, base, head)
            return
        segment, rest = segments[0], segments[1:]
        if isinstance(segment, str):
            name = segment
            yield from self.walk(rest, _child(base, name), _child(head, name), (*at, name), name)
        elif segment is ANY_KEY:
            keys = {
                str(k): k
                for side in (base, head)
                if side is not None and isinstance(side.value, dict)
                for k in side.value
            }
            for text in sorted(keys):
                key = keys[text]
                yield from self.walk(rest, _child(base, key), _child(head, key), (*at, text), text)
        elif isinstance(segment, int):
            position = segment
            yield from self.walk(rest, _item(base, position), _item(head, position), (*at, position), None)
        else:
            for step, old, new in _items(segment, base, head, field):
                yield from self.walk(rest, old, new, (*at, step), None)


def _child(side: Located | None, key: Any) -> Located | None:
    if side is None or not isinstance(side.value, dict) or key not in side.value:
        return None
    return Located(side.value[key])


def _item(side: Located | None, position: int) -> Located | None:
    if side is None or not isinstance(side.value, list) or position >= len(side.value):
        return None
    return Located(side.value[position])


def _list(side: Located | None) -> list[Any] | None:
    return side.value if side is not None and isinstance(side.value, list) else None


_ItemPair = tuple[Step, Located | None, Located | None]


def _items(
    segment: ItemWhere | Wildcard, base: Located | None, head: Located | None, field: str | None
) -> list[_ItemPair]:
    old, new = _list(base), _list(head)
    if old is None and new is None:
        return []
    if isinstance(segment, ItemWhere):
        return _where(segment, base, head, old or [], new or [])
    return _every_item(base, head, old, new, field)


def _where(
    segment: ItemWhere, base: Located | None, head: Located | None, old: list[Any], new: list[Any]
) -> list[_ItemPair]:
    def selected(items: list[Any]) -> list[int]:
        return [
            i
            for i, item in enumerate(items)
            if isinstance(item, dict) and all(scalar_text(item.get(f)) == v for f, v in segment.conditions)
        ]

    old_hits, new_hits = selected(old), selected(new)
    unique = len(old_hits) <= 1 and len(new_hits) <= 1
    out = []
    for i, j in zip_longest(old_hits, new_hits):
        step: Step = Item(segment.conditions) if unique else (j if j is not None else i)
        out.append((step, _item(base, i) if i is not None else None, _item(head, j) if j is not None else None))
    return out


def _every_item(
    base: Located | None, head: Located | None, old: list[Any] | None, new: list[Any] | None, field: str | None
) -> list[_ItemPair]:
    # A list on one side only is paired against itself to learn its keys.
    keys = list_item_keys(field, old if old is not None else new or [], new if new is not None else old or [])
    if keys is not None:
        old_keys = keys[0] if old is not None else []
        new_keys = keys[1] if new is not None else []
        old_index = {k: i for i, k in enumerate(old_keys)}
        new_set = set(new_keys)
        out: list[_ItemPair] = [(Item(k), _at(base, old_index.get(k)), _item(head, j)) for j, k in enumerate(new_keys)]
        out += [(Item(k), _item(base, i), None) for i, k in enumerate(old_keys) if k not in new_set]
        return out
    old, new = old or [], new or []
    if all(scalar_text(x) is not None for x in (*old, *new)):
        return _by_value(base, head, old, new)
    return [(i, _item(base, i), _item(head, i)) for i in range(max(len(old), len(new)))]


def _at(side: Located | None, position: int | None) -> Located | None:
    return _item(side, position) if position is not None else None


def _by_value(base: Located | None, head: Located | None, old: list[Any], new: list[Any]) -> list[_ItemPair]:
    """Scalars paired with an equal scalar on the other side (the n-th with the n-th)."""

    def occurrences(items: list[Any]) -> dict[tuple[str, Any, int], int]:
        seen: dict[tuple[str, Any], int] = {}
        out = {}
        for i, item in enumerate(items):
            token = (type(item).__name__, item)
            seen[token] = seen.get(token, 0) + 1
            out[(*token, seen[token])] = i
        return out

    old_at, new_at = occurrences(old), occurrences(new)
    pairs_: list[_ItemPair] = [(j, _at(base, old_at.get(key)), _item(head, j)) for key, j in new_at.items()]
    pairs_ += [(i, _item(base, i), None) for key, i in old_at.items() if key not in new_at]
    return pairs_

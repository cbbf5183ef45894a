"""Label sets and label selectors indexed by (namespace, label), so that what a selector selects,
or which selectors select a label set, is found among the candidates that share a label with
it instead of among everything of a chart.

A selector selects only label sets that hold every pair of its `matchLabels` (or of a
Service's plain map), in its own namespace; the index files each label set under every pair it
holds and looks a selector up under the pair it requires that is rarest, then runs the caller's
own test on those candidates. The test decides, so the answer is exactly what testing every
item would give, in the same order; the index only decides which items are worth testing. A
selector that requires no pair (`matchExpressions` only, or one that selects every pod of its
namespace) is tested against every item of its namespace, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from .bodies import as_dict

T = TypeVar("T")
Label = tuple[Hashable, Hashable]


def required_labels(selector: Any) -> list[Label]:
    """The (key, value) pairs every label set `selector` selects holds: its `matchLabels`, or a
    Service's plain map; those that can be looked up (a list or a map as a value cannot)."""
    if not isinstance(selector, dict):
        return []
    if "matchLabels" in selector or "matchExpressions" in selector:
        pairs = as_dict(selector.get("matchLabels")).items()
    else:
        pairs = selector.items()
    return [pair for pair in pairs if hashable(pair)]


def hashable(key: tuple[Any, ...]) -> bool:
    """Whether `key` can be looked up in a dict (a list or a map in it cannot)."""
    try:
        hash(key)
    except TypeError:
        return False
    return True


class LabelIndex(Generic[T]):
    """Items (workloads), each with a namespace and a label set (its pod template's)."""

    def __init__(self, entries: Iterable[tuple[T, str, Any]]) -> None:
        self._items: list[tuple[T, dict[Any, Any]]] = []
        self._namespaces: dict[str, list[int]] = {}
        self._holding: dict[tuple[str, Hashable, Hashable], list[int]] = {}
        for item, namespace, labels in entries:
            position = len(self._items)
            labels = as_dict(labels)
            self._items.append((item, labels))
            self._namespaces.setdefault(namespace, []).append(position)
            for key, value in labels.items():
                if hashable((key, value)):
                    self._holding.setdefault((namespace, key, value), []).append(position)

    def holding(self, namespace: str, label: Label) -> int:
        """How many items of `namespace` hold the label."""
        return len(self._holding.get((namespace, *label), ()))

    def select(self, namespace: str, required: Iterable[Label], test: Callable[[dict[Any, Any]], bool]) -> list[T]:
        """The items of `namespace` whose labels pass `test`, in the order they were given; only
        those holding the rarest of the `required` labels are tested (every one of the
        namespace when none is required)."""
        positions = self._namespaces.get(namespace, [])
        for key, value in required:
            holding = self._holding.get((namespace, key, value), [])
            if len(holding) < len(positions):
                positions = holding
        return [item for item, labels in (self._items[p] for p in positions) if test(labels)]


class SelectorIndex(Generic[T]):
    """Items (PodDisruptionBudgets, NetworkPolicies), each with a namespace and a selector, found
    by the label set they select. Each item is filed under the one pair it requires that the
    fewest label sets hold (`holding`, from the label sets it will be asked about), so that a
    label every pod has does not make every selector a candidate for every pod."""

    def __init__(self, entries: Iterable[tuple[T, str, Any]], holding: Callable[[str, Label], int]) -> None:
        self._items: list[T] = []
        self._filed: dict[tuple[str, Hashable, Hashable], list[int]] = {}
        self._unfiled: dict[str, list[int]] = {}
        for item, namespace, selector in entries:
            position = len(self._items)
            self._items.append(item)
            required = required_labels(selector)
            if required:
                key, value = min(required, key=lambda label: holding(namespace, label))
                self._filed.setdefault((namespace, key, value), []).append(position)
            else:
                self._unfiled.setdefault(namespace, []).append(position)

    def select(self, namespace: str, labels: Any, test: Callable[[T], bool]) -> list[T]:
        """The items of `namespace` that pass `test`, in the order they were given; only those
        filed under a pair of `labels`, or under none, are tested."""
        positions = list(self._unfiled.get(namespace, ()))
        for key, value in as_dict(labels).items():
            if hashable((key, value)):
                positions.extend(self._filed.get((namespace, key, value), ()))
        return [self._items[p] for p in sorted(set(positions)) if test(self._items[p])]

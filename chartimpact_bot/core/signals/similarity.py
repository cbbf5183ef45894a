"""Pairs of sets of leaves at least 80% alike (Jaccard: shared elements over all elements), found without
comparing every set with every other: the prefix filter of exact set-similarity joins.

Order the elements rarest first. If two sets of sizes |a| and |b| share o ≥ t elements, the
first of their shared elements comes, in each set, no later than at position |set| - t + 1,
since the other o - 1 shared elements all come after it. Two sets at least 4/5 alike share at
least ⌈4/5 · |a|⌉ elements and at least ⌈4/5 · |b|⌉, so each set's first |set| - ⌈4/5 · |set|⌉ + 1
elements (its prefix) hold one element the other set's prefix holds too. Only sets whose
prefixes meet are candidates; the caller measures those exactly, so no pair that is alike is
missed and none that is not is reported. Rare elements make short candidate lists: two
resources are candidates when they share one of their rarest leaves, not merely a common one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

# A leaf of a resource: its path and its value as text. Leaves are ordered (rarest first, then
# by themselves), and the order must be the same for every set: the proof above needs it.
Leaf = tuple[tuple[str, ...], str]
# The least share of elements two sets hold in common to be alike: 4/5.
SHARED_NUMERATOR, SHARED_DENOMINATOR = 4, 5


def _prefix_length(size: int) -> int:
    """How many of its rarest elements a set of `size` elements is indexed by."""
    least_shared = -(-SHARED_NUMERATOR * size // SHARED_DENOMINATOR)  # ⌈4/5 · size⌉
    return size - least_shared + 1


def candidate_pairs(left: Sequence[frozenset[Leaf]], right: Sequence[frozenset[Leaf]]) -> list[tuple[int, int]]:
    """(i, j) of every left[i] and right[j] that may be at least 4/5 alike, in (i, j) order: a
    superset of the pairs that are. Two empty sets are alike (the caller's measure says so)."""
    frequency = Counter(element for sets in (left, right) for s in sets for element in s)

    def prefix(elements: frozenset[Leaf]) -> list[Leaf]:
        ranked = sorted(elements, key=lambda element: (frequency[element], element))
        return ranked[: _prefix_length(len(ranked))]

    indexed: dict[Leaf, list[int]] = {}
    empty_right = [j for j, s in enumerate(right) if not s]
    for j, elements in enumerate(right):
        for element in prefix(elements):
            indexed.setdefault(element, []).append(j)
    pairs: list[tuple[int, int]] = []
    for i, elements in enumerate(left):
        if not elements:
            pairs.extend((i, j) for j in empty_right)
            continue
        found = {j for element in prefix(elements) for j in indexed.get(element, ())}
        pairs.extend((i, j) for j in sorted(found))
    return pairs

"""How many signals (or changes) there are of each importance and category: counted here once for
the report JSON, the Markdown and terminal reports, the check run title and the PR comment, so
no two of them can disagree on a number."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Protocol

from ..model import CATEGORIES, IMPORTANCES, Category, Importance


class _Rated(Protocol):
    """A signal or a field change: anything with an importance."""

    @property
    def importance(self) -> Importance: ...


class _Categorized(Protocol):
    @property
    def category(self) -> Category: ...


def by_importance(items: Iterable[_Rated]) -> dict[Importance, int]:
    """Every importance, highest first, zeros included (the JSON lists each key every time)."""
    counts = Counter(item.importance for item in items)
    return {importance: counts.get(importance, 0) for importance in IMPORTANCES}


def by_category(items: Iterable[_Categorized]) -> dict[Category, int]:
    """Every category in report order, zeros included."""
    counts = Counter(item.category for item in items)
    return {category: counts.get(category, 0) for category in CATEGORIES}


def importance_phrase(items: Iterable[_Rated], *, separator: str = ", ", empty: str = "none") -> str:
    """`2 high, 1 low`: the importances that occur, highest first; `empty` when none does."""
    return separator.join(f"{n} {importance}" for importance, n in by_importance(items).items() if n) or empty

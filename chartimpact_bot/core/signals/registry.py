"""The detector registry: each detector is declarative metadata plus a small function.

A detector's docstring is its documentation (docs/signals.md is generated from the registry).
Resource detectors run once per changed resource; chart detectors once per chart with the whole
context; pattern detectors after all others, over the signals found.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..model import Category, ChangeType, Importance, PathToken

if TYPE_CHECKING:
    from ..model import ResourceId

Scope = Literal["resource", "chart", "pattern"]


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector reports; the engine turns it into a Signal (id, source, rawChanges)."""

    description: str
    affected_path: str
    before: Any
    after: Any
    change_type: ChangeType
    # JSON path of the affected field on the side that has it (head, or base when removed).
    path: tuple[PathToken, ...] = ()
    type: str | None = None
    importance: Importance | None = None
    explanation: str | None = None
    resource: ResourceId | None = None
    api_version: str | None = None
    side: Literal["base", "head"] = "head"
    related: tuple[str, ...] = ()
    # (repository file, line) when the detector knows better than the locator (chart-level).
    source: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Detector:
    type: str
    category: Category
    importance: Importance
    explanation: str
    scope: Scope
    kinds: frozenset[str] | None
    absorbs: tuple[str, ...]
    function: Callable[..., Iterable[Finding]]
    doc: str = field(default="")

    def applies_to(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


REGISTRY: list[Detector] = []


def detector(
    type: str,
    *,
    category: Category,
    importance: Importance,
    explanation: str,
    kinds: Iterable[str] | None = None,
    scope: Scope = "resource",
    absorbs: Iterable[str] = (),
) -> Callable[[Callable[..., Iterable[Finding]]], Callable[..., Iterable[Finding]]]:
    """Register a detector. Resource scope: `fn(ctx, diff)`; chart: `fn(ctx)`;
    pattern: `fn(ctx, signals)`."""

    def register(function: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
        if any(d.type == type for d in REGISTRY):
            raise ValueError(f"detector {type} is registered twice")
        REGISTRY.append(
            Detector(
                type=type,
                category=category,
                importance=importance,
                explanation=explanation,
                scope=scope,
                kinds=frozenset(kinds) if kinds is not None else None,
                absorbs=tuple(absorbs),
                function=function,
                doc=inspect.cleandoc(function.__doc__ or ""),
            )
        )
        return function

    return register

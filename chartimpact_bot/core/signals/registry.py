"""The detector registry: every signal type is one function, registered by the decorator that
says what the function looks at, so that mypy rejects a function of the wrong shape.

- `@resource_detector`: `fn(ctx, diff)`, once per changed resource of its kinds (added, removed
  or modified);
- `@update_detector`: `fn(ctx, update)`, once per resource of its kinds that is on both sides
  (what `helm upgrade` updates in place);
- `@chart_detector`: `fn(ctx)`, once per chart;
- `@pattern_detector`: `fn(ctx, signals)`, after all others, over the signals they found.

The function's docstring is the type's documentation: its first paragraph says when it fires
(docs/signals.md is generated from it), the rest why that matters, which every signal of the
type carries as its explanation. A type's category is its first segment when that is one
(availability, security, upgrade) and "other" for the rest; patterns name theirs.

A finding's changeType follows one rule for every type, written (and applied, by the engine, to
the finding's subject) in `change_type`, whose docstring docs/signals.md quotes; no detector
writes a changeType.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypedDict

from ..kubernetes.paths import FieldPath, display_path
from ..model import CATEGORIES, Category, ChangeType, Importance, Resource, ResourceDiff, Signal
from ..side import Side
from .context import SignalContext, Update

Scope = Literal["resource", "chart", "pattern"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """What a detector reports; the engine turns it into a Signal (id, source, rawChanges)."""

    description: str
    # Where in the resource (on the side that has it: the head, or the base when removed); ()
    # is the whole resource.
    path: FieldPath = ()
    before: Any = None
    after: Any = None
    # What the signal is about on each side (None where that side lacks it), from which the
    # engine derives its changeType (`change_type`); when not given, the resource itself.
    subject: tuple[object, object] | None = None
    # The finding reports a risk of the base that no longer holds (changeType `removed`).
    lifted: bool = False
    # A finer type than the detector's own (`security.rbac.wildcard.verbs`).
    type: str | None = None
    importance: Importance | None = None
    # The resource the signal is about when it is not the diff's (chart and pattern detectors).
    about: Resource | None = None
    side: Side = "head"
    related: tuple[str, ...] = ()
    # (repository file, line) when the detector knows better than the locator (chart-level).
    source: tuple[str, int | None] | None = None

    @property
    def affected_path(self) -> str:
        return display_path(self.path)


def change_type(base: object, head: object, *, lifted: bool = False) -> ChangeType:
    """A signal's changeType says what happened to its subject between the base and the head: the
    resource, the container, or the part of one (a probe, volume, port, Secret reference, value…)
    the signal is about.

    - `added`: the base does not have it; a new Deployment that is privileged fires
      `security.context.privileged` with `added`.
    - `removed`: the head no longer has it (a probe, a limit, a PodDisruptionBudget), or a risk
      the base had no longer holds (a low signal: privileged → false).
    - `modified`: both have it; a container that becomes privileged, a probe made stricter.

    `base` and `head` are the subject on each side, None where that side does not have it;
    `lifted` says the finding reports a risk that no longer holds.
    """
    if base is None:
        return "added"
    if head is None or lifted:
        return "removed"
    return "modified"


ResourceCheck = Callable[[SignalContext, ResourceDiff], Iterable[Finding]]
UpdateCheck = Callable[[SignalContext, Update], Iterable[Finding]]
ChartCheck = Callable[[SignalContext], Iterable[Finding]]
PatternCheck = Callable[[SignalContext, Sequence[Signal]], Iterable[Finding]]


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalType:
    """What every signal of one type shares: category, default importance, explanation, and
    the documentation of when it fires."""

    type: str
    category: Category
    importance: Importance
    explanation: str
    doc: str
    kinds: frozenset[str] | None = None
    # Type prefixes whose signals on the same resource this type's signal stands for.
    absorbs: tuple[str, ...] = ()

    def applies_to(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceDetector(SignalType):
    scope: ClassVar[Scope] = "resource"
    check: ResourceCheck


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartDetector(SignalType):
    scope: ClassVar[Scope] = "chart"
    check: ChartCheck


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternDetector(SignalType):
    scope: ClassVar[Scope] = "pattern"
    check: PatternCheck


Detector = ResourceDetector | ChartDetector | PatternDetector

REGISTRY: list[Detector] = []
# Every category is a family of its own name; other families (workload, chart) are "other".
_FAMILY_CATEGORIES: dict[str, Category] = {category: category for category in CATEGORIES}


def resource_detector(
    type_: str,
    importance: Importance,
    *,
    kinds: Iterable[str] | None = None,
    absorbs: Iterable[str] = (),
) -> Callable[[ResourceCheck], ResourceCheck]:
    """Register `fn(ctx, diff)`, run on every changed resource of `kinds` (None: any kind)."""

    def register(check: ResourceCheck) -> ResourceCheck:
        documented = _documented(type_, importance, check.__doc__)
        _register(ResourceDetector(check=check, kinds=_kinds(kinds), absorbs=tuple(absorbs), **documented))
        return check

    return register


def update_detector(
    type_: str, importance: Importance, *, kinds: Iterable[str] | None = None
) -> Callable[[UpdateCheck], UpdateCheck]:
    """Register `fn(ctx, update)`, run on every resource of `kinds` that is on both sides."""

    def register(check: UpdateCheck) -> UpdateCheck:
        def on_update(ctx: SignalContext, diff: ResourceDiff) -> Iterable[Finding]:
            if diff.base is None or diff.head is None:
                return ()
            return check(ctx, Update(diff.base, diff.head, diff))

        _register(
            ResourceDetector(check=on_update, kinds=_kinds(kinds), **_documented(type_, importance, check.__doc__))
        )
        return check

    return register


def chart_detector(type_: str, importance: Importance) -> Callable[[ChartCheck], ChartCheck]:
    """Register `fn(ctx)`, run once per chart."""

    def register(check: ChartCheck) -> ChartCheck:
        _register(ChartDetector(check=check, **_documented(type_, importance, check.__doc__)))
        return check

    return register


def pattern_detector(type_: str, category: Category, importance: Importance) -> Callable[[PatternCheck], PatternCheck]:
    """Register `fn(ctx, signals)`, run after every other detector over the signals found."""

    def register(check: PatternCheck) -> PatternCheck:
        _register(PatternDetector(check=check, **_documented(type_, importance, check.__doc__, category)))
        return check

    return register


def _register(detector: Detector) -> None:
    if any(d.type == detector.type for d in REGISTRY):
        raise ValueError(f"detector {detector.type} is registered twice")
    REGISTRY.append(detector)


def _kinds(kinds: Iterable[str] | None) -> frozenset[str] | None:
    return frozenset(kinds) if kinds is not None else None


class _Documented(TypedDict):
    type: str
    category: Category
    importance: Importance
    doc: str
    explanation: str


def _documented(
    type_: str, importance: Importance, docstring: str | None, category: Category | None = None
) -> _Documented:
    """The fields every detector has: its documentation split out of its docstring, its
    category (by default, its family's)."""
    when, _, why = inspect.cleandoc(docstring or "").partition("\n\n")
    if not when.strip() or not why.strip():
        raise ValueError(f"detector {type_} needs a docstring: when it fires, a blank line, why it matters")
    return {
        "type": type_,
        "category": category or _FAMILY_CATEGORIES.get(type_.split(".", 1)[0], "other"),
        "importance": importance,
        "doc": when,
        "explanation": " ".join(why.split()),
    }

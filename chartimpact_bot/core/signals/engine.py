"""Run the detectors over a chart and turn their findings into signals.

- A detector that raises is logged and skipped; the chart report names it.
- One signal per (type, resource, affected path): duplicates merge their raw changes.
- A signal's changeType is the one rule (`registry.change_type`) applied to its finding's subject:
  what the detector named, else the resource (the diff's, or the one the finding is about).
- A signal absorbs the signals its detector declares (`absorbs`) on the same resource.
- Custom rules (`.chartimpact.yml`) run after the built-in detectors and are signals like theirs.
- Pattern detectors run last, over the signals found.
- Order and ids are deterministic.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import pkgutil
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from ..config import CustomRule
from ..errors import brief
from ..model import CATEGORIES, IMPORTANCES, Change, ChangeOp, Resource, ResourceDiff, ResourceId, Signal, SignalSource
from .context import SignalContext
from .custom import evaluate_rules
from .registry import REGISTRY, ChartDetector, Detector, Finding, PatternDetector, ResourceDetector, change_type
from .rule_paths import PathError
from .rule_patterns import PatternError

log = logging.getLogger(__name__)


def _import_families() -> None:
    """Import every module of every family package below this one (security/, availability/, …):
    their decorators register the detectors, so a new signal type needs no list to join."""
    signals = importlib.import_module(__package__)
    for family in pkgutil.iter_modules(signals.__path__, f"{__package__}."):
        if family.ispkg:
            package = importlib.import_module(family.name)
            for module in pkgutil.iter_modules(package.__path__, f"{family.name}."):
                importlib.import_module(module.name)


_import_families()


class Locator(Protocol):
    def locate(self, resource_id: ResourceId, finding: Finding) -> SignalSource | None: ...


def signal_id(type_: str, resource: ResourceId, affected_path: str) -> str:
    key = f"{type_}\0{resource.group}/{resource.kind}/{resource.namespace}/{resource.name}\0{affected_path}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


# Failures whose text is written for the repository's author (a custom rule it cannot run);
# any other exception is a bug of ours: its text says nothing useful to the reader of a pull
# request and may quote what the chart held, so the warning says only that it happened.
EXPLAINED_FAILURES: tuple[type[Exception], ...] = (PatternError, PathError)


def _failure(detector: str, exc: Exception) -> str:
    """One bounded line for the chart's warnings (the traceback is logged where it was caught)."""
    if isinstance(exc, EXPLAINED_FAILURES):
        return f"signal detector {detector} failed and was skipped ({brief(f'{type(exc).__name__}: {exc}', 200)})"
    return f"signal detector {detector} failed and was skipped (an error in ChartImpact; its log has the details)"


def detectors() -> list[Detector]:
    return sorted(REGISTRY, key=lambda d: d.type)


def detect_signals(
    ctx: SignalContext,
    locator: Locator | None = None,
    *,
    only: set[str] | None = None,
    rules: Sequence[CustomRule] = (),
) -> tuple[list[Signal], list[str]]:
    """Signals of one chart, sorted, and one sentence per detector that failed.

    `only` restricts the run to those detector types (a chart that failed to render gets
    nothing but `chart.render`); `rules` are the repository's custom rules."""
    failures: list[str] = []
    found: list[tuple[Detector, Finding, ResourceDiff | None]] = []
    # Chart-wide detectors after those of resources: `chart.render` waits for `helm lint`, which
    # the engine runs beside this (ADR 8), so it should be the last thing to wait for. The order
    # found in does not change the report: signals are keyed by id and sorted.
    for det in sorted(detectors(), key=lambda d: isinstance(d, ChartDetector)):
        if isinstance(det, PatternDetector) or (only is not None and det.type not in only):
            continue
        try:
            found.extend(_run(det, ctx))
        except Exception as exc:  # a detector bug must not cost the whole report
            log.warning("signal detector %s failed: %r", det.type, exc, exc_info=True)
            failures.append(_failure(det.type, exc))
    chosen = [rule for rule in rules if only is None or rule.type in only]
    if chosen:
        try:
            outcome = evaluate_rules(ctx, chosen)
            found.extend(outcome.found)
            failures.extend(outcome.warnings)
        except Exception as exc:  # a rule the library was handed unvalidated: report, go on
            log.warning("custom rules failed: %r", exc, exc_info=True)
            failures.append(_failure("custom rules", exc))
    signals = _absorb(_merge(found, locator, ctx))
    for det in detectors():
        if not isinstance(det, PatternDetector) or (only is not None and det.type not in only):
            continue
        try:
            members = list(signals.values())
            pattern_findings = [(det, f, None) for f in det.check(ctx, members)]
        except Exception as exc:
            log.warning("pattern detector %s failed: %r", det.type, exc, exc_info=True)
            failures.append(_failure(det.type, exc))
            continue
        signals.update({sid: built[0] for sid, built in _merge(pattern_findings, locator, ctx).items()})
    return sorted(signals.values(), key=sort_key), failures


def sort_key(signal: Signal) -> tuple[int, int, str, tuple[str, str, str, str], str]:
    return (
        IMPORTANCES.index(signal.importance),
        CATEGORIES.index(signal.category),
        signal.type,
        signal.resource.sort_key(),
        signal.affected_path,
    )


def _run(
    det: ResourceDetector | ChartDetector, ctx: SignalContext
) -> list[tuple[Detector, Finding, ResourceDiff | None]]:
    if isinstance(det, ChartDetector):
        return [(det, finding, None) for finding in det.check(ctx)]
    out: list[tuple[Detector, Finding, ResourceDiff | None]] = []
    for diff in ctx.diffs:
        if det.applies_to(diff.id.kind):
            out.extend((det, finding, diff) for finding in det.check(ctx, diff))
    return out


# A signal and the type prefixes it absorbs on its resource.
_Built = tuple[Signal, tuple[str, ...]]


def _merge(
    found: Iterable[tuple[Detector, Finding, ResourceDiff | None]], locator: Locator | None, ctx: SignalContext
) -> dict[str, _Built]:
    signals: dict[str, _Built] = {}
    for det, finding, diff in found:
        about = finding.about or (diff.resource if diff is not None else None)
        if about is None:
            continue
        resource = about.id
        type_ = finding.type or det.type
        sid = signal_id(type_, resource, finding.affected_path)
        raw = _raw_changes(diff, finding) if diff is not None else ()
        existing = signals.get(sid)
        if existing is not None:
            merged_raw = tuple(dict.fromkeys((*existing[0].raw_changes, *raw)))
            signals[sid] = (replace(existing[0], raw_changes=merged_raw), existing[1])
            continue
        signal = Signal(
            id=sid,
            type=type_,
            category=det.category,
            importance=finding.importance or det.importance,
            resource=resource,
            api_version=about.api_version,
            change_type=change_type(*_subject(finding, diff, about, ctx), lifted=finding.lifted),
            description=finding.description,
            explanation=det.explanation,
            affected_path=finding.affected_path,
            before=finding.before,
            after=finding.after,
            source=locator.locate(resource, finding) if locator is not None else None,
            raw_changes=raw,
            related=tuple(sorted(finding.related)),
        )
        signals[sid] = (signal, det.absorbs)
    return signals


def _subject(finding: Finding, diff: ResourceDiff | None, about: Resource, ctx: SignalContext) -> tuple[object, object]:
    """What the finding is about on each side: what its detector named, else its resource."""
    if finding.subject is not None:
        return finding.subject
    if finding.about is None and diff is not None:
        return diff.base, diff.head
    return ctx.base.resources.get(about.id), ctx.head.resources.get(about.id)


def _absorb(built: dict[str, _Built]) -> dict[str, Signal]:
    """Drop signals a resource-level twin absorbs, listing them in its `related`."""
    signals = {sid: signal for sid, (signal, _) in built.items()}
    rules = {sid: absorbs for sid, (_, absorbs) in built.items()}
    absorbed: dict[str, list[str]] = {}
    removed: set[str] = set()
    # The signals of each resource, by id: a signal absorbs only those of its own resource.
    by_resource: dict[ResourceId, list[tuple[str, Signal]]] = {}
    for sid, signal in sorted(signals.items()):
        by_resource.setdefault(signal.resource, []).append((sid, signal))
    for sid, signal in sorted(signals.items()):
        prefixes = rules[sid]
        if not prefixes:
            continue
        for other_id, other in by_resource[signal.resource]:
            if other_id != sid and other.type.startswith(prefixes) and not rules[other_id]:
                removed.add(other_id)
                absorbed.setdefault(sid, []).append(other_id)
    out = {}
    for sid, signal in signals.items():
        if sid in removed:
            continue
        if sid in absorbed:
            signal = replace(signal, related=tuple(sorted({*signal.related, *absorbed[sid]})))
        out[sid] = signal
    return out


def _raw_changes(diff: ResourceDiff, finding: Finding) -> tuple[tuple[ChangeOp, str], ...]:
    """The diff's changes at, above or below the finding's path (by display path)."""
    target = finding.affected_path
    related = [c for c in diff.changes if _related(c, target)]
    if not related and not target:
        related = list(diff.changes)
    return tuple((c.op, c.path) for c in related)


def _related(change: Change, target: str) -> bool:
    a, b = change.display_path, target
    if not a or not b:
        return not a  # the whole-resource change relates to everything in it
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return longer.startswith(shorter) and (len(longer) == len(shorter) or longer[len(shorter)] in ".[")
